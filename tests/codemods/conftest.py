import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fake_registry import ENTRIES  # noqa: E402

from ringlib_codemods.index import LegacyIndex  # noqa: E402


@pytest.fixture(scope="session")
def fake_index() -> LegacyIndex:
    return LegacyIndex.load(ENTRIES)
