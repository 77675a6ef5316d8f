"""The evidence features of a country candidate are the terms its score is made of: the
hand-set weights applied to them give the score back, and the rules that lowered it show."""

from __future__ import annotations

import math

from tagging import Tagger

LINEAR = ("salience", "cooperation_near", "cooperation_total", "russia_near")
FLAGS = ("listed_only", "sole_country", "trade_link", "route_link")


def test_weights_times_features_give_the_score_back(tagger: Tagger) -> None:
    analysis = tagger.analyse(
        "Омская область и Узбекистан подписали соглашение",
        "Губернатор Омской области и хоким Ферганской области подписали соглашение о "
        "сотрудничестве. Стороны договорились о поставках зерна и обмене студентами.",
    )
    uzbekistan = analysis.countries["UZ"]
    features = uzbekistan.features
    w = tagger.knowledge.weights["country"]
    x = w["bias"] + sum(w[name] * features[name] for name in LINEAR)
    x -= w["negative"] * features["negative"]
    x += sum(w[name] * features.get(name, 0.0) for name in FLAGS)
    assert uzbekistan.reasons == []
    assert math.isclose(1.0 / (1.0 + math.exp(-x)), uzbekistan.score, rel_tol=1e-9)
    assert features["in_title"] == 1.0
    assert features["title_mentions"] == 1.0
    assert features["relative_salience"] == 1.0


def test_a_side_remark_is_told_by_where_it_stands(tagger: Tagger) -> None:
    analysis = tagger.analyse(
        "Экспорт омской пшеницы в Китай вырос вдвое",
        "Омская область за год отгрузила в Китай 120 тысяч тонн пшеницы, это рекорд. "
        "Ещё 0,02 тысячи тонн ушло в Беларусь.",
    )
    belarus, china = analysis.countries["BY"], analysis.countries["CN"]
    assert belarus.score < 0.5 < china.score
    assert belarus.features["body_mentions"] == 1.0
    assert belarus.features["title_mentions"] == belarus.features["lead_mentions"] == 0.0
    assert belarus.features["russia_near"] == 0.0
    assert math.isclose(belarus.features["relative_salience"], belarus.salience / china.salience)
    assert "trade_link" not in belarus.features
    assert china.features["trade_link"] == 1.0
