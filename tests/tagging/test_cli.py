from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from tagging import run_tag_command

REPO_ROOT = Path(__file__).resolve().parents[2]

GOOD = {
    "id": "a1",
    "title": "Делегация Омской области посетила Ташкент",
    "text": "Губернатор провел переговоры в Ташкенте и подписал соглашение о сотрудничестве.",
}
WEATHER = {"id": 7, "title": None, "text": "В Омске ожидается снегопад и сильный ветер."}


def test_one_output_line_per_input_in_order() -> None:
    stdin = io.StringIO(
        json.dumps(GOOD, ensure_ascii=False) + "\n" + json.dumps(WEATHER, ensure_ascii=False) + "\n"
    )
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_tag_command(stdin, stdout, stderr)
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert code == 0
    assert stderr.getvalue() == ""
    assert lines[0]["id"] == "a1"
    assert lines[0]["countries"] == ["UZ"]
    assert "agreements" in lines[0]["topics"]
    assert lines[1] == {
        "id": 7,
        "countries": [],
        "topics": [],
        "facts": {"agreements": [], "figures": []},
    }


def test_malformed_lines_are_reported_and_the_rest_is_tagged() -> None:
    stdin = io.StringIO(
        json.dumps(GOOD, ensure_ascii=False)
        + "\n{not json\n"
        + json.dumps({"id": "b2", "text": 42})
        + "\n\n"
        + json.dumps(WEATHER, ensure_ascii=False)
        + "\n"
    )
    stdout, stderr = io.StringIO(), io.StringIO()
    code = run_tag_command(stdin, stdout, stderr)
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    errors = stderr.getvalue().splitlines()
    assert code == 1
    assert [line.get("id") for line in lines] == ["a1", None, "b2", 7]
    assert "error" in lines[1] and lines[1]["id"] is None
    assert "error" in lines[2]
    assert lines[3]["countries"] == []
    assert len(errors) == 2
    assert errors[0].startswith("line 2:")
    assert errors[1].startswith("line 3:")


def test_command_runs_as_a_subprocess_and_streams() -> None:
    records = [dict(GOOD, id=f"r{i}") for i in range(300)]
    payload = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"
    program = (
        "import sys\n"
        "from tagging import run_tag_command\n"
        "raise SystemExit(run_tag_command(sys.stdin, sys.stdout, sys.stderr))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", program],
        input=payload,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [line["id"] for line in lines] == [f"r{i}" for i in range(300)]
    assert all(line["countries"] == ["UZ"] for line in lines)
