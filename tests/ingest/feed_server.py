"""A real HTTP server on 127.0.0.1 that plays well-behaved and hostile feeds for tests."""

from __future__ import annotations

import asyncio
import gzip
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RSS = "application/rss+xml; charset=utf-8"


@dataclass
class Seen:
    """What the server saw, for assertions."""

    hits: Counter[str] = field(default_factory=Counter)
    headers: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))
    in_flight: int = 0
    max_in_flight: int = 0


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.seen = Seen()
        self.base = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def url(self, path: str) -> str:
        return self.base + path

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.seen.hits[path] += 1
        self.seen.headers[path].append(dict(request.headers))
        handler = self.routes.get(path)
        if handler is None:
            raise web.HTTPNotFound()
        self.seen.in_flight += 1
        self.seen.max_in_flight = max(self.seen.max_in_flight, self.seen.in_flight)
        try:
            return await handler(request)
        finally:
            self.seen.in_flight -= 1

    # --- behaviours -----------------------------------------------------------------------

    def document(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str = RSS,
        etag: str | None = None,
        last_modified: str | None = None,
        delay: float = 0.0,
        gzipped: bool = False,
    ) -> None:
        """Serves `body`, answering 304 when the client's validators match."""

        async def handler(request: web.Request) -> web.StreamResponse:
            if delay:
                await asyncio.sleep(delay)
            headers = {"Content-Type": content_type}
            if etag:
                headers["ETag"] = etag
            if last_modified:
                headers["Last-Modified"] = last_modified
            if (etag and request.headers.get("If-None-Match") == etag) or (
                last_modified and request.headers.get("If-Modified-Since") == last_modified
            ):
                return web.Response(status=304, headers=headers)
            payload = body
            if gzipped:
                payload = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            return web.Response(body=payload, headers=headers)

        self.routes[path] = handler

    def status(self, path: str, status: int) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, text="ошибка сервера")

        self.routes[path] = handler

    def redirect(self, path: str, target: str, status: int = 302) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": target})

        self.routes[path] = handler

    def stall(self, path: str, seconds: float) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            await asyncio.sleep(seconds)
            return web.Response(body=b"<rss/>", content_type="application/rss+xml")

        self.routes[path] = handler

    def endless(self, path: str, total_bytes: int, *, declare_length: bool = False) -> None:
        """Streams `total_bytes` of a feed that never closes its channel, 1 MB at a time."""

        async def handler(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": RSS})
            if declare_length:
                response.content_length = total_bytes
            await response.prepare(request)
            filler = b"<item><title>x</title></item>" * 36_000
            sent = 0
            try:
                while sent < total_bytes:
                    piece = filler[: total_bytes - sent]
                    await response.write(piece)
                    sent += len(piece)
            except (ConnectionError, RuntimeError):
                pass
            return response

        self.routes[path] = handler
