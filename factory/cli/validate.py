"""`factory validate SPEC...`: every problem of every spec, at once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer

from factory.cli._output import err_console, out_console, report_spec_error, spec_error_footer
from factory.errors import ExitCode, SpecError, SpecIssue
from factory.language.loader import LoadedSpec, load_spec


def validate(
    specs: Annotated[list[Path], typer.Argument(help="Spec files to check.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the problems as JSON.")] = False,
    online: Annotated[bool, typer.Option(
        "--online", help="Also start each MCP server of the spec, list its tools and check the names the spec "
                         "uses (offline validation never starts anything).")] = False,
) -> None:
    """Check specs: YAML, types, references, graph shape, CEL, templates, streaming, secrets, tests."""
    problems: list[SpecIssue] = []
    for path in specs:
        try:
            loaded = load_spec(path)
            note = _online(loaded) if online else ""
        except SpecError as exc:
            problems.extend(exc.issues)
            if not as_json:
                report_spec_error(exc, footer=False)
            continue
        if not as_json:
            spec = loaded.spec
            out_console.print(f"[green]ok[/] {path}: {spec.name} ({len(spec.nodes)} nodes, "
                              f"{len(spec.edges)} edges, {len(spec.tests)} conversations){note}")
    if as_json:
        out_console.print(json.dumps({"ok": not problems, "issues": [p.as_dict() for p in problems]}, indent=2),
                          markup=False, highlight=False, soft_wrap=True)
    elif problems:
        err_console.print(spec_error_footer(len(problems), len(specs)), soft_wrap=True)
    raise typer.Exit(ExitCode.SPEC_INVALID if problems else ExitCode.OK)


def _online(loaded: LoadedSpec) -> str:
    """Run the online checks; a note for the `ok` line, or `SpecError` with their problems."""
    from factory.language.mcp_checks import check_mcp_servers

    report = asyncio.run(check_mcp_servers(loaded))
    if report.issues:
        raise SpecError(report.issues)
    servers = [tools for listed in report.tools.values() for tools in listed.values()]
    if not servers:
        return "; online: no MCP servers"
    return f"; online: {len(servers)} MCP server{'s' if len(servers) != 1 else ''}, " \
           f"{sum(len(tools) for tools in servers)} tools listed"
