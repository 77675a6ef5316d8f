"""The archive on demand: /agreements (the register of agreements, then articles), /trade
(figures as a timeline with a chart, then articles), /news, /topic, /search, with pages;
/export (the facts of the chat's countries as CSV)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from aiogram import Bot, Router
from aiogram.enums import ChatAction
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from core.settings import Settings
from delivery.labels import fact_texts
from delivery.window import to_digest_article
from digests.cluster import cluster_stories
from digests.facts import (
    chart_series,
    facts_csv,
    render_register,
    render_series_chart,
    render_timeline,
)
from digests.render import MessageLimits, escape, local_date, render_article_list
from handlers.common import (
    country_name,
    current_language,
    cut_argument,
    echo_text,
    edit_or_send,
    labels,
    quote,
    topic_name,
    with_note,
)
from storage.articles import StoredArticle, find_articles_page, search_articles
from storage.chats import get_chat
from storage.facts import agreements_page, facts_of_countries, figures_of
from tagging import countries, lemmatize_for_search, resolve_country, resolve_topic, topics

PAGE_SIZE = 8
REGISTER_PAGE_SIZE = 5
TIMELINE_SIZE = 12
DEFAULT_NEWS_DAYS = 7
MAX_NEWS_DAYS = 365
MAX_PAGE = 500
CALLBACK_DATA_LIMIT = 64
# Room left under Telegram's limits for the page line added below a rendered list.
FOOTER_ROOM = 200

AGREEMENTS = "a"
TRADE = "t"
NEWS = "n"
TOPIC = "o"
SEARCH = "s"
KINDS = frozenset({AGREEMENTS, TRADE, NEWS, TOPIC, SEARCH})
KIND_TOPICS = {AGREEMENTS: "agreements", TRADE: "trade"}
COMMAND_OF_KIND = {
    AGREEMENTS: "agreements",
    TRADE: "trade",
    NEWS: "news",
    TOPIC: "topic",
    SEARCH: "search",
}
_SEARCH_WORD = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


class ArchivePage(CallbackData, prefix="ar"):
    """One page of an archive answer; also a "did you mean" or "which country" button."""

    kind: str
    country: str = ""
    topic: str = ""
    days: int = 0
    page: int = 0
    query: str = ""


@dataclass(frozen=True, slots=True)
class ArchiveRequest:
    kind: str
    country: str = ""
    topic: str = ""
    days: int = 0
    page: int = 0
    query: str = ""

    def button(self, **changes: object) -> ArchivePage:
        request = replace(self, **changes)  # type: ignore[arg-type]
        return ArchivePage(
            kind=request.kind,
            country=request.country,
            topic=request.topic,
            days=request.days,
            page=request.page,
            query=request.query,
        )


def _known_countries() -> tuple[str, ...]:
    return tuple(item.code for item in countries())


def _known_topics() -> tuple[str, ...]:
    return tuple(item.id for item in topics())


def _fits(data: ArchivePage) -> bool:
    try:
        return len(data.pack().encode()) <= CALLBACK_DATA_LIMIT
    except ValueError:
        return False


# Headers and pages --------------------------------------------------------------------------


def _scope_name(request: ArchiveRequest, chat_countries: Sequence[str]) -> str:
    if request.country:
        return country_name(request.country)
    return _("your countries") if chat_countries else _("all countries")


def request_header(request: ArchiveRequest, chat_countries: Sequence[str]) -> str:
    """A plain-text header (the renderer escapes it)."""
    if request.kind == AGREEMENTS:
        return _("Agreements · {country}").format(country=country_name(request.country))
    if request.kind == TRADE:
        return _("Trade · {country}").format(country=country_name(request.country))
    if request.kind == NEWS:
        period = ngettext("for the last {n} day", "for the last {n} days", request.days).format(
            n=request.days
        )
        return _("News · {country} · {period}").format(
            country=country_name(request.country), period=period
        )
    if request.kind == TOPIC:
        return _("{topic} · {scope}").format(
            topic=topic_name(request.topic), scope=_scope_name(request, chat_countries)
        )
    return _("Search: {query}").format(query=echo_text(request.query))


def _empty_text(request: ArchiveRequest) -> str:
    if request.kind == NEWS and request.days < MAX_NEWS_DAYS:
        return _("Nothing in this period. Try a longer one: /news {code} {days}").format(
            code=request.country.lower(), days=min(MAX_NEWS_DAYS, max(30, request.days * 4))
        )
    if request.kind == SEARCH:
        return _("Nothing found. Try fewer or other words.")
    return _("Nothing in the archive yet.")


def _page_keyboard(request: ArchiveRequest, has_more: bool) -> InlineKeyboardMarkup | None:
    builder = InlineKeyboardBuilder()
    back = request.button(page=request.page - 1)
    more = request.button(page=request.page + 1)
    if request.page > 0 and _fits(back):
        builder.button(text=_("« Back"), callback_data=back)
    if has_more and request.page < MAX_PAGE and _fits(more):
        builder.button(text=_("More »"), callback_data=more)
    if not list(builder.buttons):
        return None
    builder.adjust(2)
    return builder.as_markup()


async def _fetch(
    session: AsyncSession,
    request: ArchiveRequest,
    scope: Sequence[str],
    threshold: float,
) -> tuple[list[StoredArticle], bool]:
    """The page's articles and whether more follow."""
    offset = request.page * PAGE_SIZE
    if request.kind == SEARCH:
        lemmas = lemmatize_for_search(request.query).split()
        found = await search_articles(session, lemmas, limit=PAGE_SIZE + 1, offset=offset)
        return found[:PAGE_SIZE], len(found) > PAGE_SIZE
    topic_filter: tuple[str, ...] = ()
    if request.kind in KIND_TOPICS:
        topic_filter = (KIND_TOPICS[request.kind],)
    elif request.kind == TOPIC:
        topic_filter = (request.topic,)
    since = datetime.now(UTC) - timedelta(days=request.days) if request.kind == NEWS else None
    return await find_articles_page(
        session,
        countries=scope,
        topics=topic_filter,
        published_since=since,
        threshold=threshold,
        limit=PAGE_SIZE,
        offset=offset,
    )


async def _facts_part(session: AsyncSession, request: ArchiveRequest, tz: str) -> tuple[str, bool]:
    """The register (/agreements, paged with the articles) or the timeline (/trade, first
    page only) above the articles, and whether the register has more pages; days of first
    reports in the chat's zone `tz`."""
    if request.kind == AGREEMENTS and request.country:
        found, total = await agreements_page(
            session,
            request.country,
            offset=request.page * REGISTER_PAGE_SIZE,
            limit=REGISTER_PAGE_SIZE,
        )
        return render_register(found, fact_texts(current_language()), tz), total > (
            request.page + 1
        ) * REGISTER_PAGE_SIZE
    if request.kind == TRADE and request.country and request.page == 0:
        figures = await figures_of(session, request.country, limit=TIMELINE_SIZE)
        return render_timeline(figures, fact_texts(current_language()), tz), False
    return "", False


async def build_page(
    session: AsyncSession, settings: Settings, chat_id: int, request: ArchiveRequest
) -> tuple[str, InlineKeyboardMarkup | None]:
    chat = await get_chat(session, chat_id)
    chat_countries = sorted(chat.countries) if chat else []
    timezone = chat.timezone if chat else settings.default_timezone
    if request.country:
        scope: Sequence[str] = (request.country,)
    elif request.kind == TOPIC:
        scope = chat_countries or _known_countries()
    else:
        scope = ()
    found, has_more = await _fetch(session, request, scope, settings.tag_threshold)
    facts_text, more_facts = await _facts_part(session, request, timezone)
    has_more = has_more or more_facts
    header = request_header(request, chat_countries)
    if not found:
        if facts_text:
            footer = _("Page {page}").format(page=request.page + 1)
            return (
                f"<b>{escape(header)}</b>\n\n{facts_text}\n\n<i>{footer}</i>",
                _page_keyboard(request, has_more),
            )
        if request.page > 0:
            return _("There are no more results."), _page_keyboard(request, has_more=False)
        return render_article_list([], labels(), tz=timezone, header=header) + (
            "\n\n" + _empty_text(request)
        ), None
    stories = cluster_stories([to_digest_article(article) for article in found])
    now = datetime.now(UTC)
    text = render_article_list(
        stories,
        labels(),
        tz=timezone,
        header=header,
        today=local_date(now, timezone),
        limits=MessageLimits(
            visible=4096 - FOOTER_ROOM - len(facts_text),
            html=9000 - FOOTER_ROOM - len(facts_text),
        ),
    )
    if facts_text:
        # The register or timeline opens the answer, under the header line.
        head, _newline, rest = text.partition("\n")
        text = f"{head}\n\n{facts_text}\n\n{rest.lstrip()}"
    footer = _("Page {page}").format(page=request.page + 1)
    keyboard = _page_keyboard(request, has_more)
    if has_more and not _fits(request.button(page=request.page + 1)):
        footer += "\n" + _("The request is too long to turn pages; make it shorter.")
    return f"{text}\n\n<i>{footer}</i>", keyboard


# Asking for a missing or unknown argument ---------------------------------------------------


def country_choice_keyboard(request: ArchiveRequest, codes: Sequence[str]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in codes:
        builder.button(text=country_name(code), callback_data=request.button(country=code))
    builder.adjust(3)
    return builder.as_markup()


def topic_choice_keyboard(request: ArchiveRequest) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for topic_id in _known_topics():
        builder.button(text=topic_name(topic_id), callback_data=request.button(topic=topic_id))
    builder.adjust(2)
    return builder.as_markup()


async def _ask_country(
    message: Message, session: AsyncSession, request: ArchiveRequest, note: str | None
) -> None:
    chat = await get_chat(session, message.chat.id)
    codes = sorted(chat.countries) if chat and chat.countries else list(_known_countries())
    command = COMMAND_OF_KIND[request.kind]
    await message.answer(
        with_note(
            _("Which country? Tap one or type it: /{command} Uzbekistan").format(command=command),
            note,
        ),
        reply_markup=country_choice_keyboard(request, codes),
    )


async def _resolve_or_suggest(
    message: Message, text: str, request: ArchiveRequest, note: str | None
) -> str | None:
    """The country code for `text`; otherwise replies with suggestions and returns None."""
    resolution = resolve_country(text)
    if resolution.code:
        return resolution.code
    suggestions = [code for code in resolution.suggestions if code in _known_countries()]
    if suggestions:
        reply = _("I do not know the country «{text}». Did you mean:").format(text=quote(text))
        codes: Sequence[str] = suggestions
    else:
        reply = _("I do not know the country «{text}». Choose one of these:").format(
            text=quote(text)
        )
        codes = _known_countries()
    await message.answer(
        with_note(reply, note), reply_markup=country_choice_keyboard(request, codes)
    )
    return None


async def _reply_page(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    request: ArchiveRequest,
    note: str | None,
) -> None:
    text, keyboard = await build_page(session, settings, message.chat.id, request)
    await message.answer(with_note(text, note), reply_markup=keyboard)
    if request.kind == TRADE and request.country:
        await _send_trade_chart(message, session, request.country)


async def _send_trade_chart(message: Message, session: AsyncSession, country: str) -> None:
    """A chart of the longest series of one indicator and unit, when it has enough points."""
    series = chart_series(await figures_of(session, country))
    if series is None:
        return
    texts = fact_texts(current_language())
    title = f"{texts.indicators.get(series.indicator, series.indicator)}, {series.unit}"
    # Answering above ended the read transaction; the chart is drawn in a worker thread.
    picture = await asyncio.to_thread(render_series_chart, series, title)
    await message.answer_photo(
        BufferedInputFile(picture, filename="trade.png"),
        caption=_("Trade · {country}").format(country=country_name(country)),
    )


async def export_facts(message: Message, session: AsyncSession, bot: Bot) -> None:
    """/export: the agreements and figures of the chat's countries as a CSV document."""
    chat = await get_chat(session, message.chat.id)
    chosen = sorted(chat.countries) if chat else []
    if not chosen:
        await message.answer(_("Choose your countries first: /countries"))
        return
    facts = await facts_of_countries(session, chosen)
    if not facts:
        await message.answer(_("No agreements or figures about your countries yet."))
        return
    await bot.send_chat_action(message.chat.id, ChatAction.UPLOAD_DOCUMENT)
    await message.answer_document(
        BufferedInputFile(facts_csv(facts), filename="facts.csv"),
        caption=_("Agreements and figures: {count}").format(count=len(facts)),
    )


# Commands -----------------------------------------------------------------------------------


async def _country_command(
    kind: str,
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    settings: Settings,
) -> None:
    text, note = cut_argument(command.args)
    request = ArchiveRequest(kind=kind)
    if kind == NEWS:
        text, days, days_note = parse_days(text)
        request = replace(request, days=days)
        note = " ".join(part for part in (note, days_note) if part) or None
    if not text:
        await _ask_country(message, session, request, note)
        return
    code = await _resolve_or_suggest(message, text, request, note)
    if code is not None:
        await _reply_page(message, session, settings, replace(request, country=code), note)


def parse_days(text: str) -> tuple[str, int, str | None]:
    """Splits "Таджикистан 30" into the country and a number of days (7 by default,
    at most 365); the note explains a number that had to be changed."""
    words = text.split()
    if not words or not re.fullmatch(r"\d{1,9}", words[-1]):
        return text, DEFAULT_NEWS_DAYS, None
    days = int(words[-1])
    rest = " ".join(words[:-1])
    if days > MAX_NEWS_DAYS:
        return (
            rest,
            MAX_NEWS_DAYS,
            _("I can look back {max} days at most.").format(max=MAX_NEWS_DAYS),
        )
    if days < 1:
        return rest, 1, _("The period must be at least one day.")
    return rest, days, None


async def agreements(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    await _country_command(AGREEMENTS, message, command, session, settings)


async def trade(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    await _country_command(TRADE, message, command, session, settings)


async def news(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    await _country_command(NEWS, message, command, session, settings)


def split_topic_and_country(text: str) -> tuple[str | None, str]:
    """ "образование Киргизия" -> ("education_science", "Киргизия"); the topic may come
    first or last and may be several words."""
    words = text.split()
    for size in range(len(words), 0, -1):
        topic_id = resolve_topic(" ".join(words[:size]))
        if topic_id:
            return topic_id, " ".join(words[size:])
        topic_id = resolve_topic(" ".join(words[-size:]))
        if topic_id:
            return topic_id, " ".join(words[:-size])
    return None, text


async def topic(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    text, note = cut_argument(command.args)
    request = ArchiveRequest(kind=TOPIC)
    if not text:
        await message.answer(
            with_note(_("Which topic? Tap one or type it: /topic education"), note),
            reply_markup=topic_choice_keyboard(request),
        )
        return
    topic_id, country_text = split_topic_and_country(text)
    code = ""
    if country_text:
        resolved = resolve_country(country_text)
        if topic_id is None and resolved.code is None:
            country_text = ""
        elif resolved.code is None:
            found = await _resolve_or_suggest(
                message, country_text, replace(request, topic=topic_id or ""), note
            )
            if found is None:
                return
            code = found
        else:
            code = resolved.code
    if topic_id is None:
        await message.answer(
            with_note(
                _("I do not know the topic «{text}». Choose one:").format(text=quote(text)), note
            ),
            reply_markup=topic_choice_keyboard(replace(request, country=code)),
        )
        return
    await _reply_page(
        message, session, settings, replace(request, topic=topic_id, country=code), note
    )


def search_words(text: str) -> str:
    """The words of a search request, lowercased, without punctuation."""
    return " ".join(_SEARCH_WORD.findall(text.lower().replace("ё", "е")))


async def search(
    message: Message, command: CommandObject, session: AsyncSession, settings: Settings
) -> None:
    text, note = cut_argument(command.args)
    words = search_words(text)
    if not words:
        await message.answer(
            with_note(_("What should I look for? For example: /search joint venture"), note)
        )
        return
    if not lemmatize_for_search(words).split():
        await message.answer(
            with_note(
                _("«{text}» has no words I can search for. Try other words.").format(
                    text=quote(text)
                ),
                note,
            )
        )
        return
    request = ArchiveRequest(kind=SEARCH, query=words)
    if not _fits(request.button(page=1)):
        # Pages are turned with the words in the button; a shorter form keeps them turning.
        lemmas = lemmatize_for_search(words)
        if _fits(request.button(page=1, query=lemmas)):
            request = replace(request, query=lemmas)
    text_page, keyboard = await build_page(session, settings, message.chat.id, request)
    await message.answer(with_note(text_page, note), reply_markup=keyboard)


# Pages and buttons --------------------------------------------------------------------------


def _valid(data: ArchivePage) -> bool:
    if data.kind not in KINDS or not 0 <= data.page <= MAX_PAGE:
        return False
    if data.country and data.country not in _known_countries():
        return False
    if data.topic and data.topic not in _known_topics():
        return False
    if data.kind == NEWS and not 1 <= data.days <= MAX_NEWS_DAYS:
        return False
    if data.kind == SEARCH:
        return bool(search_words(data.query))
    return True


async def turn_page(
    callback: CallbackQuery,
    callback_data: ArchivePage,
    session: AsyncSession,
    settings: Settings,
) -> None:
    if callback.message is None or not _valid(callback_data):
        await callback.answer(_("This button is out of date. Send the command again."))
        return
    request = ArchiveRequest(
        kind=callback_data.kind,
        country=callback_data.country,
        topic=callback_data.topic,
        days=callback_data.days,
        page=callback_data.page,
        query=callback_data.query,
    )
    if request.kind == TOPIC and not request.topic:
        await callback.answer()
        await edit_or_send(
            callback,
            _("Which topic? Tap one or type it: /topic education"),
            topic_choice_keyboard(request),
        )
        return
    if request.kind in {AGREEMENTS, TRADE, NEWS} and not request.country:
        await callback.answer(_("This button is out of date. Send the command again."))
        return
    text, keyboard = await build_page(session, settings, callback.message.chat.id, request)
    await callback.answer()
    await edit_or_send(callback, text, keyboard)


def create_router() -> Router:
    router = Router(name="archive")
    router.message.register(agreements, Command("agreements"))
    router.message.register(trade, Command("trade"))
    router.message.register(news, Command("news"))
    router.message.register(topic, Command("topic"))
    router.message.register(search, Command("search"))
    router.message.register(export_facts, Command("export"))
    router.callback_query.register(turn_page, ArchivePage.filter())
    return router
