"""Replies ride out Telegram's flood control: the request middleware on its own, with a
stand-in for the Bot API transport that answers 429 on cue and a clock the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, EditMessageText, Response, SendMessage

from delivery.callbacks import MoreNews
from handlers import digest as digest_handlers
from handlers.middlewares import RideOutFloodControl, TrackReplies, callback_answered
from testing.telegram import Conversation, MockedSession

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"


class Transport:
    """Answers each request with ok, or with 429 for the next `flooded` requests."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, str, dict[str, Any]]] = []
        self.flooded = 0
        self.retry_after = 1

    async def __call__(self, bot: Bot, method: Any) -> Response[Any]:
        if self.flooded:
            self.flooded -= 1
            raise TelegramRetryAfter(
                method=method, message="Too Many Requests", retry_after=self.retry_after
            )
        self.sent.append((self.clock.now, type(method).__name__, method.model_dump()))
        return Response[Any](ok=True, result=True)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Time passes for this waiter only; others get their turn on the loop meanwhile.
        await asyncio.sleep(0)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def transport(clock: Clock) -> Transport:
    return Transport(clock)


@pytest.fixture
def ride_out(clock: Clock) -> RideOutFloodControl:
    return RideOutFloodControl(max_wait=20, clock=clock, sleep=clock.sleep)


async def in_update(work: Callable[[], Any]) -> Any:
    """Runs `work` as the handling of an update."""

    async def handler(event: object, data: dict[str, Any]) -> Any:
        return await work()

    return await TrackReplies()(handler, object(), {})  # type: ignore[arg-type]


def edit(text: str) -> EditMessageText:
    return EditMessageText(chat_id=42, message_id=7, text=text)


async def test_a_reply_waits_out_a_429_and_is_sent(
    ride_out: RideOutFloodControl, transport: Transport
) -> None:
    bot = Bot(TOKEN)
    transport.flooded = 1

    result = await in_update(
        lambda: ride_out(transport, bot, SendMessage(chat_id=42, text="Соглашения"))
    )

    assert result.result is True
    ((moment, name, payload),) = transport.sent
    assert (moment, name, payload["text"]) == (1.0, "SendMessage", "Соглашения")


async def test_rapid_edits_of_one_message_end_in_its_last_state(
    ride_out: RideOutFloodControl, transport: Transport
) -> None:
    bot = Bot(TOKEN)
    transport.flooded = 3

    async def four_taps() -> None:
        await asyncio.gather(
            *(ride_out(transport, bot, edit(f"выбрано: {n}")) for n in range(1, 5))
        )

    await in_update(four_taps)

    edits = [
        payload["text"] for _moment, name, payload in transport.sent if name == "EditMessageText"
    ]
    assert edits[-1] == "выбрано: 4"
    assert len(edits) <= 2
    # Nothing went to the chat before Telegram's wait was over.
    assert all(moment >= 1.0 for moment, _name, _payload in transport.sent)


async def test_a_long_wait_is_not_ridden_out(
    ride_out: RideOutFloodControl, transport: Transport
) -> None:
    transport.flooded, transport.retry_after = 1, 300
    with pytest.raises(TelegramRetryAfter):
        await in_update(lambda: ride_out(transport, Bot(TOKEN), edit("x")))
    assert transport.sent == []


async def test_outside_an_update_a_429_reaches_the_caller(
    ride_out: RideOutFloodControl, transport: Transport
) -> None:
    # The digest sender paces every chat itself and must see the 429.
    transport.flooded = 1
    with pytest.raises(TelegramRetryAfter):
        await ride_out(transport, Bot(TOKEN), SendMessage(chat_id=42, text="Дайджест"))


async def test_the_update_knows_which_callbacks_it_answered(
    ride_out: RideOutFloodControl, transport: Transport
) -> None:
    async def answer_then_check() -> tuple[bool, bool]:
        before = callback_answered("cb-1")
        await ride_out(transport, Bot(TOKEN), AnswerCallbackQuery(callback_query_id="cb-1"))
        return before, callback_answered("cb-1")

    assert await in_update(answer_then_check) == (False, True)
    assert callback_answered("cb-1") is False


async def test_a_callback_answered_too_late_does_not_fail_the_update(
    ride_out: RideOutFloodControl, clock: Clock
) -> None:
    async def too_old(bot: Bot, method: Any) -> Response[Any]:
        raise TelegramBadRequest(
            method=method,
            message="Bad Request: query is too old and response timeout expired or query ID is "
            "invalid",
        )

    async def answer() -> tuple[object, bool]:
        response = await ride_out(too_old, Bot(TOKEN), AnswerCallbackQuery(callback_query_id="7"))
        return response.result, callback_answered("7")

    assert await in_update(answer) == (True, True)
    with pytest.raises(TelegramBadRequest):
        await in_update(lambda: ride_out(too_old, Bot(TOKEN), SendMessage(chat_id=1, text="x")))


@pytest.mark.errors_expected
async def test_the_error_handler_never_answers_a_callback_twice(
    private: Conversation, mocked_session: MockedSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    (reply,) = await private.send("/help")
    more = MoreNews(country="UZ").pack()

    # The "more" button answers the tap, then sends the country's news: let that send fail.
    mocked_session.fail(SendMessage, 400, "Bad Request: chat not found")
    late = await private.press(more, message_id=reply.message_id)
    answered = [call for call in late if isinstance(call.method, AnswerCallbackQuery)]
    assert len(answered) == 1
    answer = answered[0].method
    assert isinstance(answer, AnswerCallbackQuery) and not answer.show_alert
    apologies = [
        call.method.text
        for call in late
        if isinstance(call.method, SendMessage) and call.result is not None
    ]
    assert apologies == ["Что-то пошло не так с моей стороны. Попробуйте ещё раз через минуту."]

    async def broken_page(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the archive failed before the tap was answered")

    monkeypatch.setattr(digest_handlers, "build_page", broken_page)
    early = await private.press(more, message_id=reply.message_id)
    (apology,) = [call for call in early if isinstance(call.method, AnswerCallbackQuery)]
    assert isinstance(apology.method, AnswerCallbackQuery)
    assert apology.method.show_alert and apology.result is True
    assert not [call for call in early if isinstance(call.method, SendMessage)]
