"""What the local-model tier's tests share (a module name of its own: `conftest` is ambiguous when
several test folders are collected together)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPECS = Path(__file__).resolve().parent / "specs"
CliRunner = Callable[..., subprocess.CompletedProcess[str]]
