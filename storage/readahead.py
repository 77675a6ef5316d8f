"""A row read ahead for later in the same transaction, so it is not read twice.

The update's language is looked up before the handler runs, and the handler then opens
the same chat: the chat's row is read once, kept on the session and taken by the first
reader that asks for it. The row is forgotten at the session's first write and is never
taken in another transaction, so what is taken is what a new read would return.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

READ_AHEAD_KEY: Final = "digestbot.read_ahead"


class StoreSession(Session):
    """The sessions of the store: as SQLAlchemy's, with the read-ahead row forgotten at
    every statement that is not a SELECT."""


@event.listens_for(StoreSession, "do_orm_execute")
def _forget_on_write(state: ORMExecuteState) -> None:
    if not state.is_select:
        state.session.info.pop(READ_AHEAD_KEY, None)


def keep(session: AsyncSession, key: Hashable, row: Any) -> None:
    """Keeps `row` for the next `take` of `key` in this transaction. Sessions of other
    classes cannot tell a write, so nothing is kept on them."""
    sync = session.sync_session
    if isinstance(sync, StoreSession):
        sync.info[READ_AHEAD_KEY] = (sync.get_transaction(), key, row)


def take(session: AsyncSession, key: Hashable) -> Any | None:
    """The row kept for `key` if nothing was written since in this transaction, once."""
    entry = session.sync_session.info.pop(READ_AHEAD_KEY, None)
    if entry is None:
        return None
    transaction, kept_key, row = entry
    current = session.sync_session.get_transaction()
    if kept_key != key or current is None or current is not transaction or not current.is_active:
        return None
    return row
