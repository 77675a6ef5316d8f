"""Feed management for the bot's administrators: /feeds, /addfeed, /delfeed, OPML."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiogram import Bot, Router
from aiogram.client.telegram import PRODUCTION
from aiogram.enums import ChatAction
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiohttp import ClientError, ClientResponseError
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from delivery.feed_alerts import health_policy
from digests.render import split_html_items
from handlers.common import cut_argument, format_moment, quote
from handlers.middlewares import ACCESS_FLAG, BOT_ADMIN
from ingest.config import IngestConfig
from ingest.feedlist import (
    FeedAddressError,
    OutlineProblem,
    RefusedOutline,
    export_opml,
    feed_address,
    read_opml,
)
from ingest.health import FeedCondition, HealthPolicy, feed_condition, silent_since
from ingest.pipeline import probe_feed
from ingest.urls import is_public_http_url
from storage.articles import feed_article_counts
from storage.chats import get_chat
from storage.feeds import (
    MAX_FEED_TITLE_LENGTH,
    MAX_FEED_URL_LENGTH,
    FeedRecord,
    add_feed,
    list_feeds,
    remove_feed,
)

logger = logging.getLogger(__name__)
BOT_ADMIN_ONLY = {ACCESS_FLAG: BOT_ADMIN}
HEALTH_WINDOW = timedelta(days=7)
MAX_OPML_BYTES = 1_000_000
MAX_OPML_FEEDS = 500
MAX_ERROR_LENGTH = 200
MAX_LISTED_REFUSALS = 5
OPML_NAMES = (".opml", ".xml")


STATUS_ICONS = {
    FeedCondition.FINE: "✅",
    FeedCondition.SILENT: "⚠️",
    FeedCondition.FAILING: "❌",
    FeedCondition.SWITCHED_OFF: "⏸",
}


def feed_block(
    feed: FeedRecord, new_items: int, now: datetime, timezone: str, policy: HealthPolicy
) -> str:
    title = quote(feed.title or feed.url, MAX_FEED_TITLE_LENGTH)
    # The list shows a failed last check at once; warnings wait for a run of failures.
    condition = feed_condition(feed, now, replace(policy, failing_after=1))
    lines = [
        f"{STATUS_ICONS[condition]} <b>#{feed.id}</b> {title}",
        f"<code>{quote(feed.url, MAX_FEED_URL_LENGTH)}</code>",
    ]
    success = format_moment(feed.last_success_at, timezone) if feed.last_success_at else _("never")
    lines.append(
        _("last success: {moment} · new in 7 days: {count}").format(moment=success, count=new_items)
    )
    silence = now - silent_since(feed)
    if silence >= policy.silent_after:
        hours = int(silence.total_seconds() // 3600)
        lines.append(
            ngettext("silent for {n} hour", "silent for {n} hours", hours).format(n=hours)
            if hours < 48
            else ngettext("silent for {n} day", "silent for {n} days", hours // 24).format(
                n=hours // 24
            )
        )
    if feed.last_error and feed.last_error_at:
        error = feed.last_error.strip().splitlines()[0] if feed.last_error.strip() else ""
        lines.append(
            _("last error: {moment}: {error}").format(
                moment=format_moment(feed.last_error_at, timezone),
                error=quote(error, MAX_ERROR_LENGTH),
            )
        )
        if feed.consecutive_failures:
            lines.append(
                ngettext(
                    "{n} failure in a row", "{n} failures in a row", feed.consecutive_failures
                ).format(n=feed.consecutive_failures)
            )
    if not feed.active:
        lines.append(_("switched off"))
    return "\n".join(lines)


async def feeds(message: Message, session: AsyncSession, settings: Settings) -> None:
    now = datetime.now(UTC)
    records = await list_feeds(session)
    if not records:
        await message.answer(_("There are no feeds. Add one: /addfeed URL"))
        return
    counts = await feed_article_counts(session, fetched_since=now - HEALTH_WINDOW)
    policy = health_policy(settings)
    chat = await get_chat(session, message.chat.id)
    timezone = chat.timezone if chat else settings.default_timezone
    header = ngettext("<b>{n} feed</b>", "<b>{n} feeds</b>", len(records)).format(n=len(records))
    legend = _("✅ fine · ⚠️ silent · ❌ failing · ⏸ switched off")
    blocks = [feed_block(feed, counts.get(feed.id, 0), now, timezone, policy) for feed in records]
    for text in split_html_items(f"{header}\n{legend}", blocks, separator="\n\n"):
        await message.answer(text)


def _address_refusal(url: str, problem: OutlineProblem) -> str:
    if problem is OutlineProblem.TOO_LONG:
        return _("The address is too long (length {length}); {max} characters at most.").format(
            length=len(url), max=MAX_FEED_URL_LENGTH
        )
    if problem is OutlineProblem.NOT_HTTP:
        return _not_public_text(url)
    return _("«{url}» cannot be a feed's address: {reason}.").format(
        url=quote(url), reason=_problem_text(problem)
    )


def _not_public_text(url: str) -> str:
    return _(
        "«{url}» is not a public http(s) address. Local and private network "
        "addresses are not allowed."
    ).format(url=quote(url))


async def addfeed(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    ingest_config: IngestConfig,
    bot: Bot,
) -> None:
    # The address is taken whole: cut to the usual argument length it would be another one.
    url = " ".join((command.args or "").split())
    if not url:
        await message.answer(_("Send the feed's address: /addfeed https://example.ru/rss"))
        return
    try:
        address = feed_address(url)
    except FeedAddressError as error:
        await message.answer(_address_refusal(url, error.problem))
        return
    if not ingest_config.allow_private_addresses and not await is_public_http_url(address):
        await message.answer(_not_public_text(url))
        return
    await bot.send_chat_action(message.chat.id, ChatAction.TYPING)
    probe = await probe_feed(address, ingest_config)
    if not probe.ok:
        await message.answer(
            _("Could not add «{url}»: {error}").format(
                url=quote(url), error=quote(str(probe.error or _("not a feed")), MAX_ERROR_LENGTH)
            )
        )
        return
    feed, created = await add_feed(session, address, title=probe.title or None)
    title = quote(feed.title or feed.url, MAX_FEED_TITLE_LENGTH)
    if created:
        text = _("Added feed #{id} «{title}»: {items} items in it now.").format(
            id=feed.id, title=title, items=probe.items
        )
    else:
        text = _("Feed #{id} «{title}» is already on the list (switched on).").format(
            id=feed.id, title=title
        )
    await message.answer(text)


async def delfeed(message: Message, command: CommandObject, session: AsyncSession) -> None:
    text, _note = cut_argument(command.args)
    raw = text.removeprefix("#")
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        await message.answer(_("Send the feed's number from /feeds: /delfeed 3"))
        return
    if not await remove_feed(session, int(raw)):
        await message.answer(_("There is no feed #{id}. /feeds lists them.").format(id=int(raw)))
        return
    await message.answer(
        _("Feed #{id} removed. Its articles stay in the archive.").format(id=int(raw))
    )


async def export(message: Message, session: AsyncSession) -> None:
    records = await list_feeds(session)
    document = BufferedInputFile(export_opml(records).encode("utf-8"), filename="feeds.opml")
    await message.answer_document(
        document,
        caption=ngettext("{n} feed", "{n} feeds", len(records)).format(n=len(records)),
    )


async def _is_opml(message: Message) -> bool:
    document = message.document
    if document is None:
        return False
    name = (document.file_name or "").lower()
    return name.endswith(OPML_NAMES) or (document.mime_type or "") in {
        "text/x-opml",
        "text/x-opml+xml",
        "application/xml",
        "text/xml",
    }


def _hint(bot: Bot, error: Exception) -> str:
    """What the operator can do about a failed download, when the cause is known."""
    api = bot.session.api
    if api.is_local:
        return (
            " (TELEGRAM_API_LOCAL=1: this process reads files where the Bot API server keeps "
            "them, so it must see the server's --dir)"
        )
    if (
        isinstance(error, ClientResponseError)
        and error.status == 404
        and api.base != PRODUCTION.base
    ):
        return (
            " (a self-hosted Bot API server started with --local serves no files: "
            "set TELEGRAM_API_LOCAL=1)"
        )
    return ""


async def import_opml(
    message: Message, session: AsyncSession, bot: Bot, ingest_config: IngestConfig
) -> None:
    document = message.document
    assert document is not None
    if document.file_size and document.file_size > MAX_OPML_BYTES:
        await message.answer(_("The file is too large for a feed list (1 MB at most)."))
        return
    buffer = io.BytesIO()
    try:
        await bot.download(document, destination=buffer)
    except (TelegramAPIError, ClientError, OSError) as error:
        logger.warning(
            "could not download the feed list sent in chat: %s%s", error, _hint(bot, error)
        )
        await message.answer(
            _("I could not get the file from Telegram. Please send it again in a minute.")
        )
        return
    content = buffer.getvalue()[: MAX_OPML_BYTES + 1]
    if len(content) > MAX_OPML_BYTES:
        await message.answer(_("The file is too large for a feed list (1 MB at most)."))
        return
    try:
        found = read_opml(content)
    except ValueError as error:
        logger.info("rejected OPML file: %s", error)
        await message.answer(_("This is not an OPML feed list I can read."))
        return
    specs = found.feeds[:MAX_OPML_FEEDS]
    refused = list(found.refused)
    if ingest_config.allow_private_addresses:
        public = [True] * len(specs)
    else:
        public = await asyncio.gather(*(is_public_http_url(spec.url) for spec in specs))
    added = existing = rejected = 0
    for spec, allowed in zip(specs, public, strict=True):
        if not allowed:
            rejected += 1
            continue
        _feed, created = await add_feed(session, spec.url, title=spec.title)
        if created:
            added += 1
        else:
            existing += 1
    summary = _(
        "Feed list imported: {added} new, {existing} already there, {rejected} rejected "
        "(not public http(s) addresses)."
    ).format(added=added, existing=existing, rejected=rejected)
    await message.answer("\n".join([summary, *_refusal_lines(refused)]))


def _problem_text(problem: OutlineProblem) -> str:
    if problem is OutlineProblem.TOO_LONG:
        return _("the address is longer than {max} characters").format(max=MAX_FEED_URL_LENGTH)
    if problem is OutlineProblem.SPACES:
        return _("it has spaces or control characters in it")
    if problem is OutlineProblem.BAD_PORT:
        return _("the port must be between 1 and 65535")
    if problem is OutlineProblem.BAD_HOST:
        return _("it has no valid host name")
    return _("not an http(s) address")


def _refusal_lines(refused: list[RefusedOutline]) -> list[str]:
    """One line per outline left out of an import, the first few of them."""
    if not refused:
        return []
    lines = [_("Left out:")] + [
        f"• «{quote(item.url)}»: {_problem_text(item.problem)}"
        for item in refused[:MAX_LISTED_REFUSALS]
    ]
    if len(refused) > MAX_LISTED_REFUSALS:
        lines.append(_("and {n} more").format(n=len(refused) - MAX_LISTED_REFUSALS))
    return lines


def create_router() -> Router:
    router = Router(name="admin")
    router.message.register(feeds, Command("feeds"), flags=BOT_ADMIN_ONLY)
    router.message.register(addfeed, Command("addfeed"), flags=BOT_ADMIN_ONLY)
    router.message.register(delfeed, Command("delfeed"), flags=BOT_ADMIN_ONLY)
    router.message.register(export, Command("export_opml"), flags=BOT_ADMIN_ONLY)
    router.message.register(import_opml, _is_opml, flags=BOT_ADMIN_ONLY)
    return router
