"""Traces and logs of a real server process: OpenTelemetry spans reach a real OTLP/HTTP receiver on
127.0.0.1 when the standard `OTEL_*` variables ask for them, and the log lines on a stderr that is
not a terminal are JSON objects carrying the turn's thread and run ids."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from _replicas import start_replica

SPEC = """\
spec: 1
name: traced
description: Looks at the forecast, notes it in the log, answers.
models: {main: {provider: scripted, model: tiny-scripted}}
state:
  weather: {type: object}
tools:
  forecast: {description: The forecast., returns: {sky: clear}}
nodes:
  look: {kind: tool, tool: forecast, into: weather}
  note: {kind: python, function: "lognode:note"}
  answer: {kind: reply, prompt: Answer.}
edges:
  - {from: start, to: look}
  - {from: look, to: note}
  - {from: note, to: answer}
  - {from: answer, to: end}
"""

LOGNODE = '''
import logging

def note(state):
    logging.getLogger("graphs.spec").warning("the sky is %s", state["weather"]["sky"])
    return {}
'''


class _Receiver(BaseHTTPRequestHandler):
    spans: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for span in scope.spans:
                    attributes = {a.key: (a.value.string_value or a.value.int_value) for a in span.attributes}
                    self.spans.append({"name": span.name, "id": span.span_id.hex(), "trace": span.trace_id.hex(),
                                       "parent": span.parent_span_id.hex(), "attributes": attributes})
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def otlp() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    spans: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"spans": spans})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", spans
    finally:
        server.shutdown()


def test_spans_per_turn_node_model_and_tool_and_json_logs_with_ids(
        tmp_path: Path, otlp: tuple[str, list[dict[str, Any]]]) -> None:
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    endpoint, spans = otlp
    (tmp_path / "traced.yaml").write_text(SPEC)
    (tmp_path / "lognode.py").write_text(LOGNODE)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(compile_plan(load_spec(tmp_path / "traced.yaml"))))
    log = tmp_path / "stderr.log"
    with log.open("wb") as stderr:
        replica = start_replica(plan_file, checkpointer="memory", stderr=stderr.fileno(), env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"})
        try:
            with httpx.stream("POST", f"{replica.url}/chat/stream", json={"message": "hi", "thread_id": "traced-1"},
                              timeout=60) as answer:
                lines = list(answer.iter_lines())
            run_id = json.loads(lines[1].removeprefix("data: "))["run_id"]
        finally:
            replica.proc.terminate()
            try:
                replica.proc.wait(30)
            except subprocess.TimeoutExpired:
                replica.stop()
    by_name = {span["name"]: span for span in spans}
    turn = by_name["invoke_agent traced"]
    assert turn["attributes"]["gen_ai.conversation.id"] == "traced-1"
    assert turn["attributes"]["factory.run_id"] == run_id
    assert turn["attributes"]["gen_ai.operation.name"] == "invoke_agent"
    for node in ("look", "note", "answer"):
        assert by_name[f"node {node}"]["parent"] == turn["id"]
    tool = by_name["execute_tool forecast"]
    assert tool["parent"] == by_name["node look"]["id"] and tool["attributes"]["gen_ai.tool.name"] == "forecast"
    chat = next(span for span in spans if span["name"].startswith("chat "))
    assert chat["parent"] == by_name["node answer"]["id"]
    assert chat["attributes"]["gen_ai.operation.name"] == "chat"
    assert {span["trace"] for span in spans} == {turn["trace"]}
    assert all(span["attributes"]["factory.thread_id"] == "traced-1" for span in spans)

    records = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    noted = [r for r in records if r["message"] == "the sky is clear"]
    assert noted and noted[0]["thread_id"] == "traced-1" and noted[0]["run_id"] == run_id
    assert noted[0]["level"] == "warning" and noted[0]["logger"] == "graphs.spec"
