from __future__ import annotations

import json
from pathlib import Path

from delivery.callbacks import MoreNews, more_keyboard
from delivery.labels import digest_labels
from delivery.more_buttons import more_keyboard_json
from tests.support.commands import python_output


def test_the_outbox_keeps_the_keyboard_aiogram_would_send() -> None:
    for language in ("ru", "en"):
        labels = digest_labels(language)
        buttons = [("UZ", 4), ("kz", 1), ("XX", 12)]
        kept = more_keyboard_json(buttons, labels)
        markup = more_keyboard(buttons, labels)
        assert markup is not None and kept is not None
        assert kept == markup.model_dump_json(exclude_none=True)
        rows = json.loads(kept)["inline_keyboard"]
        assert [MoreNews.unpack(row[0]["callback_data"]).country for row in rows] == [
            "UZ",
            "KZ",
            "XX",
        ]
    assert more_keyboard_json([], digest_labels("ru")) is None
    assert more_keyboard([], digest_labels("ru")) is None


PLAN_ONE_DIGEST = """
import sys
from datetime import UTC, datetime, timedelta
from delivery.labels import digest_labels
from delivery.planner import plan_digests_in_worker
from digests.model import DigestArticle
from storage.chats import ChatRecord

now = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
titles = (
    "Омские аграрии отправят зерно в Ташкент",
    "Хлопковый кластер Ферганы ищет партнёров в Сибири",
    "Студенты из Самарканда приедут в омские вузы",
    "Авиарейс Омск — Ташкент запустят весной",
    "Узбекские врачи пройдут стажировку в областной больнице",
    "Выставка узбекского текстиля откроется в конгресс-холле",
    "Металлурги обсудили поставки проката в Навои",
    "Фестиваль плова собрал тысячи гостей на набережной",
    "Омский театр покажет спектакль в Бухаре",
    "Логисты открыли контейнерный маршрут через Казахстан в Андижан",
    "Сыроварни региона выходят на рынок Узбекистана",
    "Туристы из Хивы оценили сибирскую зиму",
)
articles = [
    DigestArticle(
        id=number + 1,
        title=title,
        url=f"https://omskinform.ru/news/{number}",
        source=("БК55", "Омскинформ", "НГС55")[number % 3],
        published_at=now - timedelta(hours=number + 1),
        first_seen_at=now - timedelta(hours=number + 1),
        countries={"UZ": 0.9},
        topics={"trade": 0.8},
    )
    for number, title in enumerate(titles)
]
chat = ChatRecord(
    id=42, type="private", title=None, language="ru", timezone="Asia/Omsk",
    digest_time="09:00", next_digest_at=now, last_digest_at=now - timedelta(days=1),
    notify_empty=False, subscribed=True, active=True, paused=False,
    countries=frozenset({"UZ"}), topics=frozenset(),
)
plan = plan_digests_in_worker(
    [chat], articles, {}, now=now, catchup=timedelta(hours=6), threshold=0.5,
    labels_for=digest_labels,
)
markup = plan.changes[0].messages[-1].reply_markup or ""
print("more:UZ" in markup, any(name.startswith("aiogram") for name in sys.modules))
"""


def test_planning_a_digest_with_buttons_does_not_load_aiogram(tmp_path: Path) -> None:
    """A worker process plans digests; aiogram would cost it 150 MB of memory."""
    assert python_output(PLAN_ONE_DIGEST, tmp_path) == ["True", "False"]
