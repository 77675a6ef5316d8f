"""Bot replicas in webhook mode behind a reverse proxy: Telegram's secret is checked on
every request, and updates spread over the replicas."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from testing.telegram import BotApiEmulator
from tests.scale.conftest import RoleFactory, wait_until
from tests.scale.test_redis import require_redis
from tests.scale.test_roles import free_port

SECRET = "webhook-Secret_42"
USER = 5_006_001
STRANGER = 5_006_002


class RoundRobinProxy:
    """A reverse proxy on 127.0.0.1 that hands each request to the next replica."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.handled: Counter[str] = Counter()
        self._next = itertools.cycle(backends)
        self.url = ""

    async def forward(self, request: web.Request) -> web.Response:
        backend = next(self._next)
        self.handled[backend] += 1
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower().startswith("x-telegram") or name.lower() == "content-type"
        }
        async with (
            aiohttp.ClientSession() as http,
            http.post(backend + request.path, data=await request.read(), headers=headers) as answer,
        ):
            return web.Response(status=answer.status, body=await answer.read())


@pytest.fixture
async def proxy() -> AsyncIterator[RoundRobinProxy]:
    ports = [free_port(), free_port()]
    balancer = RoundRobinProxy([f"http://127.0.0.1:{port}" for port in ports])
    app = web.Application()
    app.router.add_post("/{tail:.*}", balancer.forward)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    balancer.url = f"http://{host}:{port}"
    try:
        yield balancer
    finally:
        await runner.cleanup()


def forged_update(update_id: int) -> bytes:
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": 1,
                "date": 1_700_000_000,
                "chat": {"id": STRANGER, "type": "private"},
                "from": {"id": STRANGER, "is_bot": False, "first_name": "Мошенник"},
                "text": "/start",
            },
        }
    ).encode()


async def test_replicas_refuse_a_wrong_secret_and_share_the_updates(
    emulator: BotApiEmulator, proxy: RoundRobinProxy, role_process: RoleFactory
) -> None:
    replicas = [
        role_process(
            "bot",
            TELEGRAM_API_URL=emulator.base_url,
            REDIS_URL=require_redis(),
            WEBHOOK_URL=proxy.url,
            WEBHOOK_SECRET=SECRET,
            WEBHOOK_HOST="127.0.0.1",
            WEBHOOK_PORT=backend.rsplit(":", 1)[1],
        ).start()
        for backend in proxy.backends
    ]
    for replica in replicas:
        await replica.wait_for_log("webhook server listening")

    async with aiohttp.ClientSession() as http:
        for number, backend in enumerate(proxy.backends):
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(
                    f"{backend}/telegram/webhook",
                    data=forged_update(900 + number),
                    headers={"Content-Type": "application/json", **headers},
                ) as answer:
                    assert answer.status in (401, 403), answer.status

    # A real user through Telegram (the emulator posts with the secret) and the proxy.
    for _ in range(3):
        emulator.send_user_message(USER, "/start")
    await emulator.wait_for_messages(USER, 3, timeout=60)
    await wait_until(lambda: min(proxy.handled.values(), default=0) >= 1, 10, "both replicas")
    assert set(proxy.handled) == set(proxy.backends)
    assert emulator.messages_for(STRANGER) == []
    for replica in replicas:
        assert await replica.stop() == 0
