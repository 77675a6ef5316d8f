"""Per-user flood limits shared by every bot replica: token buckets in Redis.

With REDIS_URL set, a user's taps may land on any replica, so the counters that let a
user through or say "slow down" live in Redis, as TokenBucket's rules (one atomic script
per event, on Redis's clock).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from handlers.middlewares import CALLBACK_BUCKET, MESSAGE_BUCKET, SharedBucket

logger = logging.getLogger(__name__)

# KEYS[1]: the user's bucket; ARGV: capacity, rate. Returns {allowed, warn}.
_TAKE = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'warned')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
local warned = state[3] == '1'
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local allowed, warn = 0, 0
if tokens >= 1 then
  if tokens >= capacity - 1 then warned = false end
  tokens = tokens - 1
  allowed = 1
elseif not warned then
  warned = true
  warn = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now),
  'warned', warned and '1' or '0')
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {allowed, warn}
"""


class RedisTokenBucket:
    """TokenBucket's rules with the state in Redis, under `prefix:<user id>`."""

    def __init__(self, client: Any, prefix: str, *, capacity: float, rate: float) -> None:
        self._client = client
        self.prefix = prefix
        self.capacity = capacity
        self.rate = rate
        # An idle bucket is full again after capacity / rate seconds; then it may go.
        self._ttl = math.ceil(capacity / rate) + 60
        self._script = client.register_script(_TAKE)

    async def take(self, key: int) -> tuple[bool, bool]:
        """(allowed, warn) as TokenBucket.take; while Redis does not answer, every event is
        let through (a flood limit is no reason to drop a user's update)."""
        try:
            allowed, warn = await self._script(
                keys=[f"{self.prefix}:{key}"], args=[self.capacity, self.rate, self._ttl]
            )
        except Exception as error:
            logger.warning("flood limit not checked, Redis does not answer: %s", error)
            return True, False
        return bool(allowed), bool(warn)


def redis_buckets(redis_url: str, bot_id: int) -> tuple[Any, SharedBucket, SharedBucket]:
    """The Redis client (close it with `aclose()`) and the (messages, button presses)
    buckets of one bot in the Redis at `redis_url`."""
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url)
    base = f"digestbot:throttle:{bot_id}"
    return (
        client,
        RedisTokenBucket(
            client, f"{base}:message", capacity=MESSAGE_BUCKET[0], rate=MESSAGE_BUCKET[1]
        ),
        RedisTokenBucket(
            client, f"{base}:callback", capacity=CALLBACK_BUCKET[0], rate=CALLBACK_BUCKET[1]
        ),
    )
