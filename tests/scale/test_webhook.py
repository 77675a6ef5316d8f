"""Bot replicas in webhook mode behind a reverse proxy: Telegram's secret is checked on
every request, and updates spread over the replicas."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from testing.ports import free_port
from testing.proxy import RoundRobinProxy
from testing.telegram import BotApiEmulator
from tests.scale.conftest import RoleFactory, wait_until
from tests.scale.test_redis import require_redis

SECRET = "webhook-Secret_42"
USER = 5_006_001
STRANGER = 5_006_002


@pytest.fixture
async def proxy() -> AsyncIterator[RoundRobinProxy]:
    async with RoundRobinProxy(
        [f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"]
    ) as balancer:
        yield balancer


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
    await wait_until(
        lambda: all(proxy.handled[backend] >= 1 for backend in proxy.backends), 10, "both replicas"
    )
    assert set(proxy.handled) == set(proxy.backends)
    assert emulator.messages_for(STRANGER) == []
    for replica in replicas:
        assert await replica.stop() == 0
