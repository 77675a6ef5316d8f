"""Two ingest workers storing reports of one agreement at the same moment make one agreement
(PostgreSQL, where workers run in processes of their own)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.articles import NewArticle, insert_article
from storage.facts import AGREEMENT, AgreementTerms, NewFact, agreements_page, save_facts
from tests.support.databases import require_postgres

PUBLISHED = datetime(2025, 3, 12, 9, tzinfo=UTC)


@pytest.fixture
def database_backend() -> str:
    require_postgres()
    return "postgresql"


def _report(key: str, subject: str, lemmas: set[str]) -> NewFact:
    return NewFact(
        kind=AGREEMENT,
        key=key,
        countries=("TJ",),
        subject=subject,
        parties=("Омская область", "Согдийская область"),
        status="signed",
        terms=AgreementTerms("соглашение", frozenset(lemmas), frozenset({"согдийск"})),
    )


async def _article(session: AsyncSession, number: int) -> int:
    article_id = await insert_article(
        session,
        NewArticle(
            feed_id=None,
            guid=f"g{number}",
            url=f"https://outlet{number}.example/sogd",
            title=f"Статья {number}",
            summary="",
            full_text="",
            source=f"Издание {number}",
            published_at=PUBLISHED,
            content_hash=f"h{number}",
        ),
    )
    assert article_id is not None
    return article_id


async def test_reports_stored_at_once_by_two_workers_join_one_agreement(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    short = _report("short", "соглашение о сотрудничестве", {"сотрудничество"})
    full = _report(
        "full",
        "соглашение о торгово-экономическом и культурном сотрудничестве",
        {"торгово-экономический", "культурный", "сотрудничество"},
    )
    async with session_factory() as first, session_factory() as second:
        await save_facts(first, [(await _article(first, 1), PUBLISHED, short)])
        # The first worker has not committed: the second waits for it rather than store
        # the same agreement beside it.
        article = await _article(second, 2)
        saving = asyncio.create_task(save_facts(second, [(article, PUBLISHED, full)]))
        await asyncio.sleep(0.5)
        assert not saving.done()
        await first.commit()
        await asyncio.wait_for(saving, 10)
        await second.commit()
    async with session_factory() as session:
        register, total = await agreements_page(session, "TJ", offset=0, limit=10)
    assert total == 1
    (agreement,) = register
    assert len(agreement.sources) == 2
    assert agreement.subject == full.subject
