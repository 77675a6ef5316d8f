"""`digestbot tag` prints the facts of each article."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

ARTICLE = {
    "id": "omsk-uz-1",
    "title": "Омская область и Узбекистан подписали соглашение",
    "published": "2025-05-15",
    "text": (
        "Сегодня губернатор Омской области и хоким Бухарской области Узбекистана подписали "
        "соглашение о торгово-экономическом сотрудничестве. В прошлом году товарооборот "
        "региона с Узбекистаном вырос на 23,5 % и составил 48 млн долларов."
    ),
}


def test_tag_command_prints_facts() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bot", "tag"],
        input=json.dumps(ARTICLE, ensure_ascii=False) + "\n",
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    (line,) = [json.loads(text) for text in completed.stdout.splitlines()]
    assert line["countries"] == ["UZ"]
    (agreement,) = line["facts"]["agreements"]
    assert agreement == {
        "parties": agreement["parties"],
        "countries": ["UZ"],
        "subject": "соглашение о торгово-экономическом сотрудничестве",
        "status": "signed",
        "date": "2025-05-15",
    }
    figures = {
        (f["indicator"], f["value"], f["unit"], f["change"]) for f in line["facts"]["figures"]
    }
    assert figures == {
        ("trade_turnover", 23.5, "%", True),
        ("trade_turnover", 48, "млн долларов", False),
    }
    assert all(f["period"] == "В прошлом году" for f in line["facts"]["figures"])
