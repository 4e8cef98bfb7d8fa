"""Fixtures of the `factory test` runner tests (helpers live in `spec_test_helpers`, a unique module name)."""

from __future__ import annotations

from pathlib import Path

import pytest
from spec_test_helpers import write_mini


@pytest.fixture
def mini(tmp_path: Path) -> Path:
    return write_mini(tmp_path)
