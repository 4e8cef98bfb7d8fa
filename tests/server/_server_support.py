"""Helpers: a real uvicorn on 127.0.0.1 serving `create_app(plan)` in a background thread.
The model at the wire is `factory.mockllm.MockLLMServer`, or the in-process scripted model."""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from httpx_sse import connect_sse

from factory.compiler import compile_plan
from factory.language.loader import load_spec
from graphs.server import create_app

ROOT = Path(__file__).resolve().parents[2]
ONBOARDING_SPEC = ROOT / "specs" / "onboarding.yaml"
ECHO_SPEC = Path(__file__).parent / "specs" / "echo.yaml"
SALES_SPEC = ROOT / "specs" / "sales_discovery.yaml"


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer:
    """`create_app(...)` under uvicorn on a free port; `.url`, `.client()`, `.app`."""

    def __init__(self, plan: dict[str, Any], *, base_dir: Path, **kwargs: Any) -> None:
        self.app = create_app(plan, base_dir=base_dir, **kwargs)
        self.sock = free_socket()
        self.port = self.sock.getsockname()[1]
        limits = self.app.state.factory.limits
        config = uvicorn.Config(
            self.app, log_level="warning", ws_max_size=limits.ws_hard_max_bytes, timeout_graceful_shutdown=3
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self.sock]))

    def call(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop (the agent's checkpointer connection lives there)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def state(self, thread_id: str) -> Any:
        return self.call(self.agent.state(thread_id))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20, **kwargs)

    @property
    def agent(self) -> Any:
        return self.app.state.factory.agent


def echo_plan(base_url: str, **serve: Any) -> dict[str, Any]:
    plan = copy.deepcopy(compile_plan(load_spec(ECHO_SPEC)))
    for model in plan["models"].values():
        model["base_url"] = base_url
    plan["serve"].update(serve)
    return plan


def error_of(response: httpx.Response) -> tuple[str, str]:
    """`(code, message)` of an error answer: OpenAI's `{"error": {...}}` under `/v1/`, else ours."""
    body = response.json()
    if response.request.url.path.startswith("/v1/"):
        return body["error"]["code"], body["error"]["message"]
    return body["code"], body["detail"]


def stream(client: httpx.Client, **body: Any) -> list[tuple[str, dict[str, Any]]]:
    """One `/chat/stream` turn: its events as (name, data)."""
    with connect_sse(client, "POST", "/chat/stream", json=body) as source:
        assert source.response.status_code == 200, source.response.read()
        return [(event.event, json.loads(event.data)) for event in source.iter_sse()]
