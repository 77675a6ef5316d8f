"""A round-robin reverse proxy on 127.0.0.1, as an operator puts in front of webhook replicas:
each request goes to the next backend; the headers Telegram sets are passed on. A backend
that refuses the connection (not started yet, or stopped) is passed over for the next one,
as nginx does by default, and 502 comes back when none takes it."""

from __future__ import annotations

import itertools
from collections import Counter
from types import TracebackType

from aiohttp import ClientConnectorError, ClientSession, ClientTimeout, TCPConnector, web


class RoundRobinProxy:
    """``async with RoundRobinProxy(backends) as proxy``: ``proxy.url`` is where to point
    WEBHOOK_URL; ``proxy.handled`` counts the requests each backend got."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.handled: Counter[str] = Counter()
        self.url = ""
        self._next = itertools.cycle(backends)
        self._runner: web.AppRunner | None = None
        self._http: ClientSession | None = None

    async def __aenter__(self) -> RoundRobinProxy:
        self._http = ClientSession(connector=TCPConnector(limit=0), timeout=ClientTimeout(total=60))
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._http is not None
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower().startswith("x-telegram") or name.lower() == "content-type"
        }
        body = await request.read()
        for _ in self.backends:
            backend = next(self._next)
            try:
                async with self._http.post(
                    backend + request.path, data=body, headers=headers
                ) as answer:
                    self.handled[backend] += 1
                    return web.Response(
                        status=answer.status,
                        body=await answer.read(),
                        content_type=answer.content_type,
                    )
            except ClientConnectorError:
                continue
        return web.Response(status=502, text="no backend took the connection")
