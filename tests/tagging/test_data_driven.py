"""Adding a partner country is a change of the data file only."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tagging import Tagger, data


def test_a_country_added_to_the_data_is_tagged(monkeypatch: pytest.MonkeyPatch) -> None:
    original = data.country_data()
    extended: dict[str, Any] = copy.deepcopy(original)
    extended["countries"].append(
        {
            "code": "LA",
            "name_ru": "Лаос",
            "name_en": "Laos",
            "flag": "🇱🇦",
            "names": ["Лаос", "Лаосская Народно-Демократическая Республика"],
            "adjectives": ["лаосский"],
            "capitals": ["Вьентьян"],
            "leaders": ["Тхонглун Сисулит"],
        }
    )
    extended["other_countries"] = [o for o in extended["other_countries"] if o["code"] != "LA"]
    monkeypatch.setattr(data, "country_data", lambda: extended)
    tagger = Tagger()
    result = tagger.tag(
        "Иркутская область и Лаос договорились о сотрудничестве",
        "Губернатор Иркутской области провел во Вьентьяне переговоры с лаосскими "
        "партнерами и подписал соглашение о поставках удобрений.",
    )
    assert result.country_codes == ("LA",)
