"""Main text of an article page, for feeds that carry only a teaser."""

from __future__ import annotations

import re

from ingest.encoding import decode_document
from ingest.parse import clean_extracted_text

_WORD = re.compile(r"[^\W\d_]{5,}")
# Share of the title's longer words (by their first five letters) the page text must
# contain to be taken as the article: a consent wall or a home page shares none.
MIN_TITLE_OVERLAP = 0.34


def extract_article_text(body: bytes, content_type: str | None, url: str) -> str:
    """Clean paragraphs of the page's main text, or "" when none is found.

    Synchronous and CPU-bound (trafilatura): callers run it in a thread.
    """
    import trafilatura

    document = decode_document(body, content_type, html=True)
    extracted = trafilatura.extract(
        document.text,
        url=url,
        output_format="txt",
        include_comments=False,
        include_tables=False,
        include_images=False,
        include_links=False,
        favor_precision=True,
        deduplicate=False,
    )
    return clean_extracted_text(extracted or "")


def _stems(text: str) -> set[str]:
    return {word[:5] for word in _WORD.findall(text.lower().replace("ё", "е"))}


def matches_title(text: str, title: str) -> bool:
    """Whether extracted page text is plausibly the article the title names."""
    title_stems = _stems(title)
    if not title_stems:
        return True
    found = title_stems & _stems(text)
    return len(found) >= MIN_TITLE_OVERLAP * len(title_stems)
