"""Online checks of a spec's MCP servers (`factory validate --online`): start each server, list its
tools, and check the names the spec uses (`mcp: server/tool`, a server's `tools:` allowlist)
against them. Problems are `SpecIssue`s at their line:column, like the offline checks'.

Only the `--online` flag runs these: offline validation never starts a process or opens a socket.
The servers run exactly as the agent would run them (`graphs.mcp`): stdio in the spec's folder with
only the variables `env` names, HTTP with the headers from their variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from factory.errors import SpecIssue
from factory.language._context import one_of, suggest
from factory.language.loader import LoadedSpec
from graphs.mcp import McpError, McpServers
from graphs.plan import McpServerPlan

__all__ = ["OnlineReport", "check_mcp_servers"]


@dataclass
class OnlineReport:
    """What the online checks found: every problem, and each server's tools (`spec file -> server ->
    tool names`) for the ones that answered."""

    issues: list[SpecIssue] = field(default_factory=list)
    tools: dict[str, dict[str, list[str]]] = field(default_factory=dict)


async def check_mcp_servers(loaded: LoadedSpec) -> OnlineReport:
    """Start the MCP servers of `loaded` (and of its sub-specs), one spec at a time, and check names."""
    report = OnlineReport()
    for spec in _with_children(loaded):
        await _check(spec, report)
    return report


def _with_children(loaded: LoadedSpec) -> list[LoadedSpec]:
    found = [loaded]
    for child in loaded.children.values():
        found += [spec for spec in _with_children(child) if spec.path not in {s.path for s in found}]
    return found


def _server_plan(loaded: LoadedSpec, name: str) -> McpServerPlan:
    from factory.compiler import mcp_server_plan  # the compiler reads the language: import it late

    return mcp_server_plan(loaded.spec.mcp_servers[name])


async def _check(loaded: LoadedSpec, report: OnlineReport) -> None:
    spec, source = loaded.spec, loaded.source

    def add(path: tuple[str | int, ...], message: str, fix: str, *, key: bool = False) -> None:
        pos = source.at(path, key=key)
        report.issues.append(SpecIssue(source.file, pos.line, pos.column, message, fix=fix))

    if not spec.mcp_servers:
        return
    servers = McpServers({name: _server_plan(loaded, name) for name in spec.mcp_servers}, folder=loaded.folder)
    listed: dict[str, list[str]] = {}
    try:
        for name, server in spec.mcp_servers.items():
            try:
                listed[name] = sorted(await servers.tools(name))
            except McpError as exc:
                how = (f"check that `{server.command} {' '.join(server.args)}` starts in {loaded.folder} with only "
                       "the variables `env` names" if server.command is not None
                       else f"check that {server.url} is up and its header variables are set")
                add(("mcp_servers", name), f"{exc}", how, key=True)
                continue
            for index, tool in enumerate(server.tools or []):
                if tool not in listed[name]:
                    add(("mcp_servers", name, "tools", index), _missing(name, tool, listed[name]),
                        _fix(tool, listed[name], f"remove it from mcp_servers.{name}.tools"))
    finally:
        await servers.close()
    report.tools[source.file] = listed
    for tool_name, spec_tool in spec.tools.items():
        if spec_tool.mcp is None:
            continue
        server_name, _, remote = spec_tool.mcp.partition("/")
        if server_name in listed and remote not in listed[server_name]:
            names = listed[server_name]
            add(("tools", tool_name, "mcp"), f"tool {tool_name!r}: {_missing(server_name, remote, names)}",
                _fix(remote, names, f"name one of its tools: `mcp: {server_name}/<tool>`"))


def _missing(server: str, tool: str, listed: list[str]) -> str:
    return f"MCP server {server!r} lists no tool {tool!r} (it lists {', '.join(listed) or 'no tools'})"


def _fix(tool: str, listed: list[str], otherwise: str) -> str:
    close = suggest(tool, listed)
    return f"did you mean {close!r}?" if close else otherwise + one_of(listed)
