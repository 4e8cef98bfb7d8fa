"""Property tests: whatever text or bytes reach the loader, it returns or raises `SpecError`.

Never another exception (a traceback for the user), never a hang (hypothesis' deadline).
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factory.errors import SpecError
from factory.language._yaml import load_yaml
from factory.language.loader import load_spec

FUZZ = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])

_PIECES = [
    "spec", "name", "nodes", "edges", "kind", "reply", "prompt", "from", "to", "when", "state", "start", "end",
    "models", "tests", "script", "turns", "user", "expect", ":", ": ", "- ", "-", "\n", "\n  ", "\n    ", "  ",
    "\t", "'", '"', "{", "}", "[", "]", ",", "&a ", "*a", "&b ", "*b", "<<: ", "!!str ", "!x ", "? ", "|", ">-",
    "#", "---", "...", "%YAML 1.2", "1", "0x1F", "1:30", "._", "~", "null", "true", "no", "é", "\u2028", "🙂",
    "\x00", "\x07", "\ufeff", "\\", "{{ topic }}", "{% if %}", "state.x ==", "sk-abcdefghijklmnopqrstuv",
]

yamlish = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=5)), max_size=60).map("".join)


def _write_and_load(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_bytes(data)
        try:
            load_spec(path)
        except SpecError as exc:
            assert exc.issues
            for issue in exc.issues:
                assert issue.line >= 0 and issue.column >= 0
                assert issue.message


@FUZZ
@given(yamlish)
def test_yamlish_text_through_load_yaml(text: str) -> None:
    data, source, issues = load_yaml(text, "fuzz.yaml")
    assert (data is None) == bool(issues)
    if data is not None:
        assert isinstance(data, dict)


@FUZZ
@given(yamlish)
def test_yamlish_text_through_load_spec(text: str) -> None:
    _write_and_load(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.binary(max_size=400))
def test_arbitrary_bytes(data: bytes) -> None:
    load_yaml(data, "fuzz.yaml")
    _write_and_load(data)


# ---------------------------------------------------------------- structurally valid-ish specs

_ids = st.sampled_from(["greet", "ask", "route", "done", "start", "end", "Bad-Id", "x"])
_slots = st.sampled_from(["topic", "count", "items", "messages", "nope"])
_exprs = st.sampled_from([
    'state.topic == "x"', "state.count > 1", "state.nope", "size(state.items) > 0", "state.topic ==", "true",
    "reply", "1 +", 'state["topic"]',
])
_templates = st.sampled_from(
    ["Hi {{ topic }}", "{{ nope }}", "{{ topic ", "plain text", "hello", "{% for x in items %}"])
_scalar: Any = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8), _exprs)


def _node() -> st.SearchStrategy[dict[str, Any]]:
    llm = {"prompt": _templates, "model": st.sampled_from(["main", "other", None])}
    return st.one_of(
        st.fixed_dictionaries({"kind": st.just("reply"), **llm}, optional={"stream": st.booleans()}),
        st.fixed_dictionaries({"kind": st.just("agent"), **llm},
                              optional={"tools": st.lists(st.sampled_from(["lookup", "nope"]), max_size=2)}),
        st.fixed_dictionaries({"kind": st.just("extract"), **llm, "into": st.lists(_slots, max_size=2)}),
        st.fixed_dictionaries({"kind": st.just("classify"), **llm, "into": _slots,
                               "labels": st.dictionaries(st.sampled_from(["a", "b", "c"]), st.text(max_size=3))}),
        st.fixed_dictionaries({"kind": st.just("tool"), "tool": st.sampled_from(["lookup", "nope"])},
                              optional={"args": st.dictionaries(st.sampled_from(["q", "n"]), _exprs), "into": _slots}),
        st.fixed_dictionaries({"kind": st.just("set"), "values": st.dictionaries(_slots, _exprs, max_size=2)}),
        st.fixed_dictionaries({"kind": st.just("interrupt"), "message": _templates, "into": _slots}),
        st.fixed_dictionaries({"kind": st.just("python"), "function": st.sampled_from(["m:f", "bad"])}),
        st.fixed_dictionaries({"kind": st.sampled_from(["replay", "subgraph"])}),
        _scalar,
    )


_edge = st.fixed_dictionaries({"from": _ids, "to": _ids}, optional={"when": _exprs})
_expect = st.dictionaries(st.sampled_from(["contains", "visited", "state", "assert", "tool_called", "contain"]),
                          st.one_of(_scalar, st.lists(_ids, max_size=2), st.dictionaries(_slots, _scalar, max_size=1),
                                    st.fixed_dictionaries({"name": st.sampled_from(["lookup", "nope"])})),
                          min_size=1, max_size=2)
_test = st.fixed_dictionaries(
    {"name": st.sampled_from(["t1", "t2"]), "turns": st.lists(
        st.fixed_dictionaries({"user": st.text(max_size=5)}, optional={"expect": st.lists(_expect, max_size=2)}),
        max_size=2)},
    optional={"script": st.dictionaries(_ids, st.lists(_scalar, max_size=2), max_size=2),
              "mocks": st.dictionaries(st.sampled_from(["lookup", "nope"]), _scalar, max_size=1)},
)

specs = st.fixed_dictionaries(
    {"name": st.sampled_from(["demo", "Demo", "a" * 70]),
     "nodes": st.dictionaries(_ids, _node(), max_size=4),
     "edges": st.lists(_edge, max_size=5)},
    optional={
        "spec": st.sampled_from([1, 2, "1"]),
        "models": st.dictionaries(st.sampled_from(["main", "judge"]), st.fixed_dictionaries(
            {"provider": st.sampled_from(["scripted", "openai", "x"])},
            optional={"streaming": st.booleans(), "api_key": st.just("sk-abcdefghijklmnopqrstuv"),
                      "temperature": _scalar})),
        "default_model": st.sampled_from(["main", "nope"]),
        "state": st.dictionaries(_slots, st.fixed_dictionaries(
            {}, optional={"type": st.sampled_from(["string", "integer", "list[string]", "str"]),
                          "enum": st.lists(st.sampled_from(["a", "b"]), max_size=2)}), max_size=3),
        "prompts": st.dictionaries(st.sampled_from(["hello", "greet"]), st.one_of(
            _templates, st.fixed_dictionaries({"file": st.sampled_from(["../x.md", "/etc/hostname", "p.md"])}),
            _scalar)),
        "tools": st.dictionaries(st.sampled_from(["lookup"]), st.fixed_dictionaries(
            {"description": st.just("d")}, optional={"returns": _scalar, "python": st.sampled_from(["m:f", "x"])})),
        "tests": st.lists(_test, max_size=2),
        "serve": st.fixed_dictionaries({}, optional={"checkpointer": st.sampled_from(["memory", "redis://x"])}),
    },
)


# Mostly valid shapes, so that most examples pass pydantic and exercise the cross-reference checks.
_good_ids = st.sampled_from(["greet", "ask", "route", "done"])
_good_slots = st.sampled_from(["topic", "count", "items", "topic", "nope"])
_good_llm = {"prompt": _templates, "model": st.sampled_from(["main", "main", "judge", "other"])}
_good_node = st.one_of(
    st.fixed_dictionaries({"kind": st.just("reply"), **_good_llm}, optional={"stream": st.booleans()}),
    st.fixed_dictionaries({"kind": st.just("agent"), **_good_llm},
                          optional={"tools": st.lists(st.sampled_from(["lookup", "nope"]), max_size=2)}),
    st.fixed_dictionaries({"kind": st.just("extract"), **_good_llm,
                           "into": st.lists(_good_slots, min_size=1, max_size=2)}),
    st.fixed_dictionaries({"kind": st.just("classify"), **_good_llm, "into": _good_slots,
                           "labels": st.fixed_dictionaries({"a": st.just("A"), "b": st.just("B")})}),
    st.fixed_dictionaries({"kind": st.just("tool"), "tool": st.sampled_from(["lookup", "nope"])},
                          optional={"args": st.dictionaries(st.sampled_from(["q", "n"]), _exprs), "into": _good_slots}),
    st.fixed_dictionaries({"kind": st.just("set"),
                           "values": st.dictionaries(_good_slots, _exprs, min_size=1, max_size=2)}),
    st.fixed_dictionaries({"kind": st.just("interrupt"), "message": _templates, "into": _good_slots}),
)
_good_expect = st.one_of(
    st.fixed_dictionaries({"contains": st.text(max_size=4)}),
    st.fixed_dictionaries({"visited": st.lists(_ids, max_size=2)}),
    st.fixed_dictionaries({"state": st.dictionaries(_slots, st.text(max_size=3), max_size=2)}),
    st.fixed_dictionaries({"assert": _exprs}),
    st.fixed_dictionaries({"tool_called": st.fixed_dictionaries({"name": st.sampled_from(["lookup", "nope"])})}),
)
_good_test = st.fixed_dictionaries(
    {"name": st.sampled_from(["t1", "t2", "t3"]), "turns": st.lists(
        st.fixed_dictionaries({"user": st.text(max_size=5)}, optional={"expect": st.lists(_good_expect, max_size=2)}),
        min_size=1, max_size=2)},
    optional={"script": st.dictionaries(_ids, st.lists(st.one_of(st.text(max_size=3), st.just({"topic": "x"}),
                                                                 st.sampled_from(["a", "b"])), max_size=2), max_size=2),
              "mocks": st.dictionaries(st.sampled_from(["lookup", "nope"]), _scalar, max_size=1)},
)
valid_ish_specs = st.fixed_dictionaries(
    {"spec": st.just(1), "name": st.just("demo"),
     "models": st.fixed_dictionaries({"main": st.fixed_dictionaries({"provider": st.just("scripted")},
                                                                   optional={"streaming": st.booleans()})},
                                     optional={"judge": st.just({"provider": "scripted"})}),
     "state": st.just({"topic": {"type": "string"}, "count": {"type": "integer", "default": 0},
                       "items": {"type": "list[string]", "reducer": "append"}}),
     "nodes": st.dictionaries(_good_ids, _good_node, min_size=1, max_size=4),
     "edges": st.lists(st.fixed_dictionaries({"from": _ids, "to": _ids}, optional={"when": _exprs}),
                       min_size=1, max_size=6)},
    optional={
        "default_model": st.sampled_from(["main", "nope"]),
        "prompts": st.dictionaries(st.sampled_from(["hello", "greet"]), _templates, max_size=2),
        "tools": st.just({"lookup": {"description": "d", "returns": {"ok": True}}}),
        "tests": st.lists(_good_test, max_size=2),
    },
)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_structured_specs(spec: dict[str, Any]) -> None:
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    _write_and_load(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(valid_ish_specs)
def test_valid_ish_specs_reach_the_checks(spec: dict[str, Any]) -> None:
    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    _write_and_load(text.encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------- what loads also compiles

_COMPILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_slot_types = ["string", "integer", "number", "boolean", "object", "list[string]", "list[integer]", "list[object]"]
_slot_names = st.sampled_from(["topic", "count", "items", "mood", "start_", "end_", "route", "x", "_y"])
_node_ids = st.sampled_from(["greet", "route", "topic", "ask", "x", "_y", "Start", "END", "node_1", "branch",
                             "messages", "__end__", "__x"])
_when = st.sampled_from(["true", "state.x == \"a\"", "!(state.x == \"a\")", "state.count > 1", "size(state.items) > 0",
                         "state.mood == \"a\"", "state.mood == 'b'", "state.topic != null"])


@st.composite
def _slot(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(_slot_types))
    slot: dict[str, Any] = {"type": kind}
    if kind.startswith("list[") and draw(st.booleans()):
        slot["reducer"] = "append"
    if kind == "object" and draw(st.booleans()):
        slot["reducer"] = "merge"
    if kind == "string" and draw(st.booleans()):
        slot["enum"] = ["a", "b"]
        if draw(st.booleans()):
            slot["default"] = draw(st.sampled_from(["a", "b"]))
    elif draw(st.booleans()):
        slot["default"] = {"string": "s", "integer": 0, "number": 1.5, "boolean": False, "object": {"k": 1}}.get(
            kind, [])
    if draw(st.booleans()):
        slot["description"] = draw(st.text(max_size=8))
    return slot


@st.composite
def _loadable_spec(draw: Any) -> dict[str, Any]:
    state = draw(st.dictionaries(_slot_names, _slot(), max_size=5))
    slots = sorted(state) or ["topic"]
    state = state or {"topic": {"type": "string"}}
    slot = st.sampled_from(slots)
    text = st.sampled_from(["Hello there.", "Say {{ " + slots[0] + " }} please.", "Hi {{ messages | length }}.",
                            "{% if " + slots[0] + " %}yes{% endif %} ok"])
    expr = st.sampled_from([f"state.{slots[0]}", '"v"', "1", "size(state.messages)", "[1, 2]", "{'k': 1}"])
    node = st.one_of(
        st.fixed_dictionaries({"kind": st.just("reply"), "prompt": text}),
        st.fixed_dictionaries({"kind": st.just("agent"), "prompt": text},
                              optional={"tools": st.lists(st.sampled_from(["lookup", "web"]), max_size=2, unique=True),
                                        "max_steps": st.integers(1, 3)}),
        st.fixed_dictionaries({"kind": st.just("extract"), "prompt": text,
                               "into": st.lists(slot, min_size=1, max_size=2, unique=True)}),
        st.fixed_dictionaries({"kind": st.just("classify"), "prompt": text, "into": slot,
                               "labels": st.just({"a": "A", "b": "B"})}),
        st.fixed_dictionaries({"kind": st.just("tool"), "tool": st.sampled_from(["lookup", "web"])},
                              optional={"args": st.dictionaries(st.sampled_from(["q", "n"]), expr, max_size=2),
                                        "into": slot}),
        st.fixed_dictionaries({"kind": st.just("set"), "values": st.dictionaries(slot, expr, min_size=1, max_size=2)}),
        st.fixed_dictionaries({"kind": st.just("interrupt"), "message": text, "into": slot}),
    )
    nodes = draw(st.dictionaries(_node_ids, node, min_size=1, max_size=5))
    order = list(nodes)
    edges: list[dict[str, Any]] = [{"from": "start", "to": order[0]}]
    for i, node_id in enumerate(order):
        later = [*order[i + 1:], "end"]
        for target in draw(st.lists(st.sampled_from([*order, "end"]), max_size=2)):
            edges.append({"from": node_id, "to": target, "when": draw(_when)})
        edges.append({"from": node_id, "to": later[0]})
    return {
        "spec": 1, "name": draw(st.sampled_from(["demo", "a-b", "x1"])),
        "models": {"main": {"provider": "scripted"},
                   **draw(st.sampled_from([{}, {"hosted": {"provider": "openai", "model": "gpt-4o-mini"}}]))},
        "default_model": "main", "state": state,
        "tools": {"lookup": {"description": "d", "returns": {"ok": True}},
                  "web": {"description": "w", "http": {"url": "https://example.test/{{ q }}",
                                                       "headers": {"Accept": "application/json"}},
                          "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}},
        "nodes": nodes, "edges": edges,
    }


@_COMPILE
@given(_loadable_spec())
def test_what_loads_also_compiles(spec: dict[str, Any]) -> None:
    from factory.compiler import compile_plan
    from graphs.builder import build_graph
    from graphs.errors import AgentConfigError

    text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(text)
        try:
            loaded = load_spec(path)
        except SpecError:
            return
        plan = compile_plan(loaded)
        with contextlib.suppress(AgentConfigError):  # a user's problem, reported without a traceback
            build_graph(plan, base_dir=folder, model_override="scripted")
