"""Bot replicas share conversation state in Redis: a user's next message may land on
another process and still continue the conversation."""

from __future__ import annotations

from handlers.screens import TimePick
from testing.telegram import BotApiEmulator
from tests.scale.conftest import Database, RoleFactory, wait_until
from tests.support.services import required_url

USER = 5_005_001
REDIS_ENV = "TEST_REDIS_URL"


def require_redis() -> str:
    return required_url(REDIS_ENV, "Redis", ".ci/redis.sh")


async def test_a_conversation_started_on_one_replica_continues_on_another(
    database: Database, emulator: BotApiEmulator, role_process: RoleFactory
) -> None:
    env = {"TELEGRAM_API_URL": emulator.base_url, "REDIS_URL": require_redis()}
    first = role_process("bot", **env).start()
    emulator.send_user_message(USER, "/start")
    (greeting,) = await emulator.wait_for_messages(USER, 1, timeout=60)
    emulator.press_button(USER, greeting.message_id, TimePick(action="i").pack())
    await emulator.wait_for_messages(
        USER, 1, timeout=30, predicate=lambda message: "08:30" in (message.plain_text or "")
    )
    assert await first.stop() == 0

    # The next message reaches another process, which knows the question it answers.
    second = role_process("bot", **env).start()
    emulator.send_user_message(USER, "07:45")

    async def time_saved() -> bool:
        return await database.value("SELECT digest_time FROM chats WHERE id = $1", USER) == "07:45"

    await wait_until(time_saved, 60, "the typed time to be saved by the second replica")
    assert await second.stop() == 0


async def test_flood_limits_are_shared_by_replicas_through_redis() -> None:
    """Two replicas' buckets for one bot count one user's events together, and say "slow
    down" once per flood; another user has a bucket of their own."""
    import uuid

    from bot.throttling import RedisTokenBucket, redis_buckets
    from handlers.middlewares import MESSAGE_BUCKET

    bot_id = int(uuid.uuid4().int % 10**9)
    first_client, first, _ = redis_buckets(require_redis(), bot_id)
    second_client, second, _ = redis_buckets(require_redis(), bot_id)
    try:
        assert isinstance(first, RedisTokenBucket) and first.capacity == MESSAGE_BUCKET[0]
        answers = [await (first if n % 2 else second).take(USER) for n in range(7)]
        assert answers[:5] == [(True, False)] * 5
        assert answers[5:] == [(False, True), (False, False)]
        assert await second.take(USER + 1) == (True, False)
    finally:
        await first_client.aclose()
        await second_client.aclose()


async def test_flood_limits_let_events_through_while_redis_does_not_answer() -> None:
    from bot.throttling import redis_buckets

    client, messages, _ = redis_buckets("redis://127.0.0.1:1/0", 42)
    try:
        assert [await messages.take(USER) for _ in range(8)] == [(True, False)] * 8
    finally:
        await client.aclose()
