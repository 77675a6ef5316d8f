from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import feeds as feed_repo
from storage.feeds import MAX_FEED_TITLE_LENGTH, MAX_FEED_URL_LENGTH, FeedUrlTooLong, feed_title

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
WORDS = ["Омская", "область", "и", "Бухарский", "вилоят", "обсудили", "поставки", "зерна"]
WORDY_TITLE = " ".join(WORDS * 150)
Sessions = async_sessionmaker[AsyncSession]


def test_a_long_title_is_cut_after_a_whole_word() -> None:
    title = feed_title(WORDY_TITLE)
    assert title is not None
    assert len(WORDY_TITLE) > 7000
    assert len(title) <= MAX_FEED_TITLE_LENGTH
    assert title.endswith("…")
    kept = title.removesuffix("…")
    assert WORDY_TITLE.startswith(kept)
    assert WORDY_TITLE[len(kept)] == " "
    assert len(kept) > MAX_FEED_TITLE_LENGTH // 2


def test_a_title_of_one_endless_word_is_cut_where_it_must_be() -> None:
    title = feed_title("Омскинформ" * 700)
    assert title is not None
    assert len(title) == MAX_FEED_TITLE_LENGTH and title.endswith("…")


def test_a_title_is_one_line_and_blank_means_none() -> None:
    assert feed_title("  Омская\nправда\t— новости ") == "Омская правда — новости"
    assert feed_title("БК55") == "БК55"
    assert feed_title(" \n ") is None
    assert feed_title(None) is None


async def test_add_feed_stores_a_capped_title(session_factory: Sessions) -> None:
    async with session_factory() as session:
        feed, created = await feed_repo.add_feed(
            session, "https://bk55.example/rss", title=WORDY_TITLE
        )
        await session.commit()
    assert created
    assert feed.title is not None and len(feed.title) <= MAX_FEED_TITLE_LENGTH
    async with session_factory() as session:
        (stored,) = await feed_repo.list_feeds(session)
    assert stored.title == feed.title


async def test_add_feed_refuses_an_over_long_url(session_factory: Sessions) -> None:
    base = "https://omskinform.example/rss?"
    longest = base + "р" * (MAX_FEED_URL_LENGTH - len(base))
    async with session_factory() as session:
        with pytest.raises(FeedUrlTooLong) as raised:
            await feed_repo.add_feed(session, longest + "р", title="Омскинформ")
        accepted, created = await feed_repo.add_feed(session, longest)
        await session.commit()
    message = str(raised.value)
    assert "\n" not in message
    assert (
        f"{MAX_FEED_URL_LENGTH + 1} characters" in message and str(MAX_FEED_URL_LENGTH) in message
    )
    assert created and accepted.url == longest
    async with session_factory() as session:
        assert [feed.url for feed in await feed_repo.list_feeds(session)] == [longest]


async def test_the_title_a_feed_gives_itself_is_capped(session_factory: Sessions) -> None:
    async with session_factory() as session:
        feed, _ = await feed_repo.add_feed(session, "https://ngs55.example/rss")
        await feed_repo.record_success(
            session,
            feed.id,
            now=NOW,
            next_check_at=NOW,
            new_items=0,
            etag=None,
            last_modified=None,
            body_hash=None,
            title="Новости\nОмска " + "и региона " * 1000,
        )
        await session.commit()
    async with session_factory() as session:
        stored = await feed_repo.get_feed(session, feed.id)
    assert stored is not None and stored.title is not None
    assert stored.title.startswith("Новости Омска и региона")
    assert len(stored.title) <= MAX_FEED_TITLE_LENGTH and stored.title.endswith("…")


async def test_an_untitled_feed_added_again_gets_a_capped_title(session_factory: Sessions) -> None:
    async with session_factory() as session:
        await feed_repo.add_feed(session, "https://kvnews.example/rss")
        feed, created = await feed_repo.add_feed(
            session, "https://kvnews.example/rss", title=WORDY_TITLE
        )
        await session.commit()
    assert not created
    assert feed.title is not None and len(feed.title) <= MAX_FEED_TITLE_LENGTH


@pytest.mark.parametrize("repeats", [300, 150], ids=["as-typed", "once-percent-encoded"])
def test_cli_feeds_add_refuses_an_over_long_url_in_one_line(
    repeats: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    url = "https://bk55.example/rss?" + "лента=омск&" * repeats
    assert main(["feeds", "add", url]) == 2
    error = capsys.readouterr().err
    assert error.startswith("digestbot: 'https://bk55.example/rss?")
    assert error.endswith(f"': URL longer than {MAX_FEED_URL_LENGTH} characters\n")
    assert error.count("\n") == 1
    # Refused before the store is opened: not even an empty database was created.
    assert not (tmp_path / "cli.db").exists()
