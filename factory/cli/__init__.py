"""The `factory` command line: one Typer app, one module per verb, exit codes from `ExitCode`."""

from __future__ import annotations

import sys

import typer

from factory.errors import ExitCode, SpecError, UserError
from graphs.errors import AgentConfigError

__all__ = ["app", "main"]

app = typer.Typer(
    name="factory",
    help="Meta-Agent Factory: YAML spec -> streaming, tested, containerised LangGraph agent.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from factory.cli import graph, run, schema, validate

    app.command()(validate.validate)
    app.command()(schema.schema)
    app.command()(graph.graph)
    app.command()(run.run)
    for module_name in ("test", "serve", "chat", "build", "fix", "mock_llm", "local_llm", "init"):
        try:
            module = __import__(f"factory.cli.{module_name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name == f"factory.cli.{module_name}":
                continue
            raise
        module.register(app)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user mistakes become a message and an exit code, never a traceback."""
    from factory.cli._output import fail

    try:
        app(args=argv, standalone_mode=True)
    except (SpecError, UserError) as exc:
        fail(exc)
    except AgentConfigError as exc:  # a spec's model key or code that cannot be loaded at build time
        fail(UserError(str(exc), hint="fix the spec's code or settings (`factory validate` checks the spec)",
                       exit_code=ExitCode.BUILD_FAILED))
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else ExitCode.USAGE)
        return int(code)
    return 0


if __name__ == "__main__":
    sys.exit(main())
