"""A pass's changes are written a chunk of chats per transaction, chat by chat after a
failure, and a database that cannot be reached fails the pass once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from delivery.writes import write_by_chunks
from storage.guard import STORE_LOST, StoreUnavailable


@dataclass(frozen=True)
class Change:
    chat_id: int


async def test_one_chat_refused_leaves_the_others_written_and_is_counted() -> None:
    changes = [Change(chat_id) for chat_id in range(250)]
    transactions: list[list[int]] = []
    written: list[int] = []

    async def write(chunk: Sequence[Change]) -> None:
        chats = [change.chat_id for change in chunk]
        transactions.append(chats)
        if 120 in chats:
            raise IntegrityError("INSERT INTO outbox …", {}, Exception("constraint failed"))
        written.extend(chats)

    failed = await write_by_chunks(changes, write, what="digest", chunk=100)

    assert failed == 1
    assert written == [chat_id for chat_id in range(250) if chat_id != 120]
    assert [len(chats) for chats in transactions] == [100, 100, *[1] * 100, 50]


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("BEGIN", {}, Exception("database is locked")),
        StoreUnavailable(STORE_LOST),
    ],
)
async def test_a_database_out_of_reach_fails_the_pass_without_trying_each_chat(
    error: Exception,
) -> None:
    transactions: list[int] = []

    async def write(chunk: Sequence[Change]) -> None:
        transactions.append(len(chunk))
        raise error

    with pytest.raises(type(error)):
        await write_by_chunks([Change(n) for n in range(30)], write, what="digest", chunk=10)
    assert transactions == [10]
