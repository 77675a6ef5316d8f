"""Start-up imports run without the cyclic collector, and what they made is frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from bot.heap import loading_modules


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    # The tests freeze this process's objects; the next test gets them back.
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_the_collector_is_off_while_loading_and_what_was_made_is_frozen() -> None:
    gc.enable()
    before = gc.get_freeze_count()
    with loading_modules():
        assert not gc.isenabled()
        made = [[index] for index in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(made)


def test_a_failed_import_turns_the_collector_back_on() -> None:
    gc.enable()
    with pytest.raises(ImportError), loading_modules():
        import a_module_that_does_not_exist  # type: ignore[import-not-found]  # noqa: F401
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with loading_modules():
        pass
    assert not gc.isenabled()
