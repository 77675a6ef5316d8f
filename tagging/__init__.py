"""Country, topic and Russian-region tagging of Russian news; country and topic names in
commands.  Nothing is loaded at import time: data files and dictionaries load on first use."""

from tagging.cli import run_tag_command
from tagging.data import (
    Country,
    Preset,
    Region,
    Topic,
    countries,
    country,
    preset_list,
    presets,
    region,
    regions,
    topic,
    topics,
)
from tagging.resolve import (
    CountryResolution,
    find_regions,
    lemmatize_for_search,
    resolve_country,
    resolve_topic,
)
from tagging.tagger import Tag, Tagger, TagResult
from tagging.text import MAX_ARTICLE_CHARACTERS, within_article_limit

__all__ = [
    "MAX_ARTICLE_CHARACTERS",
    "Country",
    "CountryResolution",
    "Preset",
    "Region",
    "Tag",
    "TagResult",
    "Tagger",
    "Topic",
    "countries",
    "country",
    "find_regions",
    "lemmatize_for_search",
    "preset_list",
    "presets",
    "region",
    "regions",
    "resolve_country",
    "resolve_topic",
    "run_tag_command",
    "topic",
    "topics",
    "within_article_limit",
]
