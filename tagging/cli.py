"""`digestbot tag`: JSON Lines in, one JSON line of tags out per input line, same order."""

from __future__ import annotations

import json
from datetime import date
from typing import Any, TextIO

from tagging.tagger import Tagger

_FLUSH_EVERY = 200


class _BadLine(ValueError):
    pass


def _published(record: dict[str, Any]) -> date | None:
    value = record.get("published")
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _parse(line: str) -> tuple[Any, str | None, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise _BadLine(f"invalid JSON: {error.msg} at column {error.colno}") from None
    if not isinstance(record, dict):
        raise _BadLine("expected a JSON object")
    text = record.get("text")
    title = record.get("title")
    if not isinstance(text, str):
        raise _BadLine("field 'text' must be a string")
    if title is not None and not isinstance(title, str):
        raise _BadLine("field 'title' must be a string or null")
    return record.get("id"), title, text


def _record_id(line: str) -> Any:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record.get("id") if isinstance(record, dict) else None


def run_tag_command(
    stdin: TextIO, stdout: TextIO, stderr: TextIO, threshold: float = 0.5, *, explain: bool = False
) -> int:
    """Tag every JSON line of stdin; a bad line gets an error line (stderr names its number)
    and an {"id", "error"} output line in its place.  Returns 0, or 1 when any line was bad.
    `explain` adds "explain": the evidence of each decision (see tagging.explain)."""
    # Imported here: the fact patterns compile at import, and `from tagging import Tagger`
    # (the bot's cold start) needs none of them.
    from tagging.facts import extract_facts

    tagger = Tagger(threshold=threshold)
    failures = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            record_id, title, text = _parse(line)
            result = tagger.tag(title, text, explain=explain)
            output: dict[str, Any] = {
                "id": record_id,
                "countries": list(result.country_codes),
                "topics": list(result.topic_ids),
                "regions": list(result.region_names),
            }
            published = _published(json.loads(line))
            facts = extract_facts(title, text, result.country_codes, published)
            output["facts"] = facts.as_dict()
            if result.explanation is not None:
                output["explain"] = result.explanation.as_dict()
        except _BadLine as error:
            failures += 1
            stderr.write(f"line {number}: {error}\n")
            output = {"id": _record_id(line), "error": str(error)}
        stdout.write(json.dumps(output, ensure_ascii=False) + "\n")
        if number % _FLUSH_EVERY == 0:
            stdout.flush()
    stdout.flush()
    return 1 if failures else 0
