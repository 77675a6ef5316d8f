"""A local Telegram Bot API server for tests and benchmarks.

``BotApiEmulator`` speaks the Bot API over HTTP on 127.0.0.1 the way Telegram's own
server does for the methods the bot uses, with Telegram's validation (HTML entity parsing, text and
caption limits, inline keyboards, edits), its rate limits and its error answers, so that the
real bot (aiogram) can be run against it unchanged::

    async with BotApiEmulator() as api:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
        bot = Bot(DEFAULT_TOKEN, session=session)
        api.send_user_message(42, "/start")          # a person writes to the bot
        replies = await api.wait_for_reply(42)      # what the bot answered

This module is the HTTP front only: what Telegram does with a request is in ``methods.py``
(on the state of ``state.py``), the test-side controls are in ``control.py``. Here:

Routes: ``{base}/bot{token}/{method}`` (GET or POST; query string, urlencoded form,
multipart form data or a JSON body) and ``{base}/file/bot{token}/{file_path}``; getUpdates
long polling (409 for a second poller), webhook delivery (up to the webhook's max_connections
requests at once, one at a time per chat), and planned transport trouble
(``set_delay``, ``drop_connection_next``). With ``local_files`` it behaves as a server
started with ``--local``: getFile answers with an absolute path under that directory, where
the file is written, and the file route answers 404.
A JSON control interface drives an emulator that runs in another process
(``python -m testing.telegram --port N`` prints its base URL on stdout and its
counters as one JSON line on stderr when stopped): ``POST {base}/_emulator/{action}`` with a
JSON object of keyword arguments for ``send_user_message``, ``press_button``,
``send_document`` (``content_base64`` instead of ``content``), ``bot_added_to_group``,
``user_blocks_bot``, ``block_chat``, ``unblock_chat``, ``deactivate_user``, ``kick_bot``,
``add_group``, ``migrate_group``, ``fail_next``, ``set_delay``, ``drop_connection_next``,
``set_rate_limits``, ``clear_failures``, ``reset_counters``, ``marker``,
``wait_for_messages``, ``wait_for_reply``, ``wait_for_answer`` (408 on timeout); and
``GET {base}/_emulator/stats``, ``messages?chat_id=N``, ``sent_messages?since=N``,
``rejected``. Answers are ``{"ok": true, "result": ...}``.

Everything runs on the event loop that called :meth:`BotApiEmulator.start`; the test-side
methods (``send_user_message``, ``block_chat`` …) must be called from that loop.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import gc
import re
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from aiohttp import (
    ClientError,
    ClientSession,
    ClientTimeout,
    MultipartReader,
    TCPConnector,
    web,
)
from aiohttp.web_request import FileField

from testing.telegram.control import FakeTelegram
from testing.telegram.entities import JsonDict, checked_url
from testing.telegram.methods import NOT_FOUND_PAYLOAD, UPLOAD_SIZE_LIMIT, Handler
from testing.telegram.params import bool_param, compact_json, int_param, json_param, str_param
from testing.telegram.records import (
    DEFAULT_BOT_ID,
    DEFAULT_BOT_USERNAME,
    GETUPDATES_CONFLICT,
    WEBHOOK_CONFLICT,
    ApiError,
    ChatState,
    SentMessage,
    Upload,
)

DEFAULT_ALLOWED_UPDATES: Final = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)

_TOKEN_PATTERN: Final = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,120}")
_SECRET_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,256}")
_UNAUTHORIZED_PAYLOAD: Final = {"ok": False, "error_code": 401, "description": "Unauthorized"}


@dataclass(slots=True)
class _Drop:
    remaining: int
    after_processing: bool
    chat_id: int | None


@dataclass(slots=True)
class _Poller:
    event: asyncio.Event
    terminated: bool = False


def _json_response(status: int, payload: JsonDict) -> web.Response:
    return web.Response(text=compact_json(payload), status=status, content_type="application/json")


class BotApiEmulator(FakeTelegram):
    """An in-process Telegram Bot API server on 127.0.0.1 (see the module docstring).

    Construction arguments:

    * ``host``, ``port`` – where to listen; port 0 picks a free port (see ``base_url``).
    * ``token`` – when set, only this token is accepted (others get 401 Unauthorized);
      when None any well-formed token is. A malformed token gets 404 like Telegram.
    * ``max_long_poll`` – upper bound of a getUpdates ``timeout`` in seconds.
    * ``webhook_retry_delay`` – pause before re-posting an update the webhook refused.
    * the rest (the bot, rate limits, ``callback_query_ttl``, ``strict_html_ampersand``)
      as in :class:`~testing.telegram.state.TelegramState`.

    Counters and records (read them directly): those of the state (``sent_messages``,
    ``rejected``, ``calls``, ``call_counts``, ``count_429`` …) and of the transport:
    ``webhook``, ``webhook_deliveries``, ``webhook_failures``, ``dropped_connections``,
    ``conflicts``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        bot_id: int = DEFAULT_BOT_ID,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = "Региональный дайджест",
        global_rate: float | None = 30.0,
        private_chat_rate: float | None = 1.0,
        private_chat_burst: int = 3,
        group_rate_per_minute: int | None = 20,
        rate_limits: bool = True,
        retry_after: int | None = None,
        callback_query_ttl: float = 15.0,
        strict_html_ampersand: bool = True,
        max_long_poll: float = 50.0,
        webhook_retry_delay: float = 1.0,
        local_files: Path | None = None,
    ) -> None:
        super().__init__(
            bot_id=bot_id,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            global_rate=global_rate,
            private_chat_rate=private_chat_rate,
            private_chat_burst=private_chat_burst,
            group_rate_per_minute=group_rate_per_minute,
            rate_limits=rate_limits,
            retry_after=retry_after,
            callback_query_ttl=callback_query_ttl,
            strict_html_ampersand=strict_html_ampersand,
            local_files=local_files,
        )
        self.host = host
        self.port = port
        self.token = token
        self.max_long_poll = max_long_poll
        self.webhook_retry_delay = webhook_retry_delay

        self.webhook: JsonDict | None = None
        self.webhook_deliveries = 0
        self.webhook_failures = 0
        self.dropped_connections = 0
        self.conflicts = 0

        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._poller: _Poller | None = None
        self._drops: dict[str, list[_Drop]] = {}
        self._delays: dict[str, tuple[float, bool]] = {}
        self._webhook_wakeup = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._closing = False

    def _bot_api_methods(self) -> dict[str, Handler]:
        return {
            **super()._bot_api_methods(),
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
        }

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> str:
        """Start listening and return :attr:`base_url`."""
        app = web.Application(client_max_size=UPLOAD_SIZE_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{file_path:.+}", self._handle_file)
        app.router.add_route("*", "/_emulator/{action}", self._handle_control)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown_route)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.port = port
        self._base_url = f"http://{host}:{port}"
        return self._base_url

    async def stop(self) -> None:
        """Release pending long polls, stop webhook delivery and close the server."""
        self._closing = True
        if self._poller is not None:
            self._poller.event.set()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; pass it to ``TelegramAPIServer.from_base``."""
        if self._base_url is None:
            raise RuntimeError("the emulator is not started")
        return self._base_url

    # ----------------------------------------------------------------- transport trouble

    def set_delay(self, method: str, seconds: float, *, after_processing: bool = False) -> None:
        """Delay answers of ``method`` (``"*"`` for every method); 0 removes the delay.

        By default the request waits before it is processed; with ``after_processing`` it is
        processed (the message is sent) and the answer waits.
        """
        if seconds <= 0:
            self._delays.pop(method.lower(), None)
        else:
            self._delays[method.lower()] = (seconds, after_processing)

    def drop_connection_next(
        self,
        method: str,
        times: int = 1,
        *,
        after_processing: bool = False,
        chat_id: int | None = None,
    ) -> None:
        """Close the socket of the next ``times`` calls of ``method`` without an answer.

        By default nothing is processed; with ``after_processing`` the message is sent and
        only the answer is lost, like a connection that broke on the way back.
        """
        self._drops.setdefault(method.lower(), []).append(_Drop(times, after_processing, chat_id))

    def clear_failures(self) -> None:
        """Forget every ``fail_next``, ``set_delay`` and ``drop_connection_next``."""
        super().clear_failures()
        self._drops.clear()
        self._delays.clear()

    def stats(self) -> JsonDict:
        return {
            **super().stats(),
            "dropped_connections": self.dropped_connections,
            "conflicts": self.conflicts,
            "webhook": self.webhook,
        }

    # ----------------------------------------------------------------- HTTP

    async def _handle_unknown_route(self, request: web.Request) -> web.Response:
        return _json_response(404, NOT_FOUND_PAYLOAD)

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if _TOKEN_PATTERN.fullmatch(token) is None:
            return _json_response(404, NOT_FOUND_PAYLOAD)
        method = request.match_info["method"]
        if self.token is not None and token != self.token:
            self._reject(method, {}, ApiError(401, "Unauthorized", reason="unauthorized"))
            return _json_response(401, _UNAUTHORIZED_PAYLOAD)
        key = method.lower()
        try:
            params, uploads = await self._read_params(request)
        except ApiError as error:
            return _json_response(error.status, self._reject(method, {}, error))
        drop = self._take(self._drops, key, params) if self._drops else None
        delay = (self._delays.get(key) or self._delays.get("*")) if self._delays else None
        if drop is not None and not drop.after_processing:
            return self._drop_connection(request)
        if delay is not None and not delay[1]:
            await asyncio.sleep(delay[0])
        status, payload = await self.invoke(key, params, uploads)
        if drop is not None:
            return self._drop_connection(request)
        if delay is not None and delay[1]:
            await asyncio.sleep(delay[0])
        return _json_response(status, payload)

    def _drop_connection(self, request: web.Request) -> web.StreamResponse:
        self.dropped_connections += 1
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError

    async def _read_params(self, request: web.Request) -> tuple[JsonDict, dict[str, Upload]]:
        params: JsonDict = dict(request.query) if request.query_string else {}
        uploads: dict[str, Upload] = {}
        if request.method != "POST" or not request.body_exists:
            return params, uploads
        content_type = request.content_type
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as error:
                raise ApiError(400, "Bad Request: can't parse JSON object") from error
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: can't parse JSON object")
            params.update(body)
        elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, FileField):
                    uploads[name] = Upload(
                        value.filename or name, value.content_type, value.file.read()
                    )
                else:
                    params[name] = value
        return params, uploads

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if _TOKEN_PATTERN.fullmatch(token) is None:
            return _json_response(404, NOT_FOUND_PAYLOAD)
        if self.token is not None and token != self.token:
            return _json_response(401, _UNAUTHORIZED_PAYLOAD)
        stored = self.file_at(request.match_info["file_path"])
        if stored is None or self.local_files is not None:
            return _json_response(404, NOT_FOUND_PAYLOAD)
        return web.Response(
            body=stored.content,
            content_type=stored.mime_type or "application/octet-stream",
        )

    # ----------------------------------------------------------------- getUpdates

    def _update_queued(self) -> None:
        if self._poller is not None:
            self._poller.event.set()
        self._webhook_wakeup.set()

    async def _get_updates(self, params: JsonDict, uploads: dict[str, Upload]) -> list[JsonDict]:
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT, reason="conflict")
        offset = int_param(params, "offset", 0) or 0
        limit = min(max(int_param(params, "limit", 100) or 100, 1), 100)
        timeout = min(max(float(int_param(params, "timeout", 0) or 0), 0.0), self.max_long_poll)
        allowed = json_param(params, "allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        self.confirm_updates(offset)
        if self._poller is not None:
            self._poller.terminated = True
            self._poller.event.set()
            self.conflicts += 1
        poller = _Poller(asyncio.Event())
        self._poller = poller
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while True:
                batch = self._collect(limit)
                if batch or self._closing:
                    return batch
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                poller.event.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(poller.event.wait(), remaining)
                if poller.terminated:
                    raise ApiError(409, GETUPDATES_CONFLICT, reason="conflict")
        finally:
            if self._poller is poller:
                self._poller = None

    def _collect(self, limit: int) -> list[JsonDict]:
        """Up to ``limit`` pending updates of the allowed types (the others are dropped)."""
        allowed = self._allowed_updates
        kept: list[JsonDict] = []
        batch: list[JsonDict] = []
        for update in self._pending:
            kind = next(key for key in update if key != "update_id")
            if kind in allowed:
                kept.append(update)
                if len(batch) < limit:
                    batch.append(update)
        self._pending.clear()
        self._pending.extend(kept)
        return batch

    # ----------------------------------------------------------------- webhook

    async def _set_webhook(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        url = str_param(params, "url") or ""
        if not url:
            return await self._delete_webhook(params, uploads)
        if checked_url(url) is None or not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: Failed to resolve host")
        secret = str_param(params, "secret_token")
        if secret is not None and _SECRET_TOKEN.fullmatch(secret) is None:
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        allowed = json_param(params, "allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_ALLOWED_UPDATES
        if bool_param(params, "drop_pending_updates"):
            self._pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": int_param(params, "max_connections", 40),
            "allowed_updates": allowed,
            "ip_address": str_param(params, "ip_address"),
        }
        if self._poller is not None:
            self._poller.terminated = True
            self._poller.event.set()
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.create_task(self._deliver_webhook_updates())
        self._webhook_wakeup.set()
        return True

    async def _delete_webhook(self, params: JsonDict, uploads: dict[str, Upload]) -> bool:
        self.webhook = None
        if bool_param(params, "drop_pending_updates"):
            self._pending.clear()
        self._webhook_wakeup.set()
        return True

    async def _get_webhook_info(self, params: JsonDict, uploads: dict[str, Upload]) -> JsonDict:
        info: JsonDict = {
            "url": (self.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook is not None:
            info["max_connections"] = self.webhook["max_connections"]
            if self.webhook["allowed_updates"]:
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _deliver_webhook_updates(self) -> None:
        """Posts pending updates as Telegram does: up to the webhook's ``max_connections``
        requests open at once, and one at a time per chat, so that a chat's updates arrive
        in order. A refused update stays first in its chat's line and is posted again after
        ``webhook_retry_delay``."""
        posting: dict[int, asyncio.Task[None]] = {}
        busy_chats: set[int | str] = set()
        connector = TCPConnector(limit=0)
        async with ClientSession(timeout=ClientTimeout(total=30), connector=connector) as session:
            try:
                while self.webhook is not None and not self._closing:
                    update = self._next_webhook_update(posting, busy_chats)
                    if update is None or len(posting) >= self.webhook["max_connections"]:
                        self._webhook_wakeup.clear()
                        await self._webhook_wakeup.wait()
                        continue
                    chat = _update_chat(update)
                    busy_chats.add(chat)
                    task = asyncio.create_task(self._post_webhook_update(session, update))
                    posting[id(update)] = task

                    def finished(
                        _: asyncio.Task[None], key: int = id(update), chat: int | str = chat
                    ) -> None:
                        posting.pop(key, None)
                        busy_chats.discard(chat)
                        self._webhook_wakeup.set()

                    task.add_done_callback(finished)
            finally:
                for task in list(posting.values()):
                    task.cancel()
                await asyncio.gather(*posting.values(), return_exceptions=True)

    def _next_webhook_update(
        self, posting: dict[int, asyncio.Task[None]], busy_chats: set[int | str]
    ) -> JsonDict | None:
        """The oldest pending update that is not being posted and whose chat is free;
        updates of kinds the webhook did not ask for are dropped on the way."""
        skipped: list[JsonDict] = []
        chosen: JsonDict | None = None
        for update in self._pending:
            if id(update) in posting:
                continue
            kind = next(key for key in update if key != "update_id")
            if kind not in self._allowed_updates:
                skipped.append(update)
                continue
            if _update_chat(update) in busy_chats:
                continue
            chosen = update
            break
        for update in skipped:
            self._pending.remove(update)
        return chosen

    async def _post_webhook_update(self, session: ClientSession, update: JsonDict) -> None:
        webhook = self.webhook
        if webhook is None:
            return
        headers = {"Content-Type": "application/json"}
        if webhook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
        try:
            async with session.post(
                webhook["url"], data=compact_json(update).encode(), headers=headers
            ) as response:
                if 200 <= response.status < 300:
                    with contextlib.suppress(ValueError):
                        self._pending.remove(update)
                    self.webhook_deliveries += 1
                    await self._run_webhook_reply(response)
                    self._notify("*")
                    return
        except (ClientError, TimeoutError):
            pass
        self.webhook_failures += 1
        self._notify("*")
        await asyncio.sleep(self.webhook_retry_delay)

    async def _run_webhook_reply(self, response: Any) -> None:
        """A method call in the webhook's answer (``{"method": …}``) is run like a request."""
        params: JsonDict = {}
        uploads: dict[str, Upload] = {}
        content_type = response.content_type
        if content_type == "application/json":
            with contextlib.suppress(ValueError):
                body = await response.json()
                if isinstance(body, dict):
                    params = body
        elif content_type.startswith("multipart/"):
            reader = MultipartReader.from_response(response)
            async for part in reader:
                if part is None or isinstance(part, MultipartReader) or part.name is None:
                    continue
                data = await part.read()
                if part.filename:
                    uploads[part.name] = Upload(
                        part.filename, part.headers.get("Content-Type", ""), bytes(data)
                    )
                else:
                    params[part.name] = bytes(data).decode("utf-8")
        method = params.pop("method", None)
        if isinstance(method, str) and method:
            await self.invoke(method, params, uploads)

    # ----------------------------------------------------------------- control interface

    async def _handle_control(self, request: web.Request) -> web.Response:
        action = request.match_info["action"]
        body: JsonDict = {}
        if request.body_exists:
            try:
                loaded = await request.json()
            except ValueError:
                return _json_response(400, {"ok": False, "description": "body is not JSON"})
            if isinstance(loaded, dict):
                body = loaded
        body.update(request.query)
        try:
            result = await self._control(action, body)
        except TimeoutError as error:
            return _json_response(408, {"ok": False, "description": str(error)})
        except (KeyError, TypeError, ValueError) as error:
            return _json_response(400, {"ok": False, "description": repr(error)})
        if result is _UNKNOWN_ACTION:
            return _json_response(404, {"ok": False, "description": f"no action {action!r}"})
        return _json_response(200, {"ok": True, "result": result})

    async def _control(self, action: str, body: JsonDict) -> Any:
        def chat_id() -> int:
            return int(body.pop("chat_id"))

        simple: dict[str, Callable[..., Any]] = {
            "send_user_message": self.send_user_message,
            "press_button": self.press_button,
            "bot_added_to_group": self.bot_added_to_group,
            "user_blocks_bot": self.user_blocks_bot,
            "block_chat": self.block_chat,
            "unblock_chat": self.unblock_chat,
            "deactivate_user": self.deactivate_user,
            "kick_bot": self.kick_bot,
            "migrate_group": self.migrate_group,
            "fail_next": self.fail_next,
            "set_delay": self.set_delay,
            "drop_connection_next": self.drop_connection_next,
            "set_rate_limits": self.set_rate_limits,
            "clear_failures": self.clear_failures,
            "reset_counters": self.reset_counters,
            "marker": self.marker,
        }
        if action in simple:
            result = simple[action](**body)
            return None if isinstance(result, ChatState) else result
        if action == "stats":
            return self.stats()
        if action == "add_group":
            self.add_group(**body)
            return None
        if action == "send_document":
            content = base64.b64decode(body.pop("content_base64"))
            return self.send_document(content=content, **body)
        if action == "messages":
            return [_record_json(record) for record in self.messages_for(chat_id())]
        if action == "sent_messages":
            since = int(body.get("since", 0))
            return [_record_json(record) for record in self.sent_messages[since:]]
        if action == "rejected":
            return [dataclasses.asdict(rejection) for rejection in self.rejected]
        if action == "wait_for_messages":
            records = await self.wait_for_messages(chat_id(), **_numeric(body))
            return [_record_json(record) for record in records]
        if action == "wait_for_reply":
            records = await self.wait_for_reply(chat_id(), **_numeric(body))
            return [_record_json(record) for record in records]
        if action == "wait_for_answer":
            return await self.wait_for_answer(**_numeric(body))
        return _UNKNOWN_ACTION


_UNKNOWN_ACTION: Final = object()


def _update_chat(update: JsonDict) -> int | str:
    """The chat an update belongs to (the sender's for updates without a chat); an update
    with neither gets a key of its own."""
    for kind, body in update.items():
        if kind == "update_id" or not isinstance(body, dict):
            continue
        chat = body.get("chat") or (body.get("message") or {}).get("chat")
        if isinstance(chat, dict) and isinstance(chat.get("id"), int):
            return int(chat["id"])
        sender = body.get("from") or body.get("user")
        if isinstance(sender, dict) and isinstance(sender.get("id"), int):
            return int(sender["id"])
    return f"update {update.get('update_id')}"


def _numeric(body: JsonDict) -> JsonDict:
    converted: JsonDict = {}
    for key, value in body.items():
        if key in {"count", "since"}:
            converted[key] = int(value)
        elif key == "timeout":
            converted[key] = float(value)
        else:
            converted[key] = value
    return converted


def _record_json(record: SentMessage) -> JsonDict:
    data = dataclasses.asdict(record)
    data.pop("params", None)
    return data


# --------------------------------------------------------------------------------------
# Standalone process
# --------------------------------------------------------------------------------------


def _parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m testing.telegram",
        description="Run the local Telegram Bot API emulator until interrupted.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=None, help="accept only this token")
    parser.add_argument("--username", default=DEFAULT_BOT_USERNAME)
    parser.add_argument("--global-rate", type=float, default=30.0)
    parser.add_argument("--private-chat-rate", type=float, default=1.0)
    parser.add_argument("--private-chat-burst", type=int, default=3)
    parser.add_argument("--group-rate-per-minute", type=int, default=20)
    parser.add_argument("--retry-after", type=int, default=None)
    parser.add_argument("--no-rate-limits", action="store_true")
    return parser.parse_args(argv)


async def _serve(arguments: argparse.Namespace) -> None:
    emulator = BotApiEmulator(
        host=arguments.host,
        port=arguments.port,
        token=arguments.token,
        bot_username=arguments.username,
        global_rate=arguments.global_rate,
        private_chat_rate=arguments.private_chat_rate,
        private_chat_burst=arguments.private_chat_burst,
        group_rate_per_minute=arguments.group_rate_per_minute,
        rate_limits=not arguments.no_rate_limits,
        retry_after=arguments.retry_after,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with emulator:
        print(emulator.base_url, flush=True)
        await stop.wait()
        print(compact_json(emulator.stats()), file=sys.stderr, flush=True)


# Above any count a run reaches: the collector's full collections never start by themselves.
NO_FULL_COLLECTIONS: Final = 1_000_000_000


def keep_full_collections_off() -> None:
    """The emulator keeps every message it was sent, for the tests and benchmarks to read
    afterwards, so its heap only grows. A full collection walks all of it and finds next
    to nothing to free; at 10,000 messages it held every request for 0.1–0.25 s, a stall
    Telegram does not have, seen by every client at once. Young objects are still
    collected; what start-up built is frozen out of the collector's sight."""
    young, middle, _ = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young, middle, NO_FULL_COLLECTIONS)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of ``python -m testing.telegram``."""
    arguments = _parse_arguments(argv)
    keep_full_collections_off()
    asyncio.run(_serve(arguments))


if __name__ == "__main__":
    main()
