"""The newest matching articles for a chat that has just subscribed, sent after the reply.

Composing them (an archive query, clustering, rendering) and sending them cost more than the
rest of the last onboarding step together, and in a surge of new users, all of whom reach
that step at about the same time, they made its reply the slowest of all. The handler now
answers the tap and queues the chat here; one task per bot process composes and sends the
queued chats one at a time, so replies to taps come first and the articles follow: at once
when the bot is quiet, a little later in a surge.

The queue lives in memory. A graceful stop sends what is queued (for up to
`DRAIN_SECONDS`); a crash loses the chats not yet served. They lose a courtesy, not news:
what the message would have shown comes in their first digest, since nothing was recorded
as sent to them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import gettext_for
from delivery.labels import digest_labels
from delivery.on_demand import latest_for_subscriber, record_digest_sent
from storage.chats import ChatRecord

logger = logging.getLogger(__name__)

DRAIN_SECONDS = 10.0


class LatestQueue:
    """Chats waiting for their first articles, served one at a time by a task of its own."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, threshold: float
    ) -> None:
        self._session_factory = session_factory
        self._threshold = threshold
        self._queue: asyncio.Queue[tuple[Bot, ChatRecord]] | None = None
        self._worker: asyncio.Task[None] | None = None

    def add(self, bot: Bot, chat: ChatRecord) -> None:
        """Queues `chat` (as it was just saved) for its latest articles."""
        if self._queue is None:
            self._queue = asyncio.Queue()
        self._queue.put_nowait((bot, chat))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._serve(self._queue), name="latest articles")

    async def join(self) -> None:
        """Returns once every chat queued so far has been served."""
        if self._queue is not None:
            await self._queue.join()

    async def close(self) -> None:
        """Serves what is queued for up to DRAIN_SECONDS, then stops the task."""
        queue, worker = self._queue, self._worker
        if queue is None or worker is None:
            return
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                await queue.join()
        except TimeoutError:
            logger.warning(
                "stopping with %d chats still waiting for their latest articles; their "
                "first digest brings the articles instead",
                queue.qsize(),
            )
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker

    async def _serve(self, queue: asyncio.Queue[tuple[Bot, ChatRecord]]) -> None:
        while True:
            bot, chat = await queue.get()
            try:
                await self._send(bot, chat)
            except TelegramForbiddenError:
                logger.info("chat %s blocked the bot before its latest articles", chat.id)
            except Exception:
                logger.exception("could not send the latest articles to chat %s", chat.id)
            finally:
                queue.task_done()

    async def _send(self, bot: Bot, chat: ChatRecord) -> None:
        _ = gettext_for(chat.language)
        # The session ends before the request: on SQLite an open transaction holds the
        # write turn of the whole process.
        async with self._session_factory() as session:
            latest = await latest_for_subscriber(
                session,
                chat,
                datetime.now(UTC),
                digest_labels(chat.language),
                header=_("Latest on your countries"),
                threshold=self._threshold,
            )
        if latest is None:
            await bot.send_message(
                chat.id,
                _(
                    "There is nothing on your countries in the archive yet; "
                    "the digest will bring new articles as they appear."
                ),
            )
            return
        await bot.send_message(chat.id, latest.text)
        async with self._session_factory() as session:
            await record_digest_sent(session, chat.id, latest.article_ids)
            await session.commit()
