"""Arguments of `storage.chats.ensure_chat` for a private chat, shared by storage tests."""

from __future__ import annotations

from typing import Any

PRIVATE_CHAT: dict[str, Any] = {
    "type": "private",
    "title": "Анна",
    "language": "ru",
    "timezone": "Asia/Omsk",
    "digest_time": "09:00",
}
