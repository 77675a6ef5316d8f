"""/pause, /resume and /stop (which forgets the chat after a confirmation)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from delivery import subscriptions
from handlers.common import edit_or_send, format_moment
from handlers.middlewares import ACCESS_FLAG, CHAT_ADMIN
from storage.chats import delete_chat, get_chat

ADMIN_ONLY = {ACCESS_FLAG: CHAT_ADMIN}


class StopConfirm(CallbackData, prefix="stop"):
    confirmed: bool


def stop_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Yes, forget this chat"), callback_data=StopConfirm(confirmed=True))
    builder.button(text=_("No, keep it"), callback_data=StopConfirm(confirmed=False))
    builder.adjust(2)
    return builder.as_markup()


def _not_subscribed() -> str:
    return _("This chat is not subscribed yet. Send /start to choose countries.")


async def pause(message: Message, session: AsyncSession) -> None:
    chat = await get_chat(session, message.chat.id)
    if chat is None or not chat.subscribed:
        await message.answer(_not_subscribed())
        return
    if chat.paused:
        await message.answer(_("The digest is already paused. /resume turns it back on."))
        return
    await subscriptions.pause(session, chat)
    await message.answer(
        _(
            "⏸ The daily digest is paused. Commands such as /news still work. "
            "/resume turns the digest back on."
        )
    )


async def resume(message: Message, session: AsyncSession) -> None:
    chat = await get_chat(session, message.chat.id)
    if chat is None or not chat.subscribed:
        await message.answer(_not_subscribed())
        return
    resumed = await subscriptions.resume(session, chat)
    lines = [
        _("▶️ The digest is on again.")
        if chat.paused
        else _("The digest is not paused; it keeps coming.")
    ]
    if resumed.next_digest_at is not None:
        lines.append(
            _("Next digest: {moment}").format(
                moment=format_moment(resumed.next_digest_at, resumed.timezone)
            )
        )
    await message.answer("\n".join(lines))


async def stop(message: Message, session: AsyncSession) -> None:
    chat = await get_chat(session, message.chat.id)
    if chat is None:
        await message.answer(_("I do not keep anything about this chat. /start subscribes it."))
        return
    await message.answer(
        _(
            "Unsubscribe and forget this chat? Its countries, topics, time and the history of "
            "what was sent will be deleted."
        ),
        reply_markup=stop_keyboard(),
    )


async def stop_confirmed(
    callback: CallbackQuery,
    callback_data: StopConfirm,
    session: AsyncSession,
    state: FSMContext,
) -> None:
    if callback.message is None:
        await callback.answer(_("This button is out of date. Send the command again."))
        return
    await callback.answer()
    if not callback_data.confirmed:
        await edit_or_send(callback, _("Nothing changed: the subscription stays."))
        return
    await state.clear()
    await delete_chat(session, callback.message.chat.id)
    await edit_or_send(
        callback,
        _("Done: this chat is unsubscribed and forgotten. /start subscribes it again."),
    )


def create_router() -> Router:
    router = Router(name="subscription")
    router.message.register(pause, Command("pause"), flags=ADMIN_ONLY)
    router.channel_post.register(pause, Command("pause"), flags=ADMIN_ONLY)
    router.message.register(resume, Command("resume"), flags=ADMIN_ONLY)
    router.channel_post.register(resume, Command("resume"), flags=ADMIN_ONLY)
    router.message.register(stop, Command("stop"), flags=ADMIN_ONLY)
    router.channel_post.register(stop, Command("stop"), flags=ADMIN_ONLY)
    router.callback_query.register(stop_confirmed, StopConfirm.filter(), flags=ADMIN_ONLY)
    return router
