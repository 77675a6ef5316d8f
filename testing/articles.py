"""Articles for digest tests and benchmarks: the written story fixtures (``data/``, each
article with the key of its story), generated article sets, and the Russian labels.

Used by tests/digests and bench/clustering_report.py.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digests.model import DigestArticle, Labels, Story
from tagging import topics

DATA = Path(__file__).parent / "data"
STORY_FIXTURES = ("stories_tuning.json", "stories_heldout.json", "stories_heldout2.json")
# The product's order, as the topic data file gives it and delivery passes it in.
TOPIC_ORDER = tuple(topic.id for topic in topics())

MONTHS_RU = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip

LABELS_RU = Labels(
    country_names={
        "UZ": "🇺🇿 Узбекистан",
        "KZ": "🇰🇿 Казахстан",
        "TJ": "🇹🇯 Таджикистан",
        "KG": "🇰🇬 Кыргызстан",
        "BY": "🇧🇾 Беларусь",
        "CN": "🇨🇳 Китай",
    },
    topic_names={
        "agreements": "Соглашения",
        "trade": "Торговля",
        "industry": "Промышленность",
        "education_science": "Образование и наука",
        "transport_logistics": "Транспорт и логистика",
        "visits_events": "Визиты и мероприятия",
        "youth": "Молодёжь",
    },
    digest_title="Дайджест за {date}",
    also="также",
    more="ещё {n}",
    other_topics="Другие темы",
    month_names=MONTHS_RU,
)

BASE_TIME = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


def make_article(
    article_id: int,
    *,
    title: str | None = None,
    countries: Mapping[str, float] | None = None,
    topics: Mapping[str, float] | None = None,
    hours: float = 0.0,
    seen_hours: float | None = None,
    source: str = "БК55",
    url: str | None = None,
    summary: str = "",
) -> DigestArticle:
    """An article published `hours` after BASE_TIME (first seen then too, unless told)."""
    published = BASE_TIME + timedelta(hours=hours)
    seen = BASE_TIME + timedelta(hours=hours if seen_hours is None else seen_hours)
    return DigestArticle(
        id=article_id,
        title=title if title is not None else f"Новость номер {article_id}",
        url=url if url is not None else f"https://bk55.ru/news/article/{article_id}/",
        source=source,
        published_at=published,
        first_seen_at=seen,
        countries=dict(countries if countries is not None else {"UZ": 0.9}),
        topics=dict(topics if topics is not None else {"trade": 0.9}),
        summary=summary,
    )


def load_story_fixture(name: str) -> tuple[list[DigestArticle], dict[int, str]]:
    """Articles of a fixture file and the gold story key of each article id."""
    records = json.loads((DATA / name).read_text(encoding="utf-8"))
    articles: list[DigestArticle] = []
    gold: dict[int, str] = {}
    for record in records:
        published = datetime.fromisoformat(record["published"].replace("Z", "+00:00"))
        articles.append(
            DigestArticle(
                id=record["id"],
                title=record["title"],
                url=record["url"],
                source=record["source"],
                published_at=published,
                first_seen_at=published + timedelta(minutes=7),
                countries=record["countries"],
                topics=record["topics"],
                summary=record["summary"],
            )
        )
        gold[record["id"]] = record["story"]
    return articles, gold


def merge_counts(stories: Sequence[Story], gold: Mapping[int, str]) -> tuple[int, int, int]:
    """Pairwise (true, false, missed) merges of `stories` against gold story keys."""
    story_of = {
        article_id: n for n, story in enumerate(stories) for article_id in story.article_ids
    }
    true = false = missed = 0
    for first, second in itertools.combinations(sorted(gold), 2):
        same_gold = gold[first] == gold[second]
        merged = story_of[first] == story_of[second]
        true += same_gold and merged
        false += merged and not same_gold
        missed += same_gold and not merged
    return true, false, missed


SOURCES = ("БК55", "Омскинформ", "НГС55", "Омская правда", "ГТРК Омск", "Город55", "ВОмске")


def _fixture_bases() -> list[DigestArticle]:
    return [article for name in STORY_FIXTURES for article in load_story_fixture(name)[0]]


def _sentences(text: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?])\s+", text) if part]


def _pseudo_name(rng: random.Random) -> str:
    syllables = ("ка", "ра", "бек", "ну", "тов", "ма", "за", "хан", "ло", "ди", "сан", "ер")
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))).capitalize()


def synthetic_articles(count: int, seed: int = 7) -> list[DigestArticle]:
    """Stress set: `count` articles made from the fixture texts, each fixture story
    copied about `count / 83` times (sentences reshuffled, one dropped, numbers changed),
    all within three days: every article has dozens of near-duplicates."""
    rng = random.Random(seed)
    bases = _fixture_bases()
    result: list[DigestArticle] = []
    for index in range(count):
        base = bases[index % len(bases)]
        sentences = _sentences(base.summary)
        rng.shuffle(sentences)
        if len(sentences) > 2:
            sentences.pop(rng.randrange(len(sentences)))
        summary = re.sub(r"\d+", lambda _: str(rng.randint(2, 999)), " ".join(sentences))
        published = BASE_TIME + timedelta(minutes=rng.randint(0, 3 * 24 * 60))
        result.append(
            DigestArticle(
                id=100_000 + index,
                title=f"{base.title} ({rng.randint(1, 9999)})",
                url=f"https://example.ru/{index}",
                source=rng.choice(SOURCES),
                published_at=published,
                first_seen_at=published,
                countries=base.countries,
                topics=base.topics,
                summary=summary,
            )
        )
    return result


def realistic_articles(count: int, seed: int = 11, days: int = 7) -> list[DigestArticle]:
    """About `count` articles over `days` days with the word statistics of regional press:
    each story's words drawn with the frequencies of the fixture texts, plus its own names
    and numbers; a third of the stories rewritten by one or two more outlets within hours
    (two thirds of the words kept, the rest new, order changed). The URL path names the
    story: https://example.ru/story<N>/<article>."""
    rng = random.Random(seed)
    vocabulary = [
        word
        for base in _fixture_bases()
        for word in re.findall(r"[^\W\d_]+", f"{base.title} {base.summary}")
    ]

    def words(number: int) -> list[str]:
        return [rng.choice(vocabulary) for _ in range(number)]

    def text(body: list[str]) -> str:
        return ". ".join(" ".join(body[i : i + 12]) for i in range(0, len(body), 12)) + "."

    result: list[DigestArticle] = []
    story = 0
    while len(result) < count:
        story += 1
        base = rng.choice(_fixture_bases())
        own = [_pseudo_name(rng) for _ in range(3)] + [str(rng.randint(2, 9999)) for _ in range(2)]
        body = words(rng.randint(45, 80)) + own
        rng.shuffle(body)
        title = words(rng.randint(5, 9)) + own[:1]
        published = BASE_TIME + timedelta(minutes=rng.randint(0, days * 24 * 60))
        versions = 1 + (rng.random() < 1 / 3) * rng.randint(1, 2)
        for version in range(versions):
            version_body, version_title = body, title
            if version:
                kept = [word for word in body if rng.random() < 0.65]
                version_body = kept + words(len(body) - len(kept))
                rng.shuffle(version_body)
                version_title = words(len(title) - 1) + own[:1]
            when = published + timedelta(minutes=version * rng.randint(20, 600))
            result.append(
                DigestArticle(
                    id=200_000 + len(result),
                    title=" ".join(version_title).capitalize(),
                    url=f"https://example.ru/story{story}/{len(result)}",
                    source=SOURCES[(len(result) + version) % len(SOURCES)],
                    published_at=when,
                    first_seen_at=when,
                    countries=base.countries,
                    topics=base.topics,
                    summary=text(version_body),
                )
            )
    return result[:count]
