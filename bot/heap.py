"""The garbage collector and what start-up loads for the life of the process."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)


async def freeze_startup_objects() -> None:
    """Moves everything alive once start-up is done out of the collector's way.

    Start-up loads a few hundred thousand objects that live as long as the process: the
    tagger's and the lemmatizer's tables, the catalogs, the ORM's, pydantic's and
    aiogram's classes. Python's full collections walk every tracked object, so each one
    held the event loop for about a third of a second, several times a minute while
    updates pour in. They are collected once here (so no garbage is kept for good) and
    frozen: later collections walk only what was made since. A dispatcher startup hook,
    after the lookup tables have loaded (bot.app.create_dispatcher).
    """
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    logger.info(
        "%d objects loaded at start-up set aside from garbage collection (%.0f ms)",
        gc.get_freeze_count(),
        1000 * (time.perf_counter() - started),
    )


@contextmanager
def loading_modules() -> Iterator[None]:
    """For the imports of a long-running process's stack (Telegram's library above all).

    They create most of the objects that freeze_startup_objects sets aside, and every
    collection they set off walks all those made so far and finds nothing to free: 0.5 to
    0.9 s of the 6–8 s of CPU that importing the bot's stack takes on a two-core machine.
    The collector is off meanwhile, and what they made is frozen when they are done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
