"""`factory mock-llm`: run the fake model in the foreground for manual runs and other processes.

Plain arguments (no typer here) so the lead's CLI module owns option parsing and help text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from ._app import create_app
from ._script import ScriptError, load_script
from ._server import bind_socket, url_host

__all__ = ["mock_llm_command"]


def mock_llm_command(script: Path | None, host: str = "127.0.0.1", port: int = 8900) -> None:
    """Serve an OpenAI-compatible fake model until interrupted; exits 2 on a bad script."""
    try:
        loaded = load_script(script)
    except ScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        print(f"error: mock-llm cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    base_url = f"http://{url_host(host)}:{sock.getsockname()[1]}/v1"
    source = str(script) if script is not None else "built-in default"
    print(f"mock-llm: serving {base_url} (script: {source}; {len(loaded.queue)} queued, "
          f"{len(loaded.rules)} rules). Ctrl-C stops.", flush=True)
    print(f"  export OPENAI_BASE_URL={base_url} OPENAI_API_KEY=mock", flush=True)
    root = base_url.removesuffix("/v1")
    print(f"  inspect: GET {root}/_mock/requests   reset: POST {root}/_mock/reset", flush=True)
    config = uvicorn.Config(create_app(loaded), log_level="info", lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
