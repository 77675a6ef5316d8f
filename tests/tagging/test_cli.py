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
    assert lines[0]["regions"] == ["Омская область"]
    assert "explain" not in lines[0]
    assert lines[1] == {
        "id": 7,
        "countries": [],
        "topics": [],
        "regions": ["Омская область"],
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


def test_explain_flag_adds_the_evidence_through_the_real_command(tmp_path: Path) -> None:
    records = [
        GOOD,
        {
            "id": "b",
            "title": "Делегация из Индии посетила Смоленск",
            "text": (
                "Гостей принял председатель Парламентского собрания Союза Беларуси и России. "
                "Стороны обсудили поставки лекарств в Индию и обмен студентами."
            ),
        },
    ]
    payload = "\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n"
    environment = {
        "PATH": "",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO_ROOT),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tag.db'}",
    }
    plain, explained = (
        subprocess.run(
            [sys.executable, "-m", "bot", "tag", *flags],
            input=payload,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=environment,
            timeout=120,
            check=False,
        )
        for flags in ((), ("--explain",))
    )
    assert plain.returncode == 0, plain.stderr
    assert explained.returncode == 0, explained.stderr
    plain_lines = [json.loads(line) for line in plain.stdout.splitlines()]
    lines = [json.loads(line) for line in explained.stdout.splitlines()]
    assert [set(line) for line in plain_lines] == [
        {"id", "countries", "topics", "regions", "facts"}
    ] * 2
    for plain_line, line in zip(plain_lines, lines, strict=True):
        assert {k: v for k, v in line.items() if k != "explain"} == plain_line
    uz = lines[0]["explain"]["countries"][0]
    assert uz["value"] == "UZ" and uz["score"] >= 0.5
    assert any("Ташкенте" in e["words"] for e in uz["evidence"])
    second = lines[1]["explain"]
    assert [c["value"] for c in second["countries"]] == ["IN"]
    by = next(c for c in second["rejected_countries"] if c["value"] == "BY")
    assert by["reasons"] == ["institution name"]
    assert lines[1]["regions"] == ["Смоленская область"]
