"""The renderers, fed events directly: what a reply looks like in a terminal and in a pipe."""

from __future__ import annotations

import io

from rich.console import Console

from factory.chat._render import PlainRenderer, RichRenderer
from graphs.events import ErrorEvent, Event, parse_event

WIRE = [
    {"event": "metadata", "data": {"thread_id": "t1", "run_id": "r1", "agent": "a"}},
    {"event": "node", "data": {"node": "lookup", "kind": "tool", "phase": "start"}},
    {"event": "tool", "data": {"name": "company_lookup", "args": {"company": "Acme"}, "result": {"tier": "smb"},
                               "node": "lookup"}},
    {"event": "node", "data": {"node": "answer", "kind": "reply", "phase": "start"}},
    {"event": "token", "data": {"text": "Here is **the** plan:", "node": "answer"}},
    {"event": "token", "data": {"text": "\n\n- one\n- two", "node": "answer"}},
    {"event": "state", "data": {"company": "Acme"}},
    {"event": "end", "data": {"reply": "", "usage": {}, "path": [], "interrupted": False, "first_token_ms": 1.0,
                              "total_ms": 2.0}},
]
EVENTS: list[Event] = [parse_event(e["event"], e["data"]) for e in WIRE]


def test_rich_reply_has_trail_tools_markdown_and_timing() -> None:
    out = io.StringIO()
    renderer = RichRenderer(Console(file=out, width=80, force_terminal=False, color_system=None))
    view = renderer.turn()
    for event in EVENTS:
        view.event(event)
    view.close("done")
    text = out.getvalue()
    assert "◦ lookup → answer" in text
    assert '⚙ company_lookup({"company": "Acme"}) → {"tier": "smb"}' in text
    assert "• one" in text, "a finished Markdown reply is rendered as Markdown"
    assert "first token" in text and "total" in text


def test_rich_cancel_says_so_without_timing() -> None:
    out = io.StringIO()
    view = RichRenderer(Console(file=out, width=80, color_system=None)).turn()
    view.event(EVENTS[4])
    view.close("cancelled")
    assert "cancelled" in out.getvalue() and "first token" not in out.getvalue()


def test_plain_reply_is_the_text_only() -> None:
    out, err = io.StringIO(), io.StringIO()
    view = PlainRenderer(out, err).turn()
    for event in [*EVENTS[:-1], ErrorEvent.of("model_timeout", "slow")]:
        view.event(event)
    view.close("failed")
    assert out.getvalue() == "Here is **the** plan:\n\n- one\n- two\n"
    assert err.getvalue() == "error model_timeout: slow\n"
