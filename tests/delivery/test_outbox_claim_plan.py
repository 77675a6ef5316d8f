"""The plan PostgreSQL makes for leasing due outbox rows: the due rows are read from the
claim index in its order, whatever the table's statistics say, and the claimed rows are
then found by primary key, not by scanning the whole outbox against the subquery's ids."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text

from storage import outbox
from storage.models import Chat, OutboxMessage
from tests.delivery.helpers import SessionFactory
from tests.support.databases import require_postgres

NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
ROWS = 3000
# At this size `outbox.id IN (subquery)` was planned as a hash semi-join over a sequential
# scan of the whole outbox.


@pytest.fixture
def database_backend() -> str:
    require_postgres()
    return "postgresql"


async def _fill(session_factory: SessionFactory, *, analyse: bool = True) -> None:
    chat_ids = range(1_000_000, 1_000_000 + ROWS)
    async with session_factory() as session:
        await session.execute(
            insert(Chat),
            [{"id": chat_id, "created_at": NOW, "updated_at": NOW} for chat_id in chat_ids],
        )
        await session.execute(
            insert(OutboxMessage),
            [
                {
                    "chat_id": chat_id,
                    "digest_key": "2026-11-20",
                    "part": 0,
                    "kind": "digest",
                    "text": f"Дайджест {chat_id}",
                    "article_ids": "",
                    "status": outbox.PENDING,
                    "attempts": 0,
                    "available_at": NOW,
                    "created_at": NOW,
                }
                for chat_id in chat_ids
            ],
        )
        await session.commit()
    if analyse:
        async with session_factory() as session:
            await session.execute(text("ANALYZE outbox"))
            await session.commit()


async def _lease_due_sql(session_factory: SessionFactory) -> tuple[str, Any, list[str]]:
    """The UPDATE that leases due rows, as sent to the server, with its parameters, and
    the planner settings the claim made before it (from a claim that is rolled back)."""
    sent: list[tuple[str, Any]] = []
    settings: list[str] = []

    def record(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            sent.append((statement, parameters))
        elif "set_config" in statement or statement.lstrip().upper().startswith("SET "):
            settings.append(statement)

    async with session_factory() as session:
        engine = (await session.connection()).engine.sync_engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            claimed = await outbox.claim_batch(
                session, owner="plan", now=NOW, lease=timedelta(seconds=30), limit=50
            )
        finally:
            event.remove(engine, "before_cursor_execute", record)
        await session.rollback()
    assert len(claimed) == 50
    assert len(sent) == 1
    return (*sent[0], settings)


async def _plan(session_factory: SessionFactory) -> dict[str, Any]:
    """The plan of the claim's UPDATE, under the claim's own planner settings."""
    statement, parameters, settings = await _lease_due_sql(session_factory)
    async with session_factory() as session:
        connection = await session.connection()
        for setting in settings:
            await connection.exec_driver_sql(setting)
        result = await connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
        explained = result.scalar_one()
        await session.rollback()
    plan: dict[str, Any] = (json.loads(explained) if isinstance(explained, str) else explained)[0][
        "Plan"
    ]
    return plan


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


async def test_claimed_rows_are_found_by_primary_key(session_factory: SessionFactory) -> None:
    await _fill(session_factory)
    root = await _plan(session_factory)

    assert root["Node Type"] == "ModifyTable"
    # The table updated is read under its own name; the subquery reads it under others.
    reads = [
        node
        for node in _nodes(root)
        if node.get("Alias") == "outbox" and node["Node Type"] != "ModifyTable"
    ]
    assert reads, root
    assert all(node["Node Type"] != "Seq Scan" for node in reads), root
    by_primary_key = [
        index
        for node in reads
        for index in _nodes(node)
        if index["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
        and index.get("Index Name") == "pk_outbox"
    ]
    assert by_primary_key, root


async def test_due_rows_are_read_in_index_order_on_a_table_never_analysed(
    session_factory: SessionFactory,
) -> None:
    # A broadcast queued a moment ago: no statistics yet. PostgreSQL took the table for a
    # small one, collected every due row in a bitmap and sorted them, for every claim.
    await _fill(session_factory, analyse=False)
    root = await _plan(session_factory)

    node_types = {node["Node Type"] for node in _nodes(root)}
    assert "Sort" not in node_types, root
    assert "Bitmap Heap Scan" not in node_types, root
    in_claim_order = [
        node
        for node in _nodes(root)
        if node["Node Type"] == "Index Scan"
        and node.get("Index Name") == "ix_outbox_status_priority_available_at_id"
    ]
    assert in_claim_order, root
