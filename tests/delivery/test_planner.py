"""The daily pass's decider on plain values: no database, no event loop."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from delivery.callbacks import MoreNews
from delivery.labels import digest_labels
from delivery.planner import (
    DIGEST_KIND,
    EMPTY_KIND,
    RETRY_UNUSABLE_SCHEDULE,
    DigestComposer,
    plan_digests,
    window_for,
)
from delivery.subscriptions import next_digest_for
from digests.model import DigestArticle
from storage.chats import ChatRecord
from tests.delivery.helpers import HEADLINES, SOURCES

# 09:00 in Omsk (UTC+6).
NINE_IN_OMSK = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
CATCHUP = timedelta(hours=6)


def chat(chat_id: int, countries: set[str], **fields: object) -> ChatRecord:
    record = ChatRecord(
        id=chat_id,
        type="private",
        title=None,
        language="ru",
        timezone="Asia/Omsk",
        digest_time="09:00",
        next_digest_at=NINE_IN_OMSK,
        last_digest_at=NINE_IN_OMSK - timedelta(days=1),
        notify_empty=False,
        subscribed=True,
        active=True,
        paused=False,
        countries=frozenset(countries),
        topics=frozenset(),
    )
    return replace(record, **fields)  # type: ignore[arg-type]


def article(article_id: int, country: str, hours_ago: float = 3) -> DigestArticle:
    seen = NINE_IN_OMSK - timedelta(hours=hours_ago)
    return DigestArticle(
        id=article_id,
        title=HEADLINES[article_id % len(HEADLINES)],
        url=f"https://omsk-press.example/news/{article_id}",
        source=SOURCES[article_id % len(SOURCES)],
        published_at=seen,
        first_seen_at=seen,
        countries={country: 0.9},
        topics={"trade": 0.9},
        summary="",
    )


def plan(chats: list[ChatRecord], articles: list[DigestArticle], sent=None, now=NINE_IN_OMSK):  # type: ignore[no-untyped-def]
    return plan_digests(
        chats,
        articles,
        sent or {},
        now=now,
        catchup=CATCHUP,
        threshold=0.5,
        composer=DigestComposer(digest_labels),
    )


def test_a_due_chat_gets_its_countries_articles_and_its_next_slot() -> None:
    subscriber = chat(1, {"UZ"})
    result = plan([subscriber], [article(0, "UZ"), article(1, "UZ"), article(11, "BY")])

    (change,) = result.changes
    assert change.outcome == "digest"
    assert sorted(change.article_ids) == [0, 1]
    assert change.expected_next_at == NINE_IN_OMSK
    assert (
        change.next_at
        == next_digest_for(subscriber, NINE_IN_OMSK)
        == NINE_IN_OMSK + timedelta(days=1)
    )
    assert change.delivered_at == NINE_IN_OMSK
    assert [message.kind for message in change.messages] == [DIGEST_KIND]
    assert HEADLINES[0] in change.messages[0].text and HEADLINES[11] not in change.messages[0].text


def test_what_a_chat_already_got_is_left_out() -> None:
    result = plan([chat(1, {"UZ"})], [article(0, "UZ"), article(1, "UZ")], sent={1: {0}})
    assert result.changes[0].article_ids == (1,)


def test_an_empty_day_sends_a_notice_only_when_asked() -> None:
    quiet, notified = chat(1, {"TJ"}), chat(2, {"TJ"}, notify_empty=True)
    result = plan([quiet, notified], [article(0, "UZ")])
    by_chat = {change.chat_id: change for change in result.changes}
    assert by_chat[1].outcome == "empty" and by_chat[1].messages == ()
    assert by_chat[2].outcome == "empty"
    assert [message.kind for message in by_chat[2].messages] == [EMPTY_KIND]


def test_a_digest_missed_long_ago_is_skipped_to_the_next_day() -> None:
    late = NINE_IN_OMSK + timedelta(hours=10)
    result = plan([chat(1, {"UZ"})], [article(0, "UZ")], now=late)
    (change,) = result.changes
    assert result.skipped_late == 1
    assert change.outcome == "skipped" and change.messages == () and change.article_ids == ()
    assert change.next_at == NINE_IN_OMSK + timedelta(days=1)


def test_an_unreadable_schedule_is_looked_at_again_a_day_later() -> None:
    broken = chat(1, {"UZ"}, digest_time="25:99")
    result = plan([broken], [article(0, "UZ")])
    (change,) = result.changes
    assert result.errors == 1
    assert change.next_at == NINE_IN_OMSK + RETRY_UNUSABLE_SCHEDULE
    assert window_for([broken], now=NINE_IN_OMSK, catchup=CATCHUP) is None


def test_more_buttons_are_the_typed_callback() -> None:
    articles = [article(number, "UZ", hours_ago=1 + number / 10) for number in range(20)]
    result = plan([chat(1, {"UZ"})], articles)
    (message,) = result.changes[0].messages
    assert message.reply_markup is not None
    assert MoreNews(country="UZ").pack() in message.reply_markup


def test_the_window_covers_the_chats_to_be_sent_only() -> None:
    chats = [
        chat(1, {"UZ"}, last_digest_at=NINE_IN_OMSK - timedelta(days=2)),
        chat(2, {"TJ", "KZ"}),
        # Due at 01:00 Omsk time, eight hours ago: past the catch-up, so not sent.
        chat(3, {"CN"}, digest_time="01:00", next_digest_at=NINE_IN_OMSK - timedelta(hours=8)),
    ]
    request = window_for(chats, now=NINE_IN_OMSK, catchup=CATCHUP)
    assert request is not None
    assert request.chat_ids == (1, 2)
    assert request.countries == frozenset({"UZ", "TJ", "KZ"})
    assert request.since == NINE_IN_OMSK - timedelta(days=2, minutes=15)
