"""Helpers to drive the real `factory chat` in a pseudo-terminal and read the screen as a person would.

`Term` wraps `pexpect.spawn` and a `pyte` screen. It answers the terminal's cursor-position
requests (prompt_toolkit asks them) the way a real terminal does, so nothing in the command under
test knows it is being tested.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pexpect
import pyte
from served import wait_ready

from factory.runners import free_port

ROOT = Path(__file__).resolve().parents[2]
FACTORY = str(ROOT / ".venv" / "bin" / "factory")
SPEC = str(ROOT / "specs" / "sales_discovery.yaml")
ROWS, COLS = 24, 100
TOKEN_DELAY_MS = "40"
KEYS_ENV, GOOD_KEY = "CHAT_TEST_API_KEYS", "right-key-123"


def base_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACTORY_", "OPENAI_"))}
    env.update({"TERM": "xterm-256color", "FACTORY_SCRIPTED_TOKEN_DELAY_MS": TOKEN_DELAY_MS,
                "FACTORY_DATA_DIR": str(tmp / "data"), "HOME": str(tmp), "PYTHONUNBUFFERED": "1",
                "COLUMNS": str(COLS), "LINES": str(ROWS)})
    env.update(extra)
    return env


class _Screen(pyte.Screen):
    """A pyte screen that sends the terminal's answers (cursor position reports) back to the program."""

    def __init__(self, reply: Callable[[str], None]) -> None:
        super().__init__(COLS, ROWS)
        self._reply = reply

    def write_process_input(self, data: str) -> None:
        self._reply(data)


class Term:
    """A program in a pty with a rendered screen."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.child = pexpect.spawn(FACTORY, args, dimensions=(ROWS, COLS), env=env, cwd=str(cwd),
                                   encoding="utf-8", codec_errors="replace", timeout=30)
        self.screen = _Screen(self.child.send)
        self.stream = pyte.Stream(self.screen)
        self.log: list[str] = []

    def pump(self, seconds: float = 0.05) -> None:
        """Read whatever the program wrote within `seconds` and render it."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=max(0.0, deadline - time.monotonic()))
            except pexpect.TIMEOUT:
                return
            except pexpect.EOF:
                return
            self.log.append(chunk)
            self.stream.feed(chunk)
            if time.monotonic() >= deadline:
                return

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, predicate: Callable[[str], bool] | str, timeout: float = 20.0) -> str:
        check = (lambda s: predicate in s) if isinstance(predicate, str) else predicate
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.02)
            screen = self.text()
            if check(screen):
                return screen
            if not self.child.isalive() and not self._pending():
                break
        raise AssertionError(f"screen never showed {predicate!r}; it shows:\n{self.text()}\n"
                             f"--- raw tail ---\n{''.join(self.log)[-2000:]!r}")

    def _pending(self) -> bool:
        try:
            chunk = self.child.read_nonblocking(65536, timeout=0)
        except (pexpect.TIMEOUT, pexpect.EOF):
            return False
        self.log.append(chunk)
        self.stream.feed(chunk)
        return True

    def wait_prompt(self, count: int, timeout: float = 20.0) -> str:
        """Wait until the `you ›` prompt has been shown `count` times in total on screen."""
        return self.wait_for(lambda s: s.count("you ›") + s.count("answer ›") >= count, timeout)

    def idle(self, timeout: float = 20.0) -> str:
        """Wait until the prompt is the last thing on screen (the chat waits for a line)."""
        return self.wait_for(lambda s: s.rstrip().endswith(("you ›", "answer ›")), timeout)

    def type_line(self, text: str) -> None:
        self.child.send(text + "\r")

    def command(self, text: str, expect: str | Callable[[str], bool]) -> str:
        """Type a line once the prompt is back, wait for `expect`, then for the prompt again."""
        self.idle()
        self.type_line(text)
        self.wait_for(expect)
        return self.idle()

    def exit_code(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self.pump(0.05)
        self.pump(0.05)
        self.child.close()
        assert self.child.exitstatus is not None, f"killed by signal {self.child.signalstatus}"
        return int(self.child.exitstatus)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)



class Server:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}"


def factory_serve_available() -> bool:
    """`factory serve` once the serving CLI has landed; else the image's entry point serves the plan."""
    result = subprocess.run([FACTORY, "serve", "--help"], capture_output=True, text=True, cwd=ROOT)
    return result.returncode == 0


def _plan_file(tmp: Path, *, keys_env: str | None) -> Path:
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    plan = compile_plan(load_spec(SPEC))
    if keys_env:
        plan["serve"]["auth"] = {"api_keys_env": keys_env}
    path = tmp / "plan.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    return path


def start_server(tmp: Path, *, keys_env: str | None = None, keys: str = "") -> Server:
    """A real server on a free port with the slow scripted model; waits for `GET /ready`."""
    port = free_port()
    log = tmp / f"server-{port}.log"
    env = base_env(tmp, FACTORY_CHECKPOINTER="memory")
    if keys_env:
        env[keys_env] = keys
    if factory_serve_available() and not keys_env:
        cmd = [FACTORY, "serve", SPEC, "--host", "127.0.0.1", "--port", str(port), "--model", "scripted"]
    else:
        cmd = [sys.executable, "-m", "graphs.server", "--plan", str(_plan_file(tmp, keys_env=keys_env)),
               "--base-dir", str(Path(SPEC).parent), "--host", "127.0.0.1", "--port", str(port),
               "--model", "scripted", "--checkpointer", "memory", "--log-level", "warning"]
    handle = log.open("wb")
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=handle, stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{port}", proc, log=log)
    return Server(proc, port, log)


def start_fake_server(tmp: Path) -> Server:
    """`fake_server.py` on a free port: the rare failures (403, bad thread ids, 409 after a cancel)."""
    port = free_port()
    log = tmp / f"fake-{port}.log"
    handle = log.open("wb")
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("fake_server.py")), str(port)],
                            cwd=str(ROOT), stdout=handle, stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{port}", proc, timeout=30, what="the fake server", log=log)
    return Server(proc, port, log)


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(10)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait(5)
