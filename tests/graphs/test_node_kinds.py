"""One compiled-graph test per node kind, run through `Agent` with the scripted model.

Every spec here goes the public way: YAML in tmp_path -> `load_spec` -> `compile_plan` -> `Agent`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from graphs.spec_code import SpecCode
from graphs.tools import Toolbox

Runner = Callable[..., Any]

MODEL = """
models:
  main: {provider: scripted}
default_model: main
"""


# ---------------------------------------------------------------- reply


REPLY = MODEL + """
spec: 1
name: reply-only
nodes:
  answer: {kind: reply, prompt: "Be brief."}
edges:
  - {from: start, to: answer}
  - {from: answer, to: end}
"""


def test_reply_streams_the_scripted_text_token_by_token(converse: Runner) -> None:
    (turn,) = converse(REPLY, ["hi"], script={"answer": ["Hello there, how can I help?"]})
    tokens = turn.of("token")
    assert len(tokens) > 3 and all(t["node"] == "answer" for t in tokens)
    assert "".join(t["text"] for t in tokens) == "Hello there, how can I help?" == turn.reply
    assert turn.path == ["answer"]
    assert [(d["node"], d["phase"]) for d in turn.of("node")] == [("answer", "start"), ("answer", "end")]
    assert [e.event for e in turn.events][0] == "metadata" and turn.events[-1].event == "end"


def test_reply_without_a_script_gives_the_fallback_naming_the_node(converse: Runner) -> None:
    (turn,) = converse(REPLY, ["what is this?"])
    assert turn.reply == "[scripted model: no script for node 'answer'] You said: what is this?"


# ---------------------------------------------------------------- agent (python, returns, mocks)


TOOLS_MODULE = {"nk_agent_tools.py": '''
    def weather(city: str, days: int = 1) -> dict:
        """Forecast for a city."""
        return {"city": city, "days": days, "sky": "sunny"}
'''}

AGENT = MODEL + """
spec: 1
name: agent-loop
tools:
  weather: {description: Forecast for a city., python: "nk_agent_tools:weather"}
  holidays: {description: Public holidays this month., returns: [{date: "2025-05-01", name: Labour Day}]}
nodes:
  helper: {kind: agent, prompt: Help with plans., tools: [weather, holidays], max_steps: 4}
edges:
  - {from: start, to: helper}
  - {from: helper, to: end}
"""

AGENT_SCRIPT = {"helper": [
    {"tool_calls": [{"name": "weather", "args": {"city": "Lisbon", "days": 2}},
                    {"name": "holidays", "args": {}}]},
    "Sunny in Lisbon for two days, and May 1st is a holiday.",
]}


def test_agent_calls_its_tools_in_a_loop_then_streams_the_answer(converse: Runner) -> None:
    (turn,) = converse(AGENT, ["Plan my trip"], files=TOOLS_MODULE, script=AGENT_SCRIPT)
    assert turn.error is None
    assert [(t["name"], t["args"], t["result"]) for t in turn.tools] == [
        ("weather", {"city": "Lisbon", "days": 2}, {"city": "Lisbon", "days": 2, "sky": "sunny"}),
        ("holidays", {}, [{"date": "2025-05-01", "name": "Labour Day"}]),
    ]
    assert turn.reply == "Sunny in Lisbon for two days, and May 1st is a holiday."
    assert turn.path == ["helper"]


def test_mocks_replace_a_tool_result(converse: Runner) -> None:
    (turn,) = converse(AGENT, ["Plan my trip"], files=TOOLS_MODULE, script=AGENT_SCRIPT,
                       mocks={"weather": {"sky": "storm"}})
    assert turn.tools[0]["result"] == {"sky": "storm"}
    assert turn.tools[1]["result"] == [{"date": "2025-05-01", "name": "Labour Day"}]


def test_a_tool_failure_goes_back_to_the_model_not_the_user(converse: Runner) -> None:
    wrong = {"tool_calls": [{"name": "weather", "args": {"town": "Porto"}}]}
    script = {"helper": [wrong, "Which city again?"]}
    (turn,) = converse(AGENT, ["Weather?"], files=TOOLS_MODULE, script=script)
    assert turn.error is None
    assert "rejected its arguments" in turn.tools[0]["result"]["error"]
    assert turn.reply == "Which city again?"


def test_agent_gives_up_after_max_steps(converse: Runner) -> None:
    call = {"tool_calls": [{"name": "holidays", "args": {}}]}
    (turn,) = converse(AGENT, ["loop"], files=TOOLS_MODULE, script={"helper": [call] * 4})
    assert len(turn.tools) == 4
    assert turn.reply == "I could not finish within 4 steps."


def test_python_tool_schema_comes_from_the_signature(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "nk_schema_tools.py").write_text(
        "def book(room: str, nights: int, breakfast: bool = False) -> str:\n    return room\n")
    box = Toolbox({"book": {"form": "python", "description": "Book a room.", "parameters": None,
                            "python": "nk_schema_tools:book"},
                   "fixed": {"form": "returns", "description": "Canned.", "parameters": None, "returns": 1}},
                  SpecCode(tmp_path))
    function = box.schema("book")["function"]
    assert function["name"] == "book" and function["description"] == "Book a room."
    assert function["parameters"]["properties"] == {
        "room": {"type": "string"}, "nights": {"type": "integer"},
        "breakfast": {"type": "boolean", "default": False}}
    assert function["parameters"]["required"] == ["room", "nights"]
    assert box.schema("fixed")["function"]["parameters"] == {"type": "object", "properties": {}}


# ---------------------------------------------------------------- extract


EXTRACT = MODEL + """
spec: 1
name: extract-slots
state:
  company: {type: string}
  seats: {type: integer}
  tier: {type: string, enum: [free, pro]}
nodes:
  understand: {kind: extract, prompt: Record the facts., into: [company, seats, tier]}
edges:
  - {from: start, to: understand}
  - {from: understand, to: end}
"""


def test_extract_fills_valid_slots_and_drops_invalid_ones(converse: Runner) -> None:
    (turn,) = converse(EXTRACT, ["Acme, 12 seats, gold tier"],
                       script={"understand": [{"company": "Acme", "seats": 12.0, "tier": "gold"}]})
    assert turn.state == {"company": "Acme", "seats": 12, "tier": None}
    assert turn.path == ["understand"]
    assert turn.of("token") == [] and turn.reply == ""  # never shown to the user


# ---------------------------------------------------------------- classify + CEL routing


CLASSIFY = MODEL + """
spec: 1
name: classify-route
state:
  topic: {type: string}
nodes:
  triage:
    kind: classify
    prompt: Pick the topic.
    labels: {billing: money, technical: errors, other: anything else}
    into: topic
  billing: {kind: reply, prompt: Billing.}
  technical: {kind: reply, prompt: Technical.}
  other: {kind: reply, prompt: Other.}
edges:
  - {from: start, to: triage}
  - {from: triage, to: billing, when: 'state.topic == "billing"'}
  - {from: triage, to: technical, when: 'state.topic == "technical"'}
  - {from: triage, to: other}
  - {from: billing, to: end}
  - {from: technical, to: end}
  - {from: other, to: end}
"""


@pytest.mark.parametrize(("label", "route"),
                         [("billing", "billing"), ("technical", "technical"), ("other", "other")])
def test_classify_writes_the_label_and_cel_conditions_route_on_it(converse: Runner, label: str,
                                                                  route: str) -> None:
    (turn,) = converse(CLASSIFY, ["help"], script={"triage": [label], route: [f"{route} answer"]})
    assert turn.path == ["triage", route]
    assert turn.state == {"topic": label}
    assert turn.reply == f"{route} answer"


def test_classify_with_an_invalid_label_is_an_error_and_leaves_the_thread_untouched(converse: Runner) -> None:
    first, second = converse(CLASSIFY, ["help", "again"], script={"triage": ["refunds", "other"]})
    assert first.error is not None
    assert first.error["code"] == "bad_model_output" and first.error["retryable"] is True
    assert "'refunds'" in first.error["message"] and "triage" in first.error["message"]
    assert first.of("end") == []
    assert second.error is None and second.state == {"topic": "other"}


# ---------------------------------------------------------------- tool (python, http, returns)


class _Orders(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer({"method": "GET", "path": self.path, "auth": self.headers.get("X-Token")})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self._answer({"method": "POST", "path": self.path, "body": body})

    def _answer(self, data: dict[str, Any]) -> None:
        if self.path.startswith("/missing"):
            self.send_response(404)
            self.end_headers()
            return
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_base() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 for the `http` tool form."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Orders)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def tool_spec(base: str) -> str:
    return MODEL + f"""
spec: 1
name: tool-forms
state:
  order_id: {{type: string, default: "A/7 b"}}
  order: {{type: object}}
  note: {{type: object}}
  hours: {{type: object}}
  doubled: {{type: integer}}
tools:
  get_order:
    description: Order by id.
    http: {{url: "{base}/orders/{{{{ order_id }}}}?v=1", headers: {{X-Token: "t-{{{{ order_id }}}}"}}}}
  post_note:
    description: Add a note.
    http: {{method: POST, url: "{base}/notes", body: {{text: "note for {{{{ order_id }}}}", n: 3}}}}
  hours: {{description: Opening hours., returns: {{open: "9-17"}}}}
  double: {{description: Doubles., python: "nk_tool_forms:double"}}
nodes:
  fetch: {{kind: tool, tool: get_order, args: {{order_id: state.order_id}}, into: order}}
  note: {{kind: tool, tool: post_note, args: {{order_id: '"X" + state.order_id'}}, into: note}}
  hours: {{kind: tool, tool: hours, into: hours}}
  double: {{kind: tool, tool: double, args: {{n: "21"}}, into: doubled}}
edges:
  - {{from: start, to: fetch}}
  - {{from: fetch, to: note}}
  - {{from: note, to: hours}}
  - {{from: hours, to: double}}
  - {{from: double, to: end}}
"""


TOOL_FILES = {"nk_tool_forms.py": "def double(n: int) -> int:\n    return n * 2\n"}


def test_tool_nodes_call_http_returns_and_python_tools(converse: Runner, http_base: str) -> None:
    (turn,) = converse(tool_spec(http_base), ["go"], files=TOOL_FILES)
    assert turn.error is None, turn.error
    assert turn.path == ["fetch", "note", "hours", "double"]
    state = turn.state
    assert state["order"] == {"method": "GET", "path": "/orders/A%2F7%20b?v=1", "auth": "t-A/7 b"}
    assert state["note"] == {"method": "POST", "path": "/notes", "body": {"text": "note for XA/7 b", "n": 3}}
    assert state["hours"] == {"open": "9-17"} and state["doubled"] == 42
    assert [t["name"] for t in turn.tools] == ["get_order", "post_note", "hours", "double"]
    assert turn.tools[0]["args"] == {"order_id": "A/7 b"} and turn.tools[0]["node"] == "fetch"


def test_mocks_override_http_and_returns_tools(converse: Runner, http_base: str) -> None:
    (turn,) = converse(tool_spec(http_base), ["go"], files=TOOL_FILES,
                       mocks={"get_order": {"status": "mocked"}, "hours": None})
    assert turn.state["order"] == {"status": "mocked"}
    assert turn.state["hours"] is None
    assert turn.state["note"]["method"] == "POST"  # not mocked: the real server answered


def test_an_http_error_is_a_tool_error_event(converse: Runner, http_base: str) -> None:
    (turn,) = converse(tool_spec(http_base + "/missing"), ["go"], files=TOOL_FILES)
    assert turn.error is not None and turn.error["code"] == "tool_error"
    assert "HTTP 404" in turn.error["message"] and "fetch" in turn.error["message"]


# ---------------------------------------------------------------- set + the three reducers


REDUCERS = MODEL + """
spec: 1
name: reducers
state:
  count: {type: integer, default: 0}
  seen: {type: "list[string]", reducer: append}
  profile: {type: object, reducer: merge}
  last: {type: string}
nodes:
  bump:
    kind: set
    values:
      count: state.count + 1
      seen: '"turn" + string(state.count + 1)'
      profile: >-
        state.count == 0 ? {"first": state.messages[0].content}
        : {"latest": state.messages[size(state.messages) - 1].content}
      last: state.messages[size(state.messages) - 1].content
  both: {kind: set, values: {seen: '["a", "b"]'}}
edges:
  - {from: start, to: bump}
  - {from: bump, to: both, when: state.count == 2}
  - {from: bump, to: end}
  - {from: both, to: end}
"""


def test_set_values_and_the_replace_append_merge_reducers(converse: Runner) -> None:
    one, two, three = converse(REDUCERS, ["alpha", "beta", "gamma"])
    assert one.state == {"count": 1, "seen": ["turn1"], "profile": {"first": "alpha"}, "last": "alpha"}
    assert two.path == ["bump", "both"]
    assert two.state["seen"] == ["turn1", "turn2", "a", "b"]
    assert three.path == ["bump"]
    assert three.state == {"count": 3, "seen": ["turn1", "turn2", "a", "b", "turn3"],
                           "profile": {"first": "alpha", "latest": "gamma"}, "last": "gamma"}


# ---------------------------------------------------------------- interrupt


INTERRUPT = MODEL + """
spec: 1
name: ask-twice
state:
  name: {type: string}
  color: {type: string}
nodes:
  ask_name: {kind: interrupt, message: "What's your name?", into: name}
  ask_color: {kind: interrupt, message: "Hi {{ name }}, favourite colour?", into: color}
  done: {kind: reply, prompt: "Summarise {{ name }} and {{ color }}."}
edges:
  - {from: start, to: ask_name}
  - {from: ask_name, to: ask_color}
  - {from: ask_color, to: done}
  - {from: done, to: end}
"""


def test_interrupt_asks_then_resumes_with_the_next_message(converse: Runner) -> None:
    one, two, three = converse(INTERRUPT, ["hello", "Ada", "green"], script={"done": ["Ada likes green."]})
    assert one.reply == "What's your name?" and one.end["interrupted"] is True
    assert one.of("interrupt") == [{"question": "What's your name?", "node": "ask_name"}]
    assert len(one.of("token")) > 1  # the question streams
    assert two.reply == "Hi Ada, favourite colour?" and two.state["name"] == "Ada"
    assert two.path == ["ask_name", "ask_color"]
    assert three.end["interrupted"] is False and three.reply == "Ada likes green."
    assert three.state == {"name": "Ada", "color": "green"}
    assert three.path == ["ask_color", "done"]


# ---------------------------------------------------------------- subgraph


CHILD = MODEL + """
spec: 1
name: child
state:
  who: {type: string}
  city: {type: string}
  country: {type: string}
  summary: {type: string}
nodes:
  ask_city: {kind: interrupt, message: "Where do you live, {{ who }}?", into: city}
  parse: {kind: extract, prompt: Find the country., into: [country]}
  say: {kind: reply, prompt: Confirm.}
  wrap: {kind: set, values: {summary: 'state.city + "/" + state.country'}}
edges:
  - {from: start, to: ask_city}
  - {from: ask_city, to: parse}
  - {from: parse, to: say}
  - {from: say, to: wrap}
  - {from: wrap, to: end}
"""

PARENT = MODEL + """
spec: 1
name: parent
state:
  name: {type: string, default: Grace}
  place: {type: string}
  after: {type: boolean, default: false}
nodes:
  where: {kind: subgraph, spec: sub/child.yaml, input: {who: state.name}, output: {place: state.summary}}
  finish: {kind: set, values: {after: "true"}}
edges:
  - {from: start, to: where}
  - {from: where, to: finish}
  - {from: finish, to: end}
"""


def test_subgraph_maps_state_streams_its_events_and_pauses_inside(converse: Runner) -> None:
    child = "# yaml-language-server: $schema=./spec.schema.json\n" + CHILD
    one, two = converse(PARENT, ["hi", "Oslo"], files={"sub/child.yaml": child},
                        script={"where.parse": [{"country": "Norway"}],
                                "where.say": ["Oslo, Norway: noted."]})
    assert one.reply == "Where do you live, Grace?"
    assert one.of("interrupt") == [{"question": "Where do you live, Grace?", "node": "where.ask_city"}]
    assert one.path == ["where", "where.ask_city"]
    assert one.state["place"] is None
    assert two.error is None, two.error
    assert two.path == ["where", "where.ask_city", "where.parse", "where.say", "where.wrap", "finish"]
    assert {t["node"] for t in two.of("token")} == {"where.say"} and two.reply == "Oslo, Norway: noted."
    assert two.state == {"name": "Grace", "place": "Oslo/Norway", "after": True}


def test_a_sub_spec_node_is_not_scripted_by_its_bare_id(converse: Runner) -> None:
    child = "# yaml-language-server: $schema=./spec.schema.json\n" + CHILD
    _, two = converse(PARENT, ["hi", "Oslo"], files={"sub/child.yaml": child},
                      script={"parse": [{"country": "Norway"}], "say": ["no"]})
    streamed = "".join(t["text"] for t in two.of("token"))
    assert streamed.startswith("[scripted model: no script for node 'where.say']")
    # `parse` extracted nothing, so `wrap` concatenates a null: an error event, not a crash
    assert two.error is not None and two.error["code"] == "expression_error"


# ---------------------------------------------------------------- python


PYTHON = MODEL + """
spec: 1
name: python-node
state:
  words: {type: integer}
  shout: {type: string}
nodes:
  count: {kind: python, function: "nk_python_node:count"}
  broken: {kind: python, function: "nk_python_node:broken"}
edges:
  - {from: start, to: count}
  - {from: count, to: broken, when: state.words > 3}
  - {from: count, to: end}
  - {from: broken, to: end}
"""

PYTHON_FILES = {"nk_python_node.py": '''
    def count(state):
        text = state["messages"][-1]["content"]
        return {"words": len(text.split()), "shout": text.upper()}

    def broken(state):
        return {"nope": 1}
'''}


def test_python_node_returns_slot_updates(converse: Runner) -> None:
    (turn,) = converse(PYTHON, ["hello big world"], files=PYTHON_FILES)
    assert turn.path == ["count"] and turn.state == {"words": 3, "shout": "HELLO BIG WORLD"}


def test_python_node_writing_an_unknown_slot_is_an_error(converse: Runner) -> None:
    (turn,) = converse(PYTHON, ["one two three four"], files=PYTHON_FILES)
    assert turn.error is not None and turn.error["code"] == "bad_node_output"
    assert "'nope'" in turn.error["message"]
