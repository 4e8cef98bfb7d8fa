"""`append_messages` (the `messages` reducer of every compiled agent) gives what LangGraph's
`add_messages` gives, for every kind of update, whatever was indexed before."""

from __future__ import annotations

import random
from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, RemoveMessage
from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages

from graphs import state
from graphs.state import append_messages


def _view(messages: list[Any]) -> list[tuple[str, Any, str]]:
    return [(type(m).__name__, m.id, m.text) for m in messages]


def _update(rng: random.Random, current: list[Any], step: int) -> Any:
    """One node's write: mostly new messages, sometimes a replacement, a removal, a chunk, a dict."""
    roll = rng.random()
    if roll < 0.55 or not current:
        return [AIMessage(content=f"answer {step}", id=f"a{step}"), HumanMessage(content=f"ask {step}", id=f"h{step}")]
    if roll < 0.65:
        return HumanMessage(content=f"bare {step}", id=f"b{step}")  # one message, not a list
    if roll < 0.75:
        return AIMessage(content=f"replaced {step}", id=rng.choice(current).id)
    if roll < 0.82:
        return [RemoveMessage(id=rng.choice(current).id)]
    if roll < 0.88:
        return [AIMessageChunk(content=f"chunk {step}", id=f"c{step}")]
    if roll < 0.94:
        return [{"role": "user", "content": f"dict {step}", "id": f"d{step}"}]
    if roll < 0.97:
        return [AIMessage(content=f"twice {step}", id=f"t{step}"), AIMessage(content=f"again {step}", id=f"t{step}")]
    return [RemoveMessage(id=REMOVE_ALL_MESSAGES), HumanMessage(content=f"restart {step}", id=f"r{step}")]


@pytest.mark.parametrize("seed", range(20))
def test_every_update_gives_what_add_messages_gives(seed: int) -> None:
    rng = random.Random(seed)
    ours: list[Any] = []
    theirs: list[Any] = []
    for step in range(60):
        update = _update(rng, ours, step)
        if rng.random() < 0.2:  # a list read back from a checkpoint: a new object, not indexed yet
            ours = list(ours)
        ours = append_messages(ours, update)
        theirs = add_messages(theirs, update)
        assert _view(ours) == _view(theirs), f"seed {seed}, step {step}: {update!r}"


def test_messages_without_ids_get_one_and_a_plain_append_uses_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    first = append_messages([], [HumanMessage(content="hi")])
    assert first[0].id
    calls: list[Any] = []
    monkeypatch.setattr(state, "add_messages", lambda left, right: calls.append(right) or add_messages(left, right))
    grown = first
    for step in range(5):
        grown = append_messages(grown, [AIMessage(content=f"a{step}")])
    assert [m.text for m in grown] == ["hi", "a0", "a1", "a2", "a3", "a4"]
    assert calls == []  # plain appends never indexed the list again
    append_messages(grown, [AIMessage(content="again", id=grown[0].id)])
    assert len(calls) == 1  # a replacement is LangGraph's own
