"""Reading Bot API request fields the way Telegram does.

A request arrives as strings (query string, form, multipart) or as JSON values; these
functions turn a field into the value a method needs, with Telegram's error answers for
fields it can't read, and check the structured ones (reply markup, link preview options).
"""

from __future__ import annotations

import json
from typing import Any, Final

from testing.telegram.entities import (
    CALLBACK_DATA_LIMIT_BYTES,
    INLINE_KEYBOARD_BUTTON_LIMIT,
    JsonDict,
    TextRejected,
    checked_url,
    format_text,
)
from testing.telegram.records import ApiError

Formatted = tuple[str | None, str | None, list[JsonDict], str | None]
"""(text as sent, plain text, entities, parse_mode) of a message text or caption."""

_INLINE_ACTIONS: Final = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)


def compact_json(payload: Any) -> str:
    """JSON as Telegram writes it: UTF-8 text, no spaces."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def int_param(params: JsonDict, name: str, default: int | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return int(value)
    try:
        return int(value)
    except (TypeError, ValueError) as error:
        raise ApiError(400, f"Bad Request: invalid {name} specified") from error


def bool_param(params: JsonDict, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def json_param(params: JsonDict, name: str) -> Any:
    """A field that holds JSON: decoded when it came as a string."""
    value = params.get(name)
    if isinstance(value, str):
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError as error:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from error
    return value


def str_param(params: JsonDict, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def formatted_text(
    params: JsonDict, field_name: str, entities_name: str, *, strict_ampersand: bool
) -> Formatted:
    """The text (``field_name="text"``) or caption of a request after Telegram's checks
    (see ``entities.format_text``)."""
    raw = str_param(params, field_name)
    parse_mode = str_param(params, "parse_mode") or None
    caption = field_name == "caption"
    given = json_param(params, entities_name) if raw and not parse_mode else None
    try:
        plain, entities = format_text(
            raw,
            parse_mode,
            given if isinstance(given, list) else None,
            caption=caption,
            strict_ampersand=strict_ampersand,
        )
    except TextRejected as error:
        raise ApiError(400, str(error)) from error
    if raw == "":
        raw = None
    if caption and raw is None:
        return None, None, [], parse_mode
    return raw, plain, entities, parse_mode


def reply_markup(params: JsonDict) -> JsonDict | None:
    """The ``reply_markup`` of a request, checked like Telegram (None for an empty keyboard)."""
    value = params.get("reply_markup")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ApiError(
                400, "Bad Request: can't parse reply keyboard markup JSON object"
            ) from error
    if not isinstance(value, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        rows = value["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(
                400,
                'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup '
                "must be an Array of Arrays",
            )
        total = 0
        for row in rows:
            for button in row:
                check_inline_button(button)
                total += 1
        if total > INLINE_KEYBOARD_BUTTON_LIMIT:
            raise ApiError(400, "Bad Request: reply markup is too long")
        if total == 0:
            return None
        return value
    if "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(
                400,
                'Bad Request: field "keyboard" of the ReplyKeyboardMarkup '
                "must be an Array of Arrays",
            )
        for row in rows:
            for button in row:
                text = button.get("text") if isinstance(button, dict) else button
                if not isinstance(text, str) or not text.strip():
                    raise ApiError(400, "Bad Request: keyboard button text must be non-empty")
        return value
    if "remove_keyboard" in value or "force_reply" in value:
        return value
    raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")


def check_inline_button(button: Any) -> None:
    prefix = "Bad Request: can't parse inline keyboard button: "
    if not isinstance(button, dict):
        raise ApiError(400, prefix + "InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise ApiError(400, prefix + 'Field "text" must be of type String')
    if not text.strip():
        raise ApiError(400, prefix + "Text must be non-empty")
    if not _INLINE_ACTIONS.intersection(button):
        raise ApiError(400, prefix + "Text buttons are unallowed in the inline keyboard")
    data = button.get("callback_data")
    if data is not None:
        if not isinstance(data, str):
            raise ApiError(400, prefix + 'Field "callback_data" must be of type String')
        size = len(data.encode("utf-8"))
        if size == 0 or size > CALLBACK_DATA_LIMIT_BYTES:
            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and (not isinstance(url, str) or checked_url(url) is None):
        raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")


def link_preview(params: JsonDict) -> JsonDict | None:
    options = json_param(params, "link_preview_options")
    if options is not None and not isinstance(options, dict):
        raise ApiError(400, "Bad Request: can't parse link preview options JSON object")
    if bool_param(params, "disable_web_page_preview"):
        options = dict(options or {})
        options["is_disabled"] = True
    return options
