"""Cross-reference checks of a spec that parsed: references, graph shape, CEL, Jinja, streaming,
secrets, paths and test conversations. Each check appends `SpecIssue`s; none stops the others."""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any

from factory.errors import SpecError, SpecIssue
from factory.language import models as m
from factory.language._yaml import Path
from factory.language.graph_checks import check_graph
from graphs.expressions import CelError, check_cel
from graphs.templates import TemplateError, names_used

if TYPE_CHECKING:
    from factory.language.loader import LoadedSpec

__all__ = ["check_spec"]

_SECRET = re.compile(
    r"\b(sk-[A-Za-z0-9_\-]{16,}|sk-ant-[A-Za-z0-9_\-]{16,}|ghp_[A-Za-z0-9]{20,}|xox[bp]-[A-Za-z0-9-]{10,})"
)
_PROMPT_REF = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_RESERVED_IDS = {"start", "end"}
_DUNDER = re.compile(r"^__.*__$")
"""LangGraph reserves `__start__`, `__end__` (and keeps the `__x__` form for itself)."""
_STATE_REF = re.compile(r"\bstate\.([A-Za-z_]\w*)")
_AUTH_SCHEME = re.compile(r"^(?:(bearer|token|bot|apikey)\s+[\w.~+/=-]{16,}|basic\s+[A-Za-z0-9+/=]{8,})$", re.I)
_SECRET_HEADER = re.compile(r"(api[-_]?key|token|secret|auth|password|passwd|credential|session)", re.I)
_TOKEN = re.compile(r"^[\w.~+/=:-]{16,}$")
_URL_PASSWORD = re.compile(r"^[A-Za-z][\w+.-]*://[^/@\s{}]*:[^/@\s{}]+@")
_CHECKPOINTER = re.compile(r"^(memory|sqlite:///.+|postgres(ql)?://.+)$")


class _Checker:
    def __init__(self, loaded: LoadedSpec, load_child: Callable[[FsPath], LoadedSpec],
                 stack: tuple[FsPath, ...]) -> None:
        self.loaded, self.spec, self.src = loaded, loaded.spec, loaded.source
        self.load_child, self.stack = load_child, stack
        self.issues: list[SpecIssue] = []
        self.slots = set(self.spec.state)
        self.template_names = self.slots | {"messages", "prompts", "tools", "state"}

    def add(self, path: Path, message: str, *, fix: str | None = None, key: bool = False,
            node: str | None = None, file: str | None = None, line: int | None = None,
            column: int | None = None) -> None:
        pos = self.src.at(path, key=key)
        if node is None and len(path) >= 2 and path[0] == "nodes":
            node = str(path[1])
        self.issues.append(SpecIssue(file or self.src.file, line or pos.line, column or pos.column,
                                     message, node=node, fix=fix))

    # ------------------------------------------------------------ identifiers, models, prompts

    def ids(self) -> None:
        for slot in self.spec.state:
            if not re.match(m.ID_RE, slot) or slot == "messages":
                self.add(("state", slot), f"invalid slot name {slot!r}", key=True,
                         fix="use letters, digits and `_` (not `messages`, which always exists)")
        for node_id in self.spec.nodes:
            if _DUNDER.match(node_id):
                self.add(("nodes", node_id), f"invalid node id {node_id!r}: LangGraph reserves `__name__` ids",
                         key=True, fix=f"rename it, e.g. `{node_id.strip('_') or 'node'}`")
            elif not re.match(m.ID_RE, node_id) or node_id in _RESERVED_IDS:
                self.add(("nodes", node_id), f"invalid node id {node_id!r}", key=True,
                         fix="use letters, digits and `_`; `start` and `end` are reserved")

    def state(self) -> None:
        """Slots are typed at validation: reducer, default and enum must fit the slot's `type`."""
        for name, slot in self.spec.state.items():
            path: Path = ("state", name)
            kind = slot.type
            item = kind[5:-1] if kind.startswith("list[") else None
            if slot.reducer == "append" and item is None:
                self.add((*path, "reducer"),
                         f"slot {name!r}: `reducer: append` needs a list, but its type is {kind!r}", key=True,
                         fix="set `type: list[string]` (or another list type), or use `reducer: replace`")
            elif slot.reducer == "merge" and kind != "object":
                self.add((*path, "reducer"),
                         f"slot {name!r}: `reducer: merge` needs an object, but its type is {kind!r}", key=True,
                         fix=("use `reducer: append` for a list" if item is not None
                              else "set `type: object`, or use `reducer: replace`"))
            enum_ok = True
            if slot.enum is not None:
                wanted = item or kind
                bad = [v for v in slot.enum if not _fits(wanted, v)]
                if bad:
                    enum_ok = False
                    self.add((*path, "enum"), f"slot {name!r}: enum values {_json(bad)} do not match type {wanted!r}",
                             key=True, fix=f"write {_TYPE_WORDS[wanted]} values, or change `type:`"
                                           + (" (quote text that looks like a number or `true`)"
                                              if wanted == "string" else ""))
            if "default" not in slot.model_fields_set or slot.default is None:
                continue
            if not _fits(kind, slot.default):
                quote = " (quote text that looks like a number or `true`)" if kind == "string" else ""
                self.add((*path, "default"),
                         f"slot {name!r}: default {_json(slot.default)} does not match type {kind!r}", key=True,
                         fix=f"write a `{kind}` default, e.g. `default: {_EXAMPLES[kind]}`{quote}, or remove it")
            elif slot.enum is not None and enum_ok:
                values = slot.default if item is not None else [slot.default]
                outside = [v for v in values if v not in slot.enum]
                if outside:
                    self.add((*path, "default"),
                             f"slot {name!r}: default {_json(slot.default)} is not in its enum {_json(slot.enum)}",
                             key=True, fix=f"use one of {_json(slot.enum)}, or add {_json(outside[0])} to the enum")

    def model_ref(self, path: Path, alias: str | None, *, what: str) -> str | None:
        name = alias or self.spec.default_model
        if name is None:
            if len(self.spec.models) == 1:
                return next(iter(self.spec.models))
            self.add(path, f"{what} names no model and the spec has no `default_model`",
                     fix="add `default_model: <alias>` at the top level")
            return None
        if name not in self.spec.models:
            where = (*path, "model") if alias else ("default_model",)
            self.add(where, f"unknown model {name!r}", fix=f"define it under `models:`{_or_one_of(self.spec.models)}")
            return None
        return name

    def prompts(self) -> None:
        for name, value in self.spec.prompts.items():
            if isinstance(value, m.PromptFile):
                text = self.read_inside(("prompts", name, "file"), value.file, what="prompt file")
                if text is not None:
                    self.loaded.prompts[name] = text
                    self.template(("prompts", name, "file"), text, file=value.file)
            else:
                self.loaded.prompts[name] = value
                self.template(("prompts", name), value)

    def read_inside(self, path: Path, relative: str, *, what: str) -> str | None:
        folder = self.loaded.folder
        target = (folder / relative).resolve()
        if FsPath(relative).is_absolute() or not target.is_relative_to(folder):
            self.add(path, f"{what} {relative!r} resolves outside the spec's folder",
                     fix="keep it inside the spec's folder and use a relative path")
            return None
        try:
            return target.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.add(path, f"cannot read {what} {relative!r}: {getattr(exc, 'strerror', None) or exc}",
                     fix="check the path (relative to the spec's folder)")
            return None

    def template(self, path: Path, text: str, *, file: str | None = None, extra: frozenset[str] = frozenset()) -> None:
        try:
            used = names_used(text)
        except TemplateError as exc:
            self.template_issue(path, text, f"template syntax error: {exc.message}", exc.line, 1, file,
                                fix="fix the Jinja syntax (`{{ slot }}`, `{% if slot %}...{% endif %}`)")
            return
        for name in sorted(used - self.template_names - extra):
            line, column = _name_position(text, name)
            self.template_issue(path, text, f"the template uses {name!r}, which the state does not have",
                                line, column, file,
                                fix=f"add `{name}` under `state:`{_or_one_of(self.slots)}")

    def template_issue(self, path: Path, text: str, message: str, line: int, column: int, file: str | None, *,
                       fix: str) -> None:
        if file is not None:
            shown = str(FsPath(self.src.file).parent / file)
            self.add(path, message, fix=fix, file=shown, line=line, column=column)
        else:
            pos = self.src.locate(path, text, line, column)
            self.add(path, message, fix=fix, line=pos.line, column=pos.column)

    def prompt_ref(self, path: Path, prompt: str) -> None:
        if _PROMPT_REF.match(prompt):
            if prompt not in self.spec.prompts:
                import difflib

                close = difflib.get_close_matches(prompt, list(self.spec.prompts), n=1)
                hint = f"did you mean {close[0]!r}? Otherwise add" if close else "add"
                self.add(path, f"unknown prompt {prompt!r} (a one-word prompt is read as the name of a "
                               "`prompts:` entry)",
                         fix=f"{hint} `{prompt}: <text>` under `prompts:`, or write the prompt as a sentence "
                             f"(more words or punctuation, e.g. `{prompt}.`)")
        else:
            self.template(path, prompt)

    # ------------------------------------------------------------ CEL

    def cel(self, path: Path, expression: str, *, allowed: frozenset[str] = frozenset({"state"}),
            slots: set[str] | None = None, what: str = "") -> None:
        slots = self.slots if slots is None else slots
        try:
            unknown_vars = check_cel(expression, allowed=allowed)
        except CelError as exc:
            pos = self.src.locate(path, expression, exc.line, exc.column)
            self.add(path, f"CEL syntax error in {expression!r}: {exc.message.split(chr(10))[0]}",
                     fix="fix the expression (CEL: `state.slot == \"x\" && size(state.items) > 0`)",
                     line=pos.line, column=pos.column)
            return
        for name in unknown_vars:
            self.add(path, f"CEL expression {expression!r} reads {name!r}; only {sorted(allowed)} exist here",
                     fix=f"write `state.{name}`" if "state" in allowed else f"use one of {sorted(allowed)}")
        for found in _STATE_REF.finditer(expression):
            slot = found.group(1)
            if slot not in slots and slot != "messages":
                pos = self.src.locate(path, expression, *_line_col(expression, found.start(1)))
                self.add(path, f"CEL expression reads unknown slot {slot!r}{what}",
                         fix=f"add `{slot}` under `state:`{_or_one_of(slots)}",
                         line=pos.line, column=pos.column)

    def slot_ref(self, path: Path, slot: str, *, key: bool = False) -> None:
        if slot not in self.slots:
            self.add(path, f"unknown slot {slot!r}", key=key,
                     fix=f"add `{slot}:` under `state:`{_or_one_of(self.slots)}")

    def tool_ref(self, path: Path, tool: str) -> None:
        if tool not in self.spec.tools:
            self.add(path, f"unknown tool {tool!r}", fix=f"define it under `tools:`{_or_one_of(self.spec.tools)}")

    # ------------------------------------------------------------ nodes

    def nodes(self) -> None:
        for node_id, node in self.spec.nodes.items():
            path: Path = ("nodes", node_id)
            if isinstance(node, m.ReplyNode | m.AgentNode | m.ExtractNode | m.ClassifyNode):
                alias = self.model_ref(path, node.model, what=f"{node.kind} node")
                self.prompt_ref((*path, "prompt"), node.prompt)
                if node.kind in m.USER_FACING_KINDS and alias and not self.spec.models[alias].streaming:
                    self.add((*path, "model") if node.model else path, key=not node.model,
                             message=f"model {alias!r} has `streaming: false` but {node.kind} nodes speak to the user",
                             fix=f"set `streaming: true` on models.{alias}, or use another model")
            if isinstance(node, m.ReplyNode | m.AgentNode | m.InterruptNode) and not node.stream:
                self.add((*path, "stream"), f"{node.kind} node turns streaming off; its words reach the user",
                         fix="remove `stream: false` (every user-facing node streams)")
            if isinstance(node, m.AgentNode):
                for i, tool in enumerate(node.tools):
                    self.tool_ref((*path, "tools", i), tool)
            elif isinstance(node, m.ExtractNode):
                for i, slot in enumerate(node.into):
                    self.slot_ref((*path, "into", i), slot)
            elif isinstance(node, m.ClassifyNode):
                self.slot_ref((*path, "into"), node.into)
                enum = self.spec.state[node.into].enum if node.into in self.spec.state else None
                for label in node.labels:
                    if enum is not None and label not in enum:
                        self.add((*path, "labels", label),
                                 f"label {label!r} is not in slot {node.into!r}'s enum {enum}",
                                 key=True, fix=f"add {label!r} to state.{node.into}.enum")
            elif isinstance(node, m.ToolNode):
                self.tool_ref((*path, "tool"), node.tool)
                for arg, expr in node.args.items():
                    self.cel((*path, "args", arg), expr)
                if node.into:
                    self.slot_ref((*path, "into"), node.into)
            elif isinstance(node, m.SetNode):
                for slot, expr in node.values.items():
                    self.slot_ref((*path, "values", slot), slot, key=True)
                    self.cel((*path, "values", slot), expr)
            elif isinstance(node, m.InterruptNode):
                self.template((*path, "message"), node.message)
                self.slot_ref((*path, "into"), node.into)
            elif isinstance(node, m.SubgraphNode):
                self.subgraph(path, node_id, node)
            elif isinstance(node, m.PythonNode):
                self.python_ref((*path, "function"), node.function)

    def python_ref(self, path: Path, ref: str) -> None:
        """`module:function` must name a module file inside the spec's folder: a spec runs its own
        code only, never an arbitrary installed module (`subprocess:getoutput`)."""
        from graphs.spec_code import module_source

        module = ref.partition(":")[0]
        source = module_source(self.loaded.folder, module)
        if source is None:
            self.add(path, f"python module {module!r} of {ref!r} is not a file inside the spec's folder",
                     fix=f"put {module.split('.')[-1]}.py next to the spec "
                         "(a spec may only run code from its own folder)")
            return
        function = ref.partition(":")[2]
        try:
            names = _top_level_names(source.read_text("utf-8"))
        except SyntaxError as exc:
            self.add(path, f"{source.name} does not parse: {exc.msg}", file=str(source), line=exc.lineno or 1,
                     column=exc.offset or 1, fix="fix the Python syntax")
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.add(path, f"cannot read {source.name}: {exc}", fix="save it as UTF-8 text")
            return
        if function not in names:
            self.add(path, f"module {module!r} ({source.name}) defines no {function!r}",
                     fix=f"define `def {function}(...)` in {source.name}, or use one of {sorted(names)[:8]}")

    def subgraph(self, path: Path, node_id: str, node: m.SubgraphNode) -> None:
        folder = self.loaded.folder
        target = (folder / node.spec).resolve()
        if FsPath(node.spec).is_absolute() or not target.is_relative_to(folder):
            self.add((*path, "spec"), f"subgraph spec {node.spec!r} resolves outside the spec's folder",
                     fix="keep sub-specs inside the spec's folder")
            return
        if target in self.stack:
            self.add((*path, "spec"), f"subgraph spec {node.spec!r} includes itself (a cycle of specs)",
                     fix="a spec cannot contain itself")
            return
        try:
            child = self.load_child(target)
        except SpecError as exc:
            self.issues.extend(exc.issues)
            self.add((*path, "spec"), f"subgraph spec {node.spec!r} is invalid (see its errors)",
                     fix=f"fix the problems reported in {node.spec}, or check it with `factory validate {node.spec}`")
            return
        self.loaded.children[node_id] = child
        for slot, expr in node.input.items():
            if slot not in child.spec.state:
                self.add((*path, "input", slot), f"the subgraph has no slot {slot!r}", key=True,
                         fix=f"use one of {sorted(child.spec.state)}")
            self.cel((*path, "input", slot), expr)
        for slot, expr in node.output.items():
            self.slot_ref((*path, "output", slot), slot, key=True)
            self.cel((*path, "output", slot), expr, slots=set(child.spec.state), what=" (of the subgraph)")

    # ------------------------------------------------------------ the rest

    def tools(self) -> None:
        for name, tool in self.spec.tools.items():
            forms = [f for f in ("python", "http", "returns") if f in tool.model_fields_set]
            if len(forms) != 1:
                self.add(("tools", name),
                         f"tool {name!r} needs exactly one of `python`, `http`, `returns` (has {forms})",
                         key=True, fix="keep one form")
            if tool.python is not None:
                self.python_ref(("tools", name, "python"), tool.python)
            if tool.parameters is not None and tool.parameters.get("type", "object") != "object":
                self.add(("tools", name, "parameters"), "tool parameters must be an object schema",
                         fix="use `parameters: {type: object, properties: {...}}`")

    def edges(self) -> None:
        ids = set(self.spec.nodes)
        for i, edge in enumerate(self.spec.edges):
            if edge.from_ != "start" and edge.from_ not in ids:
                self.add(("edges", i, "from"), f"edge from unknown node {edge.from_!r}",
                         fix=f"use `start` or one of {sorted(ids)}")
            if edge.to != "end" and edge.to not in ids:
                self.add(("edges", i, "to"), f"edge to unknown node {edge.to!r}",
                         fix=f"use `end` or one of {sorted(ids)}")
            if edge.when is not None:
                self.cel(("edges", i, "when"), edge.when)
        for issue in check_graph(self.spec):
            self.add(issue.path, issue.message, fix=issue.fix, key=issue.key)

    def secrets(self) -> None:
        reported: set[Path] = set()
        for name, tool in self.spec.tools.items():
            if tool.http is None:
                continue
            for header, value in tool.http.headers.items():
                if _literal_secret_header(header, value):
                    path: Path = ("tools", name, "http", "headers", header)
                    reported.add(path)
                    variable = re.sub(r"[^A-Z0-9]+", "_", f"{name}_{header}".upper()).strip("_")
                    self.add(path, f"a literal secret is written in the spec: header {header!r} of tool {name!r}",
                             fix=f"move it to `headers_env: {{{header}: {variable}}}` and set {variable} to the "
                                 "header's value at run time")
            if _URL_PASSWORD.match(tool.http.url):
                reported.add(("tools", name, "http", "url"))
                self.add(("tools", name, "http", "url"), f"the url of tool {name!r} holds a password",
                         fix="drop `user:password@` and send an `Authorization` header through `headers_env`")
        for path, value in _strings(self.raw_data()):
            if path not in reported and _SECRET.search(value):
                self.add(path, "a literal secret is written in the spec",
                         fix="put it in an environment variable and name the variable (`api_key_env: OPENAI_API_KEY`)")
        cp = self.spec.serve.checkpointer
        if not _CHECKPOINTER.match(cp):
            self.add(("serve", "checkpointer"), f"unknown checkpointer {cp!r}",
                     fix="use `memory`, `sqlite:///threads.sqlite` or `postgres://host/db`")
        elif re.match(r"^postgres(ql)?://[^/@]*:[^/@]+@", cp):
            self.add(("serve", "checkpointer"), "the checkpointer URL holds a password",
                     fix="drop the password here and set `FACTORY_CHECKPOINTER` (or PGPASSWORD) at run time")

    def raw_data(self) -> Any:
        return self.spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)

    def fix_settings(self) -> None:
        if "fix" in self.spec.model_fields_set and self.spec.fix.model is not None:
            self.model_ref(("fix",), self.spec.fix.model, what="fix")
        for i, pointer in enumerate(self.spec.fix.editable):
            if not pointer.startswith("/"):
                self.add(("fix", "editable", i), f"editable path {pointer!r} is not a JSON Pointer",
                         fix="start it with `/`, e.g. `/prompts/*`")


_TYPE_WORDS = {"string": "text", "integer": "whole-number", "number": "number", "boolean": "`true`/`false`",
               "object": "mapping"}
_EXAMPLES = {
    "string": '""', "integer": "0", "number": "0.0", "boolean": "false", "object": "{}",
    **{f"list[{t}]": "[]" for t in ("string", "integer", "number", "boolean", "object")},
}


def _literal_secret_header(header: str, value: str) -> bool:
    """`Authorization: Bearer <token>`, `Basic <base64>`, `X-API-Key: <token>`: not a template, a secret."""
    text = value.strip()
    if "{{" in text or "{%" in text:
        return False
    return bool(_AUTH_SCHEME.match(text)) or bool(_SECRET_HEADER.search(header) and _TOKEN.match(text))


def _json(value: Any) -> str:
    """A value as the user would write it (`true`, `"yes"`), shortened."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _fits(kind: str, value: Any) -> bool:
    """Whether `value` is of slot type `kind` (`true` is not a number; `1.0` is not an integer)."""
    if kind.startswith("list["):
        return isinstance(value, list) and all(_fits(kind[5:-1], v) for v in value)
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    if kind == "string":
        return isinstance(value, str)
    return isinstance(value, dict)


def _or_one_of(names: Any) -> str:
    return f" or use one of {sorted(names)}" if names else ""


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _name_position(template: str, name: str) -> tuple[int, int]:
    """Line and column (1-based, in the template) where `name` is first read."""
    from jinja2 import Environment, nodes

    try:
        tree = Environment().parse(template)
    except Exception:  # noqa: BLE001 - the sandboxed parse already succeeded; be safe anyway
        return 1, 1
    lines = [n.lineno for n in tree.find_all(nodes.Name) if n.name == name and n.ctx == "load"]
    line = min(lines) if lines else 1
    text = template.split("\n")[line - 1] if line - 1 < len(template.split("\n")) else ""
    first = None
    for found in re.finditer(rf"\b{re.escape(name)}\b", text):
        before = text[: found.start()]
        if before.count("{{") + before.count("{%") > before.count("}}") + before.count("%}"):
            return line, found.start() + 1
        first = first if first is not None else found.start() + 1
    return line, first or 1


def _top_level_names(source: str) -> set[str]:
    """Names a module defines at its top level (read, never imported: validation runs no user code)."""
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _strings(item, (*path, i))


def check_spec(loaded: LoadedSpec, *, load_child: Callable[[FsPath], LoadedSpec],
               stack: tuple[FsPath, ...]) -> list[SpecIssue]:
    """Every cross-reference problem of a spec whose shape is already valid."""
    from factory.language.conversation_checks import check_tests

    checker = _Checker(loaded, load_child, stack)
    checker.ids()
    checker.state()
    checker.prompts()
    checker.tools()
    checker.nodes()
    checker.edges()
    checker.secrets()
    checker.fix_settings()
    check_tests(checker)
    return checker.issues
