"""`factory init DIR`: scaffold an agent repository (a spec with conversations, and its CI)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from factory.cli._output import out_console
from factory.errors import ExitCode, UserError
from factory.language import LANGUAGE_DOCS

GITIGNORE = """\
# what `factory run`, `chat`, `serve` and `test` write: thread checkpoints (SQLite) and run data
.factory/
*.sqlite
*.sqlite-*
"""


def _template(name: str) -> str:
    return resources.files("factory.scaffold").joinpath(name).read_text("utf-8")


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the agent repository.")],
    name: Annotated[str | None, typer.Option("--name", help="Agent name (a DNS label).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Create a new agent repository: specs/agent.yaml, .github/workflows/agent-ci.yml and a .gitignore."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    from factory.cli.schema import spec_json_schema

    agent = name or re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-") or "agent"
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", agent):
        raise UserError(f"invalid agent name {agent!r}", hint="use a lowercase DNS label, e.g. --name my-agent")
    files = {
        directory / "specs" / "agent.yaml":
            SandboxedEnvironment(undefined=StrictUndefined).from_string(_template("agent.yaml")).render(name=agent),
        directory / "specs" / "spec.schema.json": json.dumps(spec_json_schema(), indent=2, sort_keys=True),
        directory / ".github" / "workflows" / "agent-ci.yml": _template("agent-ci.yml"),
        directory / ".gitignore": GITIGNORE,
    }
    existing = [str(p) for p in files if p.exists()]
    if existing and not force:
        raise UserError(f"these files exist already: {existing}", hint="pass --force to overwrite them")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text if text.endswith("\n") else text + "\n", "utf-8")
        out_console.print(f"[green]wrote[/] {path}")
    out_console.print(f"next: factory test {directory / 'specs' / 'agent.yaml'} --model scripted")
    out_console.print(f"the spec language (every key, node kind and expression): {LANGUAGE_DOCS} of Meta-Agent Factory")
    raise typer.Exit(ExitCode.OK)


def register(app: typer.Typer) -> None:
    app.command()(init)
