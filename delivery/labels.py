"""The names a reader sees: countries with flags, topics, and the words of a digest."""

from __future__ import annotations

from functools import cache

from core.i18n import gettext_for, month_names, normalize_language
from digests.facts import FactTexts
from digests.model import Labels
from tagging import countries, country, topics


def country_label(code: str, language: str) -> str:
    """ "🇺🇿 Узбекистан" for a country code; the bare code for an unknown one."""
    found = country(code)
    if found is None:
        return code.upper()
    name = found.name_en if normalize_language(language) == "en" else found.name_ru
    return f"{found.flag} {name}".strip()


def topic_label(topic_id: str, language: str) -> str:
    for topic in topics():
        if topic.id == topic_id:
            return topic.name_en if normalize_language(language) == "en" else topic.name_ru
    return topic_id


@cache
def digest_labels(language: str) -> Labels:
    """Every word a digest rendering needs, in one language."""
    locale = normalize_language(language)
    _ = gettext_for(locale)
    english = locale == "en"
    return Labels(
        country_names={
            item.code: f"{item.flag} {item.name_en if english else item.name_ru}".strip()
            for item in countries()
        },
        topic_names={item.id: item.name_en if english else item.name_ru for item in topics()},
        digest_title=_("Digest for {date}"),
        also=_("also"),
        more=_("{n} more"),
        other_topics=_("Other topics"),
        month_names=month_names(locale),
        date_format=_("{day} {month}"),
        date_format_with_year=_("{day} {month} {year}"),
    )


@cache
def fact_texts(language: str) -> FactTexts:
    """The words of the facts views (/agreements register, /trade timeline and chart) in one
    language; the weekly brief replaces the two titles."""
    _ = gettext_for(normalize_language(language))
    return FactTexts(
        register_title=_("Register of agreements"),
        timeline_title=_("Figures of trade"),
        reported=_("{date} (reported)"),
        statuses={"signed": _("signed"), "planned": _("planned")},
        indicators={
            "trade_turnover": _("trade turnover"),
            "export": _("export"),
            "import": _("import"),
            "investment": _("investment"),
            "other": _("other"),
        },
        change=_("change"),
        country_names={item.code: country_label(item.code, language) for item in countries()},
    )
