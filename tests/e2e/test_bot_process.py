"""A subscriber's session with the real `digestbot run` process, from /start to SIGTERM."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from delivery.labels import country_label
from digests.chart import HEIGHT, WIDTH
from digests.stats import MAX_WEEKS, last_weeks
from handlers.archive import PAGE_SIZE, REGISTER_PAGE_SIZE
from testing.telegram import BotApiEmulator, SentMessage
from tests.e2e.conftest import E2E_ADMIN_ID, BotProcessFactory

pytestmark = pytest.mark.e2e

USER = 555001
OTHER_USER = 555002
THRESHOLD = 0.5
STALE = "Эта кнопка устарела. Отправьте команду ещё раз."


def _links(message: SentMessage) -> list[str]:
    # The Bot API calls it "text_link"; accept the TDLib name "text_url" too.
    kinds = {"text_link", "text_url"}
    return [entity["url"] for entity in message.entities if entity.get("type") in kinds]


def _button(message: SentMessage, text_part: str) -> str:
    for text, data in zip(message.button_texts(), message.button_data(), strict=True):
        if text_part in text:
            return data
    raise AssertionError(f"no button {text_part!r} in {message.button_texts()}")


async def _say(
    api: BotApiEmulator, text: str, count: int = 1, chat: int = USER
) -> list[SentMessage]:
    api.send_user_message(chat, text)
    return await api.wait_for_reply(chat, count, timeout=20)


async def _press(api: BotApiEmulator, message: SentMessage, data: str) -> SentMessage:
    api.press_button(USER, message.message_id, data)
    return await api.wait_for_edit(USER, message.message_id, timeout=20)


async def test_subscriber_session_against_the_real_process(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    process = bot_process()
    process.start()
    await process.wait_for_first_poll()

    # Startup registered the command menus in both languages.
    await emulator.wait_until(lambda: len(emulator.commands) >= 2, timeout=20)
    languages = {language for _scope, language in emulator.commands}
    assert {"ru", "en"} <= languages

    # Onboarding: Uzbekistan and Tajikistan, all topics, 09:00, Omsk.
    greeting, countries = await _say(emulator, "/start", count=2)
    assert greeting.plain_text is not None and greeting.plain_text.startswith("👋 Здравствуйте")
    countries = await _press(emulator, countries, _button(countries, "Узбекистан"))
    countries = await _press(emulator, countries, _button(countries, "Таджикистан"))
    assert "Выбрано: 🇺🇿 Узбекистан, 🇹🇯 Таджикистан" in (countries.plain_text or "")
    topics = await _press(emulator, countries, _button(countries, "Далее"))
    assert "Шаг 2 из 4" in (topics.plain_text or "")
    times = await _press(emulator, topics, _button(topics, "Далее"))
    zones = await _press(emulator, times, _button(times, "09:00"))
    emulator.press_button(USER, zones.message_id, _button(zones, "Омск"))
    (latest,) = await emulator.wait_for_reply(USER, 1, timeout=20)
    summary = emulator.message(USER, zones.message_id)
    assert "Подписка оформлена!" in (summary.plain_text or "")
    assert "Свежее по вашим странам" in (latest.plain_text or "")
    # The update's transaction commits right after its last reply.
    await process.wait_for(
        lambda: (
            process.query(
                "SELECT 1 FROM chats WHERE id = ? AND subscribed AND next_digest_at IS NOT NULL",
                (USER,),
            )
            == [(1,)]
        ),
        limit=10,
        what="the subscription to be saved",
    )

    # /agreements lists exactly the agreements the database tags with Uzbekistan.
    expected = process.query(
        """
        SELECT url, title FROM articles
        WHERE id IN (SELECT article_id FROM article_tags
                     WHERE kind = 'country' AND value = 'UZ' AND score >= ?)
          AND id IN (SELECT article_id FROM article_tags
                     WHERE kind = 'topic' AND value = 'agreements' AND score >= ?)
        ORDER BY published_at DESC, id DESC
        """,
        (THRESHOLD, THRESHOLD),
    )
    assert expected, "the demo feeds hold agreements with Uzbekistan"
    (answer,) = await _say(emulator, "/agreements Узбекистан")
    text = answer.plain_text or ""
    assert text.startswith("Соглашения · 🇺🇿 Узбекистан\n\nРеестр соглашений")
    # It opens with the register: the newest agreements extracted, linked to their sources.
    register = process.query(
        """
        SELECT fact_id FROM fact_countries WHERE country = 'UZ' AND kind = 'agreement'
        ORDER BY sort_at DESC, fact_id DESC
        """,
        (),
    )
    assert register, "the demo feeds hold agreements with Uzbekistan"
    register_links = {
        url
        for (fact_id,) in register[:REGISTER_PAGE_SIZE]
        for (url,) in process.query(
            "SELECT url FROM articles JOIN fact_sources ON article_id = articles.id "
            "WHERE fact_id = ?",
            (fact_id,),
        )
    }
    first_page = {url for url, _ in expected[:PAGE_SIZE]}
    assert set(_links(answer)) == first_page | register_links
    more = len(expected) > PAGE_SIZE or len(register) > REGISTER_PAGE_SIZE
    assert ("Ещё »" in answer.button_texts()) == more

    # /news over 30 days.
    tajik = process.query(
        """
        SELECT url FROM articles
        WHERE id IN (SELECT article_id FROM article_tags
                     WHERE kind = 'country' AND value = 'TJ' AND score >= ?)
          AND published_at >= datetime('now', '-30 days')
        ORDER BY published_at DESC, id DESC
        """,
        (THRESHOLD,),
    )
    (news,) = await _say(emulator, "/news Таджикистан 30")
    assert (news.plain_text or "").startswith("Новости · 🇹🇯 Таджикистан · за последние 30 дней")
    assert set(_links(news)) == {url for (url,) in tajik[:PAGE_SIZE]}

    # /search matches word forms through the lemma index.
    matching = {
        url
        for (url,) in process.query(
            "SELECT url FROM articles WHERE id IN "
            "(SELECT rowid FROM articles_fts WHERE articles_fts MATCH '\"соглашение\"')"
        )
    }
    (found,) = await _say(emulator, "/search соглашения")
    assert (found.plain_text or "").startswith("Поиск: соглашения")
    assert matching and set(_links(found)) and set(_links(found)) <= matching

    # An unknown country gets suggestions; pressing one runs the command.
    (unknown,) = await _say(emulator, "/news Грузинстан")
    assert "Не знаю страну «Грузинстан»" in (unknown.plain_text or "")
    georgia = await _press(emulator, unknown, _button(unknown, "Грузия"))
    assert (georgia.plain_text or "").startswith("Новости · 🇬🇪 Грузия")

    # A forged button is answered, not crashed on.
    for forged in ("ar:a:ZZ::0:0:", "oc:x", "no-such-button"):
        query_id = emulator.press_button(USER, answer.message_id, forged)
        reply = await emulator.wait_for_answer(query_id, timeout=20)
        assert reply.get("text") == STALE

    # /stats from a chat without countries (another user: this one has typed a lot in a few
    # seconds): the countries with the most articles, counted as the database holds them.
    weeks = last_weeks(datetime.now(UTC), MAX_WEEKS, "Asia/Omsk")
    since = weeks.edges[0].replace(tzinfo=None).isoformat(sep=" ")
    counted = process.query(
        """
        SELECT value, count(*) AS n FROM article_tags JOIN articles ON articles.id = article_id
        WHERE kind = 'country' AND score >= ? AND published_at >= ?
        GROUP BY value ORDER BY n DESC, value LIMIT 6
        """,
        (THRESHOLD, since),
    )
    (chart,) = await _say(emulator, f"/stats {MAX_WEEKS}", chat=OTHER_USER)
    if counted:
        assert chart.method == "sendPhoto", chart.plain_text
        assert (chart.media[-1]["width"], chart.media[-1]["height"]) == (WIDTH, HEIGHT)
        lines = (chart.plain_text or "").splitlines()
        assert lines[0] == "Статьи по странам по неделям"
        assert lines[3 : 3 + len(counted)] == [
            f"{country_label(code, 'ru')} — {total}" for code, total in counted
        ]
    else:
        assert chart.method == "sendMessage"

    # Admin-only commands (another user: this one has typed a lot in a few seconds).
    (refused,) = await _say(emulator, "/feeds", chat=OTHER_USER)
    assert refused.plain_text == "Эта команда доступна только администраторам бота."
    (feeds,) = await _say(emulator, "/feeds", chat=E2E_ADMIN_ID)
    assert (feeds.plain_text or "").startswith("5 лент")

    assert not [r for r in emulator.rejected if r.method.lower() != "getupdates"], emulator.rejected
    assert "Traceback" not in process.log

    exit_code, elapsed = await process.stop()
    assert exit_code == 0, process.log[-3000:]
    assert elapsed < 5.0
