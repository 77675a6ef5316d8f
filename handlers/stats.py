"""/stats: a chart of articles per country per week."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime

from aiogram import Bot, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from digests.chart import ChartText, render_weekly_chart
from digests.render import visible_length
from digests.stats import DEFAULT_WEEKS, MAX_WEEKS, WeeklyCounts, last_weeks, weekly_counts
from handlers.common import country_name, current_language, cut_argument
from storage.articles import country_counts_by_period
from storage.chats import get_chat
from tagging import country

MAX_CAPTION_LENGTH = 1024


def parse_weeks(text: str) -> int | None:
    """The number of weeks asked for (DEFAULT_WEEKS when none), or None when it is not a
    whole number from 1 to MAX_WEEKS."""
    if not text:
        return DEFAULT_WEEKS
    if not re.fullmatch(r"\d{1,4}", text):
        return None
    weeks = int(text)
    return weeks if 1 <= weeks <= MAX_WEEKS else None


def plain_country_name(code: str) -> str:
    """ "Узбекистан" without the flag, in the current language."""
    found = country(code)
    if found is None:
        return code.upper()
    return found.name_en if current_language() == "en" else found.name_ru


def _period(counts: WeeklyCounts) -> str:
    weeks = len(counts.week_starts)
    length = ngettext("{n} week", "{n} weeks", weeks).format(n=weeks)
    return f"{counts.week_starts[0]:%d.%m.%Y} – {counts.today:%d.%m.%Y} ({length})"


def _title() -> str:
    return _("Articles per country by week")


def chart_text(counts: WeeklyCounts) -> ChartText:
    return ChartText(
        title=f"{_title()}\n{_period(counts)}",
        x_label=_("Week (from Monday)"),
        y_label=_("Articles"),
        names={code: plain_country_name(code) for code in counts.series},
    )


def caption(counts: WeeklyCounts, *, chosen: bool) -> str:
    """Telegram HTML within the caption limit: the period and each country's total."""
    lines = [f"<b>{html.escape(_title())}</b>", _period(counts), ""]
    footer = [] if chosen else ["", _("The countries with the most articles. Yours: /settings")]
    for code, total in counts.totals.items():
        line = f"{html.escape(country_name(code))} — {total}"
        if visible_length("\n".join([*lines, line, "…", *footer])) > MAX_CAPTION_LENGTH:
            lines.append("…")
            break
        lines.append(line)
    return "\n".join(lines + footer)


def empty_text(weeks: int, *, chosen: bool) -> str:
    if chosen:
        return ngettext(
            "No articles about your countries in the last {n} week.",
            "No articles about your countries in the last {n} weeks.",
            weeks,
        ).format(n=weeks)
    return ngettext(
        "No articles about partner countries in the last {n} week.",
        "No articles about partner countries in the last {n} weeks.",
        weeks,
    ).format(n=weeks)


async def stats_command(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    settings: Settings,
) -> None:
    text, _note = cut_argument(command.args)
    weeks = parse_weeks(text)
    if weeks is None:
        await message.answer(
            _("The number of weeks must be from 1 to {max}, for example: /stats 12").format(
                max=MAX_WEEKS
            )
        )
        return
    chat = await get_chat(session, message.chat.id)
    chosen = chat.countries if chat else frozenset()
    period = last_weeks(
        datetime.now(UTC), weeks, chat.timezone if chat else settings.default_timezone
    )
    counts = weekly_counts(
        period,
        await country_counts_by_period(session, period.edges, threshold=settings.tag_threshold),
        chosen,
    )
    if counts.is_empty:
        await message.answer(empty_text(weeks, chosen=bool(chosen)))
        return
    # The first call to Telegram also ends the read transaction (EndTransactionBeforeRequest),
    # so the database is not locked while the chart is drawn.
    await bot.send_chat_action(message.chat.id, ChatAction.UPLOAD_PHOTO)
    picture = await asyncio.to_thread(render_weekly_chart, counts, chart_text(counts))
    await message.answer_photo(
        BufferedInputFile(picture, filename="stats.png"),
        caption=caption(counts, chosen=bool(chosen)),
    )


def create_router() -> Router:
    router = Router(name="stats")
    router.message.register(stats_command, Command("stats"))
    router.channel_post.register(stats_command, Command("stats"))
    return router
