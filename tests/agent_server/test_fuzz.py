"""Every Agent Server API route survives schemathesis (pinned, a dev dependency): no 500, every status
and body as the OpenAPI document says, and no traceback in the server's log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from _serve import Served

EXAMPLES = 25
"""Examples per operation and phase (coverage, fuzzing, stateful): about 3,000 requests in all."""
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def test_schemathesis_finds_nothing(chat_server: Served, tmp_path: Path) -> None:
    st = Path(sys.executable).parent / "st"
    done = subprocess.run(
        [str(st), "run", f"{chat_server.url}/openapi.json", "--checks", CHECKS,
         "--include-path-regex", "^/(threads|runs|assistants|info$|ok$)", "-n", str(EXAMPLES), "--seed", "11",
         "--no-color", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900, check=False, cwd=tmp_path,  # its example database too
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert "Traceback" not in chat_server.log_text()
