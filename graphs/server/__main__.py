"""`python -m graphs.server --plan plan.json --base-dir DIR --host H --port P [--test-mode] [--model M] [--workers N]`.

The image's entrypoint and the local runner: a plan (JSON, written by `factory build`) in, uvicorn out.
`--port 0` picks a free port; the line `serving NAME on http://HOST:PORT` (stderr) says which.
Exit codes: 2 for a setting to fix, 4 when the checkpointer, the broker or the port fails (see `preflight`).
`--workers N` (or `$FACTORY_WORKERS`, the image's way) runs N processes on the port (`runner`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "worker_app"]


def worker_app(plan_file: str, base_dir: str, checkpointer: str | None, model: str | None, test_mode: bool) -> Any:
    """What each worker process serves (`graphs.server.runner.AppRecipe`)."""
    from graphs.server import create_app

    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    return create_app(plan, base_dir=base_dir, checkpointer=checkpointer, model_override=model, test_mode=test_mode)


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
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes on the port (default: $FACTORY_WORKERS, else serve.workers)")
    args = parser.parse_args(argv)

    from graphs.models import model_override_from_env
    from graphs.server import create_app
    from graphs.server.auth import AuthConfigError
    from graphs.server.preflight import StartupError, bind, check_agent, check_broker, check_checkpointer, url_of
    from graphs.server.runner import AppRecipe, choose_workers, run_server, run_workers

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
    state = app.state.factory
    try:
        workers = choose_workers(args.workers, state.serve["workers"], checkpointer_url=state.checkpointer_url)
        check_checkpointer(state.checkpointer_url, base_dir)
        check_broker(state.broker_url)
        check_agent(plan, base_dir, model_override=model)
        sock = bind(args.host, args.port)
    except ValueError as exc:  # $FACTORY_WORKERS, or workers on `memory`
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"error: {exc.message}\n  hint: {exc.hint}", file=sys.stderr)
        return 2 if exc.usage else 4
    print(f"serving {plan['name']} on {url_of(sock)}" + (f" ({workers} workers)" if workers > 1 else ""),
          file=sys.stderr, flush=True)
    options = {"log_level": args.log_level, **state.limits.uvicorn_options()}
    if workers > 1:
        recipe = AppRecipe("graphs.server.__main__:worker_app", {
            "plan_file": str(args.plan.resolve()), "base_dir": str(Path(base_dir).resolve()),
            "checkpointer": args.checkpointer, "model": model, "test_mode": args.test_mode})
        return run_workers(recipe, sock, workers=workers, grace_s=float(state.serve["grace_s"]),
                           uvicorn_options=options)
    return 0 if run_server(app, sock, **options) else 4


if __name__ == "__main__":
    sys.exit(main())
