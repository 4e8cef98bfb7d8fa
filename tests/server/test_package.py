"""The server package's public surface (`__all__`, the httpx habit) and what importing it loads."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys

from _server_support import ROOT

import graphs.server

PUBLIC = [
    "DEFAULT_FAMILY", "TEST_MODE_ENV", "TURN_FAILURES", "ApiError", "AuthConfigError", "ErrorFamily", "FactoryApp",
    "FieldProblem", "JsonValue", "Limits", "OpaqueJson", "ProblemBody", "ServerState", "StartupError", "ThreadId",
    "TurnFailed",
    "add_error_family", "as_api_error", "create_app", "error_code_table", "error_response", "errors_documented",
    "event_stream", "message_text", "served_checkpointer_url", "server_state", "validation_error", "with_parameters",
]


def _isort(name: str) -> tuple[int, str]:
    return (0 if name.isupper() else 1 if name[0].isupper() else 2), name


def test_the_package_exports_what_it_says() -> None:
    assert graphs.server.__all__ == PUBLIC == sorted(PUBLIC, key=_isort)
    for name in PUBLIC:
        value = getattr(graphs.server, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__module__.startswith("graphs.server"), name


def test_every_private_modules_public_names_are_exported_by_its_package() -> None:
    """A name a private module `_x` lists in `__all__` is public only through its package's `__init__`."""
    for package in (graphs.server, importlib.import_module("graphs.server.langserve"),
                    importlib.import_module("graphs.server.openai"), importlib.import_module("graphs.server.a2a"),
                    importlib.import_module("graphs.server.mcp_endpoint")):
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_") or info.name.startswith("__"):
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name in getattr(module, "__all__", []):
                assert name in package.__all__, f"{module.__name__}.{name} is not in {package.__name__}.__all__"


def test_importing_the_server_loads_no_factory_module() -> None:
    """The runtime ships in the image without the toolchain: `graphs` never imports `factory`."""
    code = "import sys, graphs.server; print(sorted(m for m in sys.modules if m.split('.')[0] == 'factory'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""})
    assert done.stdout.strip() == "[]", done.stdout


def test_no_server_module_compares_an_event_name_to_a_string() -> None:
    """Encoders match events by class (`isinstance`), never by `event.event == "token"`."""
    compare = re.compile(r"""\.event\s*(?:==|!=|in)\s*[("'\[]|["']\s*(?:==|!=)\s*\w+\.event\b""")
    found = [f"{path.relative_to(ROOT)}:{number}"
             for path in (ROOT / "graphs" / "server").rglob("*.py")
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if compare.search(line)]
    assert not found, found
