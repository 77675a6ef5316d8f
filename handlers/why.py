"""/why <article link>: for the bot's administrators, why an article got its tags.

The stored title and text are tagged again with the evidence switched on; the reply names,
for each country, topic and region, the sentences, matched words and scores, and for each
country turned down the reason."""

from __future__ import annotations

import asyncio
import html
from functools import cache
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from digests.render import split_html_items
from handlers.common import country_name, topic_name
from handlers.middlewares import ACCESS_FLAG, BOT_ADMIN
from ingest.urls import canonical_url, is_http_url
from storage.articles import article_text_by_url
from tagging import Tagger
from tagging.explain import Decision, Evidence, Explanation

BOT_ADMIN_ONLY = {ACCESS_FLAG: BOT_ADMIN}
MAX_LINK_LENGTH = 2048
MAX_EVIDENCE_LINES = 3


@cache
def _own_tagger() -> Tagger:
    """A tagger for a bot started without one (tests, tools); made on first use."""
    return Tagger()


def _frame_text(note: str) -> str:
    frames = {
        "crime frame": _("crime news"),
        "sport frame": _("sport"),
        "weather frame": _("weather"),
        "leisure frame": _("holidays and tourism demand"),
        "consumer frame": _("the consumer market"),
        "traffic frame": _("traffic and queues"),
        "ceremony frame": _("a ceremony"),
        "enumeration of countries": _("an enumeration of countries"),
        "background remark": _("a background remark"),
        "diaspora event": _("a diaspora event"),
        "cut-off tail": _("the cut-off end of the text"),
        "institution name": _("the name of an institution or union"),
        "person name": _("a person's name"),
        "name of a street, venue or firm": _("the name of a street, venue or firm"),
        "not this country": _("a known false friend"),
    }
    return ", ".join(frames.get(part.strip(), part.strip()) for part in note.split(","))


def reason_text(reason: str) -> str:
    """A reason of the tagger («below threshold 0.5») in the reader's language."""
    if reason.startswith("below threshold "):
        return _("below the threshold {threshold}").format(
            threshold=reason.removeprefix("below threshold ")
        )
    if reason.startswith("passing mention: "):
        return _("passing mention in {frame}").format(
            frame=_frame_text(reason.removeprefix("passing mention: "))
        )
    if reason.startswith("article in a ") and reason.endswith(" frame"):
        frame = reason.removeprefix("article in a ").removesuffix(" frame") + " frame"
        return _("the whole article is {frame}").format(frame=_frame_text(frame))
    reasons = {
        "named only in enumerations, side remarks or other frames": _(
            "named only in enumerations and side remarks"
        ),
        "no Russian party": _("no Russian party"),
        "third-country news": _("cooperation between other countries"),
        "diaspora event without an official party": _(
            "a diaspora event without an official of the state"
        ),
        "ceremony": _("a ceremony, not cooperation"),
        "passing mention beside the main partner": _("a passing mention beside the main partner"),
        "no cooperation in the article": _("no cooperation in the article"),
        "no partner country": _("no partner country"),
    }
    return reasons.get(reason) or _frame_text(reason)


def _evidence_lines(evidence: tuple[Evidence, ...]) -> list[str]:
    lines = []
    for item in evidence[:MAX_EVIDENCE_LINES]:
        words = ", ".join(item.words)
        line = _("• «{sentence}» — words: {words}; weight {weight}").format(
            sentence=html.escape(item.sentence),
            words=html.escape(words),
            weight=f"{item.weight:g}",
        )
        if item.note and item.weight:
            line += " " + _("(weakened: {note})").format(note=html.escape(_frame_text(item.note)))
        lines.append(line)
    if len(evidence) > MAX_EVIDENCE_LINES:
        lines.append(_("• and {n} more").format(n=len(evidence) - MAX_EVIDENCE_LINES))
    return lines


def _decision_block(name: str, decision: Decision) -> str:
    head = _("<b>{name}</b> — score {score}").format(
        name=html.escape(name), score=f"{decision.score:.2f}"
    )
    if decision.reasons:
        head += ": " + html.escape("; ".join(reason_text(r) for r in decision.reasons))
    return "\n".join([head, *_evidence_lines(decision.evidence)])


def explanation_items(explanation: Explanation) -> list[str]:
    """The blocks of a /why reply, one per decision, each well under a message's limit."""
    items: list[str] = []
    if explanation.countries:
        items.append(_("<u>Countries</u>"))
        items += [_decision_block(country_name(d.value), d) for d in explanation.countries]
    else:
        items.append(_("<u>Countries</u>: none"))
    if explanation.rejected_countries:
        items.append(_("<u>Turned down</u>"))
        items += [_decision_block(country_name(d.value), d) for d in explanation.rejected_countries]
    if explanation.topics:
        items.append(_("<u>Topics</u>"))
        items += [_decision_block(topic_name(d.value), d) for d in explanation.topics]
    if explanation.rejected_topics:
        items.append(_("<u>Topics turned down</u>"))
        items += [_decision_block(topic_name(d.value), d) for d in explanation.rejected_topics]
    if explanation.regions:
        names = ", ".join(d.value for d in explanation.regions)
        items.append(_("<u>Region</u>: {names}").format(names=html.escape(names)))
    else:
        items.append(_("<u>Region</u>: none"))
    return items


async def why(
    message: Message, command: CommandObject, session: AsyncSession, tagger: Any = None
) -> None:
    link = (command.args or "").strip().split(" ")[0]
    if not link or len(link) > MAX_LINK_LENGTH or not is_http_url(link):
        await message.answer(_("Send an article's link: /why https://…"))
        return
    article = await article_text_by_url(session, [link, canonical_url(link)])
    if article is None:
        await message.answer(_("There is no article with this link in the archive."))
        return
    used: Tagger = tagger if isinstance(tagger, Tagger) else await asyncio.to_thread(_own_tagger)
    result = await asyncio.to_thread(used.tag, article.title, article.text, explain=True)
    explanation = result.explanation
    if explanation is None:  # tag(..., explain=True) always explains
        raise RuntimeError("the tagger gave no explanation")
    header = _("<b>Why these tags</b>: {title}").format(title=html.escape(article.title))
    for text in split_html_items(header, explanation_items(explanation), separator="\n"):
        await message.answer(text)


def create_router() -> Router:
    router = Router(name="why")
    router.message.register(why, Command("why"), flags=BOT_ADMIN_ONLY)
    return router
