"""Loading of the gazetteer and lexicon data files (tagging/data/*.json), cached on first use."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# Fields of a country entry, with the kind of mention each one gives and whether its words
# must keep their capitalisation to match ("auto") or match in any case ("any").
COUNTRY_ALIAS_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("names", "name", "auto"),
    ("abbreviations", "name", "auto"),
    ("adjectives", "adjective", "any"),
    ("demonyms", "demonym", "any"),
    ("capitals", "city", "auto"),
    ("cities", "city", "auto"),
    ("city_adjectives", "adjective", "any"),
    ("provinces", "province", "auto"),
    ("province_adjectives", "adjective", "any"),
    ("leaders", "leader", "auto"),
    ("context", "context", "auto"),
)

REGION_ALIAS_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("names", "name", "auto"),
    ("markers", "name", "auto"),
    ("adjectives", "adjective", "any"),
    ("capitals", "city", "auto"),
    ("cities", "city", "auto"),
    ("demonyms", "demonym", "any"),
    ("context", "context", "auto"),
)


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name_ru: str
    name_en: str
    flag: str
    names_ru: tuple[str, ...]
    names_en: tuple[str, ...]
    adjectives: tuple[str, ...]
    capitals: tuple[str, ...]

    @property
    def label_ru(self) -> str:
        return f"{self.flag} {self.name_ru}"

    @property
    def label_en(self) -> str:
        return f"{self.flag} {self.name_en}"


@dataclass(frozen=True, slots=True)
class Preset:
    """A country group. The tagger knows every group by its aliases; only the `offered`
    ones are buttons on the bot's country keyboard."""

    id: str
    name_ru: str
    name_en: str
    codes: tuple[str, ...]
    offered: bool = False


@dataclass(frozen=True, slots=True)
class Topic:
    id: str
    name_ru: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name_ru: str
    name_en: str
    label: str = ""  # the name in tags when it differs from the official one

    @property
    def label_ru(self) -> str:
        """The name `digestbot tag` gives («Кемеровская область»)."""
        return self.label or self.name_ru


def load_json(name: str) -> dict[str, Any]:
    text = resources.files("tagging").joinpath("data", name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def country_data() -> dict[str, Any]:
    return load_json("countries.json")


@cache
def region_data() -> dict[str, Any]:
    return load_json("regions.json")


@cache
def topic_data() -> dict[str, Any]:
    return load_json("topics.json")


@cache
def context_data() -> dict[str, Any]:
    return load_json("context.json")


@cache
def countries() -> tuple[Country, ...]:
    """All partner countries from the data file, in the file's order."""
    return tuple(
        Country(
            code=entry["code"],
            name_ru=entry["name_ru"],
            name_en=entry["name_en"],
            flag=entry.get("flag", ""),
            names_ru=tuple(entry.get("names", ())),
            names_en=tuple(entry.get("names_en", ())),
            adjectives=tuple(entry.get("adjectives", ())),
            capitals=tuple(entry.get("capitals", ())),
        )
        for entry in country_data()["countries"]
    )


@cache
def _countries_by_code() -> dict[str, Country]:
    return {c.code: c for c in countries()}


def country(code: str) -> Country | None:
    return _countries_by_code().get(code.strip().upper())


@cache
def preset_list() -> tuple[Preset, ...]:
    """Country groups (Central Asia, EAEU, CIS, ...) in the file's order, with display names."""
    return tuple(
        Preset(
            id=entry["id"],
            name_ru=entry["name_ru"],
            name_en=entry["name_en"],
            codes=tuple(entry["codes"]),
            offered=bool(entry.get("offered", False)),
        )
        for entry in country_data()["presets"]
    )


def presets() -> dict[str, tuple[str, ...]]:
    return {p.id: p.codes for p in preset_list()}


@cache
def topics() -> tuple[Topic, ...]:
    """The 13 topics in display order."""
    return tuple(
        Topic(id=entry["id"], name_ru=entry["name_ru"], name_en=entry["name_en"])
        for entry in topic_data()["topics"]
    )


def topic(topic_id: str) -> Topic | None:
    return next((t for t in topics() if t.id == topic_id), None)


@cache
def regions() -> tuple[Region, ...]:
    """Russian regions (ISO 3166-2:RU) known to the tagger."""
    return tuple(
        Region(
            code=entry["code"],
            name_ru=entry["name_ru"],
            name_en=entry["name_en"],
            label=entry.get("label", ""),
        )
        for entry in region_data()["regions"]
    )


@cache
def _regions_by_code() -> dict[str, Region]:
    return {r.code: r for r in regions()}


def region(code: str) -> Region | None:
    return _regions_by_code().get(code.strip().upper())
