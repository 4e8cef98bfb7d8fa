"""The registry of node kinds is the runtime's set of kinds, each entry complete, and the package
says what is public (`__all__`)."""

from __future__ import annotations

import typing

import factory.language as language
from factory.language import NODE_KIND_SPECS, spec_json_schema
from graphs.plan import NODE_KINDS


def test_the_registry_has_exactly_the_runtimes_kinds() -> None:
    assert tuple(NODE_KIND_SPECS) == NODE_KINDS


def test_each_entry_is_the_model_of_its_kind() -> None:
    for kind, entry in NODE_KIND_SPECS.items():
        assert entry.kind == kind
        assert typing.get_args(entry.model.model_fields["kind"].annotation) == (kind,)


def test_exactly_the_kinds_that_call_a_model_take_a_script() -> None:
    scripted = {kind for kind, entry in NODE_KIND_SPECS.items() if entry.script is not None}
    assert scripted == {"reply", "agent", "extract", "classify"}
    assert {k for k, e in NODE_KIND_SPECS.items() if e.user_facing} == {"reply", "agent", "interrupt"}


def test_the_schema_offers_every_kind() -> None:
    defs = spec_json_schema()["$defs"]
    kinds = {d["properties"]["kind"]["const"] for d in defs.values() if "kind" in d.get("properties", {})}
    assert kinds == set(NODE_KINDS)


def test_all_names_what_the_package_exports() -> None:
    public = {name for name in vars(language) if name.isidentifier() and not name.startswith("_")}
    modules = {"loader", "models", "conversation_checks", "graph_checks"}
    assert set(language.__all__) == public - modules
    for name in language.__all__:
        assert getattr(language, name) is not None
