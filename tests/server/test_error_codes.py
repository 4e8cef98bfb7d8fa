"""`docs/errors.md` is generated from `graphs.events.ERROR_CODES`, and lists every code the code emits."""

from __future__ import annotations

import re

from _server_support import ROOT

from graphs.events import ERROR_CODES
from graphs.server import error_code_table

DOC = ROOT / "docs" / "errors.md"
REGENERATE = ("python -c 'from graphs.server import error_code_table; print(error_code_table(), end=\"\")' "
              "> docs/errors.md")
# Where a code is written as a literal: `code="..."`, `"code": "..."`, the first argument of the error
# builders, and `classify_error`'s `return "code", retryable, message` tuples.
_EMITTED = re.compile(
    r"""code\s*=\s*["'](\w+)["']"""
    r"""|["']code["']\s*:\s*["'](\w+)["']"""
    r"""|(?:ErrorEvent\.of|ApiError|NodeError|_frame_error)\(\s*["'](\w+)["']"""
    r"""|return\s*\(?\s*["'](\w+)["']\s*,\s*(?:True|False)"""
)


def test_the_doc_is_the_generated_table() -> None:
    assert DOC.read_text(encoding="utf-8") == error_code_table(), f"docs/errors.md is stale; regenerate: {REGENERATE}"


def test_every_code_the_code_emits_is_in_the_table() -> None:
    emitted: dict[str, str] = {}
    for path in [*(ROOT / "graphs").rglob("*.py"), *(ROOT / "factory").rglob("*.py")]:
        for match in _EMITTED.finditer(path.read_text(encoding="utf-8")):
            emitted[next(group for group in match.groups() if group)] = str(path.relative_to(ROOT))
    table = set(re.findall(r"^\| `(\w+)` \|", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE))
    assert table == set(ERROR_CODES)
    unknown = {code: where for code, where in emitted.items() if code not in table}
    assert not unknown, f"codes emitted but not in docs/errors.md (add them to graphs.events.ERROR_CODES): {unknown}"
    assert len(emitted) >= 25, sorted(emitted)  # the scan finds the codes (nodes, server, client, classify_error)
