"""Worker processes of the bot's processes: started afresh, ended with the process that
started them, and replaced when one dies.

`spawn_pool` starts processes with `spawn`, never forked from a process with an event loop
and threads; each watches its parent and exits when the parent is gone, however it ended
(kill -9 and the out-of-memory killer leave no chance to shut a pool down, and its
processes would otherwise wait for work forever), and logs as its parent does (a process
started afresh has no logging set up: its warnings would be bare lines on stderr).
`RespawningPool` keeps a pool usable after one of its processes died.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, ParamSpec, TypeVar

from core.logs import configure_logging

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def spawn_pool(
    processes: int,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """`processes` worker processes, each running `initializer(*initargs)` first."""
    root = logging.getLogger()
    # The level the parent logs at, if it set logging up (configure_logging).
    log_level = logging.getLevelName(root.level) if root.handlers else None
    return ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start,
        initargs=(initializer, initargs, log_level),
    )


def _start(
    initializer: Callable[..., object] | None, initargs: tuple[Any, ...], log_level: str | None
) -> None:
    exit_with_parent()
    if log_level is not None:
        configure_logging(log_level)
    if initializer is not None:
        initializer(*initargs)


def exit_with_parent() -> None:
    """Ends this process when the one that started it is gone."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class RespawningPool(Executor):
    """A process pool that starts new processes when one of its own died, instead of
    refusing every later call as a broken `ProcessPoolExecutor` does: the calls under way
    when it died fail, the next ones run."""

    def __init__(self, start: Callable[[], ProcessPoolExecutor], name: str) -> None:
        self._start = start
        self._name = name
        self._pool = start()
        # Times the pool was found broken and started afresh (a metric of the process).
        self.restarts = 0

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        try:
            return self._pool.submit(fn, *args, **kwargs)
        except BrokenProcessPool:
            logger.warning("a %s process died; starting new ones", self._name)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            self.restarts += 1
            return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
