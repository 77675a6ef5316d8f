"""How the real `digestbot run` meets Telegram at start: a refused token is one line and
exit 2; Telegram out of reach is waited for, and the bot serves as soon as it answers."""

from __future__ import annotations

import asyncio

import pytest

from testing.ports import free_port
from testing.telegram import BotApiEmulator
from tests.e2e.conftest import E2E_TOKEN, BotProcessFactory

pytestmark = pytest.mark.e2e

USER = 556001


async def test_a_revoked_token_stops_the_bot_with_one_line(
    emulator: BotApiEmulator, bot_process: BotProcessFactory
) -> None:
    # The emulator knows E2E_TOKEN only: any other token is answered 401 Unauthorized.
    process = bot_process(BOT_TOKEN="654321:RevokedTokenRevokedToken_0123456789")
    process.start()
    assert process.process is not None
    code = await asyncio.to_thread(process.process.wait, 60)
    log = process.log
    assert code == 2, log[-2000:]
    assert "Traceback" not in log
    assert log.strip().splitlines()[-1] == (
        "digestbot: BOT_TOKEN: Telegram refused the token (401 Unauthorized): it was revoked "
        "or mistyped; get the current one from @BotFather"
    )


async def test_telegram_out_of_reach_at_start_is_waited_for(
    bot_process: BotProcessFactory,
) -> None:
    port = free_port()
    process = bot_process(TELEGRAM_API_URL=f"http://127.0.0.1:{port}")
    process.start()
    await process.wait_for(
        lambda: process.log.count("could not check the token: Telegram unreachable") >= 2,
        60,
        "two retries in the log",
    )
    assert "Traceback" not in process.log

    async with BotApiEmulator(token=E2E_TOKEN, rate_limits=False, port=port) as telegram:
        telegram.send_user_message(USER, "/help")
        (reply,) = await telegram.wait_for_reply(USER, 1, timeout=90)
        assert (reply.plain_text or "").startswith("Что я умею")
        code, _seconds = await process.stop()
    assert code == 0
