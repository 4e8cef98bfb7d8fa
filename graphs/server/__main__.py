"""`python -m graphs.server --plan plan.json --base-dir DIR --host H --port P [--test-mode] [--model M]`.

The image's entrypoint and the local runner: a plan (JSON, written by `factory build`) in, uvicorn out.
`--port 0` picks a free port; the line `serving NAME on http://HOST:PORT` (stderr) says which.
Exit codes: 2 for a setting to fix, 4 when the checkpointer or the port fails (see `preflight`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphs.server", description=__doc__)
    parser.add_argument("--plan", required=True, type=Path, help="plan.json written by `factory build`")
    parser.add_argument("--base-dir", type=Path, default=None, help="the spec's folder (python tools, SQLite files)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--test-mode", action="store_true", help="accept `script`/`mocks` in requests")
    parser.add_argument("--model", default=None, help="replace every model: `scripted`, `local` or `openai:MODEL`")
    parser.add_argument("--checkpointer", default=None, help="memory, sqlite:///file or postgres://...")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    import uvicorn

    from graphs.models import model_override_from_env
    from graphs.server import create_app
    from graphs.server.auth import AuthConfigError
    from graphs.server.preflight import StartupError, bind, check_agent, check_checkpointer, url_of

    try:
        plan = json.loads(args.plan.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the plan {args.plan}: {exc}", file=sys.stderr)
        return 2
    base_dir = args.base_dir or args.plan.parent
    model = args.model or model_override_from_env()
    try:
        app = create_app(plan, base_dir=base_dir, checkpointer=args.checkpointer, model_override=model,
                         test_mode=args.test_mode)
    except AuthConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # a checkpointer URL outside the grammar
        print(f"error: {exc}\n  hint: --checkpointer, $FACTORY_CHECKPOINTER or serve.checkpointer", file=sys.stderr)
        return 2
    try:
        check_checkpointer(app.state.factory.checkpointer_url, base_dir)
        check_agent(plan, base_dir, model_override=model)
        sock = bind(args.host, args.port)
    except StartupError as exc:
        print(f"error: {exc.message}\n  hint: {exc.hint}", file=sys.stderr)
        return 2 if exc.usage else 4
    print(f"serving {plan['name']} on {url_of(sock)}", file=sys.stderr, flush=True)
    limits = app.state.factory.limits
    server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, **limits.uvicorn_options()))
    server.run(sockets=[sock])
    return 0 if server.started else 4


if __name__ == "__main__":
    sys.exit(main())
