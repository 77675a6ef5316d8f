"""Writing what a pass over due chats planned (daily digests, instant messages, weekly
briefs): a chunk of chats per transaction, and chat by chat when a transaction fails.

Each transaction holds the database's write lock, and on SQLite the event loop, while it
writes; short ones let replies through between them. A chat whose changes cannot be
written (a row a constraint refuses, a value that does not convert) is logged and left due
for the next tick, and holds back no other chat. A database that cannot be reached at all
fails the pass as a whole instead of once per chat.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

from storage.guard import StoreUnavailable

logger = logging.getLogger(__name__)

# Chats whose changes go in one transaction: for 100 daily digests (messages, articles
# marked as sent, schedules) a few hundredths of a second of writing.
CHATS_PER_TRANSACTION = 100

# Failures of the database itself rather than of one chat's rows.
_UNREACHABLE = (OperationalError, InterfaceError, StoreUnavailable)


class ForChat(Protocol):
    @property
    def chat_id(self) -> int: ...


Change = TypeVar("Change", bound=ForChat)


async def write_by_chunks(
    changes: Sequence[Change],
    write: Callable[[Sequence[Change]], Awaitable[None]],
    *,
    what: str,
    chunk: int = CHATS_PER_TRANSACTION,
) -> int:
    """Calls `write` (one transaction) on `chunk` changes at a time; a chunk that fails is
    written again change by change. Returns how many chats could not be written."""
    failed = 0
    for start in range(0, len(changes), chunk):
        part = changes[start : start + chunk]
        try:
            await write(part)
            continue
        except _UNREACHABLE:
            raise
        except Exception:
            if len(part) > 1:
                logger.exception(
                    "storing the %s of %d chats at once failed; storing them one by one",
                    what,
                    len(part),
                )
            else:
                logger.exception("could not store the %s of chat %s", what, part[0].chat_id)
                failed += 1
                continue
        for change in part:
            try:
                await write([change])
            except _UNREACHABLE:
                raise
            except Exception:
                logger.exception("could not store the %s of chat %s", what, change.chat_id)
                failed += 1
    return failed
