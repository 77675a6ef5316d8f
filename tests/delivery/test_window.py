from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from delivery import window as window_module
from delivery.window import PassWindow, load_window
from tests.delivery.helpers import SessionFactory, add_article

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


async def store_articles(session_factory: SessionFactory) -> None:
    scores: tuple[dict[str, float], ...] = (
        {"UZ": 0.9},
        {"KZ": 0.8},
        {"UZ": 0.3, "CN": 0.7},
        {"TJ": 0.6, "UZ": 0.55},
        {},
    )
    for hour in range(30):
        await add_article(
            session_factory,
            f"Новость номер {hour}: делегация обсудила поставки",
            countries=scores[hour % len(scores)],
            first_seen_at=NOW - timedelta(hours=hour, minutes=5),
        )


async def test_batches_get_what_a_load_of_their_own_would_give(
    session_factory: SessionFactory,
) -> None:
    await store_articles(session_factory)
    window = PassWindow(threshold=0.5)
    requests = [
        ({"UZ", "KZ", "CN"}, NOW - timedelta(hours=24)),  # loaded
        ({"UZ"}, NOW - timedelta(hours=24)),  # narrower: a share of it
        ({"KZ", "CN"}, NOW - timedelta(hours=6, minutes=30)),  # later start: a share
        ({"UZ", "TJ"}, NOW - timedelta(hours=12)),  # a country outside: loaded again
        ({"UZ", "TJ"}, NOW - timedelta(hours=28)),  # an earlier start: loaded again
        ({"TJ"}, NOW - timedelta(hours=20)),  # inside the last load: a share
    ]
    for countries, since in requests:
        async with session_factory() as session:
            given = await window.articles(session, countries=countries, since=since)
            fresh = await load_window(session, countries=countries, since=since, threshold=0.5)
        assert [a.id for a in given] == [a.id for a in fresh], (countries, since)
        assert given, (countries, since)
    assert window.loads == 3


async def test_a_window_cut_at_its_limit_is_not_shared(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_articles(session_factory)
    monkeypatch.setattr(window_module, "MAX_WINDOW_ARTICLES", 5)
    window = PassWindow(threshold=0.5)
    since = NOW - timedelta(hours=30)
    for countries in ({"UZ", "KZ", "CN", "TJ"}, {"TJ"}):
        async with session_factory() as session:
            given = await window.articles(session, countries=countries, since=since)
            fresh = await load_window(session, countries=countries, since=since, threshold=0.5)
        assert [a.id for a in given] == [a.id for a in fresh]
    # The first load was cut to its newest five, which hold fewer TJ articles than there are.
    assert window.loads == 2
