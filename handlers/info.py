"""/help and /countries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from handlers.common import country_name, preset_name
from handlers.screens import offered_presets
from storage.articles import country_article_counts
from storage.chats import get_chat
from tagging import countries

COUNTS_WINDOW_DAYS = 30


def help_text(is_admin: bool) -> str:
    lines = [
        _("<b>What I can do</b>"),
        "",
        _(
            "Every day at your time I send a digest of the regional press on the countries and "
            "topics you chose. Between digests, ask the archive:"
        ),
        "",
        _("/agreements Uzbekistan: the register of agreements with a country, then articles"),
        _("/trade Kazakhstan: trade figures with a country, a chart, then articles"),
        _("/export: agreements and figures of your countries as a CSV spreadsheet"),
        _("/news Tajikistan 30: everything about a country for 30 days (7 by default)"),
        _("/topic education Kyrgyzstan: a topic, optionally for one country"),
        _("/search joint venture: search by words, in any word form"),
        _("/digest: the digest right now"),
        _("/stats 12: a chart of articles per country per week, for 12 weeks (8 by default)"),
        _("/countries: the countries I follow"),
        "",
        _("/settings: countries, topics, time, time zone, delivery modes, regions"),
        _("/filter +grain -hockey: keep or leave out articles by words"),
        _("/region Omsk: keep only articles about the regions you choose"),
        _("/bind Uzbekistan (inside a group topic): that country's news go to the topic"),
        _("/pause and /resume: stop and restart the daily digest"),
        _("/language: Russian or English"),
        _("/stop: unsubscribe and forget this chat"),
        "",
        _(
            "Countries can be written in Russian or English, in any case: «Узбекистан», "
            "«узбекистане», «Uzbekistan», «uz»."
        ),
        _("In a group, only its administrators change the subscription."),
    ]
    if is_admin:
        lines += [
            "",
            _("<b>For administrators</b>"),
            _("/feeds: feeds and their health"),
            _("/addfeed URL: add a feed (it is checked first)"),
            _("/delfeed ID: remove a feed"),
            _("/export_opml: the feed list as an OPML file; send an .opml file to import one"),
            _("/why LINK: why an article got its tags"),
        ]
    return "\n".join(lines)


async def help_command(message: Message, settings: Settings) -> None:
    user = message.from_user
    await message.answer(help_text(user is not None and user.id in settings.admin_ids))


async def countries_command(message: Message, session: AsyncSession, settings: Settings) -> None:
    since = datetime.now(UTC) - timedelta(days=COUNTS_WINDOW_DAYS)
    counts = await country_article_counts(
        session, published_since=since, threshold=settings.tag_threshold
    )
    chat = await get_chat(session, message.chat.id)
    chosen = chat.countries if chat else frozenset()
    lines = [
        _("<b>Countries I follow</b> (articles in the last {days} days)").format(
            days=COUNTS_WINDOW_DAYS
        ),
        "",
    ]
    for item in countries():
        mark = " ✅" if item.code in chosen else ""
        lines.append(
            f"{country_name(item.code)} ({item.code.lower()}) — {counts.get(item.code, 0)}{mark}"
        )
    groups = [
        f"{preset_name(preset)}: " + ", ".join(code.lower() for code in preset.codes)
        for preset in offered_presets()
    ]
    if groups:
        lines += ["", _("<b>Groups</b> (in /settings)"), *groups]
    lines += ["", _("✅ marks your countries. Example: /news uz 30")]
    await message.answer("\n".join(lines))


def create_router() -> Router:
    router = Router(name="info")
    router.message.register(help_command, Command("help"))
    router.channel_post.register(help_command, Command("help"))
    router.message.register(countries_command, Command("countries"))
    return router
