"""A real browser (Playwright + Debian's Chromium): the chat playground and `/test/streaming`.

Skipped when Chromium is missing, unless FACTORY_REQUIRE_BROWSER=1. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _server_support import ROOT, LiveServer
from real_parts import unavailable

from factory.mockllm import MockLLMServer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REPLY = "Hello from the mock model, nice to meet you."


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        unavailable("FACTORY_REQUIRE_BROWSER", f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield browser
        browser.close()


def test_playground_streams_a_reply(browser: Any, echo_server: LiveServer, mock_llm: MockLLMServer) -> None:
    mock_llm.set_script({"default": {"text": REPLY, "token_delay_ms": 120}})
    page = browser.new_page()
    page.goto(f"{echo_server.url}/echo-bot/playground/")  # redirects to the chat playground
    assert page.url.endswith("/echo-bot/chat/playground/")
    box = page.get_by_placeholder("Send a message...")
    box.fill("Hello there")
    box.press("Enter")
    seen: list[str] = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = page.locator("body").inner_text()
        seen.append(text)
        if REPLY in text:
            break
        time.sleep(0.05)
    assert REPLY in seen[-1]
    partial = [t for t in seen if "Hello from" in t and REPLY not in t]
    assert partial, "the reply appeared at once instead of streaming"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "playground.png"), full_page=True)
    # a second message continues the same thread (found through the first AI message's runId)
    box.fill("And a follow-up")
    box.press("Enter")
    page.wait_for_function(f"document.body.innerText.split({REPLY!r}).length === 3", timeout=15000)
    history = [(m["role"], m["content"]) for m in mock_llm.requests[-1].messages if m["role"] != "system"]
    assert history == [("user", "Hello there"), ("assistant", REPLY), ("user", "And a follow-up")]
    page.close()


def test_streaming_page_compares_streaming_and_whole(
    browser: Any, echo_server: LiveServer, mock_llm: MockLLMServer
) -> None:
    mock_llm.set_script({"default": {"text": REPLY, "first_token_delay_ms": 100, "token_delay_ms": 60}})
    page = browser.new_page()
    page.goto(f"{echo_server.url}/test/streaming")
    page.fill("#message", "Compare please")
    page.click("#send")
    page.wait_for_selector("#stream[data-done='1']", timeout=15000)
    page.wait_for_selector("#whole[data-done='1']", timeout=15000)
    assert page.inner_text("#stream-output") == REPLY
    assert page.inner_text("#whole-output") == REPLY
    stream_ttft = float(page.inner_text("#stream-ttft"))
    whole_ttft = float(page.inner_text("#whole-ttft"))
    assert stream_ttft < whole_ttft  # the point of streaming: the first word arrives well before the whole
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "test-streaming.png"), full_page=True)
    page.close()
