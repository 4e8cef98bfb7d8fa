"""The base of every model of the spec language: unknown keys are errors, aliases or names accepted."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["_Model"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
