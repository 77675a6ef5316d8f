"""``python -m testing.telegram --port 0``: the Bot API emulator as a process of its own."""

from testing.telegram.server import main

main()
