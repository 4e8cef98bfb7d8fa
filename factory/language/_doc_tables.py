"""The generated tables of `docs/language.md`: every key of every part of a spec, and the node kinds,
rendered from the same JSON Schema `factory schema` prints (so the reference cannot drift from
the language). A generated section sits between `<!-- generated: NAME -->` and
`<!-- end generated -->`; everything else in the page is written by hand.

Regenerate: `python -m factory.language._doc_tables docs/language.md` (`--check` only compares).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from factory.language._kinds import KINDS
from factory.language._schema import spec_json_schema

__all__ = ["render_tables", "update_document"]

_SECTION = re.compile(r"(<!-- generated: (?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _bounds(prop: dict[str, Any]) -> str:
    marks = [(">", "exclusiveMinimum"), (">=", "minimum"), ("<", "exclusiveMaximum"), ("<=", "maximum")]
    return ", ".join(f"{sign} {prop[key]}" for sign, key in marks if key in prop)


def _type(prop: dict[str, Any]) -> str:
    """A property's type in words (`list of text`, `mapping of text to Slot`, `integer (> 0)`)."""
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " or ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    if "oneOf" in prop and "discriminator" in prop:
        return "a node (one of the kinds below)"
    for union in ("anyOf", "oneOf"):
        if union in prop:
            members = [_type(p) for p in prop[union] if p.get("type") != "null"]
            return " or ".join(members) if members else "null"
    kind = prop.get("type")
    if kind == "array":
        return f"list of {_type(prop.get('items', {}))}"
    if kind == "object":
        extra = prop.get("additionalProperties")
        return f"mapping of text to {_type(extra)}" if isinstance(extra, dict) else "mapping"
    words = {"string": "text", "integer": "integer", "number": "number", "boolean": "boolean", "null": "null"}
    if isinstance(kind, str):
        bounds = _bounds(prop)
        return words.get(kind, kind) + (f" ({bounds})" if bounds else "")
    return "any"


def _factory_defaults(model_name: str) -> dict[str, str]:
    """Key -> the default of fields whose default is built when used (`default_factory`), in words."""
    from pydantic import BaseModel

    from factory.language import models

    model = getattr(models, model_name, None)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return {}
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        if info.default_factory is not None:
            value = info.get_default(call_default_factory=True)
            out[info.alias or name] = "its own defaults" if isinstance(value, BaseModel) else \
                f"`{json.dumps(value)}`"
    return out


def _keys(model_name: str, part: dict[str, Any]) -> str:
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    required = set(part.get("required", []))
    built = _factory_defaults(model_name)
    for key, prop in part.get("properties", {}).items():
        default = "**required**" if key in required else (
            f"`{json.dumps(prop['default'])}`" if "default" in prop else built.get(key, ""))
        rows.append(f"| `{key}` | {_cell(_type(prop))} | {default} | {_cell(prop.get('description', ''))} |")
    return "\n".join(rows)


def _kinds(defs: dict[str, Any]) -> str:
    rows = ["| kind | does | keys besides `kind` | script entry in tests | streams to the user |",
            "| --- | --- | --- | --- | --- |"]
    for kind, entry in KINDS.items():
        part = defs[entry.model.__name__]
        keys = ", ".join(f"`{k}`" for k in part["properties"] if k != "kind")
        script = entry.script_fix if entry.script is not None else "none (it calls no model)"
        rows.append(f"| `{kind}` | {_cell(part.get('description', ''))} | {keys} | {_cell(script)} | "
                    f"{'yes' if entry.user_facing else 'no'} |")
    return "\n".join(rows)


def render_tables() -> dict[str, str]:
    """Section name -> its markdown: `keys-<Model>` for each part of a spec (`keys-Spec` for the top
    level), and `kinds` for the registry of node kinds."""
    schema = spec_json_schema()
    defs: dict[str, Any] = schema["$defs"]
    tables = {"keys-Spec": _keys("Spec", schema), "kinds": _kinds(defs)}
    tables.update({f"keys-{name}": _keys(name, part) for name, part in defs.items() if "properties" in part})
    return tables


def update_document(text: str) -> str:
    """`text` with every generated section rewritten. Raises `KeyError` for an unknown section name."""
    tables = render_tables()
    return _SECTION.sub(lambda found: f"{found.group(1)}{tables[found.group('name')]}\n{found.group(4)}", text)


def main(argv: list[str]) -> int:
    check = "--check" in argv
    paths = [Path(arg) for arg in argv if arg != "--check"] or [Path("docs/language.md")]
    stale = []
    for path in paths:
        text = path.read_text("utf-8")
        updated = update_document(text)
        if updated != text:
            stale.append(str(path))
            if not check:
                path.write_text(updated, "utf-8")
    if check and stale:
        print(f"stale generated tables in {', '.join(stale)}; run: python -m factory.language._doc_tables",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
