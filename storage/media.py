"""Pictures sent with outbox rows: stored once per content, with the file id Telegram gave
them on the first send so that later sends do not upload them again."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.articles import insert_ignoring_conflicts
from storage.models import Media


@dataclass(frozen=True, slots=True)
class StoredMedia:
    id: int
    content: bytes
    filename: str
    telegram_file_id: str | None


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


async def get_media(session: AsyncSession, media_id: int) -> StoredMedia | None:
    row = (
        await session.execute(
            select(Media.id, Media.content, Media.filename, Media.telegram_file_id).where(
                Media.id == media_id
            )
        )
    ).one_or_none()
    if row is None:
        return None
    return StoredMedia(row.id, row.content, row.filename, row.telegram_file_id)


async def remember_file_id(session: AsyncSession, media_id: int, file_id: str) -> None:
    await session.execute(
        update(Media)
        .where(Media.id == media_id, Media.telegram_file_id.is_(None))
        .values(telegram_file_id=file_id[:200])
    )
