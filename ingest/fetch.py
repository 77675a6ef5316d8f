"""HTTP fetching for feeds and article pages: limits first, then conditional GET."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from multidict import CIMultiDictProxy

from ingest.config import IngestConfig
from ingest.urls import host_of, ip_literal, is_http_url, is_public_address, origin_of

logger = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK_BYTES = 64 * 1024


class FetchError(Exception):
    """A fetch that produced no usable body; the message is one line for feed health."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    status: int
    body: bytes
    content_type: str | None
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


class NonPublicAddressError(OSError):
    """A host name resolved to an address the fetcher may not connect to."""


class PublicOnlyResolver(AbstractResolver):
    """Resolves host names but refuses any that lead to a non-public address.

    The connector connects to exactly the addresses returned here, so the address that
    was checked is the address that is used: a second DNS answer cannot slip in between
    the check and the connection. Checking every connection, not only when a feed is
    added, keeps DNS changes and redirects from steering the fetcher into the private
    network.
    """

    def __init__(
        self,
        *,
        allowed_origins: frozenset[str] = frozenset(),
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._allowed_origins = allowed_origins
        self._resolver = resolver or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._resolver.resolve(host, port, family)
        if f"{host.lower()}:{port}" in self._allowed_origins:
            return results
        for result in results:
            if not is_public_address(result["host"]):
                logger.warning("refused %s: it resolves to non-public %s", host, result["host"])
                raise NonPublicAddressError(
                    f"{host} resolves to non-public address {result['host']}"
                )
        return results

    async def close(self) -> None:
        await self._resolver.close()


def create_http_session(
    config: IngestConfig, *, resolver: AbstractResolver | None = None
) -> aiohttp.ClientSession:
    """One client session for a whole run; callers close it.

    `resolver` answers DNS questions in place of the system's (tests use a stub); unless
    private addresses are allowed, its answers still pass the public-only check.
    """
    if not config.allow_private_addresses:
        resolver = PublicOnlyResolver(allowed_origins=config.private_origins, resolver=resolver)
    connector = aiohttp.TCPConnector(
        limit=config.concurrency + config.full_text_concurrency,
        limit_per_host=0,
        ttl_dns_cache=300,
        resolver=resolver,
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": config.user_agent, "Accept-Language": "ru, en;q=0.5"},
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )


class HostLimiter:
    """At most `per_host` requests in flight to one host name, whatever the caller."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def slot(self, url: str) -> AsyncIterator[None]:
        host = host_of(url)
        semaphore = self._semaphores.get(host)
        if semaphore is None:
            semaphore = self._semaphores[host] = asyncio.Semaphore(self._per_host)
        async with semaphore:
            yield


class Fetcher:
    def __init__(
        self, session: aiohttp.ClientSession, config: IngestConfig, limiter: HostLimiter
    ) -> None:
        self._session = session
        self._config = config
        self._limiter = limiter

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        """GET with redirects followed by hand, so every hop is checked and counted.

        Raises FetchError for anything but a 200 with a body under the cap or a 304.
        """
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        visited: list[str] = []
        current = url
        while True:
            self._check_target(current)
            visited.append(current)
            async with self._limiter.slot(current):
                with self._translate_errors():
                    async with asyncio.timeout(self._config.timeout):
                        location, result = await self._request(current, headers)
            if result is not None:
                return result
            assert location is not None
            target = urljoin(current, location)
            if target in visited:
                raise FetchError(f"redirect loop ({current} → {target})")
            if len(visited) > self._config.max_redirects:
                raise FetchError(f"too many redirects (more than {self._config.max_redirects})")
            current = target

    def _check_target(self, url: str) -> None:
        if not is_http_url(url):
            raise FetchError(f"not an http(s) URL: {url[:200]}")
        config = self._config
        if config.allow_private_addresses or origin_of(url) in config.private_origins:
            return
        # aiohttp skips the resolver for IP literals, so they are checked here.
        literal = ip_literal(host_of(url))
        if literal is not None and not is_public_address(literal):
            logger.warning("refused %s: non-public address %s", url[:200], literal)
            raise FetchError(f"refusing non-public address {literal}")

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except TimeoutError:
            raise FetchError(f"timed out after {self._config.timeout:g} s") from None
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, NonPublicAddressError):
                raise FetchError(f"refusing non-public address: {error.os_error}") from None
            reason = error.os_error.strerror or str(error.os_error) or type(error).__name__
            raise FetchError(f"connection failed: {reason}") from None
        except aiohttp.ClientResponseError as error:
            raise FetchError(f"bad HTTP response: {error.message or error.status}") from None
        except aiohttp.ClientPayloadError as error:
            raise FetchError(f"broken response body: {error}") from None
        except aiohttp.ClientError as error:
            raise FetchError(f"HTTP error: {type(error).__name__}: {error}") from None
        except (UnicodeError, ValueError) as error:
            raise FetchError(f"invalid URL or response: {error}") from None

    async def _request(
        self, url: str, headers: dict[str, str]
    ) -> tuple[str | None, FetchResult | None]:
        async with self._session.get(url, headers=headers, allow_redirects=False) as response:
            status = response.status
            if status in REDIRECT_STATUSES:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError(f"HTTP {status} redirect without a Location header")
                return location, None
            if status == 304:
                return None, self._result(url, response, b"")
            if status != 200:
                reason = f" {response.reason}" if response.reason else ""
                raise FetchError(f"HTTP {status}{reason}")
            body = await self._read_capped(response)
            return None, self._result(url, response, body)

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        cap = self._config.max_body_bytes
        declared = response.content_length
        if declared is not None and declared > cap and "Content-Encoding" not in response.headers:
            raise FetchError(
                f"body too large: {_megabytes(declared)} declared, cap {_megabytes(cap)}"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            size += len(chunk)
            if size > cap:
                # Closing drops the connection instead of draining the rest of the body.
                response.close()
                raise FetchError(f"body too large: cut at the {_megabytes(cap)} cap")
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _result(url: str, response: aiohttp.ClientResponse, body: bytes) -> FetchResult:
        headers: CIMultiDictProxy[str] = response.headers
        return FetchResult(
            url=url,
            status=response.status,
            body=body,
            content_type=headers.get("Content-Type"),
            etag=headers.get("ETag"),
            last_modified=headers.get("Last-Modified"),
        )
