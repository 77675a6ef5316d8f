from __future__ import annotations

import io
import logging
from collections.abc import Sequence

import pytest
from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.methods import SetMyCommands, SetMyDescription, SetMyShortDescription
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo

from bot.app import create_bot, setup_bot_commands
from core.catalogs import missing_translations, po_path, read_catalog
from core.i18n import LANGUAGES, gettext_for, normalize_language
from core.settings import Settings
from delivery.labels import digest_labels
from testing.telegram import MockedSession, calls


def test_bot_defaults_to_html_without_link_previews(settings: Settings) -> None:
    bot = create_bot(settings.model_copy(update={"telegram_api_url": "http://127.0.0.1:9"}))
    assert bot.default.parse_mode == ParseMode.HTML
    assert bot.default.link_preview is not None and bot.default.link_preview.is_disabled
    assert bot.session.api.base.startswith("http://127.0.0.1:9/bot")


async def test_command_menus_in_russian_and_english(
    bot: Bot, mocked_session: MockedSession
) -> None:
    await setup_bot_commands(bot, admin_ids=[777])
    menus = calls(mocked_session.log, SetMyCommands)
    by_language = {menu.language_code: menu for menu in menus if menu.scope.type == "default"}
    assert set(by_language) == {None, "ru", "en"}
    russian = {c.command: c.description for c in by_language["ru"].commands}
    english = {c.command: c.description for c in by_language["en"].commands}
    assert russian["agreements"] == "Соглашения со страной"
    assert english["agreements"] == "Agreements with a country"
    assert by_language[None].commands == by_language["ru"].commands
    assert "feeds" not in russian
    (admin_menu,) = [menu for menu in menus if menu.scope.type == "chat"]
    assert "feeds" in {c.command for c in admin_menu.commands}
    assert len(calls(mocked_session.log, SetMyDescription)) == 2
    assert len(calls(mocked_session.log, SetMyShortDescription)) == 2


async def test_a_failing_startup_call_is_logged_not_raised(
    bot: Bot, mocked_session: MockedSession, caplog: pytest.LogCaptureFixture
) -> None:
    mocked_session.fail(SetMyCommands, 500, "Internal Server Error", times=10)
    mocked_session.fail(SetMyDescription, 400, "Bad Request: description is too long")
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        await setup_bot_commands(bot)
    assert any("command menu" in record.getMessage() for record in caplog.records)
    assert any("description" in record.getMessage() for record in caplog.records)
    assert len(calls(mocked_session.log, SetMyShortDescription)) == 2


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogs_are_complete(language: str) -> None:
    assert missing_translations(language) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogs_are_up_to_date(language: str) -> None:
    # Compared message by message: the header names the Babel version that compiled it.
    fresh = io.BytesIO()
    write_mo(fresh, read_catalog(language), use_fuzzy=False)
    fresh.seek(0)
    with po_path(language).with_suffix(".mo").open("rb") as committed:
        assert _translations(read_mo(committed)) == _translations(read_mo(fresh))


def _translations(catalog: Catalog) -> dict[tuple[str | None, str], tuple[str, ...]]:
    def flat(text: str | Sequence[str] | None) -> tuple[str, ...]:
        if text is None:
            return ()
        return (text,) if isinstance(text, str) else tuple(text)

    return {
        (message.context, flat(message.id)[0]): flat(message.string)
        for message in catalog
        if message.id
    }


def test_language_from_telegram_codes() -> None:
    assert normalize_language("en") == "en"
    assert normalize_language("en-GB") == "en"
    assert normalize_language("ru") == "ru"
    assert normalize_language("uk") == "ru"
    assert normalize_language(None) == "ru"


def test_digest_labels() -> None:
    russian, english = digest_labels("ru"), digest_labels("en")
    assert russian.country_names["UZ"] == "🇺🇿 Узбекистан"
    assert english.country_names["UZ"] == "🇺🇿 Uzbekistan"
    assert russian.topic_names["agreements"] == "Соглашения"
    assert russian.digest_title.format(date="21 ноября") == "Дайджест за 21 ноября"
    assert russian.more.format(n=3) == "ещё 3" and english.more.format(n=3) == "3 more"
    assert russian.also == "также"
    assert russian.month_names[4] == "мая" and english.month_names[4] == "May"
    assert gettext_for("en-US")("Digest for {date}") == "Digest for {date}"


async def test_descriptions_are_translated(bot: Bot, mocked_session: MockedSession) -> None:
    await setup_bot_commands(bot)
    descriptions = {
        call.language_code: call.description for call in calls(mocked_session.log, SetMyDescription)
    }
    assert descriptions[None].startswith("Ежедневные дайджесты региональной прессы")
    assert descriptions["en"].startswith("Daily digests of the regional press")
