"""The servers some tests need (PostgreSQL, Redis): their URL from the environment, which
`.ci/run` sets; without it the test is skipped, except in CI, where it fails."""

from __future__ import annotations

import os

import pytest


def required_url(variable: str, service: str, script: str) -> str:
    url = os.environ.get(variable)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{variable} is not set in CI: .ci/run starts {service}")
        pytest.skip(f"needs {service}: set {variable} (bash {script} prints one)")
    return url
