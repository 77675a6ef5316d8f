"""The bot's HTTP session with the Bot API: aiogram's, with the costs of every request cut."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import GetUpdates, Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup, InputFile
from aiohttp import ClientError, ClientTimeout
from pydantic import ValidationError

JSON_HEADERS: Final = {"Content-Type": "application/json"}
# Inline keyboards the bot sent that Telegram echoed as sent, most recently used kept.
KNOWN_KEYBOARDS: Final = 1024

# The buttons' texts, callback data and links, row by row: a keyboard's key among the
# known ones (a match is then compared whole).
KeyboardKey = tuple[tuple[tuple[Any, Any, Any], ...], ...]


def _hashable(key: KeyboardKey | None) -> KeyboardKey | None:
    """The key, or None when a button field cannot be part of one (not a string)."""
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _keyboard_key(markup: Any) -> KeyboardKey | None:
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list):
        return None
    try:
        return tuple(
            tuple(
                (button["text"], button.get("callback_data"), button.get("url")) for button in row
            )
            for row in rows
        )
    except (AttributeError, KeyError, TypeError):
        return None


class _NotPlain(Exception):
    """A value that needs aiogram's preparation (a bot default, a file, a date, an enum)."""


def _plain_json(value: Any) -> Any:
    """What aiogram's `prepare_value` makes of a value built only of JSON types (strings,
    numbers, booleans, lists and dicts; None left out of them), found without its chain
    of isinstance checks per value; anything else raises _NotPlain."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float:
        return value
    if kind is dict:
        return {key: _plain_json(item) for key, item in value.items() if item is not None}
    if kind is list:
        return [_plain_json(item) for item in value if item is not None]
    raise _NotPlain


@dataclass(slots=True)
class _PreparedKeyboard:
    """An inline keyboard the bot sent, as posted: its fields, their JSON text and its key
    among the known keyboards, each worked out once."""

    markup: InlineKeyboardMarkup
    fields: dict[str, Any]
    json_text: str
    key: KeyboardKey | None


class TelegramSession(AiohttpSession):
    """aiogram's HTTP session, making the same requests and reading the same answers,
    cheaper for what every tap in a surge of users paid for most:

    * A request without files is posted as a JSON body (the Bot API reads JSON, form and
      multipart alike). aiogram posts a URL-encoded form: each structured field written as
      JSON text, then percent-encoded byte by byte, so a keyboard of two dozen Cyrillic
      buttons was encoded twice. A request with files is posted as aiogram's multipart form.
      Fields of plain JSON values skip aiogram's per-value checks; an inline keyboard,
      built once and reused by the handlers, is prepared once.
    * Telegram echoes an inline keyboard in its answer to a sent or edited message and in
      every button press (the pressed message comes with its keyboard): a pydantic model
      per button and row to validate each time. A keyboard the bot sent that Telegram
      echoed exactly as sent is remembered (the last KNOWN_KEYBOARDS of them); an echo
      equal to a remembered keyboard is read as that keyboard object, which is equal to
      what validating the echo would build. The rest of the answer is validated as before;
      any other answer, an error above all, is read by aiogram's `check_response`
      unchanged, so it raises the same exceptions (TelegramRetryAfter, TelegramBadRequest,
      TelegramForbiddenError …).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._keyboards: OrderedDict[KeyboardKey, tuple[dict[str, Any], InlineKeyboardMarkup]] = (
            OrderedDict()
        )
        self._prepared: OrderedDict[int, _PreparedKeyboard] = OrderedDict()

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - the signature of BaseSession
    ) -> TelegramType:
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        files: dict[str, InputFile] = {}
        fields, keyboard = self._fields(bot, method, files)
        data: Any
        headers: dict[str, str] | None
        if files:
            data, headers = self.build_form_data(bot=bot, method=method), None
        elif keyboard is not None:
            # The keyboard's JSON text is spliced in rather than encoded again.
            rest = self.json_dumps({k: v for k, v in fields.items() if k != "reply_markup"})
            separator = "," if rest != "{}" else ""
            text = f'{rest[:-1]}{separator}"reply_markup":{keyboard.json_text}}}'
            data, headers = text.encode("utf-8"), JSON_HEADERS
        else:
            data, headers = self.json_dumps(fields).encode("utf-8"), JSON_HEADERS
        try:
            async with session.post(
                url,
                data=data,
                headers=headers,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.read_response(
            bot, method, resp.status, raw_result, sent_markup=fields.get("reply_markup")
        )
        return cast(TelegramType, response.result)

    def json_fields(
        self, bot: Bot, method: TelegramMethod[Any], files: dict[str, InputFile]
    ) -> dict[str, Any]:
        """The method's fields as aiogram's form has them (bot defaults applied, files as
        ``attach://`` names added to `files`, empty fields left out), structured fields as
        JSON values rather than JSON text."""
        return self._fields(bot, method, files)[0]

    def _fields(
        self, bot: Bot, method: TelegramMethod[Any], files: dict[str, InputFile]
    ) -> tuple[dict[str, Any], _PreparedKeyboard | None]:
        markup = getattr(method, "reply_markup", None)
        keyboard = None
        if isinstance(markup, InlineKeyboardMarkup):
            keyboard = self._prepared_keyboard(markup, bot, files)
        dumped = method.model_dump(
            warnings=False, exclude={"reply_markup"} if keyboard is not None else None
        )
        fields: dict[str, Any] = {}
        for key, value in dumped.items():
            try:
                prepared = _plain_json(value)
            except _NotPlain:
                prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            # aiogram's form leaves out what prepares to nothing or to an empty string;
            # every other value (False, 0, an empty list) it writes as JSON text.
            if prepared is None or (isinstance(prepared, str) and not prepared):
                continue
            fields[key] = prepared
        if keyboard is not None:
            fields["reply_markup"] = keyboard.fields
        return fields, keyboard

    def _prepared_keyboard(
        self, markup: InlineKeyboardMarkup, bot: Bot, files: dict[str, InputFile]
    ) -> _PreparedKeyboard:
        """The keyboard as posted. Keyboards are immutable and the bot reuses the same
        objects (handlers/screens.py builds each once), so each is prepared once."""
        entry = self._prepared.get(id(markup))
        if entry is not None and entry.markup is markup:
            self._prepared.move_to_end(id(markup))
            return entry
        prepared: dict[str, Any] = self.prepare_value(
            markup.model_dump(warnings=False), bot=bot, files=files, _dumps_json=False
        )
        # The entry holds the keyboard itself, so its id cannot be reused while cached.
        entry = _PreparedKeyboard(
            markup, prepared, self.json_dumps(prepared), _hashable(_keyboard_key(prepared))
        )
        self._prepared[id(markup)] = entry
        if len(self._prepared) > KNOWN_KEYBOARDS:
            self._prepared.popitem(last=False)
        return entry

    def read_response(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        status_code: int,
        content: str,
        *,
        sent_markup: Any = None,
    ) -> Response[TelegramType]:
        """`check_response`, except that known inline keyboards in a successful answer are
        read as the keyboard objects sent (class docstring); `sent_markup` is the keyboard
        as it was posted with `method`."""
        markup = getattr(method, "reply_markup", None)
        sent = isinstance(sent_markup, dict) and isinstance(markup, InlineKeyboardMarkup)
        updates = isinstance(method, GetUpdates)
        if not (sent or updates) or not HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED:
            return self.check_response(bot, method, status_code, content)
        try:
            payload = self.json_loads(content)
        except Exception:
            # Whatever the loader raised: check_response makes it aiogram's ClientDecodeError.
            return self.check_response(bot, method, status_code, content)
        if not isinstance(payload, dict) or payload.get("ok") is not True:
            return self.check_response(bot, method, status_code, content)
        result = payload.get("result")
        if sent and isinstance(result, dict) and result.get("reply_markup") == sent_markup:
            result["reply_markup"] = self._remember(sent_markup, cast(InlineKeyboardMarkup, markup))
        elif updates and isinstance(result, list):
            for update in result:
                query = update.get("callback_query") if isinstance(update, dict) else None
                message = query.get("message") if isinstance(query, dict) else None
                if isinstance(message, dict) and "reply_markup" in message:
                    known = self._known(message["reply_markup"])
                    if known is not None:
                        message["reply_markup"] = known
        try:
            response_type = Response[method.__returning__]  # type: ignore[name-defined]
            return cast(
                Response[TelegramType],
                response_type.model_validate(payload, context={"bot": bot}),
            )
        except ValidationError as e:
            raise ClientDecodeError("Failed to deserialize object", e, payload) from e

    def _remember(
        self, posted: dict[str, Any], markup: InlineKeyboardMarkup
    ) -> InlineKeyboardMarkup:
        entry = self._prepared.get(id(markup))
        if entry is not None and entry.markup is markup and entry.fields is posted:
            key = entry.key
        else:
            key = _hashable(_keyboard_key(posted))
        if key is not None:
            self._keyboards[key] = (posted, markup)
            self._keyboards.move_to_end(key)
            if len(self._keyboards) > KNOWN_KEYBOARDS:
                self._keyboards.popitem(last=False)
        return markup

    def _known(self, echoed: Any) -> InlineKeyboardMarkup | None:
        key = _keyboard_key(echoed)
        if key is None:
            return None
        try:
            entry = self._keyboards.get(key)
        except TypeError:  # a button field that cannot be a key (not a string)
            return None
        if entry is None or entry[0] != echoed:
            return None
        self._keyboards.move_to_end(key)
        return entry[1]
