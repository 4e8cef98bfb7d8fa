"""The JSON Schema of the spec language, with every field's docstring as its description.

Pydantic can read attribute docstrings itself (`use_attribute_docstrings`), but it then reads and
parses the source of every model at import time, which `factory validate` pays for on every cold
start. The docstrings only matter to the schema, so we read them here, once, when the schema is
asked for.
"""

from __future__ import annotations

import ast
import inspect
from typing import Any

from factory.language import _conversations, models

__all__ = ["spec_json_schema"]

SCHEMA_ID = "https://meta-agent-factory.dev/spec-1.schema.json"


def _attribute_docs() -> dict[str, dict[str, str]]:
    """Class name -> field name -> the docstring written under the field (in every module that
    defines models of the spec)."""
    trees = [ast.parse(inspect.getsource(module)) for module in (models, _conversations)]
    docs: dict[str, dict[str, str]] = {}
    for cls in (n for tree in trees for n in tree.body if isinstance(n, ast.ClassDef)):
        fields: dict[str, str] = {}
        for stmt, nxt in zip(cls.body, cls.body[1:], strict=False):
            if (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)
                    and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                    and isinstance(nxt.value.value, str)):
                fields[stmt.target.id] = inspect.cleandoc(nxt.value.value)
        docs[cls.name] = fields
    return docs


def _inherited(cls: type, docs: dict[str, dict[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        merged.update(docs.get(base.__name__, {}))
    return merged


def _describe(schema: dict[str, Any], cls: type[models._Model], docs: dict[str, dict[str, str]]) -> None:
    own = _inherited(cls, docs)
    props = schema.get("properties", {})
    for name, info in cls.model_fields.items():
        key = info.alias or name
        if key in props and name in own and "description" not in props[key]:
            props[key]["description"] = own[name]


def spec_json_schema() -> dict[str, Any]:
    """The Spec's JSON Schema (draft 2020-12), as `factory schema` prints it."""
    schema = models.Spec.model_json_schema(by_alias=True, mode="validation")
    docs = _attribute_docs()
    classes = {obj.__name__: obj for obj in vars(models).values()
               if isinstance(obj, type) and issubclass(obj, models._Model)}
    _describe(schema, models.Spec, docs)
    for name, sub in schema.get("$defs", {}).items():
        if name in classes:
            _describe(sub, classes[name], docs)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    return schema
