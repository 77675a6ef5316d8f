from __future__ import annotations

import pytest

from tagging import Tagger


@pytest.fixture(scope="session")
def tagger() -> Tagger:
    instance = Tagger()
    instance.warm_up()
    return instance
