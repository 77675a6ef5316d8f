"""The data files are complete and consistent, and every country in them is usable."""

from __future__ import annotations

import re

import pytest

from tagging import (
    Tagger,
    countries,
    country,
    preset_list,
    presets,
    regions,
    resolve_country,
    topics,
)
from tagging.data import country_data, topic_data

REQUIRED_CODES = {
    "UZ",
    "TJ",
    "KZ",
    "KG",
    "TM",
    "BY",
    "CN",
    "MN",
    "AZ",
    "AM",
    "GE",
    "TR",
    "IR",
    "IN",
    "VN",
}


def test_all_required_partner_countries_are_present() -> None:
    assert {c.code for c in countries()} >= REQUIRED_CODES


def test_country_entries_have_names_flags_and_aliases() -> None:
    for entry in country_data()["countries"]:
        assert re.fullmatch(r"[A-Z]{2}", entry["code"])
        assert entry["name_ru"] and entry["name_en"] and entry["flag"]
        for field in ("names", "adjectives", "capitals", "leaders"):
            assert entry[field], f"{entry['code']} has no {field}"


def test_country_lookup_by_code() -> None:
    uzbekistan = country("uz")
    assert uzbekistan is not None
    assert uzbekistan.name_ru == "Узбекистан"
    assert uzbekistan.flag == "🇺🇿"
    assert country("XX") is None


def test_presets() -> None:
    groups = presets()
    assert groups["central_asia"] == ("UZ", "TJ", "KZ", "KG", "TM")
    assert set(groups["eaeu"]) == {"KZ", "KG", "BY", "AM"}
    assert {"UZ", "TJ", "KZ", "KG", "BY", "AZ", "AM"} <= set(groups["cis"])
    known = {c.code for c in countries()}
    for preset in preset_list():
        assert preset.name_ru and preset.name_en
        assert set(preset.codes) <= known


def test_the_offered_presets_are_marked_in_the_data_file() -> None:
    assert [p.id for p in preset_list() if p.offered] == ["central_asia", "eaeu", "cis"]
    assert all(isinstance(entry.get("offered", False), bool) for entry in country_data()["presets"])


def test_topics_in_display_order() -> None:
    assert [t.id for t in topics()] == [
        "agreements",
        "trade",
        "industry",
        "investment",
        "education_science",
        "youth",
        "culture_tourism",
        "agriculture",
        "transport_logistics",
        "energy",
        "health",
        "visits_events",
        "migration_labor",
    ]
    assert all(t.name_ru and t.name_en for t in topics())
    assert all(entry["terms"] for entry in topic_data()["topics"])


def test_regions_have_unique_iso_codes() -> None:
    codes = [r.code for r in regions()]
    assert len(codes) == len(set(codes)) == 83
    assert all(re.fullmatch(r"RU-[A-Z]{2,3}", code) for code in codes)


@pytest.mark.parametrize("code", sorted(REQUIRED_CODES))
def test_every_country_is_tagged_from_its_name_and_resolved(tagger: Tagger, code: str) -> None:
    entry = next(e for e in country_data()["countries"] if e["code"] == code)
    name = entry["names"][0]
    text = (
        f"Губернатор Омской области провел переговоры с делегацией, прибывшей из страны "
        f"{name}. Стороны подписали соглашение о сотрудничестве. {name} и Омская область "
        f"договорились нарастить товарооборот."
    )
    assert tagger.tag(None, text).country_codes == (code,)
    assert resolve_country(name).code == code
    assert resolve_country(entry["name_en"]).code == code
