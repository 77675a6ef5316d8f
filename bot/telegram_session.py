"""The bot's HTTP session with the Bot API: aiogram's, with two costs of every request cut."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Final, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InlineKeyboardMarkup, InputFile
from aiohttp import ClientError, ClientTimeout
from pydantic import ValidationError

JSON_HEADERS: Final = {"Content-Type": "application/json"}


class TelegramSession(AiohttpSession):
    """aiogram's HTTP session, making the same requests and reading the same answers,
    cheaper for the two things every tap in a surge of users paid for most:

    * A request without files is posted as a JSON body (the Bot API reads JSON, form and
      multipart alike). aiogram posts a URL-encoded form: each structured field written as
      JSON text, then percent-encoded byte by byte, so a keyboard of two dozen Cyrillic
      buttons was encoded twice. A request with files is posted as aiogram's multipart form.
    * Telegram answers a sent or edited message with the message, the inline keyboard
      echoed. When the echo is exactly the keyboard that was sent, the message returned
      carries the keyboard object that was sent instead of one validated anew from the echo
      (a pydantic model per button and row). The rest of the message is validated as
      before; any other answer, an error above all, is read by aiogram's `check_response`
      unchanged, so it raises the same exceptions (TelegramRetryAfter, TelegramBadRequest,
      TelegramForbiddenError …).
    """

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - the signature of BaseSession
    ) -> TelegramType:
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        files: dict[str, InputFile] = {}
        fields = self.json_fields(bot, method, files)
        data: Any
        headers: dict[str, str] | None
        if files:
            data, headers = self.build_form_data(bot=bot, method=method), None
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
        fields: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            # aiogram's form leaves out what prepares to nothing or to an empty string;
            # every other value (False, 0, an empty list) it writes as JSON text.
            if prepared is None or (isinstance(prepared, str) and not prepared):
                continue
            fields[key] = prepared
        return fields

    def read_response(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        status_code: int,
        content: str,
        *,
        sent_markup: Any = None,
    ) -> Response[TelegramType]:
        """`check_response`, except that a successful answer echoing the inline keyboard
        sent (`sent_markup`, as posted) gets the keyboard object sent (class docstring)."""
        markup = getattr(method, "reply_markup", None)
        if (
            not isinstance(sent_markup, dict)
            or not isinstance(markup, InlineKeyboardMarkup)
            or not HTTPStatus.OK <= status_code <= HTTPStatus.IM_USED
        ):
            return self.check_response(bot, method, status_code, content)
        try:
            payload = self.json_loads(content)
        except Exception:
            # Whatever the loader raised: check_response makes it aiogram's ClientDecodeError.
            return self.check_response(bot, method, status_code, content)
        result = payload.get("result") if isinstance(payload, dict) else None
        if (
            not isinstance(result, dict)
            or payload.get("ok") is not True
            or result.get("reply_markup") != sent_markup
        ):
            return self.check_response(bot, method, status_code, content)
        result["reply_markup"] = markup
        try:
            response_type = Response[method.__returning__]  # type: ignore[name-defined]
            return cast(
                Response[TelegramType],
                response_type.model_validate(payload, context={"bot": bot}),
            )
        except ValidationError as e:
            raise ClientDecodeError("Failed to deserialize object", e, payload) from e
