"""Precision and recall of `/news <country>` and `/agreements <country>` on the labelled
sets, beside the tagger's own figures on the same articles.

    .venv/bin/python -m bench.eval_commands [PATH ...] [--window as-published|recent]

PATHs default to ../shared/eval/dev.jsonl and ../shared/eval/dev3.jsonl (read by path, never
copied).  The articles go into a fresh migrated SQLite database the way ingest stores them
(the ingest pipeline's tagging step, then the article, tag and fact repositories), then every
partner country of the sets is asked for through the archive handler's page builder, page
after page, as the "More »" button would, with the bot's settings.  An article counts as
listed when its link is in an answer.  Gold: `/news X` should list the articles whose
`countries` contain X; `/agreements X` those that also have the topic `agreements` (as in
bench/eval_tagger.py, an article whose optional topics hold it is no false positive).

`--window as-published` keeps each record's publication date (records without one are
dated now), so `/news` looks back at most its maximum number of days; `--window recent` dates
every article within the last day, which isolates the handler's own filters from the window.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import re
import sys
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from core.i18n import create_i18n  # noqa: E402
from core.settings import Settings  # noqa: E402
from handlers.archive import AGREEMENTS, MAX_NEWS_DAYS, NEWS, ArchiveRequest, build_page  # noqa: E402
from ingest.parse import FeedItem  # noqa: E402
from ingest.pipeline import Analysis  # noqa: E402
from ingest.workers import analyse_with  # noqa: E402
from storage import articles as article_repo  # noqa: E402
from storage import facts as fact_repo  # noqa: E402
from storage.articles import NewArticle  # noqa: E402
from storage.db import create_engine, create_session_factory, upgrade_database_sync  # noqa: E402
from tagging import Tagger, lemmatize_for_search  # noqa: E402

DEFAULT_PATHS = (
    REPO_ROOT.parent / "shared" / "eval" / "dev.jsonl",
    REPO_ROOT.parent / "shared" / "eval" / "dev3.jsonl",
)
HREF = re.compile(r'href="([^"]+)"')
MAX_PAGES = 200
COMMANDS = {NEWS: "news", AGREEMENTS: "agreements"}


@dataclass(slots=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, listed: set[str], gold: set[str], allowed: set[str]) -> None:
        self.tp += len(listed & allowed)
        self.fp += len(listed - allowed)
        self.fn += len(gold - listed)

    def line(self) -> str:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        return f"P {p:.3f}  R {r:.3f}  (tp {self.tp}, fp {self.fp}, fn {self.fn})"


def load(paths: list[Path]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            records.extend(json.loads(line) for line in handle if line.strip())
    return records


def link(record: dict[str, Any]) -> str:
    """One link per record (some records have no URL, outlets reuse some)."""
    return f"https://eval.example/{record['id']}"


def published(record: dict[str, Any], index: int, window: str, now: datetime) -> datetime:
    if window == "recent" or not record.get("published"):
        return now - timedelta(minutes=index + 1)
    value = datetime.fromisoformat(str(record["published"])[:19])
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def feed_items(records: list[dict[str, Any]], window: str) -> list[FeedItem]:
    now = datetime.now(UTC)
    items: list[FeedItem] = []
    for index, record in enumerate(records):
        text = record.get("text") or ""
        items.append(
            FeedItem(
                guid=record["id"],
                url=link(record),
                title=record.get("title") or "",
                summary="",
                full_text=text,
                published_at=published(record, index, window, now),
                content_hash=hashlib.sha256(f"{record['id']}\n{text}".encode()).hexdigest(),
            )
        )
    return items


async def store(session_factory: Any, tagger: Tagger, items: list[FeedItem]) -> None:
    """As the ingest pipeline stores a batch of new items (tags, lemmas, facts)."""
    analyses = [
        Analysis(tags, lemmas, facts)
        for tags, lemmas, facts in analyse_with(tagger, lemmatize_for_search, items)
    ]
    async with session_factory() as session:
        inserted = await article_repo.insert_articles(
            session,
            [
                NewArticle(
                    feed_id=None,
                    guid=item.guid,
                    url=item.url,
                    title=item.title,
                    summary=item.summary,
                    full_text=item.text,
                    source="eval",
                    published_at=item.published_at,
                    content_hash=item.content_hash,
                    search_lemmas=analysis.search_lemmas,
                )
                for item, analysis in zip(items, analyses, strict=True)
            ],
        )
        await article_repo.save_tags_of_many(
            session,
            (
                (inserted[item.url], tag)
                for item, analysis in zip(items, analyses, strict=True)
                if item.url in inserted
                for tag in analysis.tags
            ),
        )
        await fact_repo.save_facts(
            session,
            [
                (inserted[item.url], item.published_at, fact)
                for item, analysis in zip(items, analyses, strict=True)
                if item.url in inserted
                for fact in analysis.facts
            ],
        )
        await session.commit()


async def listed(
    session_factory: Any, settings: Settings, request: ArchiveRequest
) -> tuple[set[str], int]:
    """Links of every page of the answer, and how many pages it took."""
    links: set[str] = set()
    pages = 0
    i18n = create_i18n()
    with i18n.context(), i18n.use_locale("ru"):
        return await _pages(session_factory, settings, request, links, pages)


async def _pages(
    session_factory: Any, settings: Settings, request: ArchiveRequest, links: set[str], pages: int
) -> tuple[set[str], int]:
    async with session_factory() as session:
        for page in range(MAX_PAGES):
            text, keyboard = await build_page(session, settings, 1, replace(request, page=page))
            pages += 1
            links.update(HREF.findall(text))
            if keyboard is None or not any(
                "»" in button.text for row in keyboard.inline_keyboard for button in row
            ):
                break
    return links, pages


async def run(paths: list[Path], window: str, url: str) -> int:
    records = load(paths)
    by_url = {link(r): r for r in records}
    tagger = Tagger()
    if True:
        settings = Settings(bot_token="1:eval", database_url=url, _env_file=None)
        engine = create_engine(url)
        session_factory = create_session_factory(engine)
        items = feed_items(records, window)
        await store(session_factory, tagger, items)
        stored = {item.url for item in items}
        countries = sorted({c for r in records for c in r.get("countries") or ()})
        predicted = {link(r): tagger.tag(r.get("title"), r.get("text") or "") for r in records}
        totals = {NEWS: (Counts(), Counts()), AGREEMENTS: (Counts(), Counts())}
        print(
            f"{len(records)} records, {len(stored)} stored, window {window}, "
            f"threshold {settings.tag_threshold}\n"
        )
        print(f"{'command':<26} {'the command':<42} the tagger on the same articles")
        for code in countries:
            for kind in (NEWS, AGREEMENTS):
                # As bench/eval_tagger.py scores topics: an optional topic is no error,
                # recall is counted on required ones.
                gold = {
                    u
                    for u, r in by_url.items()
                    if code in (r.get("countries") or ())
                    and (kind == NEWS or "agreements" in (r.get("topics") or ()))
                }
                allowed = gold | {
                    u
                    for u, r in by_url.items()
                    if kind == AGREEMENTS
                    and code in (r.get("countries") or ())
                    and "agreements" in (r.get("topics_optional") or ())
                }
                tagged = {
                    u
                    for u, result in predicted.items()
                    if code in result.country_codes
                    and (kind == NEWS or "agreements" in result.topic_ids)
                }
                days = MAX_NEWS_DAYS if kind == NEWS else 0
                links, pages = await listed(
                    session_factory, settings, ArchiveRequest(kind=kind, country=code, days=days)
                )
                links &= set(by_url)
                command_counts, tagger_counts = Counts(), Counts()
                command_counts.add(links, gold, allowed)
                tagger_counts.add(tagged, gold, allowed)
                totals[kind][0].add(links, gold, allowed)
                totals[kind][1].add(tagged, gold, allowed)
                if links != tagged:
                    label = f"/{COMMANDS[kind]} {code} ({pages} p.)"
                    print(f"{label:<26} {command_counts.line():<42} {tagger_counts.line()}")
                    for missing in sorted(tagged - links):
                        print(f"    tagged, not listed: {by_url[missing]['id']}")
                    for extra in sorted(links - tagged):
                        print(f"    listed, not tagged: {by_url[extra]['id']}")
        print()
        for kind, (command_counts, tagger_counts) in totals.items():
            print(f"/{COMMANDS[kind]:<12} command: {command_counts.line()}")
            print(f"{'':<13} tagger:  {tagger_counts.line()}")
        await engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=list(DEFAULT_PATHS))
    parser.add_argument("--window", choices=("as-published", "recent"), default="as-published")
    args = parser.parse_args(argv)
    missing = [path for path in args.paths if not path.exists()]
    if missing:
        print(f"evaluation file not found: {missing[0]}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'eval.db'}"
        upgrade_database_sync(url)  # runs its own event loop: before ours
        return asyncio.run(run(args.paths, args.window, url))


if __name__ == "__main__":
    raise SystemExit(main())
