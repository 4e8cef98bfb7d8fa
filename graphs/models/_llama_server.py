"""The local model's server process: llama-cpp-python's OpenAI-compatible app on one GGUF file.

`python -m graphs.models._llama_server --model FILE --state FILE [--port P] [--idle-exit S]` binds
127.0.0.1 (port 0 picks a free one), writes the state file (`{pid, port, base_url, model}`) once it
accepts connections, removes it on the way out, and exits after `--idle-exit` seconds without a
request (how a server started in the background for `--model local` ends). SIGINT and SIGTERM stop
it cleanly. `graphs.models.local` starts and finds it; `factory local-llm` runs `serve` in the
foreground.

Settings differ from `python -m llama_cpp.server`'s defaults where those hurt us: our chat format
(`graphs.models._llama_chat`: never HTML-escaped), `interrupt_requests` off (by default a new request
cuts the stream another client is reading), a context of 8192 tokens, what SmolLM2 was trained on
(`$FACTORY_LOCAL_LLM_CTX`; `factory fix` sends its patcher about 9,600 tokens, 80% of them the spec
language's JSON Schema, so the local patcher's calls are refused as too long unless this is raised,
at ~24 KB of KV cache per token and minutes of prompt reading on a busy 2-core machine), one thread per two cores
(`$FACTORY_LOCAL_LLM_THREADS`: llama.cpp's OpenMP threads spin, and on a busy machine more threads
are slower, 2 tokens/s against 10 here with the test suite running), and no "extra buffer types"
(weight repacking and Intel AMX tiles: a pip build with `-march=native` on a VM whose CPU reports AMX
dies with SIGILL at the first token; the bundled Q4_1 model has no repacked layout anyway).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["HEALTH_PATH", "MODEL_ALIAS", "main", "serve"]

HEALTH_PATH = "/factory/health"
"""Answers at once even while the model generates (a health check must not wait behind a long reply)."""

MODEL_ALIAS = "local"
"""The model name the server answers to (any name is accepted; this one is listed at /v1/models)."""


def _write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state), "utf-8")
    tmp.replace(path)


def _remove_state(path: Path) -> None:
    """Remove the state file only when it is still ours (a newer server may have replaced it)."""
    try:
        if json.loads(path.read_text("utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _app(model: Path, n_ctx: int) -> Any:
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    from graphs.models import _llama_chat

    _llama_chat.register()
    _no_extra_buffer_types()
    threads = int(os.environ.get("FACTORY_LOCAL_LLM_THREADS") or max(1, (os.cpu_count() or 1) // 2))
    model_settings = ModelSettings(model=str(model), model_alias=MODEL_ALIAS, chat_format=_llama_chat.CHAT_FORMAT,
                                   n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, verbose=False)
    return create_app(server_settings=ServerSettings(interrupt_requests=False), model_settings=[model_settings])


def _no_extra_buffer_types() -> None:
    """Load models with `use_extra_bufts = False` (llama-cpp-python has no setting for it; see above)."""
    import llama_cpp.llama_cpp as low

    original = low.llama_model_default_params
    if getattr(original, "factory_patched", False):
        return

    def params() -> Any:
        found = original()
        found.use_extra_bufts = False
        return found

    params.factory_patched = True  # type: ignore[attr-defined]
    low.llama_model_default_params = params


async def _health(send: Any, model: Path) -> None:
    """Answered here, not by llama-cpp-python, whose every route waits for the model while it generates."""
    body = json.dumps({"pid": os.getpid(), "model": str(model)}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _normalized(receive: Any) -> Any:
    """The request body with what the OpenAI wire allows but llama-cpp-python's schema refuses made
    acceptable: an assistant message that only calls tools has `content: null` (OpenAI's own clients
    send it so), the schema wants a string; `max_completion_tokens` (what LangChain sends) is
    OpenAI's newer name of `max_tokens`, which is the only one llama-cpp-python reads."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return _replay([message], receive)
        body += message.get("body", b"")
        more = message.get("more_body", False)
    try:
        data = json.loads(body)
        if "max_completion_tokens" in data:
            data.setdefault("max_tokens", data.pop("max_completion_tokens"))
        for item in data.get("messages") or []:
            if isinstance(item, dict) and item.get("role") == "assistant" and item.get("content") is None:
                item["content"] = ""
        body = json.dumps(data).encode()
    except (ValueError, AttributeError):
        pass  # not JSON: let the server answer it
    return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _replay(messages: list[dict[str, Any]], then: Any) -> Any:
    """A `receive` that gives these messages first, then the connection's own (a disconnect, later)."""
    pending = list(messages)

    async def receive() -> Any:
        if pending:
            return pending.pop(0)
        return await then()

    return receive


def _default_ctx() -> int:
    return int(os.environ.get("FACTORY_LOCAL_LLM_CTX") or 8192)


def serve(model: Path, *, host: str = "127.0.0.1", port: int = 0, state: Path | None = None,
          idle_exit_s: float = 0, n_ctx: int | None = None, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or `idle_exit_s` without a request, when > 0)."""
    import uvicorn

    inner = _app(model, n_ctx or _default_ctx())
    last_request = [time.monotonic()]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        """Remember when the last request began and ended (a plain ASGI wrapper: streams pass as they are)."""
        if scope.get("type") == "http" and scope.get("path") == HEALTH_PATH:
            await _health(send, model)
            return
        last_request[0] = time.monotonic()
        if scope.get("type") == "http" and scope.get("path") == "/v1/chat/completions":
            receive = await _normalized(receive)
        try:
            await inner(scope, receive, send)
        finally:
            last_request[0] = time.monotonic()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    base_url = f"http://{host}:{sock.getsockname()[1]}/v1"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False,
                                           timeout_graceful_shutdown=3))

    def watch() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            if state is not None:
                _write_state(state, {"pid": os.getpid(), "port": sock.getsockname()[1], "base_url": base_url,
                                     "model": str(model), "started_at": time.time()})
            if on_ready is not None:
                on_ready(base_url)
        while idle_exit_s > 0 and not server.should_exit:
            if time.monotonic() - last_request[0] > idle_exit_s:
                server.should_exit = True
            time.sleep(1)

    threading.Thread(target=watch, name="local-llm-watch", daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if state is not None:
            _remove_state(state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m graphs.models._llama_server")
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--state", type=Path, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--idle-exit", type=float, default=0)
    parser.add_argument("--n-ctx", type=int, default=None)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(args.model, host=args.host, port=args.port, state=args.state, idle_exit_s=args.idle_exit,
              n_ctx=args.n_ctx, on_ready=lambda url: print(f"local-llm: serving {url}", flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
