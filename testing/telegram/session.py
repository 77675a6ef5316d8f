"""The fake Telegram at aiogram's HTTP-session boundary, without HTTP.

`MockedSession` replaces aiogram's HTTP session: every method the bot calls is recorded
in ``log`` and answered by the same :class:`~testing.telegram.control.FakeTelegram` the
HTTP emulator serves – the same checks (Telegram's HTML parsing, the 4096-character text
and 1024-character caption limits, 64-byte callback data, "message is not modified",
answered or unknown callback queries, 403 for a chat that blocked the bot …) and the
same answers. The request fields are prepared exactly as aiogram's own HTTP session
prepares them. Everything above it (the Dispatcher, middlewares, routers, storage) is the
real code. Rate limits are off unless the ``telegram`` given has them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import EditMessageText, SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.types import InputFile

from testing.telegram.control import FakeTelegram
from testing.telegram.entities import JsonDict
from testing.telegram.records import Upload

BOT_ID = 4242
BOT_USERNAME = "regdigest_test_bot"
BOT_FIRST_NAME = "Digest"
BOT_TOKEN = f"{BOT_ID}:AAE-test-token-for-handler-tests-0123"

_MESSAGE_METHODS = (SendMessage, EditMessageText, SendPhoto, SendDocument)


@dataclass
class Sent:
    """One recorded call; ``result`` is Telegram's answer (None when it refused the call)
    and, for calls that send or edit a message, ``message_id`` is its id."""

    method: TelegramMethod[Any]
    message_id: int | None = None
    result: Any = None


def handler_test_telegram() -> FakeTelegram:
    """The fake Telegram of handler tests: the bot of :data:`BOT_TOKEN`, no rate limits."""
    return FakeTelegram(
        bot_id=BOT_ID,
        bot_username=BOT_USERNAME,
        bot_first_name=BOT_FIRST_NAME,
        rate_limits=False,
    )


class ChatAdmins(MutableMapping[int, set[int]]):
    """``session.chat_admins[chat_id] = {user ids}``: the people getChatMember calls
    administrators of a group (the group is created if Telegram does not know it yet)."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self._telegram = telegram
        self._chat_ids: set[int] = set()

    def __getitem__(self, chat_id: int) -> set[int]:
        if chat_id not in self._chat_ids:
            raise KeyError(chat_id)
        return self._telegram.chat(chat_id).admin_ids

    def __setitem__(self, chat_id: int, admins: set[int]) -> None:
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        chat = self._telegram.ensure_chat(chat_id, kind)
        chat.admin_ids = set(admins)
        chat.member_ids |= chat.admin_ids
        self._chat_ids.add(chat_id)

    def __delitem__(self, chat_id: int) -> None:
        self._chat_ids.remove(chat_id)
        self._telegram.chat(chat_id).admin_ids = set()

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._chat_ids))

    def __len__(self) -> int:
        return len(self._chat_ids)


class MockedSession(BaseSession):
    """An aiogram session answered in-process by a :class:`FakeTelegram` (module docstring).

    ``log`` lists every call (:class:`Sent`); ``requests`` the methods alone; ``rejections``
    the calls Telegram refused that no ``fail()`` planned; ``on_request`` is called with each
    method before it is answered.
    """

    def __init__(self, telegram: FakeTelegram | None = None) -> None:
        super().__init__()
        self.telegram = telegram if telegram is not None else handler_test_telegram()
        self.log: list[Sent] = []
        self.on_request: Callable[[TelegramMethod[Any]], None] | None = None
        self.chat_admins = ChatAdmins(self.telegram)

    @property
    def requests(self) -> list[TelegramMethod[Any]]:
        return [sent.method for sent in self.log]

    @property
    def rejections(self) -> list[str]:
        """``"method: description"`` of each refused call, except the planned ones."""
        return [
            f"{rejection.method}: {rejection.description}"
            for rejection in self.telegram.rejected
            if rejection.reason != "injected"
        ]

    async def close(self) -> None:
        return None

    def fail(
        self, method: type[TelegramMethod[Any]], status: int, description: str, *, times: int = 1
    ) -> None:
        """The next `times` calls of `method` get this error answer."""
        self.telegram.fail_next(method.__api_method__, status, description, times=times)

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - the signature of BaseSession
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """A download of a file getFile named: ``…/file/bot<token>/<file_path>``."""
        file_path = url.partition("/file/bot")[2].partition("/")[2]
        stored = self.telegram.file_at(file_path)
        if stored is None:
            raise FileNotFoundError(f"Telegram has no file at {url}")
        yield stored.content

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[Any],
        timeout: int | None = None,  # noqa: ASYNC109 - the signature of BaseSession
    ) -> Any:
        sent = Sent(method)
        self.log.append(sent)
        if self.on_request is not None:
            self.on_request(method)
        params, uploads = await self.request_fields(bot, method)
        status, payload = await self.telegram.invoke(method.__api_method__, params, uploads)
        if payload.get("ok"):
            sent.result = payload["result"]
            if isinstance(method, _MESSAGE_METHODS) and isinstance(sent.result, dict):
                sent.message_id = sent.result.get("message_id")
        content = json.dumps(payload, ensure_ascii=False)
        return self.check_response(bot, method, status, content).result

    async def request_fields(
        self, bot: Bot, method: TelegramMethod[Any]
    ) -> tuple[JsonDict, dict[str, Upload]]:
        """The fields and files of ``method`` as aiogram's HTTP session would post them
        (bot defaults applied, objects as JSON, files as ``attach://`` parts); a text
        that is not valid UTF-8 fails here as it fails to encode there."""
        files: dict[str, InputFile] = {}
        params: JsonDict = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if not prepared:
                continue
            if isinstance(prepared, str):
                prepared.encode("utf-8")
            params[key] = prepared
        uploads: dict[str, Upload] = {}
        for key, file in files.items():
            content = b"".join([chunk async for chunk in file.read(bot)])
            uploads[key] = Upload(file.filename or key, "application/octet-stream", content)
        return params, uploads
