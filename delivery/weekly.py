"""The weekly brief: on Mondays at the chat's digest time, the week that ended.

One message with the counts of the week's articles by country and by topic against the
week before ("🇺🇿 Узбекистан 12 (+4)"); from the facts register the agreements signed and
the figures published that week (facts with a source among the week's articles the chat
counts, so its countries, keyword and region filters hold; at most MAX_WEEK_FACTS of each,
then "и ещё N" pointing to /agreements and /trade); the week's articles on the `agreements`
topic as linked titles; then the `/stats` chart (articles per country over the last eight whole
weeks, counted in the deployment's zone so that one picture serves every chat following
the same countries) as a picture. Counts and the list go through the chat's countries,
topics, keyword and region filters; the chart is the picture `/stats` draws.

Composing does not draw: a chart is queued as its recipe (the counts and words it shows,
`digests.chart.weekly_chart_recipe`) in a `media` row shared by every brief that shows the
same picture, and the sender draws it in a worker thread right before its first send
(matplotlib, about 0.2 s of CPU a chart, would otherwise be most of the composing time);
later sends reuse Telegram's file id. A row whose chart is not drawn yet is drawn and sent
after a restart like any other queued row.

The brief is a review: it lists the week's agreements even when the chat had them already
(instantly or in a daily digest), and says so in its heading. Nothing it lists is recorded
as sent, so it never keeps an article out of a later digest.

State lives in `chats.next_weekly_at` (set by delivery.subscriptions); this pass queues due
briefs in the outbox and moves the schedule in one transaction, like the daily pass. A
brief missed by more than `WEEKLY_CATCHUP` (the bot was down) is skipped to next Monday.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import logging
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from datetime import time as clock
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.i18n import gettext_for
from delivery.labels import fact_texts
from delivery.planner import subscription_for, topic_order
from delivery.schedule import local_digest_date, plan_after_downtime
from delivery.subscriptions import next_weekly_for, usable_timezone
from delivery.window import to_digest_article
from delivery.writes import write_by_chunks
from digests.chart import ChartText, weekly_chart_recipe
from digests.facts import cut, fact_date, fact_sources, figure_line
from digests.model import DigestArticle, Labels, Subscription
from digests.render import MessageLimits, render_article_list, visible_length
from digests.select import as_utc, passes_filters
from digests.stats import WeeklyCounts, Weeks, last_weeks, weekly_counts
from storage import chats as chat_repo
from storage import outbox
from storage.articles import country_counts_by_period, find_articles
from storage.chats import ChatRecord
from storage.facts import AGREEMENT, FIGURE, StoredFact, facts_of_articles
from storage.media import request_media
from storage.outbox import NewOutboxMessage
from tagging import country

logger = logging.getLogger(__name__)

WEEKLY_KIND = "weekly"
WEEKLY_CHART_KIND = "weekly_chart"
CHART_WEEKS = 8
WEEKLY_CATCHUP = timedelta(days=1)
AGREEMENTS_TOPIC = "agreements"
MAX_WEEK_ARTICLES = 50_000
# The chart's weeks run Monday to Sunday in the deployment's zone (DEFAULT_TIMEZONE) for
# every chat: chats that follow the same countries then share one picture whatever their
# own zone (a chart is about 0.2 s of CPU to draw; the counts move by a few hours at most).
DEFAULT_CHART_TIMEZONE = "Asia/Omsk"
DEFAULT_BATCH_SIZE = 500
# The brief lists at most this many signed agreements and as many figures; /agreements and
# /trade have the rest.
MAX_WEEK_FACTS = 5
MAX_FACT_PART = 120
FACT_QUERY_CHUNK = 5000


@dataclass(frozen=True, slots=True)
class WeeklyBrief:
    """One chat's brief: the text and the chart's recipe (None: no chart)."""

    text: str
    chart_recipe: str | None
    caption: str


@dataclass(frozen=True, slots=True)
class WeeklyChange:
    chat_id: int
    expected_next_at: datetime
    next_at: datetime
    brief: WeeklyBrief | None = None
    monday: date | None = None


@dataclass
class WeeklyReport:
    due: int = 0
    briefs: int = 0
    charts_queued: int = 0
    skipped: int = 0
    conflicts: int = 0
    errors: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"weekly: due {self.due}, briefs {self.briefs}, charts queued {self.charts_queued} "
            f"(drawn by the sender), skipped {self.skipped}, conflicts {self.conflicts}, "
            f"errors {self.errors}, {self.seconds:.2f} s"
        )


def brief_weeks(slot: datetime, timezone: str) -> Weeks:
    """The CHART_WEEKS whole weeks before the local Monday of `slot`; the last is the week
    the brief is about."""
    monday = local_digest_date(slot, timezone)
    monday -= timedelta(days=monday.weekday())
    start = datetime.combine(monday, clock(), tzinfo=ZoneInfo(timezone))
    return last_weeks(start - timedelta(seconds=1), CHART_WEEKS, timezone)


def _delta(now: int, before: int) -> str:
    change = now - before
    if change == 0:
        return "±0"
    return f"+{change}" if change > 0 else f"−{-change}"


@dataclass(frozen=True, slots=True)
class WeekArticle:
    """An article with what every brief asks of it worked out once per pass: its UTC
    publication time and the countries and topics scoring at least the threshold."""

    article: DigestArticle
    published: datetime
    countries: frozenset[str]
    topics: frozenset[str]

    @classmethod
    def of(cls, article: DigestArticle, threshold: float) -> WeekArticle:
        return cls(
            article,
            as_utc(article.published_at),
            frozenset(code.upper() for code, s in article.countries.items() if s >= threshold),
            frozenset(topic.lower() for topic, s in article.topics.items() if s >= threshold),
        )


def week_counts(
    articles: Sequence[DigestArticle | WeekArticle],
    sub: Subscription,
    start: datetime,
    end: datetime,
    matched: set[int] | None = None,
) -> tuple[Counter[str], Counter[str], list[DigestArticle]]:
    """Per country and per topic, how many of the chat's articles were published in
    [start, end); and the agreement-topic ones among them, newest first. The same as
    `subscription_matcher` and `subscribed_countries`/`subscribed_topics` (digests.select)
    per article, on sets worked out once (`WeekArticle`). The ids of every article counted
    are added to `matched` when given."""
    by_country: Counter[str] = Counter()
    by_topic: Counter[str] = Counter()
    agreements: list[WeekArticle] = []
    countries = frozenset(code.upper() for code in sub.countries)
    topics = frozenset(topic.lower() for topic in sub.topics)
    for item in articles:
        week = item if isinstance(item, WeekArticle) else WeekArticle.of(item, sub.threshold)
        if not start <= week.published < end:
            continue
        shared = week.countries & countries
        if not shared:
            continue
        shown_topics = week.topics & topics if topics else week.topics
        if topics and not shown_topics:
            continue
        if (sub.regions or sub.include_words or sub.exclude_words) and not passes_filters(
            week.article, sub
        ):
            continue
        by_country.update(shared)
        by_topic.update(shown_topics)
        if matched is not None:
            matched.add(week.article.id)
        if AGREEMENTS_TOPIC in week.topics:
            agreements.append(week)
    agreements.sort(key=lambda w: (-w.published.timestamp(), w.article.id))
    return by_country, by_topic, [w.article for w in agreements]


def _count_line(name: str, count: int, before: int) -> str:
    return f"{html.escape(name)} {count} ({_delta(count, before)})"


def _period(weeks: Weeks) -> str:
    return f"{weeks.starts[0]:%d.%m.%Y} – {weeks.starts[-1] + timedelta(days=6):%d.%m.%Y}"


def _format_day(day: date, labels: Labels) -> str:
    return labels.date_format.format(day=day.day, month=labels.month_names[day.month - 1])


def week_facts(
    facts: Iterable[StoredFact], sub: Subscription, matched: Collection[int]
) -> tuple[list[StoredFact], list[StoredFact]]:
    """The week's signed agreements and figures about the chat's countries whose source
    articles include one the chat's brief counted (so its keyword and region filters hold
    for facts too), newest first."""
    countries = {code.upper() for code in sub.countries}
    signed: list[StoredFact] = []
    figures: list[StoredFact] = []
    for fact in facts:
        if countries.isdisjoint(code.upper() for code in fact.countries):
            continue
        if not any(ref.article_id in matched for ref in fact.sources):
            continue
        if fact.kind == AGREEMENT and fact.status == "signed":
            signed.append(fact)
        elif fact.kind == FIGURE:
            figures.append(fact)
    signed.sort(key=lambda f: (-f.sort_at.timestamp(), f.id))
    figures.sort(key=lambda f: (-f.sort_at.timestamp(), f.id))
    return signed, figures


def render_week_facts(
    signed: Sequence[StoredFact], figures: Sequence[StoredFact], language: str, tz: str = "UTC"
) -> str:
    """At most MAX_WEEK_FACTS of each kind: "date — parties — subject — sources" and
    "date — indicator: value unit (change), period — sources", then "and N more" with the command
    that lists them all. Empty when the week has no facts."""
    if not signed and not figures:
        return ""
    _ = gettext_for(language)
    texts = replace(
        fact_texts(language),
        register_title=_("Agreements signed"),
        timeline_title=_("Figures published"),
    )
    parts: list[str] = []
    if signed:
        lines = [f"<b>{html.escape(texts.register_title)}</b>"]
        for fact in signed[:MAX_WEEK_FACTS]:
            when = fact_date(fact, texts, tz)
            parties = "; ".join(fact.parties) or ", ".join(
                texts.country_names.get(code, code) for code in fact.countries
            )
            lines.append(
                f"• {html.escape(when)} — {html.escape(cut(parties, MAX_FACT_PART))} — "
                f"{html.escape(cut(fact.subject, MAX_FACT_PART))} — {fact_sources(fact)}"
            )
        if len(signed) > MAX_WEEK_FACTS:
            more = _("and {count} more: /agreements").format(count=len(signed) - MAX_WEEK_FACTS)
            lines.append(html.escape(more))
        parts.append("\n".join(lines))
    if figures:
        lines = [f"<b>{html.escape(texts.timeline_title)}</b>"]
        for fact in figures[:MAX_WEEK_FACTS]:
            lines.append(figure_line(fact, texts, tz))
        if len(figures) > MAX_WEEK_FACTS:
            more = _("and {count} more: /trade").format(count=len(figures) - MAX_WEEK_FACTS)
            lines.append(html.escape(more))
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def render_brief(
    chat: ChatRecord,
    articles: Sequence[DigestArticle | WeekArticle],
    weeks: Weeks,
    labels: Labels,
    *,
    threshold: float,
    facts: Sequence[StoredFact] = (),
) -> str | None:
    """The brief's text (Telegram HTML), or None when both weeks had nothing for the chat
    and it did not ask to hear about empty days. `facts`: stored facts with a source among
    `articles` (those of the week's articles the chat counts are shown)."""
    _ = gettext_for(chat.language)
    sub = subscription_for(chat, threshold=threshold)
    edges = weeks.edges
    matched: set[int] = set()
    now_country, now_topic, agreements = week_counts(articles, sub, edges[-2], edges[-1], matched)
    before_country, before_topic, _before = week_counts(articles, sub, edges[-3], edges[-2])
    if not now_country and not before_country and not chat.notify_empty:
        return None
    first, last = weeks.starts[-1], weeks.starts[-1] + timedelta(days=6)
    lines = [
        "<b>"
        + html.escape(
            _("Week in review: {start} – {end}").format(
                start=_format_day(first, labels), end=_format_day(last, labels)
            )
        )
        + "</b>",
        "<i>"
        + html.escape(_("A summary of the week: it includes articles you may have had already."))
        + "</i>",
        "",
        "<b>" + html.escape(_("By country (change on the week before)")) + "</b>",
    ]
    for code in sorted(sub.countries, key=lambda c: (-now_country[c], c)):
        name = labels.country_names.get(code, code)
        lines.append(_count_line(name, now_country[code], before_country[code]))
    topics_shown = [t for t in topic_order() if now_topic[t] or before_topic[t]]
    if topics_shown:
        lines += ["", "<b>" + html.escape(_("By topic")) + "</b>"]
        for topic in sorted(topics_shown, key=lambda t: (-now_topic[t], topic_order().index(t))):
            name = labels.topic_names.get(topic, topic)
            lines.append(_count_line(name, now_topic[topic], before_topic[topic]))
    text = "\n".join(lines)
    signed, figures = week_facts(facts, sub, matched)
    facts_text = render_week_facts(signed, figures, chat.language, usable_timezone(chat.timezone))
    if facts_text:
        text += "\n\n" + facts_text
    header = _("Agreements of the week")
    if agreements:
        room = MessageLimits(visible=4096 - visible_length(text) - 2, html=8000, entities=90)
        listing = render_article_list(
            agreements, labels, tz=usable_timezone(chat.timezone), header=header, limits=room
        )
        return text + "\n\n" + listing
    return text + "\n\n<b>" + html.escape(header) + "</b>\n" + html.escape(_("none this week"))


def chart_caption(chat: ChatRecord, weeks: Weeks) -> str:
    _ = gettext_for(chat.language)
    title = _("Articles per country by week")
    return f"<b>{html.escape(title)}</b>\n{_period(weeks)}"


def chart_text(language: str, codes: Sequence[str], weeks: Weeks) -> ChartText:
    _ = gettext_for(language)
    english = language == "en"
    names: dict[str, str] = {}
    for code in codes:
        found = country(code)
        names[code] = (found.name_en if english else found.name_ru) if found else code
    return ChartText(
        title=f"{_('Articles per country by week')}\n{_period(weeks)}",
        x_label=_("Week (from Monday)"),
        y_label=_("Articles"),
        names=names,
    )


class WeeklyComposer:
    """Composes briefs and the recipe of each distinct chart once per pass."""

    def __init__(
        self,
        labels_for: Callable[[str], Labels],
        threshold: float,
        chart_timezone: str = DEFAULT_CHART_TIMEZONE,
    ) -> None:
        self.labels_for = labels_for
        self.threshold = threshold
        self.chart_timezone = chart_timezone
        self.texts: dict[tuple[object, ...], str | None] = {}
        self.charts: dict[tuple[object, ...], str] = {}

    def chart(self, language: str, shown: WeeklyCounts, weeks: Weeks) -> str | None:
        """The recipe of the chart of `shown` (None when there is nothing to draw). Charts
        are keyed by what they show, so chats following the same countries share one
        picture across time zones whose weeks count alike."""
        if shown.is_empty:
            return None
        key: tuple[object, ...] = (language, shown.week_starts, tuple(shown.series.items()))
        recipe = self.charts.get(key)
        if recipe is None:
            recipe = weekly_chart_recipe(shown, chart_text(language, list(shown.series), weeks))
            self.charts[key] = recipe
        return recipe

    def plan(
        self,
        chats: Sequence[ChatRecord],
        articles: Sequence[DigestArticle],
        counts_by_edges: Mapping[tuple[datetime, ...], Mapping[str, list[int]]],
        *,
        now: datetime,
        facts: Sequence[StoredFact] = (),
    ) -> tuple[list[WeeklyChange], int]:
        changes: list[WeeklyChange] = []
        errors = 0
        facts_by_article: dict[int, list[StoredFact]] = {}
        for fact in facts:
            for ref in fact.sources:
                facts_by_article.setdefault(ref.article_id, []).append(fact)
        by_country: dict[str, list[WeekArticle]] = {}
        for article in articles:
            week = WeekArticle.of(article, self.threshold)
            for code in week.countries:
                by_country.setdefault(code, []).append(week)
        for chat in chats:
            assert chat.next_weekly_at is not None
            slot = chat.next_weekly_at
            next_at = next_weekly_for(chat, now)
            if plan_after_downtime(slot, now, WEEKLY_CATCHUP) == "skip":
                changes.append(WeeklyChange(chat.id, slot, next_at))
                continue
            zone = usable_timezone(chat.timezone)
            try:
                weeks = brief_weeks(slot, zone)
                # Chats that ask for the same thing share one text (presets, same zone).
                text_key = (
                    chat.countries,
                    chat.topics,
                    chat.keywords,
                    chat.regions,
                    chat.language,
                    chat.notify_empty,
                    weeks.edges,
                    zone,
                )
                if text_key not in self.texts:
                    candidates = {
                        week.article.id: week
                        for code in chat.countries
                        for week in by_country.get(code.upper(), ())
                    }
                    chat_facts = {
                        fact.id: fact
                        for article_id in candidates
                        for fact in facts_by_article.get(article_id, ())
                    }
                    self.texts[text_key] = render_brief(
                        chat,
                        list(candidates.values()),
                        weeks,
                        self.labels_for(chat.language),
                        threshold=self.threshold,
                        facts=list(chat_facts.values()),
                    )
                text = self.texts[text_key]
            except Exception:
                logger.exception("could not compose the weekly brief of chat %s", chat.id)
                errors += 1
                continue
            if text is None:
                changes.append(WeeklyChange(chat.id, slot, next_at))
                continue
            chart_weeks = brief_weeks(slot, self.chart_timezone)
            shown = weekly_counts(
                chart_weeks, counts_by_edges.get(chart_weeks.edges, {}), chat.countries
            )
            brief = WeeklyBrief(
                text=text,
                chart_recipe=self.chart(chat.language, shown, chart_weeks),
                caption=chart_caption(chat, chart_weeks),
            )
            changes.append(
                WeeklyChange(
                    chat.id,
                    slot,
                    next_at,
                    brief=brief,
                    monday=weeks.starts[-1] + timedelta(weeks=1),
                )
            )
        return changes, errors


@dataclass
class _MediaCache:
    ids: dict[str, int] = field(default_factory=dict)


# The composer of the pass under way in a worker process (plan_weekly_in_worker): the
# batches of one pass share its texts and charts, as they do when planned in a thread.
_worker_composer: tuple[tuple[object, ...], WeeklyComposer] | None = None


def plan_weekly_in_worker(
    chats: Sequence[ChatRecord],
    articles: Sequence[DigestArticle],
    counts_by_edges: Mapping[tuple[datetime, ...], Mapping[str, list[int]]],
    *,
    now: datetime,
    facts: Sequence[StoredFact],
    labels_for: Callable[[str], Labels],
    threshold: float,
    chart_timezone: str,
) -> tuple[list[WeeklyChange], int]:
    """`WeeklyComposer.plan` in a worker process, with the composer of the pass at `now`."""
    global _worker_composer
    key = (labels_for, threshold, chart_timezone, now)
    if _worker_composer is None or _worker_composer[0] != key:
        _worker_composer = (key, WeeklyComposer(labels_for, threshold, chart_timezone))
    return _worker_composer[1].plan(chats, articles, counts_by_edges, now=now, facts=facts)


async def _apply(
    session_factory: async_sessionmaker[AsyncSession],
    changes: Sequence[WeeklyChange],
    media: _MediaCache,
    *,
    now: datetime,
    report: WeeklyReport,
) -> None:
    """Writes a batch's changes (delivery.writes: a chunk of chats per transaction)."""

    async def write(chunk: Sequence[WeeklyChange]) -> None:
        await _apply_in_one_transaction(session_factory, chunk, media, now=now, report=report)

    report.errors += await write_by_chunks(changes, write, what="weekly brief")


async def _apply_in_one_transaction(
    session_factory: async_sessionmaker[AsyncSession],
    changes: Sequence[WeeklyChange],
    media: _MediaCache,
    *,
    now: datetime,
    report: WeeklyReport,
) -> None:
    # Charts requested in this transaction: known to the later ones only once it commits.
    requested: dict[str, int] = {}
    async with session_factory() as session:
        current = await chat_repo.lock_weekly_schedules(session, [c.chat_id for c in changes])
        valid = [c for c in changes if current.get(c.chat_id) == c.expected_next_at]
        messages: list[NewOutboxMessage] = []
        for change in valid:
            if change.brief is None:
                continue
            key = f"weekly-{change.monday.isoformat() if change.monday else now.date()}"
            messages.append(
                NewOutboxMessage(
                    chat_id=change.chat_id,
                    digest_key=key,
                    part=0,
                    kind=WEEKLY_KIND,
                    text=change.brief.text,
                )
            )
            recipe = change.brief.chart_recipe
            if recipe is not None:
                media_id = media.ids.get(recipe) or requested.get(recipe)
                if media_id is None:
                    media_id = requested[recipe] = await request_media(
                        session,
                        recipe,
                        f"week-{hashlib.sha1(recipe.encode()).hexdigest()[:8]}.png",
                        now=now,
                    )
                messages.append(
                    NewOutboxMessage(
                        chat_id=change.chat_id,
                        digest_key=key,
                        part=1,
                        kind=WEEKLY_CHART_KIND,
                        text=change.brief.caption,
                        media_id=media_id,
                    )
                )
        await outbox.enqueue(session, messages, now=now)
        await chat_repo.set_chat_fields_many(
            session, "next_weekly_at", [(c.chat_id, c.next_at) for c in valid]
        )
        await session.commit()
    media.ids.update(requested)
    report.conflicts += len(changes) - len(valid)
    report.briefs += sum(1 for c in valid if c.brief is not None)
    report.skipped += sum(1 for c in valid if c.brief is None)


async def compose_due_weekly(
    session_factory: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    labels_for: Callable[[str], Labels],
    threshold: float = 0.5,
    batch_size: int = DEFAULT_BATCH_SIZE,
    chart_timezone: str = DEFAULT_CHART_TIMEZONE,
    executor: Executor | None = None,
) -> WeeklyReport:
    """Queues every weekly brief due at `now` (see the module docstring); with `executor`
    (worker processes) the batches are planned there, as delivery.daily does."""
    started = time.perf_counter()
    report = WeeklyReport()
    composer = WeeklyComposer(labels_for, threshold, usable_timezone(chart_timezone))
    media = _MediaCache()
    after: tuple[datetime, int] | None = None
    articles_cache: dict[tuple[datetime, frozenset[str]], list[DigestArticle]] = {}
    facts_cache: dict[tuple[datetime, frozenset[str]], list[StoredFact]] = {}
    counts_cache: dict[tuple[datetime, ...], dict[str, list[int]]] = {}
    while True:
        async with session_factory() as session:
            chats = await chat_repo.due_weekly_batch(session, now, limit=batch_size, after=after)
            if not chats:
                break
            weeks_of = {
                c.id: brief_weeks(c.next_weekly_at or now, usable_timezone(c.timezone))
                for c in chats
            }
            since = min(weeks.edges[-3] for weeks in weeks_of.values())
            countries = frozenset().union(*(c.countries for c in chats))
            cache_key = (since, countries)
            if cache_key not in articles_cache:
                articles_cache.clear()
                facts_cache.clear()
                stored = (
                    await find_articles(
                        session,
                        countries=countries,
                        published_since=since,
                        threshold=threshold,
                        limit=MAX_WEEK_ARTICLES,
                    )
                    if countries
                    else []
                )
                articles_cache[cache_key] = [to_digest_article(a) for a in stored]
                ids = [article.id for article in stored]
                found: dict[int, StoredFact] = {}
                for start in range(0, len(ids), FACT_QUERY_CHUNK):
                    chunk = ids[start : start + FACT_QUERY_CHUNK]
                    for fact in await facts_of_articles(session, chunk):
                        found[fact.id] = fact
                facts_cache[cache_key] = list(found.values())
            chart_weeks = [
                brief_weeks(c.next_weekly_at or now, composer.chart_timezone) for c in chats
            ]
            for weeks in chart_weeks:
                if weeks.edges not in counts_cache:
                    counts_cache[weeks.edges] = await country_counts_by_period(
                        session, weeks.edges, threshold=threshold
                    )
            await session.commit()
        last = chats[-1]
        assert last.next_weekly_at is not None
        after = (last.next_weekly_at, last.id)
        report.due += len(chats)
        if executor is None:
            changes, errors = await asyncio.to_thread(
                composer.plan,
                chats,
                articles_cache[cache_key],
                counts_cache,
                now=now,
                facts=facts_cache[cache_key],
            )
        else:
            changes, errors = await asyncio.get_running_loop().run_in_executor(
                executor,
                partial(
                    plan_weekly_in_worker,
                    chats,
                    articles_cache[cache_key],
                    {weeks.edges: counts_cache[weeks.edges] for weeks in chart_weeks},
                    now=now,
                    facts=facts_cache[cache_key],
                    labels_for=labels_for,
                    threshold=threshold,
                    chart_timezone=composer.chart_timezone,
                ),
            )
        report.errors += errors
        await _apply(session_factory, changes, media, now=now, report=report)
    report.charts_queued = len(media.ids)
    report.seconds = time.perf_counter() - started
    return report
