"""The single-process send pacer (`--role all`, SQLite) at the rates a bot may be given.

    .venv/bin/python bench/pacer.py [--senders 8] [--seconds 2]

For each rate (28, the default SEND_RATE; 300; 1,000, the paid-broadcast limit),
`--senders` concurrent sends take slots from one SendPacer for `--seconds`. Prints the
slots handed out per second against the rate, and the CPU time per slot. Nothing is sent:
this is the pacer's own cost and the rate it keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from delivery.sender import SendPacer  # noqa: E402

RATES = (28.0, 300.0, 1000.0)


async def measure(rate: float, senders: int, seconds: float) -> tuple[float, float]:
    """(slots per second, CPU seconds per slot) of `senders` sends sharing one pacer."""
    pacer = SendPacer(rate)
    taken = 0
    deadline = time.monotonic() + seconds

    async def send() -> None:
        nonlocal taken
        while time.monotonic() < deadline:
            if await pacer.acquire():
                taken += 1

    cpu, started = time.process_time(), time.monotonic()
    await asyncio.gather(*(send() for _ in range(senders)))
    elapsed, cpu = time.monotonic() - started, time.process_time() - cpu
    await pacer.close()
    return taken / elapsed, cpu / max(taken, 1)


async def run(arguments: argparse.Namespace) -> None:
    for rate in RATES:
        per_second, cpu = await measure(rate, arguments.senders, arguments.seconds)
        print(
            f"rate {rate:6.0f}/s: {per_second:7.1f} slots/s ({per_second / rate:.3f} of the "
            f"rate), {1e6 * cpu:5.0f} µs CPU per slot, {arguments.senders} senders"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
