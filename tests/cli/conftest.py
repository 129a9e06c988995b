import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "codemods"))

from fake_registry import ENTRIES  # noqa: E402


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch):
    """CLI tests run against the small fixed registry of tests/codemods."""
    from ringlib_legacy import registry

    monkeypatch.setattr(registry, "LEGACY_NAMES", ENTRIES)
    return ENTRIES
