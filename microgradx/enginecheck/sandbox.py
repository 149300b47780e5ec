"""The checker's side of the sandbox: the engine runs in a child process
(``python -m microgradx.enginecheck.child``), one JSON request and answer a line over pipes.

``Sandbox.call(request, timeout)`` sends one request and waits at most ``timeout`` seconds for
its answer (``select`` on the pipe, so nothing blocks on a silent child). A child that does not
answer in time is killed (``{"ok": false, "error": "timeout"}``); one that dies (``os._exit``, a
segfault of a recursion past the C stack, the memory limit) answers ``{"ok": false, "error":
"exit"}`` with its status. Either way the next request starts a fresh child, which loads the
engine again. The engine's prints never reach these pipes (the child redirects them), so a
chatty engine cannot fill a pipe and deadlock. Standard library only; ``subprocess`` and
``select`` are imported when a child starts, so this module loads where they are missing (Pyodide:
``microgradx.enginecheck.inprocess`` runs the engine there).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from microgradx.enginecheck.findings import TargetError

if TYPE_CHECKING:
    import subprocess

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAX_ANSWER = 64 * 1024**2  # bytes: an answer longer than this is the child misbehaving


class Sandbox:
    """A child process holding the engine that ``load`` (a ``"load"`` request) describes."""

    def __init__(self, load: dict[str, Any], load_timeout: float) -> None:
        self.load_request = load
        self.load_timeout = load_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.loaded: dict[str, Any] = {}
        self.restarts = 0

    def start(self) -> dict[str, Any]:
        """Start a child and load the engine; its answer. Raises ``TargetError`` when the target
        cannot be loaded (or the child dies or hangs while loading it)."""
        import subprocess

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "microgradx.enginecheck.child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # so killing it takes the engine's own children too
        )
        self._buffer = b""
        answer = self._exchange(self.load_request, self.load_timeout)
        if not answer.get("ok"):
            self.close()
            if "target_error" in answer:
                raise TargetError(answer["target_error"])
            raise TargetError(f"loading the engine failed: {_describe(answer)}")
        self.loaded = answer
        return answer

    def call(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send ``request``; its answer, or a timeout/exit answer (the child is then gone and the
        next call starts a fresh one)."""
        if self.process is None or self.process.poll() is not None:
            self.restarts += 1
            self.start()
        return self._exchange(request, timeout)

    def _exchange(self, request: dict[str, Any], timeout: float) -> dict[str, Any]:
        import select

        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write((json.dumps(request) + "\n").encode())
            process.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._died()
        deadline = time.monotonic() + timeout
        fd = process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                return {"ok": False, "error": "timeout", "message": f"no answer in {timeout:g} s"}
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return self._died()
            self._buffer += chunk
            if len(self._buffer) > MAX_ANSWER:
                self.close()
                return {"ok": False, "error": "exit", "message": "the child's answer is too long"}
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            answer: dict[str, Any] = json.loads(line)
        except ValueError:  # (UnicodeDecodeError is one) the engine wrote into the channel
            self.close()  # what follows in the channel cannot be trusted either
            return {
                "ok": False,
                "error": "exit",
                "message": "the engine's process sent the checker something that is not an"
                " answer (did it write to file descriptors it does not own?)",
            }
        return answer

    def _died(self) -> dict[str, Any]:
        import subprocess

        process = self.process
        assert process is not None
        try:
            status = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        self.close()
        if status is not None and status < 0:
            name = signal.Signals(-status).name if -status in signal.valid_signals() else -status
            message = f"the process died with signal {name}"
            if -status in (signal.SIGKILL, signal.SIGSEGV):
                message += " (a recursion past the C stack, or the memory limit)"
        else:
            message = f"the process exited with status {status} (os._exit?)"
        return {"ok": False, "error": "exit", "message": message}

    def close(self) -> None:
        """Kill the child (and its process group) if it runs."""
        process, self.process = self.process, None
        if process is None:
            return
        # The whole group, even when the child itself has exited: a process the engine forked
        # lives on in it (and holds the channel open).
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            if process.poll() is None:
                process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _describe(answer: dict[str, Any]) -> str:
    """An error answer in words: ``ZeroDivisionError: division by zero``."""
    error = answer.get("error", "error")
    message = answer.get("message", "")
    if error in ("timeout", "exit"):
        return str(message)
    return f"{error}: {message}" if message else str(error)
