"""Paths and checks the build tests share (imported by name: tests/ is not a package)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SALES_SPEC = ROOT / "specs" / "sales_discovery.yaml"
LOCAL_BASE = "factory-base:bookworm"
