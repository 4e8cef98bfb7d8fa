"""The chat checks thread ids with the one rule (`graphs.events`), so a bad one never reaches the wire."""

from __future__ import annotations

import subprocess

from chat_harness import FACTORY, ROOT, SPEC, base_env

from graphs.events import THREAD_ID_RULE


def test_a_bad_thread_option_names_the_rule(tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run([FACTORY, "chat", SPEC, "--model", "scripted", "--thread", "bad/id"], input="",
                          capture_output=True, text=True, env=base_env(tmp_path, COLUMNS="300"), cwd=str(ROOT),
                          timeout=60)
    assert done.returncode == 2
    assert THREAD_ID_RULE in " ".join(done.stderr.replace("│", " ").split())
