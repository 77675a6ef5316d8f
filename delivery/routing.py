"""Forum supergroups: which topic (message thread) each article of a chat goes to.

An article goes to the topic its main country is bound to (`/bind` inside a topic): the
chat's country it is most strongly about. Articles whose main country is not bound go to
the general topic (no thread id). Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from digests.model import DigestArticle, Subscription
from digests.select import subscribed_countries

Destination = int | None


def destination(article: DigestArticle, sub: Subscription, bindings: dict[str, int]) -> Destination:
    matches = subscribed_countries(article.countries, sub)
    if not matches:
        return None
    return bindings.get(matches[0][0])


def split_by_topic(
    articles: Iterable[DigestArticle],
    sub: Subscription,
    bindings: Sequence[tuple[str, int]],
) -> list[tuple[Destination, list[DigestArticle]]]:
    """The articles grouped by destination, the general topic first, then by thread id;
    each group keeps the given order."""
    bound = {code.upper(): thread for code, thread in bindings}
    groups: dict[Destination, list[DigestArticle]] = {}
    for article in articles:
        groups.setdefault(destination(article, sub, bound) if bound else None, []).append(article)
    return sorted(groups.items(), key=lambda item: (item[0] is not None, item[0] or 0))
