"""The poller reaches public addresses only: every feed, redirect hop and article page.

The feed server listens on 127.0.0.1, so each test either exempts its origin (as the demo
does for its own server) or expects the fetch to be refused before anything is sent.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from datetime import timedelta

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.demo_runner import demo_ingest_config
from bot.wiring import ingest_config
from core.settings import load_settings
from ingest.config import IngestConfig
from ingest.fetch import (
    Fetcher,
    FetchError,
    HostLimiter,
    NonPublicAddressError,
    PublicOnlyResolver,
    create_http_session,
)
from ingest.pipeline import IngestPipeline, probe_feed
from ingest.urls import is_public_address, origin_of
from storage import feeds as feed_repo
from storage.models import Article
from tagging import Tagger
from tests.ingest.feed_server import FeedServer
from tests.ingest.stories import KAZAKH_GRAIN, UZBEK_TEXTILE, rss

SessionFactory = async_sessionmaker[AsyncSession]
STRICT = IngestConfig(timeout=2, poll_interval=timedelta(minutes=15))
SECRET_PAGE = (
    "<html><body><main><p>Служебная страница внутренней сети: ключи доступа и пароли "
    "администраторов. Омская область и Узбекистан подписали соглашение.</p></main></body></html>"
)


def exempting(server: FeedServer) -> IngestConfig:
    """Strict, except for the test server's own origin (the demo's arrangement)."""
    return replace(STRICT, private_origins=frozenset({origin_of(server.base)}))


class StubResolver(AbstractResolver):
    """A DNS server whose answers the test chooses, one list per question in turn."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self._answers = answers
        self.questions: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.questions.append(host)
        addresses = self._answers[host].pop(0)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


async def stored(session_factory: SessionFactory) -> list[Article]:
    async with session_factory() as session:
        return list(await session.scalars(select(Article).order_by(Article.id)))


async def add_feed(session_factory: SessionFactory, url: str) -> int:
    async with session_factory() as session:
        feed, _ = await feed_repo.add_feed(session, url, fetch_full_text=True)
        await session.commit()
    return feed.id


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("64:ff9b::a00:5", False),  # NAT64 of 10.0.0.5
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b:1::c0a8:101", False),  # local-use NAT64 of 192.168.1.1
        ("64:ff9b::5db8:d822", True),  # NAT64 of 93.184.216.34
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:5db8:d822::1", True),  # 6to4 of 93.184.216.34
        ("::7f00:1", False),  # IPv4-compatible 127.0.0.1
        ("::ffff:a9fe:a9fe", False),  # IPv4-mapped 169.254.169.254
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("::", False),
    ],
)
def test_ipv6_forms_that_embed_a_private_ipv4_address_are_private(
    address: str, public: bool
) -> None:
    assert is_public_address(address) is public


def test_the_operator_setting_decides_and_an_empty_value_means_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FEEDS_ALLOW_PRIVATE", raising=False)
    assert ingest_config(load_settings()).allow_private_addresses is False
    monkeypatch.setenv("FEEDS_ALLOW_PRIVATE", "")
    assert ingest_config(load_settings()).allow_private_addresses is False
    monkeypatch.setenv("FEEDS_ALLOW_PRIVATE", "1")
    assert ingest_config(load_settings()).allow_private_addresses is True
    # The demo exempts its own server and nothing else, whatever the operator set.
    demo = demo_ingest_config(load_settings(), "http://127.0.0.1:8765")
    assert demo.allow_private_addresses is False
    assert demo.private_origins == frozenset({"127.0.0.1:8765"})


async def test_private_feed_addresses_are_refused_before_connecting(
    server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN]))
    port = server.base.rsplit(":", 1)[1]
    caplog.set_level(logging.WARNING, logger="ingest.fetch")
    async with create_http_session(STRICT) as http:
        fetcher = Fetcher(http, STRICT, HostLimiter(2))
        for url in (
            server.url("/feed.xml"),
            f"http://localhost:{port}/feed.xml",
            f"http://[::ffff:127.0.0.1]:{port}/feed.xml",
            f"http://0x7f.1:{port}/feed.xml",  # the system resolver reads it as 127.0.0.1
            "http://169.254.169.254/latest/meta-data/",
            "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        ):
            with pytest.raises(FetchError, match="refusing non-public address"):
                await fetcher.fetch(url)
        # 127.0.0.1 spelled as one number: the URL parser rejects it outright.
        with pytest.raises(FetchError, match="not a canonical IPv4 address"):
            await fetcher.fetch(f"http://2130706433:{port}/feed.xml")
    assert server.seen.hits["/feed.xml"] == 0
    refusals = [record for record in caplog.records if record.getMessage().startswith("refused")]
    assert len(refusals) == 6


async def test_probe_for_addfeed_refuses_a_private_address(server: FeedServer) -> None:
    server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN]))
    probe = await probe_feed(server.url("/feed.xml"), STRICT)
    assert not probe.ok and probe.error == "refusing non-public address 127.0.0.1"
    assert server.seen.hits["/feed.xml"] == 0


async def test_article_links_to_private_addresses_are_never_fetched(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    port = server.base.rsplit(":", 1)[1]
    links = [
        f"http://localhost:{port}/secret",
        f"http://[::1]:{port}/secret",
        "http://169.254.169.254/latest/meta-data/iam",
        "http://10.0.0.1/admin",
    ]
    stories = [
        replace(UZBEK_TEXTILE, title=f"{UZBEK_TEXTILE.title} ({number})", link=link)
        for number, link in enumerate(links)
    ]
    server.document("/feed.xml", rss("Омские новости", stories))
    server.document("/secret", SECRET_PAGE.encode(), content_type="text/html; charset=utf-8")
    await add_feed(session_factory, server.url("/feed.xml"))

    (outcome,) = await IngestPipeline(session_factory, tagger, exempting(server)).run_once()

    assert outcome.status == "new" and outcome.new_items == len(links)
    assert server.seen.hits["/feed.xml"] == 1
    assert server.seen.hits["/secret"] == 0
    for article in await stored(session_factory):
        assert "пароли" not in (article.full_text or "")
        assert article.full_text == UZBEK_TEXTILE.text


async def test_a_redirect_into_the_private_network_is_not_followed(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    port = server.base.rsplit(":", 1)[1]
    server.redirect("/moved.xml", f"http://localhost:{port}/internal.xml", status=301)
    server.document("/internal.xml", rss("Внутренняя лента", [KAZAKH_GRAIN]))
    feed_id = await add_feed(session_factory, server.url("/moved.xml"))

    (outcome,) = await IngestPipeline(session_factory, tagger, exempting(server)).run_once()

    assert outcome.status == "failed"
    assert outcome.error == (
        "refusing non-public address: localhost resolves to non-public address 127.0.0.1"
    ) or outcome.error == (
        "refusing non-public address: localhost resolves to non-public address ::1"
    )
    assert server.seen.hits["/moved.xml"] == 1
    assert server.seen.hits["/internal.xml"] == 0
    async with session_factory() as session:
        feed = await feed_repo.get_feed(session, feed_id)
    assert feed is not None and feed.consecutive_failures == 1
    assert feed.last_error is not None and "non-public" in feed.last_error
    assert await stored(session_factory) == []


async def test_a_name_that_resolves_to_a_private_address_is_refused(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN]))
    port = int(server.base.rsplit(":", 1)[1])
    dns = StubResolver({"feeds.omsk-intranet.example": [["10.20.30.40", "127.0.0.1"]]})
    await add_feed(session_factory, f"http://feeds.omsk-intranet.example:{port}/feed.xml")

    async with create_http_session(STRICT, resolver=dns) as http:
        (outcome,) = await IngestPipeline(session_factory, tagger, STRICT).run_once(
            http_session=http
        )

    assert dns.questions == ["feeds.omsk-intranet.example"]
    assert outcome.status == "failed" and outcome.error is not None
    assert "resolves to non-public address 10.20.30.40" in outcome.error
    assert server.seen.hits["/feed.xml"] == 0


async def test_every_answer_is_checked_so_a_rebinding_name_is_caught() -> None:
    dns = StubResolver({"news.example": [["93.184.216.34"], ["127.0.0.1"]]})
    resolver = PublicOnlyResolver(resolver=dns)
    first = await resolver.resolve("news.example", 443)
    assert [answer["host"] for answer in first] == ["93.184.216.34"]
    with pytest.raises(NonPublicAddressError, match=r"news\.example resolves to non-public"):
        await resolver.resolve("news.example", 443)


async def test_an_allowed_origin_exempts_that_host_and_port_only() -> None:
    dns = StubResolver({"intranet.example": [["10.0.0.7"], ["10.0.0.7"]]})
    resolver = PublicOnlyResolver(
        allowed_origins=frozenset({"intranet.example:8080"}), resolver=dns
    )
    assert [answer["host"] for answer in await resolver.resolve("intranet.example", 8080)] == [
        "10.0.0.7"
    ]
    with pytest.raises(NonPublicAddressError):
        await resolver.resolve("intranet.example", 8081)


async def test_with_the_operator_setting_private_feeds_are_fetched(
    server: FeedServer, session_factory: SessionFactory, tagger: Tagger
) -> None:
    server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN]))
    await add_feed(session_factory, server.url("/feed.xml"))
    config = replace(STRICT, allow_private_addresses=True)

    (outcome,) = await IngestPipeline(session_factory, tagger, config).run_once()

    assert outcome.status == "new" and outcome.new_items == 1
    assert server.seen.hits["/feed.xml"] == 1
