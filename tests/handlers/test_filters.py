"""Every filter and handler of every router is a coroutine: aiogram runs anything else in a
worker thread (asyncio.to_thread), a thread hop for each update that reaches it."""

from __future__ import annotations

from aiogram.dispatcher.event.handler import CallableObject

from handlers import get_routers


def test_no_filter_or_handler_runs_in_a_thread() -> None:
    in_threads: list[str] = []
    checked = 0
    for router in get_routers():
        for kind, observer in router.observers.items():
            objects: list[tuple[str, CallableObject]] = [
                (f"{router.name} {kind} filter", item) for item in observer._handler.filters or []
            ]
            for handler in observer.handlers:
                name = getattr(handler.callback, "__name__", repr(handler.callback))
                objects.append((f"{router.name} {kind} {name}", handler))
                objects += [
                    (f"{router.name} {kind} {name} filter", item) for item in handler.filters or []
                ]
            for label, item in objects:
                checked += 1
                if not item.awaitable:
                    in_threads.append(f"{label}: {item.callback!r}")
    assert checked > 50
    assert in_threads == []
