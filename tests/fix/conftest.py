"""Fixtures of the fix-loop tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from fix_helpers import make_faulty_spec


@pytest.fixture
def faulty_spec(tmp_path: Path) -> Path:
    """A copy of the sales agent whose budget route has a typo in its condition."""
    return make_faulty_spec(tmp_path)
