"""One agreement, one register line: how the reports of labelled articles join when stored.

    .venv/bin/python bench/eval_merges.py [PATH ...] [--days N]

PATH defaults to ../shared/eval/dev.jsonl and ../shared/eval/dev3.jsonl relative to the
repository root (records with `title`, `text`, `published`). Each record is tagged, its
agreements are extracted as at ingest (with the tagger's countries and regions) and stored in
a fresh SQLite file, one article per record; then the register is read back.

Printed per file: how many agreement reports the records hold, how many agreements they make
with keys alone (reports join only when worded alike) and with keys and terms (as the product
stores them: reports worded otherwise join, storage.facts.AgreementTerms), and every agreement
made of two reports or more, with the records it came from, to be read by eye: a join of two
different agreements is an error.

By default each record is published on its own date (`published`; a record without one is put
30 days from every other). With --days N all records are published within N days, in file
order: a harsher test, since reports only join within storage.facts.SAME_AGREEMENT_DAYS, and
records from different months then look like one week's news.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

DEFAULT_PATHS = [
    REPO_ROOT.parent / "shared" / "eval" / name for name in ("dev.jsonl", "dev3.jsonl")
]
UNDATED_START = datetime(2000, 1, 1, 9, tzinfo=UTC)
WEEK_START = datetime(2025, 5, 12, 9, tzinfo=UTC)


def publication_times(records: list[dict[str, Any]], days: float | None) -> list[datetime]:
    if days is not None:
        step = timedelta(days=days) / max(1, len(records))
        return [WEEK_START + step * number for number in range(len(records))]
    return [
        datetime.fromisoformat(record["published"]).replace(hour=9, tzinfo=UTC)
        if record.get("published")
        else UNDATED_START + timedelta(days=30 * number)
        for number, record in enumerate(records)
    ]


async def register(
    records: list[dict[str, Any]], published: list[datetime], *, with_terms: bool
) -> tuple[int, list[Any]]:
    """(reports, the agreements stored) for the records."""
    from ingest.facts_backfill import new_facts
    from storage.articles import NewArticle, insert_article
    from storage.db import create_engine, create_session_factory, upgrade_database
    from storage.facts import AGREEMENT, agreements_page, save_facts
    from tagging import Tagger

    tagger = Tagger(0.5)
    reports = 0
    countries: set[str] = set()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/merges.db"
        await upgrade_database(url)
        engine = create_engine(url)
        session_factory = create_session_factory(engine)
        try:
            async with session_factory() as session:
                for number, (record, moment) in enumerate(zip(records, published, strict=True)):
                    title, text = record.get("title") or "", record["text"]
                    result = tagger.tag(title, text)
                    article_id = await insert_article(
                        session,
                        NewArticle(
                            feed_id=None,
                            guid=str(number),
                            url=f"https://records.example/{number}",
                            title=title,
                            summary="",
                            full_text=text,
                            source=str(record.get("id", number)),
                            published_at=moment,
                            content_hash=str(number),
                        ),
                    )
                    assert article_id is not None
                    facts = [
                        fact if with_terms else replace(fact, terms=None)
                        for fact in new_facts(
                            title, text, result.country_codes, moment, result.region_codes
                        )
                        if fact.kind == AGREEMENT
                    ]
                    reports += len(facts)
                    countries.update(code for fact in facts for code in fact.countries)
                    await save_facts(session, [(article_id, moment, fact) for fact in facts])
                await session.commit()
            stored: dict[int, Any] = {}
            async with session_factory() as session:
                for country in sorted(countries):
                    page, _total = await agreements_page(session, country, offset=0, limit=10_000)
                    stored.update((fact.id, fact) for fact in page)
        finally:
            await engine.dispose()
    return reports, list(stored.values())


async def evaluate(path: Path, days: float | None) -> None:
    lines = path.read_text("utf-8").splitlines()  # noqa: ASYNC240 (a benchmark's input)
    records = [json.loads(line) for line in lines if line.strip()]
    published = publication_times(records, days)
    reports, by_keys = await register(records, published, with_terms=False)
    _reports, by_terms = await register(records, published, with_terms=True)
    spread = f"within {days:g} days" if days is not None else "on their own dates"
    print(f"{path}: {len(records)} records {spread}, {reports} agreement reports")
    print(f"  agreements with keys alone:      {len(by_keys)}")
    print(f"  agreements with keys and terms:  {len(by_terms)}")
    for fact in by_terms:
        if len(fact.sources) > 1:
            countries, parties = ", ".join(fact.countries), "; ".join(fact.parties)
            print(f"  joined: {countries} · {fact.subject} · {parties}")
            for source in fact.sources:
                print(f"      {source.source}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=DEFAULT_PATHS)
    parser.add_argument("--days", type=float, default=None)
    args = parser.parse_args(argv)
    for path in args.paths:
        if not path.exists():
            print(f"{path}: no such file", file=sys.stderr)
            return 2
        asyncio.run(evaluate(path, args.days))
    return 0


if __name__ == "__main__":
    sys.exit(main())
