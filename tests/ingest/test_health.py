from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ingest.health import (
    FeedCondition,
    HealthChange,
    HealthPolicy,
    feed_condition,
    health_changes,
    told_condition,
)
from storage.feeds import FeedRecord

NOW = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
POLICY = HealthPolicy(failing_after=3, silent_after=timedelta(hours=48))


def feed(**fields: object) -> FeedRecord:
    base = FeedRecord(
        id=1,
        url="https://omskinform.ru/rss",
        title="Омскинформ",
        active=True,
        fetch_full_text=True,
        etag=None,
        last_modified=None,
        body_hash=None,
        last_checked_at=NOW,
        last_success_at=NOW,
        last_new_item_at=NOW - timedelta(hours=3),
        last_error=None,
        last_error_at=None,
        consecutive_failures=0,
        total_items=120,
        next_check_at=NOW + timedelta(minutes=15),
        created_at=NOW - timedelta(days=30),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, FeedCondition.FINE),
        ({"consecutive_failures": 2}, FeedCondition.FINE),
        ({"consecutive_failures": 3}, FeedCondition.FAILING),
        ({"last_new_item_at": NOW - timedelta(hours=47, minutes=59)}, FeedCondition.FINE),
        ({"last_new_item_at": NOW - timedelta(hours=48)}, FeedCondition.SILENT),
        # A feed that never brought anything is silent from the day it was added.
        ({"last_new_item_at": None, "created_at": NOW - timedelta(days=3)}, FeedCondition.SILENT),
        ({"last_new_item_at": None, "created_at": NOW - timedelta(hours=1)}, FeedCondition.FINE),
        # Failing wins over silent: the admin must learn why nothing comes.
        (
            {"consecutive_failures": 5, "last_new_item_at": NOW - timedelta(days=9)},
            FeedCondition.FAILING,
        ),
        ({"active": False, "consecutive_failures": 30}, FeedCondition.SWITCHED_OFF),
    ],
)
def test_condition(fields: dict[str, object], expected: FeedCondition) -> None:
    assert feed_condition(feed(**fields), NOW, POLICY) is expected


def test_changes_are_against_what_the_admins_were_told() -> None:
    failing = feed(id=1, consecutive_failures=4)
    already_told = feed(id=2, consecutive_failures=4, alert_state="failing")
    recovered = feed(id=3, alert_state="failing")
    quiet_again = feed(id=4, alert_state="silent")
    turned_back_on = feed(id=5, alert_state="switched_off")
    fine = feed(id=6)
    changes = {
        change.feed.id: change
        for change in health_changes(
            [failing, already_told, recovered, quiet_again, turned_back_on, fine], NOW, POLICY
        )
    }
    assert set(changes) == {1, 3, 4, 5}
    assert changes[1].current is FeedCondition.FAILING and changes[1].worth_telling
    assert changes[3].current is FeedCondition.FINE and changes[3].worth_telling
    assert changes[4].previous is FeedCondition.SILENT and changes[4].worth_telling
    assert changes[5].current is FeedCondition.FINE and not changes[5].worth_telling


def test_every_turn_for_the_worse_is_worth_telling() -> None:
    for previous in FeedCondition:
        for current in FeedCondition:
            if current is previous or current is FeedCondition.FINE:
                continue
            change = HealthChange(feed=feed(), previous=previous, current=current)
            assert change.worth_telling, (previous, current)


def test_unknown_stored_state_counts_as_fine() -> None:
    assert told_condition(feed(alert_state="exploded")) is FeedCondition.FINE
    assert told_condition(feed(alert_state=None)) is FeedCondition.FINE
    assert told_condition(feed(alert_state="silent")) is FeedCondition.SILENT
