"""The Agent Server API through the official Python client (`langgraph-sdk`) against `factory serve`.

Threads, streamed runs (`values` + `messages-tuple`, tokens one by one), state and history, an
interrupt answered with `command.resume` (specs/onboarding.yaml), a cancel, a background run joined,
a resumable stream re-joined after its connection dropped, and thread search by graph id.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
from _serve import REPLY, CuttingProxy, Served, factory_serve
from langgraph_sdk.errors import ConflictError, NotFoundError

from factory.mockllm import MockLLMServer

USER = {"messages": [{"role": "user", "content": "hi"}]}
SLOW = " ".join(f"w{i}" for i in range(30))


def _slow(model: MockLLMServer, *, delay_ms: int = 60) -> str:
    model.set_script({"default": {"text": SLOW, "token_delay_ms": delay_ms}})
    return SLOW


def _tokens(parts: list[Any]) -> list[str]:
    return [p.data[0]["content"] for p in parts if p.event == "messages"]


def test_a_streamed_run_sends_values_and_each_token_as_it_comes(chat_server: Served, model: MockLLMServer) -> None:
    model.set_script({"default": {"text": REPLY, "token_delay_ms": 40}})
    sdk = chat_server.sdk()
    thread = sdk.threads.create(metadata={"user": "ana"})
    created: list[Any] = []
    parts, arrived = [], []
    for part in sdk.runs.stream(thread["thread_id"], "chat-bot", input=USER,
                                stream_mode=["values", "messages-tuple"], on_run_created=created.append):
        parts.append(part)
        arrived.append(time.monotonic())
    assert parts[0].event == "metadata" and parts[0].data["run_id"] == created[0]["run_id"]
    assert created[0]["thread_id"] == thread["thread_id"]  # both from Content-Location
    tokens = _tokens(parts)
    assert len(tokens) > 5 and "".join(tokens) == REPLY
    stamps = [t for p, t in zip(parts, arrived, strict=True) if p.event == "messages"]
    assert stamps[-1] - stamps[0] > 0.04 * (len(stamps) - 1) * 0.5, "tokens must arrive one by one, not at the end"
    assert [p.id for p in parts] == [str(i) for i in range(len(parts))]
    values = [p.data for p in parts if p.event == "values"]
    assert values[0]["messages"][0]["content"] == "hi" and values[0]["messages"][0]["type"] == "human"
    final = values[-1]
    assert final["turns"] == 1 and final["messages"][-1]["content"] == REPLY
    chunk_ids = {p.data[0]["id"] for p in parts if p.event == "messages"}
    assert chunk_ids == {final["messages"][-1]["id"]}, "chunks merge into the message the node wrote"
    metadata = next(p.data[1] for p in parts if p.event == "messages")
    assert metadata["langgraph_node"] == "answer" and metadata["thread_id"] == thread["thread_id"]

    state = sdk.threads.get_state(thread["thread_id"])
    assert state["values"]["turns"] == 1 and [m["type"] for m in state["values"]["messages"]] == ["human", "ai"]
    assert state["next"] == [] and state["checkpoint"]["thread_id"] == thread["thread_id"]
    history = sdk.threads.get_history(thread["thread_id"])
    assert history and history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    run = sdk.runs.get(thread["thread_id"], created[0]["run_id"])
    assert run["status"] == "success"
    again = sdk.threads.get(thread["thread_id"])
    assert again["status"] == "idle" and again["metadata"] == {"user": "ana", "graph_id": "chat-bot",
                                                               "assistant_id": "chat-bot"}


def test_threads_are_found_by_graph_id_and_metadata(chat_server: Served, model: MockLLMServer) -> None:
    sdk = chat_server.sdk()
    ran = sdk.threads.create(metadata={"team": "search-test"})
    idle = sdk.threads.create(metadata={"team": "search-test"})
    sdk.runs.wait(ran["thread_id"], "chat-bot", input=USER)
    by_graph = {t["thread_id"] for t in sdk.threads.search(metadata={"graph_id": "chat-bot"}, limit=1000)}
    assert {ran["thread_id"], idle["thread_id"]} <= by_graph  # a thread of this server is its graph's
    other = sdk.threads.create(metadata={"graph_id": "elsewhere"})
    assert other["metadata"]["graph_id"] == "elsewhere"  # unless the client says otherwise...
    sdk.runs.wait(other["thread_id"], "chat-bot", input=USER)
    assert sdk.threads.get(other["thread_id"])["metadata"]["graph_id"] == "chat-bot"  # ...until it runs here
    team = sdk.threads.search(metadata={"team": "search-test"}, limit=10)
    assert [t["thread_id"] for t in team] == [idle["thread_id"], ran["thread_id"]]  # newest first
    assert [t["thread_id"] for t in sdk.threads.search(metadata={"team": "search-test"}, limit=1, offset=1)] == [
        ran["thread_id"]]
    found = next(t for t in team if t["thread_id"] == ran["thread_id"])
    assert found["values"]["messages"][0]["content"] == "hi"  # Agent Chat UI titles threads with it
    sdk.threads.update(idle["thread_id"], metadata={"team": "other", "pinned": True})
    assert sdk.threads.get(idle["thread_id"])["metadata"] == {"team": "other", "pinned": True,
                                                              "graph_id": "chat-bot", "assistant_id": "chat-bot"}
    sdk.threads.delete(idle["thread_id"])
    with pytest.raises(NotFoundError):
        sdk.threads.get(idle["thread_id"])


def test_an_interrupt_is_answered_with_command_resume(onboarding_server: Served) -> None:
    sdk = onboarding_server.sdk()
    thread = sdk.threads.create()
    tid = thread["thread_id"]
    first = list(sdk.runs.stream(tid, "onboarding", input=USER, stream_mode=["values", "updates"]))
    [pending] = first[-1].data["__interrupt__"] if first[-1].event == "values" else [None]
    assert pending["value"]["node"] == "ask_name" and "full name" in pending["value"]["question"]
    assert any(p.event == "updates" and "__interrupt__" in p.data for p in first)
    state = sdk.threads.get_state(tid)
    assert state["next"] == ["ask_name"] and state["interrupts"][0]["id"] == pending["id"]
    assert sdk.threads.get(tid)["status"] == "interrupted"

    second = list(sdk.runs.stream(tid, "onboarding", command={"resume": "Ana Lima"}, stream_mode="values"))
    assert second[-1].data["full_name"] == "Ana Lima"
    assert second[-1].data["__interrupt__"][0]["value"]["node"] == "ask_email"
    final = sdk.runs.wait(tid, "onboarding", command={"resume": "ana@example.com"})
    assert final["email"] == "ana@example.com"
    assert "welcome kit, Ana Lima" in final["__interrupt__"][0]["value"]["question"]  # the address sub-spec asks
    assert [m["type"] for m in final["messages"]] == ["human", "ai", "human", "ai", "human"]

    fresh = sdk.threads.create()
    with pytest.raises(ConflictError, match="not paused at an interrupt"):
        sdk.runs.create(fresh["thread_id"], "onboarding", command={"resume": "x"})


def test_a_background_run_is_joined_and_its_events_replayed(chat_server: Served, model: MockLLMServer) -> None:
    sdk = chat_server.sdk()
    thread = sdk.threads.create()
    run = sdk.runs.create(thread["thread_id"], "chat-bot", input=USER, stream_mode=["messages-tuple"],
                          stream_resumable=True)
    assert run["status"] == "running" and run["thread_id"] == thread["thread_id"]
    values = sdk.runs.join(thread["thread_id"], run["run_id"])
    assert values["messages"][-1]["content"] == REPLY and values["turns"] == 1
    assert sdk.runs.get(thread["thread_id"], run["run_id"])["status"] == "success"
    replay = list(sdk.runs.join_stream(thread["thread_id"], run["run_id"], last_event_id="-1"))
    assert replay[0].event == "metadata" and "".join(_tokens(replay)) == REPLY
    tail = list(sdk.runs.join_stream(thread["thread_id"], run["run_id"]))
    assert tail == []  # without Last-Event-ID a join sends what comes next, and nothing more comes
    assert [r["run_id"] for r in sdk.runs.list(thread["thread_id"])] == [run["run_id"]]


def test_a_run_is_cancelled_and_the_thread_left_as_it_was(chat_server: Served, model: MockLLMServer) -> None:
    sdk = chat_server.sdk()
    thread = sdk.threads.create()
    tid = thread["thread_id"]
    sdk.runs.wait(tid, "chat-bot", input=USER)
    before = sdk.threads.get_state(tid)
    _slow(model, delay_ms=100)
    run = sdk.runs.create(tid, "chat-bot", input=USER, stream_mode="messages-tuple")
    stream = sdk.runs.join_stream(tid, run["run_id"], last_event_id="-1")
    assert next(p for p in stream if p.event == "messages")  # the model is answering
    with pytest.raises(ConflictError, match="already running"):
        sdk.runs.create(tid, "chat-bot", input=USER)  # multitask_strategy reject
    sdk.runs.cancel(tid, run["run_id"], wait=True)
    assert sdk.runs.get(tid, run["run_id"])["status"] == "interrupted"
    model.wait_for_event("disconnected", timeout=10)  # the model request itself was stopped
    after = sdk.threads.get_state(tid)
    assert after["values"] == before["values"] and after["values"]["turns"] == 1
    assert sdk.threads.get(tid)["status"] == "idle"


def test_a_client_that_goes_away_cancels_with_on_disconnect_cancel(chat_server: Served, model: MockLLMServer) -> None:
    sdk = chat_server.sdk()
    tid = sdk.threads.create()["thread_id"]
    _slow(model)
    run_ids: list[Any] = []
    stream = sdk.runs.stream(tid, "chat-bot", input=USER, stream_mode="messages-tuple", on_disconnect="cancel",
                             on_run_created=run_ids.append)
    assert next(p for p in stream if p.event == "messages")
    stream.close()  # the connection goes
    deadline = time.monotonic() + 10
    while sdk.runs.get(tid, run_ids[0]["run_id"])["status"] == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sdk.runs.get(tid, run_ids[0]["run_id"])["status"] == "interrupted"
    assert sdk.threads.get_state(tid)["values"] == {}


def test_a_resumable_stream_survives_a_dropped_connection(chat_server: Served, model: MockLLMServer) -> None:
    words = _slow(model, delay_ms=80)
    proxy = CuttingProxy(int(chat_server.url.rsplit(":", 1)[1]))
    try:
        sdk = chat_server.sdk(url=proxy.url)
        tid = sdk.threads.create()["thread_id"]
        parts, at_cut = [], 0
        for part in sdk.runs.stream(tid, "chat-bot", input=USER, stream_mode=["messages-tuple"],
                                    stream_resumable=True):
            parts.append(part)
            if len(_tokens(parts)) == 5:
                at_cut = proxy.connections
                threading.Timer(0.01, proxy.cut).start()  # the network fails mid-stream
        assert proxy.connections > at_cut > 0  # the SDK reconnected (to `Location`, with `Last-Event-ID`)
        ids = [int(p.id) for p in parts]
        assert ids == sorted(set(ids)), "no event twice, none out of order"
        assert "".join(_tokens(parts)) == words, "no token lost"
    finally:
        proxy.close()


def test_a_dropped_client_joins_again_from_its_last_event(chat_server: Served, model: MockLLMServer) -> None:
    words = _slow(model, delay_ms=50)
    sdk = chat_server.sdk()
    tid = sdk.threads.create()["thread_id"]
    created: list[Any] = []
    seen = []
    stream = sdk.runs.stream(tid, "chat-bot", input=USER, stream_mode=["messages-tuple"], stream_resumable=True,
                             on_run_created=created.append)
    for part in stream:
        seen.append(part)
        if len(_tokens(seen)) == 3:
            break
    stream.close()
    rest = list(sdk.runs.join_stream(tid, created[0]["run_id"], last_event_id=seen[-1].id))
    assert int(rest[0].id) == int(seen[-1].id) + 1
    assert "".join(_tokens(seen) + _tokens(rest)) == words
    assert sdk.runs.get(tid, created[0]["run_id"])["status"] == "success"  # on_disconnect: continue


def test_a_model_fault_ends_the_stream_with_error_and_keeps_the_thread(chat_server: Served,
                                                                       model: MockLLMServer) -> None:
    sdk = chat_server.sdk()
    tid = sdk.threads.create()["thread_id"]
    sdk.runs.wait(tid, "chat-bot", input=USER)
    before = sdk.threads.get_state(tid)["values"]
    model.set_script({"default": {"fail": {"status": 500, "message": "the model is down"}}})
    parts = list(sdk.runs.stream(tid, "chat-bot", input=USER, stream_mode=["values", "messages-tuple"]))
    assert parts[-1].event == "error" and parts[-1].data["error"] == "model_error"
    assert "500" in parts[-1].data["message"]
    assert sdk.threads.get_state(tid)["values"] == before
    failed = sdk.runs.list(tid)[0]
    assert failed["status"] == "error"
    waited = sdk.runs.wait(tid, "chat-bot", input=USER, raise_error=False)
    assert waited["__error__"]["error"] == "model_error"


def test_stateless_runs_stream_and_wait(chat_server: Served, model: MockLLMServer) -> None:
    sdk = chat_server.sdk()
    created: list[Any] = []
    parts = list(sdk.runs.stream(None, "chat-bot", input=USER, stream_mode="messages-tuple",
                                 on_run_created=created.append))
    assert created[0]["thread_id"] is None and created[0]["run_id"] == parts[0].data["run_id"]
    assert "".join(_tokens(parts)) == REPLY
    assert sdk.runs.wait(None, "chat-bot", input=USER)["messages"][-1]["content"] == REPLY


def test_the_assistant_is_the_spec(onboarding_server: Served) -> None:
    sdk = onboarding_server.sdk()
    [assistant] = sdk.assistants.search(graph_id="onboarding")
    assert assistant["assistant_id"] == assistant["graph_id"] == "onboarding"
    assert sdk.assistants.search(graph_id="other") == []
    assert sdk.assistants.get("onboarding")["description"].startswith("Signs a new Flowly customer up")
    graph = sdk.assistants.get_graph("onboarding")
    ids = [n["id"] for n in graph["nodes"]]
    assert ids[0] == "__start__" and ids[-1] == "__end__" and "collect_address" in ids
    retry = [e for e in graph["edges"] if e["source"] == "ask_email"]
    assert {e["target"] for e in retry} == {"collect_address", "retry_email"} and all(e["conditional"] for e in retry)
    schemas = sdk.assistants.get_schemas("onboarding")
    state = schemas["state_schema"]["properties"]
    assert state["onboarded"] == {"type": "boolean", "default": False}
    assert state["address"]["type"] == "object" and "messages" in state
    assert list(schemas["input_schema"]["properties"]) == ["messages"]
    with pytest.raises(NotFoundError):
        sdk.assistants.get("nobody")


def test_threads_and_their_state_outlive_the_server(model: MockLLMServer, tmp_path: Any) -> None:
    from _serve import CHAT_SPEC

    env = {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "sk-test"}
    with factory_serve(CHAT_SPEC, tmp_path, env=env) as first:
        sdk = first.sdk()
        tid = sdk.threads.create(metadata={"keep": "me"})["thread_id"]
        sdk.runs.wait(tid, "chat-bot", input=USER)
    with factory_serve(CHAT_SPEC, tmp_path, env=env) as second:
        sdk = second.sdk()
        [found] = sdk.threads.search(metadata={"keep": "me"})
        assert found["thread_id"] == tid and found["values"]["turns"] == 1
        assert sdk.runs.wait(tid, "chat-bot", input=USER)["turns"] == 2


def test_an_api_key_is_taken_as_the_sdks_send_it(model: MockLLMServer, tmp_path: Any) -> None:
    from _serve import CHAT_SPEC

    spec = tmp_path / "keyed.yaml"
    spec.write_text(CHAT_SPEC.read_text() + "  auth: {api_keys_env: CHAT_KEYS}\n  cors_origins: [http://ui.test]\n")
    env = {"OPENAI_BASE_URL": model.base_url, "OPENAI_API_KEY": "sk-test", "CHAT_KEYS": "k-1,k-2"}
    with factory_serve(spec, tmp_path, env=env) as served:
        assert served.sdk(api_key="k-2").assistants.get("chat-bot")["graph_id"] == "chat-bot"  # x-api-key
        with served.client() as http:
            assert http.get("/assistants/chat-bot").status_code == 401
            assert http.get("/assistants/chat-bot", headers={"Authorization": "Bearer k-1"}).status_code == 200
            preflight = http.options("/threads/x/runs/stream", headers={
                "Origin": "http://ui.test", "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "x-api-key,content-type"})
            assert preflight.status_code == 200
            tid = http.post("/threads", json={}, headers={"x-api-key": "k-1"}).json()["thread_id"]
            answer = http.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "chat-bot", "input": USER},
                               headers={"x-api-key": "k-1", "Origin": "http://ui.test"})
        exposed = answer.headers["access-control-expose-headers"].lower()
        assert "content-location" in exposed and answer.headers["content-location"].startswith(f"/threads/{tid}/runs/")


def test_the_stream_route_answers_over_plain_http(chat_server: Served, model: MockLLMServer) -> None:
    """What a browser client reads: `Content-Location`, `Location` for a resumable run, `id:` lines."""
    with chat_server.client() as http:
        tid = http.post("/threads", json={"metadata": {}}).json()["thread_id"]
        body = {"assistant_id": "chat-bot", "stream_resumable": True, "on_disconnect": "continue",
                "stream_mode": ["values", "messages-tuple", "custom"], "stream_subgraphs": True,
                "input": {"messages": [{"id": "m-1", "type": "human", "content": [{"type": "text", "text": "hello"}]}]}}
        with http.stream("POST", f"/threads/{tid}/runs/stream", json=body) as answer:
            text = answer.read().decode()
        assert answer.headers["content-type"].startswith("text/event-stream")
        run_id = answer.headers["content-location"].rsplit("/", 1)[1]
        assert answer.headers["location"] == f"/threads/{tid}/runs/{run_id}/stream"
        assert text.startswith(f'id: 0\nevent: metadata\ndata: {{"run_id":"{run_id}","attempt":1}}\n\n')
        assert "event: custom\ndata: {\"event\":\"node\"" in text and "event: messages\n" in text
        state = http.get(f"/threads/{tid}/state").json()
        assert state["values"]["messages"][0] == {**state["values"]["messages"][0], "id": "m-1", "content": "hello"}


def test_the_run_status_is_final_when_a_stream_ends(chat_server: Served, model: MockLLMServer) -> None:
    """The SDKs ask a run's status when a stream closes without `error`: it must not say `running`."""
    sdk = chat_server.sdk()
    for _ in range(5):
        tid = sdk.threads.create()["thread_id"]
        created: list[Any] = []
        list(sdk.runs.stream(tid, "chat-bot", input=USER, stream_mode="values", on_run_created=created.append))
        assert sdk.runs.get(tid, created[0]["run_id"])["status"] == "success"


def test_an_unknown_thread_is_a_clean_404(chat_server: Served) -> None:
    with pytest.raises(NotFoundError, match="POST /threads"):
        list(chat_server.sdk().runs.stream("no-such-thread", "chat-bot", input=USER))
    with httpx.Client(base_url=chat_server.url) as http:
        answer = http.post("/threads/no-such-thread/runs/wait", json={"assistant_id": "chat-bot", "input": USER})
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
