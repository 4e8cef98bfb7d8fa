"""Cross-reference checks of a shaped, resolved spec: identifiers, slots, models, prompts, tools,
MCP servers, nodes (through the registry of kinds), edges, secrets, serve and fix settings, and
the test conversations. Pure: they read the spec and what was resolved, and report; none stops
the others."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from factory.errors import SpecIssue
from factory.language._context import Checker, one_of, suggest
from factory.language._expressions import template
from factory.language._kinds import spec_of
from factory.language._resolve import Resolved
from factory.language._shape import Shaped
from factory.language._yaml import Path, SourceMap
from factory.language.conversation_checks import check_tests
from factory.language.graph_checks import check_edges
from factory.language.models import ID_RE
from graphs.plan import SCALAR_TYPES, parse_slot_type

__all__ = ["check_spec"]

_SECRET = re.compile(
    r"\b(sk-[A-Za-z0-9_\-]{16,}|sk-ant-[A-Za-z0-9_\-]{16,}|ghp_[A-Za-z0-9]{20,}|xox[bp]-[A-Za-z0-9-]{10,})"
)
_RESERVED_IDS = {"start", "end"}
_DUNDER = re.compile(r"^__.*__$")
"""LangGraph reserves `__start__`, `__end__` (and keeps the `__x__` form for itself)."""
_AUTH_SCHEME = re.compile(r"^(?:(bearer|token|bot|apikey)\s+[\w.~+/=-]{16,}|basic\s+[A-Za-z0-9+/=]{8,})$", re.I)
_SECRET_HEADER = re.compile(r"(api[-_]?key|token|secret|auth|password|passwd|credential|session)", re.I)
_TOKEN = re.compile(r"^[\w.~+/=:-]{16,}$")
_URL_PASSWORD = re.compile(r"^[A-Za-z][\w+.-]*://[^/@\s{}]*:[^/@\s{}]+@")
_CHECKPOINTER = re.compile(r"^(memory|sqlite:///.+|postgres(ql)?://.+)$")
_BROKER = re.compile(r"^rediss?://[^\s/?#]+(/\d*)?$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_TOOL_FORMS = ("python", "http", "returns", "mcp")


def _json(value: Any) -> str:
    """A value as the user would write it (`true`, `"yes"`), shortened."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _fits(kind: str, value: Any) -> bool:
    """Whether `value` is of slot type `kind`, strictly (`true` is not a number; `1.0` is not an integer)."""
    parsed = parse_slot_type(kind)
    if parsed.is_list:
        return isinstance(value, list) and all(_fits(parsed.item, v) for v in value)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    return isinstance(value, {"integer": int, "number": int | float, "string": str, "object": dict}[kind])


_TYPE_WORDS = {"string": "text", "integer": "whole-number", "number": "number", "boolean": "`true`/`false`",
               "object": "mapping"}
_EXAMPLES = {"string": '""', "integer": "0", "number": "0.0", "boolean": "false", "object": "{}",
             **{f"list[{t}]": "[]" for t in SCALAR_TYPES}}


def _ids(c: Checker) -> None:
    for slot in c.spec.state:
        if not re.match(ID_RE, slot) or slot == "messages":
            c.add(("state", slot), f"invalid slot name {slot!r}", key=True,
                  fix="use letters, digits and `_` (not `messages`, which always exists)")
    for node_id in c.nodes.all():
        if _DUNDER.match(node_id):
            c.add(("nodes", node_id), f"invalid node id {node_id!r}: LangGraph reserves `__name__` ids", key=True,
                  fix=f"rename it, e.g. `{node_id.strip('_') or 'node'}`")
        elif not re.match(ID_RE, node_id) or node_id in _RESERVED_IDS:
            c.add(("nodes", node_id), f"invalid node id {node_id!r}", key=True,
                  fix="use letters, digits and `_`; `start` and `end` are reserved")
    for name in c.spec.mcp_servers:
        if not _SERVER_NAME.match(name):
            c.add(("mcp_servers", name), f"invalid MCP server name {name!r}", key=True,
                  fix="use letters, digits, `_` and `-` (tools name it as `mcp: <server>/<tool>`)")


def _state(c: Checker) -> None:
    """Slots are typed at validation: reducer, default and enum must fit the slot's `type`."""
    for name, slot in c.spec.state.items():
        path: Path = ("state", name)
        parsed = parse_slot_type(slot.type)
        item = parsed.item if parsed.is_list else None
        if slot.reducer == "append" and item is None:
            c.add((*path, "reducer"), f"slot {name!r}: `reducer: append` needs a list, but its type is {slot.type!r}",
                  key=True, fix="set `type: list[string]` (or another list type), or use `reducer: replace`")
        elif slot.reducer == "merge" and slot.type != "object":
            c.add((*path, "reducer"), f"slot {name!r}: `reducer: merge` needs an object, but its type is "
                                      f"{slot.type!r}", key=True,
                  fix="use `reducer: append` for a list" if item is not None
                  else "set `type: object`, or use `reducer: replace`")
        enum_ok = True
        if slot.enum is not None:
            bad = [v for v in slot.enum if not _fits(parsed.item, v)]
            if bad:
                enum_ok = False
                c.add((*path, "enum"), f"slot {name!r}: enum values {_json(bad)} do not match type {parsed.item!r}",
                      key=True, fix=f"write {_TYPE_WORDS[parsed.item]} values, or change `type:`"
                                    + (" (quote text that looks like a number or `true`)"
                                       if parsed.item == "string" else ""))
        if "default" not in slot.model_fields_set or slot.default is None:
            continue
        if not _fits(slot.type, slot.default):
            quote = " (quote text that looks like a number or `true`)" if slot.type == "string" else ""
            c.add((*path, "default"), f"slot {name!r}: default {_json(slot.default)} does not match type "
                                      f"{slot.type!r}", key=True,
                  fix=f"write a `{slot.type}` default, e.g. `default: {_EXAMPLES[slot.type]}`{quote}, or remove it")
        elif slot.enum is not None and enum_ok:
            values = slot.default if item is not None else [slot.default]
            outside = [v for v in values if v not in slot.enum]
            if outside:
                c.add((*path, "default"), f"slot {name!r}: default {_json(slot.default)} is not in its enum "
                                          f"{_json(slot.enum)}", key=True,
                      fix=f"use one of {_json(slot.enum)}, or add {_json(outside[0])} to the enum")


def _models(c: Checker) -> None:
    for alias, model in c.spec.models.items():
        if model.history is not None:
            c.history(("models", alias, "history"), model.history)


def _prompts(c: Checker) -> None:
    for name, text in c.resolved.prompts.items():
        file = c.resolved.prompt_files.get(name)
        template(c, ("prompts", name, "file") if file else ("prompts", name), text, file=file)


def _tools(c: Checker) -> None:
    for name, tool in c.spec.tools.items():
        forms = [f for f in _TOOL_FORMS if f in tool.model_fields_set]
        if len(forms) != 1:
            c.add(("tools", name), f"tool {name!r} needs exactly one of `python`, `http`, `returns`, `mcp` "
                                   f"(has {forms})", key=True, fix="keep one form")
        if tool.python is not None:
            c.function_ref(("tools", name, "python"), tool.python)
        if tool.mcp is not None:
            _mcp_tool(c, ("tools", name, "mcp"), tool.mcp)
        if tool.parameters is not None and tool.parameters.get("type", "object") != "object":
            c.add(("tools", name, "parameters"), "tool parameters must be an object schema",
                  fix="use `parameters: {type: object, properties: {...}}`")


def _mcp_tool(c: Checker, path: Path, ref: str) -> None:
    server_name, _, tool = ref.partition("/")
    if server_name not in c.servers:
        close = suggest(server_name, c.servers.all())
        c.add(path, f"unknown MCP server {server_name!r} in {ref!r}", fix=f"did you mean {close!r}?" if close else
              f"define it under `mcp_servers:`{one_of(c.servers.all())}")
        return
    server = c.spec.mcp_servers.get(server_name)
    if server is not None and server.tools is not None and tool not in server.tools:
        close = suggest(tool, server.tools)
        c.add(path, f"MCP server {server_name!r} allows no tool {tool!r} (its `tools:` are {server.tools})",
              fix=f"did you mean {close!r}?" if close else f"add {tool!r} to mcp_servers.{server_name}.tools")


def _mcp_servers(c: Checker) -> None:
    for name, server in c.spec.mcp_servers.items():
        path: Path = ("mcp_servers", name)
        given = server.model_fields_set
        if (server.command is None) == (server.url is None):
            c.add(path, f"MCP server {name!r} needs exactly one transport: `command` (stdio) or `url` (HTTP)",
                  key=True, fix="keep `command:` (with `args`, `env`) or `url:` (with `headers`)")
        for key in ("args", "env") if server.url is not None else ():
            if key in given:
                c.add((*path, key), f"`{key}` belongs to a stdio server (`command`), not to one at a `url`", key=True,
                      fix=f"remove `{key}`")
        if server.command is not None and "headers" in given:
            c.add((*path, "headers"), "`headers` belongs to an HTTP server (`url`), not to a `command`",
                  key=True, fix="remove `headers`; pass variables to a stdio server with `env: [NAME]`")
        for i, variable in enumerate(server.env):
            if not _ENV_NAME.match(variable):
                name = variable.partition("=")[0].strip()
                c.add((*path, "env", i), f"`env` lists the NAMES of variables passed through, got {variable!r}",
                      fix=f"write only the name (`{name}`) and set the variable in the environment"
                      if _ENV_NAME.match(name) else "write a variable's name, e.g. `GITHUB_TOKEN`")
        for header, variable in server.headers.items():
            if not _ENV_NAME.match(variable):
                c.add((*path, "headers", header), f"header {header!r} must name an environment variable, "
                                                      f"got {variable!r}", fix="write the variable's name")
        if server.url is not None and not re.match(r"^https?://\S+$", server.url):
            c.add((*path, "url"), f"MCP server url {server.url!r} is not an http(s) URL",
                  fix="write `https://host/mcp` (streamable HTTP)")


def _nodes(c: Checker) -> None:
    for node_id, node in c.spec.nodes.items():
        spec_of(node).check(c, ("nodes", node_id), node)


def _literal_secret_header(header: str, value: str) -> bool:
    """`Authorization: Bearer <token>`, `Basic <base64>`, `X-API-Key: <token>`: not a template, a secret."""
    text = value.strip()
    if "{{" in text or "{%" in text:
        return False
    return bool(_AUTH_SCHEME.match(text)) or bool(_SECRET_HEADER.search(header) and _TOKEN.match(text))


def _strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def _url_password(c: Checker, path: Path, url: str, what: str, fix: str) -> bool:
    if _URL_PASSWORD.match(url):
        c.add(path, f"the url of {what} holds a password", fix=fix)
        return True
    return False


def _file_path(c: Checker, path: Path) -> Path:
    """A path into the shaped spec -> the same place in the file (edges and tests may have been left out)."""
    if len(path) >= 2 and path[0] in ("edges", "tests") and isinstance(path[1], int):
        at = c.shaped.edge_at if path[0] == "edges" else c.shaped.test_at
        return (path[0], at[path[1]], *path[2:])
    return path


def _secrets(c: Checker) -> None:
    reported: set[Path] = set()
    for name, tool in c.spec.tools.items():
        if tool.http is None:
            continue
        for header, value in tool.http.headers.items():
            if _literal_secret_header(header, value):
                path: Path = ("tools", name, "http", "headers", header)
                reported.add(path)
                variable = re.sub(r"[^A-Z0-9]+", "_", f"{name}_{header}".upper()).strip("_")
                c.add(path, f"a literal secret is written in the spec: header {header!r} of tool {name!r}",
                      fix=f"move it to `headers_env: {{{header}: {variable}}}` and set {variable} to the "
                          "header's value at run time")
        if _url_password(c, ("tools", name, "http", "url"), tool.http.url, f"tool {name!r}",
                         "drop `user:password@` and send an `Authorization` header through `headers_env`"):
            reported.add(("tools", name, "http", "url"))
    for name, server in c.spec.mcp_servers.items():
        if server.url is not None and _url_password(c, ("mcp_servers", name, "url"), server.url,
                                                    f"MCP server {name!r}", "drop `user:password@` and send the "
                                                    "credential as a header through `headers_env`"):
            reported.add(("mcp_servers", name, "url"))
    for shaped_path, value in _strings(c.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)):
        path = _file_path(c, shaped_path)
        if path not in reported and _SECRET.search(value):
            c.add(path, "a literal secret is written in the spec",
                  fix="set it in an environment variable the server reads, and list that variable's name under "
                      "`env:` (nothing else is passed through)" if path[:1] == ("mcp_servers",) else
                  "put it in an environment variable and name the variable (`api_key_env: OPENAI_API_KEY`)")


def _serve(c: Checker) -> None:
    serve = c.spec.serve
    if not _CHECKPOINTER.match(serve.checkpointer):
        c.add(("serve", "checkpointer"), f"unknown checkpointer {serve.checkpointer!r}",
              fix="use `memory`, `sqlite:///threads.sqlite` or `postgres://host/db`")
    elif re.match(r"^postgres(ql)?://[^/@]*:[^/@]+@", serve.checkpointer):
        c.add(("serve", "checkpointer"), "the checkpointer URL holds a password",
              fix="drop the password here and set `FACTORY_CHECKPOINTER` (or PGPASSWORD) at run time")
    if serve.broker is not None:
        if _URL_PASSWORD.match(serve.broker):
            c.add(("serve", "broker"), "the broker URL holds a password",
                  fix="drop `user:password@` from the spec and give the full URL at run time, in the environment")
        elif not _BROKER.match(serve.broker):
            c.add(("serve", "broker"), f"the broker must be a Redis URL, got {serve.broker!r}",
                  fix="write `redis://host:6379/0` (or `rediss://` for TLS)")


def _fix_settings(c: Checker) -> None:
    if "fix" in c.spec.model_fields_set and c.spec.fix.model is not None:
        c.model_ref(("fix",), c.spec.fix.model, what="fix")
    for i, pointer in enumerate(c.spec.fix.editable):
        if not pointer.startswith("/"):
            c.add(("fix", "editable", i), f"editable path {pointer!r} is not a JSON Pointer",
                  fix="start it with `/`, e.g. `/prompts/*`")


def _presence(c: Checker) -> None:
    if not c.nodes.all() and not c.nodes.unknowable:
        c.add(("nodes",), "the spec has no nodes", key=True,
              fix="add one, e.g. `nodes: {answer: {kind: reply, prompt: \"Answer the user.\"}}`")
    if not c.spec.edges and "edges" not in c.shaped.unusable and not c.shaped.broken.get("edges"):
        c.add(("edges",), "the spec has no edges", key=True,
              fix="add `edges: [{from: start, to: <first node>}, {from: <last node>, to: end}]`")


def check_spec(shaped: Shaped, resolved: Resolved, source: SourceMap) -> list[SpecIssue]:
    """Every cross-reference problem of a shaped spec; a pure function of its arguments."""
    c = Checker(shaped, resolved, source)
    _presence(c)
    _ids(c)
    _state(c)
    _models(c)
    _prompts(c)
    _tools(c)
    _mcp_servers(c)
    _nodes(c)
    check_edges(c)
    _secrets(c)
    _serve(c)
    _fix_settings(c)
    check_tests(c)
    return c.issues
