"""Pictures sent with outbox rows: stored once per content, with the file id Telegram gave
them on the first send so that later sends do not upload them again.

A picture may also be queued as a recipe (what to draw, a text the sender's drawing function
reads) with no content yet: the sender draws it right before its first send and stores the
content with `store_drawn`. Recipes are stored once per recipe text."""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.articles import insert_ignoring_conflicts
from storage.models import Media, OutboxMessage
from storage.outbox import UNFINISHED


@dataclass(frozen=True, slots=True)
class StoredMedia:
    id: int
    content: bytes | None
    filename: str
    telegram_file_id: str | None
    recipe: str | None = None


async def store_media(
    session: AsyncSession, content: bytes, filename: str, *, now: datetime
) -> int:
    """The id of the row holding `content`, added if it is new."""
    digest = hashlib.sha256(content).hexdigest()
    await session.execute(
        insert_ignoring_conflicts(session, Media),
        [{"sha256": digest, "content": content, "filename": filename[:100], "created_at": now}],
    )
    found = await session.scalar(select(Media.id).where(Media.sha256 == digest))
    assert found is not None
    return int(found)


async def request_media(session: AsyncSession, recipe: str, filename: str, *, now: datetime) -> int:
    """The id of the row that will hold the picture drawn from `recipe`, added if new."""
    digest = hashlib.sha256(b"recipe\0" + recipe.encode()).hexdigest()
    await session.execute(
        insert_ignoring_conflicts(session, Media),
        [{"sha256": digest, "recipe": recipe, "filename": filename[:100], "created_at": now}],
    )
    found = await session.scalar(select(Media.id).where(Media.sha256 == digest))
    assert found is not None
    return int(found)


async def store_drawn(session: AsyncSession, media_id: int, content: bytes) -> None:
    """Keeps the picture drawn from a row's recipe (the first drawing stays)."""
    await session.execute(
        update(Media).where(Media.id == media_id, Media.content.is_(None)).values(content=content)
    )


async def recipes_to_draw(session: AsyncSession, media_ids: list[int]) -> dict[int, str]:
    """Of `media_ids`, the rows still waiting to be drawn: id -> recipe."""
    if not media_ids:
        return {}
    rows = await session.execute(
        select(Media.id, Media.recipe).where(
            Media.id.in_(media_ids),
            Media.content.is_(None),
            Media.telegram_file_id.is_(None),
            Media.recipe.is_not(None),
        )
    )
    return {int(row.id): str(row.recipe) for row in rows}


async def recipes_in_queue(
    session: AsyncSession, *, limit: int, leave_out: Collection[int] = ()
) -> list[tuple[int, str]]:
    """Pictures still to be drawn that unsent outbox rows show, in the order the rows were
    queued (the one needed first comes first): (media id, recipe)."""
    first_row = func.min(OutboxMessage.id)
    query = (
        select(Media.id, Media.recipe)
        .join(OutboxMessage, OutboxMessage.media_id == Media.id)
        .where(
            Media.content.is_(None),
            Media.telegram_file_id.is_(None),
            Media.recipe.is_not(None),
            OutboxMessage.status.in_(UNFINISHED),
        )
        .group_by(Media.id, Media.recipe)
        .order_by(first_row)
        .limit(limit)
    )
    if leave_out:
        query = query.where(Media.id.not_in(list(leave_out)))
    rows = await session.execute(query)
    return [(int(row.id), str(row.recipe)) for row in rows]


async def get_media(session: AsyncSession, media_id: int) -> StoredMedia | None:
    row = (
        await session.execute(
            select(
                Media.id, Media.content, Media.filename, Media.telegram_file_id, Media.recipe
            ).where(Media.id == media_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return StoredMedia(row.id, row.content, row.filename, row.telegram_file_id, row.recipe)


async def remember_file_id(session: AsyncSession, media_id: int, file_id: str) -> None:
    await session.execute(
        update(Media)
        .where(Media.id == media_id, Media.telegram_file_id.is_(None))
        .values(telegram_file_id=file_id[:200])
    )
