"""Fixtures of the digest tests: the articles and labels of ``testing.articles`` and the
Telegram HTML checker of ``testing.telegram``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import pytest

from digests.model import DigestArticle, Labels, Story
from testing.articles import (
    BASE_TIME,
    LABELS_RU,
    load_story_fixture,
    make_article,
    merge_counts,
    realistic_articles,
    synthetic_articles,
)
from testing.telegram import html_errors


@pytest.fixture(scope="session")
def labels() -> Labels:
    return LABELS_RU


@pytest.fixture(scope="session")
def check_html() -> Callable[[str], list[str]]:
    return html_errors


@pytest.fixture(scope="session")
def article_factory() -> Callable[..., DigestArticle]:
    return make_article


@pytest.fixture(scope="session")
def story_fixture() -> Callable[[str], tuple[list[DigestArticle], dict[int, str]]]:
    return load_story_fixture


@pytest.fixture(scope="session")
def base_time() -> datetime:
    return BASE_TIME


@pytest.fixture(scope="session")
def count_merges() -> Callable[[Sequence[Story], Mapping[int, str]], tuple[int, int, int]]:
    return merge_counts


@pytest.fixture(scope="session")
def synthetic() -> Callable[[int], list[DigestArticle]]:
    return synthetic_articles


@pytest.fixture(scope="session")
def realistic() -> Callable[[int], list[DigestArticle]]:
    return realistic_articles
