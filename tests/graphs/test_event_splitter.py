"""`EventSplitter` reads a model's SSE stream as the OpenAI SDK's own decoder does: the same events
for any stream of `event`/`data`/comment lines, with any line ends, cut into reads anywhere."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from hypothesis import given, settings
from hypothesis import strategies as st
from openai._streaming import ServerSentEvent, SSEDecoder

from graphs.models.openai_chat import EventSplitter

_text = st.text(alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=12)
_line = st.one_of(
    _text.map(lambda t: "data: " + json.dumps({"content": t})),
    _text.map(lambda t: "data:" + t),
    st.just("data"),
    st.sampled_from(["event: error", "event:thread.run", "event: "]),
    _text.map(lambda t: ":" + t),
)
_end = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    text = ""
    for _ in range(draw(st.integers(0, 6))):
        for line in draw(st.lists(_line, min_size=1, max_size=4)):
            text += line + draw(_end)
        text += draw(_end)  # the blank line that ends the event
    if draw(st.booleans()):
        text += draw(_line)  # an event the stream ends inside
    raw = text.encode()
    cuts = sorted(set(draw(st.lists(st.integers(0, len(raw)), max_size=8))))
    return raw, cuts


def _reads(raw: bytes, cuts: list[int]) -> list[bytes]:
    edges = [0, *cuts, len(raw)]
    return [raw[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


def _seen(events: list[ServerSentEvent]) -> list[tuple[str | None, str]]:
    return [(event.event, event.data) for event in events if event.event or event.data]


@settings(max_examples=400, deadline=None)
@given(streams())
def test_the_same_events_as_the_sdk_decoder(stream: tuple[bytes, list[int]]) -> None:
    raw, cuts = stream
    reads = _reads(raw, cuts)
    expected = _seen(list(SSEDecoder().iter_bytes(iter(reads))))
    assert _seen(list(EventSplitter().iter_bytes(iter(reads)))) == expected

    async def read_all() -> list[ServerSentEvent]:
        async def source() -> AsyncIterator[bytes]:
            for read in reads:
                yield read
        return [event async for event in EventSplitter().aiter_bytes(source())]

    assert _seen(asyncio.run(read_all())) == expected


def test_a_burst_in_one_read_gives_every_chunk() -> None:
    chunks = [{"choices": [{"delta": {"content": f"tok{i} "}}]} for i in range(50)]
    raw = b"".join(b"data: %s\r\n\r\n" % json.dumps(chunk).encode() for chunk in chunks) + b"data: [DONE]\n\n"
    events = list(EventSplitter().iter_bytes(iter([raw[:7], raw[7:-3], raw[-3:]])))
    assert [json.loads(event.data) for event in events[:-1]] == chunks
    assert events[-1].data == "[DONE]"
