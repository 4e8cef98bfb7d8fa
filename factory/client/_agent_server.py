"""The LangGraph Agent Server API (threads and runs), spoken with the official `langgraph-sdk`.

It reaches `langgraph dev` / LangSmith Deployment serving the context `factory build` writes, and
any server of that API (a factory server's own routes included). A turn is: find the thread
(`GET /threads/{id}`; created when new, with `metadata.graph_id` so Agent Chat UI lists it), then
`POST /threads/{id}/runs/stream` with the message as `input`, or as `command.resume` when the
thread is paused at an interrupt. `_agent_server_events.RunReader` turns the stream into events.

Test fixtures travel in the run's `config.configurable[TEST_FIXTURES_KEY]` (`{"script", "mocks"}`)
on the thread's first turn; the generated graph module keeps them for the thread (only when its
server runs with `FACTORY_TEST_MODE=1`), so later turns, which are separate runs there, go on
where the script left off.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from factory.client._agent_server_events import STREAM_MODES, RunReader
from factory.client._base import ClientBase, ClientError, Fixtures
from factory.client._http import auth_error, bad_thread_id, base_url, detail, dropped, http_refusal, unreachable
from graphs.events import ErrorEvent, Event
from graphs.fixtures import WIRE_KEY

__all__ = ["TEST_FIXTURES_KEY", "AgentServerClient"]

TEST_FIXTURES_KEY = WIRE_KEY
"""The run config's `configurable` key carrying a test's `{"script", "mocks"}` to an Agent Server."""

_CANCEL_WAIT_S = 10.0
_BUSY_RETRY_DELAYS_S = (0.05, 0.1, 0.15, 0.2, 0.25, 0.25)


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _body(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    with contextlib.suppress(Exception):
        return str(response.text) if response is not None else str(exc)
    return str(exc)


class AgentServerClient(ClientBase):
    """One assistant of an Agent Server: `assistant` names it (graph id, name or assistant id), or
    the server's only graph is used."""

    protocol_name = "agent-server"

    def __init__(self, url: str, *, api_key: str | None = None, api_key_env: str | None = None,
                 assistant: str | None = None, timeout_s: float = 10.0, read_timeout_s: float | None = None) -> None:
        self.base = base_url(url)
        self.api_key, self.api_key_env = api_key, api_key_env
        self.timeout_s, self.read_timeout_s = timeout_s, read_timeout_s
        self.wanted = assistant
        self.agent = assistant or self.base
        self.label = f"agent-server {self.base}"
        self.description = self.base
        self.assistant_id = ""
        self._sdk: Any = None
        self._run: tuple[str, str] | None = None  # (thread, run) of the turn in flight
        self._cancelled = False

    # ------------------------------------------------------------------ connect

    async def open(self) -> None:
        import httpx
        from langgraph_sdk import get_client

        # api_key=None keeps the SDK from sending a LangSmith key it finds in the environment.
        self._sdk = get_client(url=self.base, api_key=self.api_key,
                               timeout=(self.timeout_s, self.read_timeout_s, self.timeout_s, self.timeout_s))
        try:
            await self._sdk.http.get("/info")
        except httpx.HTTPStatusError as exc:
            if _status(exc) in (401, 403):
                raise self._refused(exc) from None
            raise ClientError(f"{self.base} is not an Agent Server (GET /info answered {_status(exc)})",
                              "for a factory server use --protocol sse", kind="config") from None
        except httpx.HTTPError as exc:
            raise unreachable(self.base, exc) from None
        try:
            assistants = await self._sdk.assistants.search(limit=100)
        except httpx.HTTPStatusError as exc:
            raise self._refused(exc) from None
        except httpx.HTTPError as exc:
            raise unreachable(self.base, exc) from None
        self._choose(assistants)

    def _choose(self, assistants: list[dict[str, Any]]) -> None:
        graphs = sorted({str(a.get("graph_id")) for a in assistants})
        if self.wanted is None and len(graphs) == 1:
            chosen = next(a for a in assistants if a.get("graph_id") == graphs[0])
        else:
            keys = ("graph_id", "name", "assistant_id")
            chosen = next((a for a in assistants if any(a.get(k) == self.wanted for k in keys)), {})
        if not graphs:
            raise ClientError(f"{self.base} serves no assistant", "is a graph named in its langgraph.json?",
                              kind="config")
        if not chosen:
            said = f"the agent(s) {', '.join(map(repr, graphs))}"
            if self.wanted:
                raise ClientError(f"{self.base} serves {said}, not {self.wanted!r}",
                                  "point it at a server started from this spec", kind="config")
            raise ClientError(f"{self.base} serves {said}; which one?", "pass --assistant NAME", kind="config")
        self.assistant_id = str(chosen["assistant_id"])
        self.agent = str(chosen.get("graph_id") or chosen.get("name") or self.assistant_id)

    async def close(self) -> None:
        if self._sdk is not None:
            with contextlib.suppress(Exception):
                await self._sdk.aclose()
            self._sdk = None

    def _refused(self, exc: BaseException, thread_id: str | None = None, *, fixtures: bool = False) -> ClientError:
        status = _status(exc) or 0
        if status in (401, 403):
            return auth_error(str(status), self.api_key_env)
        if status == 422 and thread_id is not None and "thread" in _body(exc).lower():
            return bad_thread_id(thread_id, detail(_body(exc)), rule="what this server accepts (LangGraph's: a UUID)")
        return http_refusal(status, _body(exc), self.api_key_env, fixtures=fixtures)

    # ------------------------------------------------------------------ a turn

    async def _thread(self, thread_id: str | None) -> dict[str, Any]:
        """The thread (its canonical id, whether it waits on an interrupt); created when new."""
        from langgraph_sdk.errors import NotFoundError

        metadata = {"graph_id": self.agent}
        if thread_id is None:
            return dict(await self._sdk.threads.create(metadata=metadata))
        try:
            return dict(await self._sdk.threads.get(thread_id))
        except NotFoundError:
            return dict(await self._sdk.threads.create(thread_id=thread_id, metadata=metadata,
                                                       if_exists="do_nothing"))

    async def turn(self, message: str, *, thread_id: str | None = None, script: Fixtures | None = None,
                   mocks: Fixtures | None = None) -> AsyncIterator[Event]:
        import httpx

        fixtures = bool(script or mocks)
        reader: RunReader | None = None
        retries = list(_BUSY_RETRY_DELAYS_S) if self._cancelled else []
        self._cancelled = False
        try:
            thread = await self._thread(thread_id)
            thread_id = str(thread["thread_id"])
            reader = RunReader(thread_id=thread_id, agent=self.agent)
            waiting = bool(thread["interrupts"]) if "interrupts" in thread else thread.get("status") == "interrupted"
            request: dict[str, Any] = {"command": {"resume": message}} if waiting else \
                {"input": {"messages": [{"type": "human", "content": message}]}}
            if fixtures:
                request["config"] = {"configurable": {TEST_FIXTURES_KEY: {"script": script or {},
                                                                          "mocks": mocks or {}}}}
            while True:
                try:
                    async for event in self._stream(thread_id, request, reader, fixtures):
                        yield event
                    break
                except httpx.HTTPStatusError as exc:
                    if _status(exc) != 409 or not retries or reader.run_id is not None:
                        raise
                    await asyncio.sleep(retries.pop(0))  # a cancelled run is still being rolled back
        except httpx.HTTPStatusError as exc:
            raise self._refused(exc, thread_id, fixtures=fixtures) from None
        except httpx.ConnectError as exc:
            raise unreachable(self.base, exc) from None
        except httpx.HTTPError as exc:
            raise dropped(exc) from None
        self._run = None  # done: nothing to cancel (a cancelled reader keeps it for `cancel()`)

    async def _stream(self, thread_id: str, request: dict[str, Any], reader: RunReader,
                      fixtures: bool) -> AsyncIterator[Event]:
        parts = self._sdk.runs.stream(thread_id, self.assistant_id, stream_mode=STREAM_MODES, stream_subgraphs=True,
                                      multitask_strategy="reject", on_disconnect="continue", **request)
        async for part in parts:
            for event in reader.feed(part.event, part.data):
                if reader.run_id is not None and self._run is None:
                    self._run = (thread_id, reader.run_id)
                if isinstance(event, ErrorEvent) and fixtures and "FACTORY_TEST_MODE" in event.message:
                    raise ClientError(f"the server refused the test's script and mocks ({event.message})",
                                      "start LangGraph's server with FACTORY_TEST_MODE=1 (and FACTORY_MODEL=scripted)")
                yield event
                if isinstance(event, ErrorEvent):
                    return
        for event in reader.finish():
            yield event

    async def cancel(self) -> None:
        """Cancel the run with `rollback`: the thread is left as it was before the turn. (The stream
        asks `on_disconnect: continue`, so closing it does not race this with a plain cancel that
        would keep the run's first steps.)"""
        self._cancelled = True
        run, self._run = self._run, None
        if run is None or self._sdk is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._sdk.runs.cancel(*run, wait=True, action="rollback"), _CANCEL_WAIT_S)

    # ------------------------------------------------------------------ what the chat asks

    async def state(self, thread_id: str) -> dict[str, Any] | None:
        from langgraph_sdk.errors import APIError

        try:
            state = await self._sdk.threads.get_state(thread_id)
        except APIError:
            return None
        values = state.get("values") if isinstance(state, dict) else None
        return {k: v for k, v in values.items() if k != "messages"} if isinstance(values, dict) else None

    async def graph(self) -> str | None:
        """`GET /assistants/{id}/graph` (nodes and edges) drawn as Mermaid."""
        from langgraph_sdk.errors import APIError

        try:
            drawn = await self._sdk.assistants.get_graph(self.assistant_id)
        except APIError:
            return None
        lines = ["flowchart TD"]
        for edge in drawn.get("edges", []):
            arrow = "-.->" if edge.get("conditional") else "-->"
            lines.append(f"  {_node_id(edge['source'])} {arrow} {_node_id(edge['target'])}")
        return "\n".join(lines) + "\n"


def _node_id(name: str) -> str:
    """Mermaid ids cannot hold every character LangGraph's node names may (`__start__`, dots)."""
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in str(name)) or "_"
