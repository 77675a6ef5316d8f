"""The order of countries with equal scores is the same in every process: Python's string
hashing, which differs from one process to the next, must not decide it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FORUM_TITLE = "Форум «Россия — Центральная Азия» в Омске"
FORUM_TEXT = (
    "На форуме «Россия — Центральная Азия» в Омске делегации Казахстана, Узбекистана, "
    "Киргизии, Таджикистана и Туркмении обсудили поставки зерна и логистику. "
    "Стороны подписали меморандум о сотрудничестве."
)
SCRIPT = (
    "import json, sys\n"
    "from tagging import Tagger\n"
    "title, text = json.load(sys.stdin)\n"
    "print(json.dumps(Tagger().tag(title, text).country_codes))\n"
)


def _countries_with_hash_seed(seed: int) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        input=json.dumps([FORUM_TITLE, FORUM_TEXT]),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONHASHSEED": str(seed)},
        check=True,
        timeout=120,
    )
    codes: list[str] = json.loads(result.stdout)
    return codes


def test_countries_of_a_group_come_in_the_same_order_in_every_process() -> None:
    orders = [_countries_with_hash_seed(seed) for seed in (1, 2, 3)]
    assert set(orders[0]) == {"KZ", "UZ", "KG", "TJ", "TM"}
    assert orders[1] == orders[0] and orders[2] == orders[0]
