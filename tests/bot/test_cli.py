"""The command line as cron, monitoring and an operator at a terminal use it: real
processes, exit codes (0 done, 1 failed at run time, 2 bad usage or configuration) and
one-line errors."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import upgrade_database
from testing.ports import free_port
from tests.ingest.feed_server import FeedServer
from tests.ingest.stories import KAZAKH_GRAIN, rss
from tests.support.commands import Run, cli_runner, one_line_error

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def digestbot(tmp_path: Path) -> Run:
    return cli_runner(tmp_path / "cli.db", tmp_path)


def feed_urls(tmp_path: Path) -> list[str]:
    database = tmp_path / "cli.db"
    if not database.exists():
        return []
    with sqlite3.connect(database) as connection:
        return [row[0] for row in connection.execute("SELECT url FROM feeds ORDER BY id")]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://", "no valid host name"),
        ("http:// spaces in url/", "spaces or control characters"),
        ("http://example.com:99999/rss", "port out of range"),
        ("ftp://example.com/rss", "not an http(s) URL"),
        ("http://exa mple.com/rss", "spaces or control characters"),
    ],
)
def test_feeds_add_refuses_what_cannot_be_a_feed_address(
    digestbot: Run, tmp_path: Path, url: str, reason: str
) -> None:
    result = digestbot("feeds", "add", url)
    assert result.returncode == 2
    assert reason in one_line_error(result)
    assert feed_urls(tmp_path) == []


def test_feeds_add_takes_any_case_and_stores_one_form(digestbot: Run, tmp_path: Path) -> None:
    first = digestbot("feeds", "add", "HTTP://Example.COM/rss")
    again = digestbot("feeds", "add", "http://example.com:80/rss?utm_source=tg")
    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert first.stdout.startswith("added: 1 http://example.com/rss")
    assert again.stdout.startswith("already present: 1")
    assert feed_urls(tmp_path) == ["http://example.com/rss"]


def test_preview_of_a_chat_that_does_not_exist_fails(digestbot: Run) -> None:
    assert digestbot("db", "upgrade").returncode == 0
    result = digestbot("digest", "--preview", "999")
    assert result.returncode == 1
    assert one_line_error(result) == "digestbot: no such chat: 999"


def test_reading_commands_refuse_a_database_that_is_not_there(
    digestbot: Run, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    relative = "sqlite+aiosqlite:///data/digest.db"
    for command in (("feeds", "list"), ("feeds", "export"), ("digest", "--preview", "1")):
        result = subprocess.run(
            [sys.executable, "-m", "bot", *command],
            capture_output=True,
            text=True,
            env={
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(tmp_path),
                "PYTHONPATH": str(PROJECT_ROOT),
                "DATABASE_URL": relative,
            },
            cwd=elsewhere,
            timeout=120,
        )
        assert result.returncode == 2, command
        assert one_line_error(result).startswith(
            f"digestbot: DATABASE_URL: no database at {elsewhere}/data/digest.db"
        )
    assert list(elsewhere.iterdir()) == []


def test_writing_commands_say_when_they_create_a_database(digestbot: Run, tmp_path: Path) -> None:
    first = digestbot("feeds", "add", "https://example.com/rss")
    assert first.returncode == 0, first.stderr
    assert f"creating a new database at {tmp_path}/cli.db" in first.stderr
    again = digestbot("feeds", "add", "https://example.com/other.xml")
    assert again.returncode == 0, again.stderr
    assert "creating a new database" not in again.stderr
    assert feed_urls(tmp_path) == ["https://example.com/rss", "https://example.com/other.xml"]


def test_send_due_without_a_token_is_a_configuration_error(digestbot: Run) -> None:
    result = digestbot("digest", "--send-due")
    assert result.returncode == 2
    assert one_line_error(result).startswith("digestbot: BOT_TOKEN: missing")


async def test_ingest_once_fails_when_every_feed_failed(digestbot: Run, tmp_path: Path) -> None:
    async with FeedServer() as server:
        server.status("/broken.xml", 503)
        server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN]))
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(f"{server.url('/broken.xml')} Сломанная\n", "utf-8")
        failed = await _in_thread(
            digestbot, "ingest", "--once", FEEDS_FILE=str(feeds), FEEDS_ALLOW_PRIVATE="1"
        )
        assert failed.returncode == 1
        assert one_line_error(failed) == "digestbot: every feed failed (1 of 1)"
        assert "HTTP 503" in failed.stdout

        feeds.write_text(
            f"{server.url('/broken.xml')} Сломанная\n{server.url('/feed.xml')} Рабочая\n",
            "utf-8",
        )
        partly = await _in_thread(
            digestbot, "ingest", "--once", FEEDS_FILE=str(feeds), FEEDS_ALLOW_PRIVATE="1"
        )
        assert partly.returncode == 0, partly.stderr
        assert server.seen.hits["/feed.xml"] == 1


LOADED_PROBE = """
import json, sys
from bot.cli import main
code = main(sys.argv[1:])
heavy = ("feedparser", "lxml.html", "tagging.facts", "sqlalchemy.dialects.postgresql")
print(json.dumps({"code": code, "loaded": [name for name in heavy if name in sys.modules]}))
"""


def _poll_loading(tmp_path: Path, feeds: Path) -> tuple[int, list[str]]:
    """`ingest --once` in a child process: its exit code, and which of the parser, the
    HTML cleaner, the fact extractor and PostgreSQL's dialect it loaded."""
    result = subprocess.run(
        [sys.executable, "-c", LOADED_PROBE, "ingest", "--once"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "PYTHONPATH": str(PROJECT_ROOT),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
            "FEEDS_FILE": str(feeds),
            "FEEDS_ALLOW_PRIVATE": "1",
        },
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome["code"], outcome["loaded"]


async def test_a_poll_with_nothing_new_starts_without_the_parser_and_the_analysis(
    tmp_path: Path,
) -> None:
    # Most cron polls get only errors and 304s; each of these modules costs start-up time.
    await upgrade_database(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    async with FeedServer() as server:
        server.status("/broken.xml", 503)
        server.document("/feed.xml", rss("Омские новости", [KAZAKH_GRAIN]))
        feeds = tmp_path / "feeds.txt"
        feeds.write_text(f"{server.url('/broken.xml')} Сломанная\n", "utf-8")
        assert await asyncio.to_thread(_poll_loading, tmp_path, feeds) == (1, [])

        feeds.write_text(f"{server.url('/feed.xml')} Рабочая\n", "utf-8")
        code, loaded = await asyncio.to_thread(_poll_loading, tmp_path, feeds)
        assert code == 0
        # The feed's text has no markup, so the HTML cleaner may stay unloaded.
        assert {"feedparser", "tagging.facts"} <= set(loaded)
        assert "sqlalchemy.dialects.postgresql" not in loaded


async def _in_thread(
    run: Run, *arguments: str, **environment: str
) -> subprocess.CompletedProcess[str]:
    # The feed server runs on this event loop; the command waits in a thread.
    return await asyncio.to_thread(run, *arguments, **environment)


def test_a_database_path_that_cannot_be_a_file_is_a_configuration_error(
    digestbot: Run, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_text("не каталог", "utf-8")
    in_a_file = digestbot(
        "feeds", "list", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/notes.txt/digest.db"
    )
    assert in_a_file.returncode == 2
    assert one_line_error(in_a_file) == (
        f"digestbot: DATABASE_URL: {tmp_path}/notes.txt is a file, not a directory"
    )
    a_directory = digestbot("feeds", "list", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}")
    assert a_directory.returncode == 2
    assert "is a directory, not a database file" in one_line_error(a_directory)


def test_a_postgresql_server_that_does_not_answer_fails_the_command_in_one_line(
    digestbot: Run, unused_port: int
) -> None:
    result = digestbot(
        "db", "upgrade", DATABASE_URL=f"postgresql+asyncpg://bot:secret@127.0.0.1:{unused_port}/x"
    )
    assert result.returncode == 1
    assert one_line_error(result).startswith(
        "digestbot: the database server at 127.0.0.1 did not answer:"
    )


def test_postgresql_without_its_driver_names_the_extra_to_install(tmp_path: Path) -> None:
    # The interpreter's import system is told asyncpg is missing, as after a plain install.
    program = (
        "import sys; sys.modules['asyncpg'] = None\n"
        "from bot.cli import main\n"
        "sys.exit(main(['db', 'upgrade']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(PROJECT_ROOT),
            "DATABASE_URL": "postgresql+asyncpg://bot:secret@127.0.0.1:5432/digest",
        },
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert one_line_error(result) == (
        "digestbot: DATABASE_URL: PostgreSQL needs the asyncpg driver: "
        "pip install 'digestbot[postgres]'"
    )


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    return free_port()


def test_db_backup_copies_a_live_store_and_never_overwrites(digestbot: Run, tmp_path: Path) -> None:
    assert digestbot("feeds", "add", "https://bk55.ru/rss").returncode == 0
    # A reader holding the store open, as the running bot would.
    with sqlite3.connect(tmp_path / "cli.db") as live:
        live.execute("SELECT count(*) FROM feeds").fetchone()
        result = digestbot("db", "backup", str(tmp_path / "copy.db"))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("SELECT url FROM feeds").fetchall() == [("https://bk55.ru/rss",)]

    again = digestbot("db", "backup", str(tmp_path / "copy.db"))
    assert again.returncode == 2
    assert one_line_error(again) == f"digestbot: {tmp_path}/copy.db already exists; give a new path"
    postgres = digestbot(
        "db", "backup", str(tmp_path / "pg.db"), DATABASE_URL="postgresql+asyncpg://u@h/db"
    )
    assert postgres.returncode == 2
    assert "use pg_dump" in one_line_error(postgres)


def test_db_upgrade_extracts_the_facts_of_articles_stored_without_them(
    digestbot: Run, tmp_path: Path
) -> None:
    first = digestbot("db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "facts extracted for 0 stored articles" in first.stdout
    text = (
        "Омская область и Бухарская область подписали соглашение о сотрудничестве в сфере "
        "образования. Экспорт области в Узбекистан за год вырос на 23 %."
    )
    with sqlite3.connect(tmp_path / "cli.db") as connection:
        for number in (1, 2):
            article_id = connection.execute(
                "INSERT INTO articles (guid, url, title, summary, full_text, source, "
                "published_at, fetched_at, content_hash, search_lemmas) "
                "VALUES (?, ?, ?, '', ?, ?, '2025-04-02 09:00:00.000000', "
                "'2025-04-02 09:00:00.000000', ?, '')",
                (
                    f"g{number}",
                    f"https://outlet{number}.example/a",
                    "Омск и Бухара",
                    text,
                    f"Издание {number}",
                    f"h{number}",
                ),
            ).lastrowid
            connection.execute(
                "INSERT INTO article_tags (article_id, kind, value, score) "
                "VALUES (?, 'country', 'UZ', 0.9)",
                (article_id,),
            )

    second = digestbot("db", "upgrade")
    again = digestbot("db", "upgrade")

    assert second.returncode == 0, second.stderr
    assert "facts extracted for 2 stored articles (4 facts)" in second.stdout
    assert "facts extracted for 0 stored articles" in again.stdout
    with sqlite3.connect(tmp_path / "cli.db") as connection:
        facts = connection.execute("SELECT kind, count(*) FROM facts GROUP BY kind").fetchall()
        sources = connection.execute("SELECT count(*) FROM fact_sources").fetchone()[0]
    assert sorted(facts) == [("agreement", 1), ("figure", 1)]
    assert sources == 4
