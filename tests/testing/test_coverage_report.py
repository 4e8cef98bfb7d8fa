"""`factory test --coverage-report FILE.md|FILE.html`: the spec's text, each node, edge and condition line marked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from spec_test_helpers import clean_env

FACTORY = Path(sys.executable).parent / "factory"


def factory(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FACTORY), "test", *map(str, args)], capture_output=True, text=True, timeout=120,
                          env=clean_env(NO_COLOR="1", COLUMNS="200"))


def _line(text: str, number: int) -> str:
    (found,) = [line for line in text.splitlines() if line.startswith(f"{number:>2} ")]
    return found


def test_markdown_marks_every_node_edge_and_condition_line(mini: Path, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "coverage.md"
    done = factory(mini, "--coverage-report", out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"coverage report: {out}" in done.stdout
    text = out.read_text()
    assert "nodes 5/6 visited, edges 7/9 taken, conditions 1/2 seen both true and false" in text
    assert _line(text, 21) == ("21 +   fetch: {kind: tool, tool: lookup, into: info}   <- node fetch: visited by "
                               "'help is looked up'")
    assert _line(text, 24).startswith("24 -   escalate: {kind: reply") and _line(text, 24).endswith(
        "<- node escalate: never visited")
    # taken both ways: exercised; never true: only partly
    assert _line(text, 29).startswith("29 +   - {from: route, to: fetch,")
    assert _line(text, 29).endswith("<- edge route -> fetch: taken by 'help is looked up' | condition: true in "
                                    "'help is looked up'; false in 'small talk'")
    assert _line(text, 28).startswith("28 -   - {from: route, to: escalate,")
    assert _line(text, 28).endswith("edge route -> escalate: never taken | condition: never true; false in "
                                    "2 conversations")
    assert _line(text, 1) == " 1   spec: 1"
    # the table after the text lists every conversation by name
    assert ("| 28 | missed | edge route -> escalate: never taken<br>when state.turns > 100: never true; false in "
            "'help is looked up', 'small talk' |") in text


def test_html_colours_the_lines_and_escapes_the_text(mini: Path, tmp_path: Path) -> None:
    out = tmp_path / "coverage.html"
    assert factory(mini, "--coverage-report", out).returncode == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>")
    assert '<tr class="missed"><td class="n">24</td><td class="g">-</td><td class="c">  escalate:' in page
    assert '<tr class="covered"><td class="n">29</td>' in page
    assert "when: &#x27;state.topic == &quot;help&quot;&#x27;" in page  # the spec's text, escaped
    assert "<script" not in page
    # the visible note counts the conversations, its tooltip names them
    assert "condition: never true; false in 2 conversations</td>" in page
    assert 'title="edge route -&gt; escalate: never taken\nwhen state.turns &gt; 100: never true; false in ' \
           '&#x27;help is looked up&#x27;, &#x27;small talk&#x27;"' in page


def test_a_report_that_is_neither_markdown_nor_html_is_refused_before_anything_runs(mini: Path,
                                                                                    tmp_path: Path) -> None:
    done = factory(mini, "--coverage-report", tmp_path / "coverage.txt")
    assert done.returncode == 2
    assert "the file must end in .md or .html" in done.stderr
    assert "PASS" not in done.stdout and not (tmp_path / "coverage.txt").exists()
