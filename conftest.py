"""Root conftest: keep test runs hermetic."""

import os

import pytest


@pytest.fixture(autouse=True)
def _no_target_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's SQLASSETS_TARGET must not leak into tests.
    monkeypatch.delenv("SQLASSETS_TARGET", raising=False)


os.environ.setdefault("TZ", "UTC")
