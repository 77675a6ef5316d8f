"""The reverse proxy in front of webhook replicas passes over a backend that is not up."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from testing.ports import free_port
from testing.proxy import RoundRobinProxy


async def _backend(port: int) -> web.AppRunner:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response(
            {"path": request.path, "secret": request.headers.get("X-Telegram-Bot-Api-Secret-Token")}
        )

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def test_a_backend_that_is_not_up_is_passed_over() -> None:
    down, up = free_port(), free_port()
    backends = [f"http://127.0.0.1:{down}", f"http://127.0.0.1:{up}"]
    runner = await _backend(up)
    try:
        async with RoundRobinProxy(backends) as proxy, aiohttp.ClientSession() as http:
            for _ in range(4):
                async with http.post(
                    f"{proxy.url}/telegram/webhook",
                    data=b"{}",
                    headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"},
                ) as answer:
                    assert answer.status == 200
                    assert await answer.json() == {"path": "/telegram/webhook", "secret": "s3cret"}
            assert proxy.handled == {backends[1]: 4}
    finally:
        await runner.cleanup()


async def test_no_backend_up_is_a_502() -> None:
    backends = [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    async with (
        RoundRobinProxy(backends) as proxy,
        aiohttp.ClientSession() as http,
        http.post(f"{proxy.url}/telegram/webhook", data=b"{}") as answer,
    ):
        assert answer.status == 502
    assert sum(proxy.handled.values()) == 0
