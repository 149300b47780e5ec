"""The sandbox's child process: ``python -m microgradx.enginecheck.child``.

It loads the engine, then runs the checker's requests on it, one JSON object a line on its stdin,
one answer a line on its stdout. Before the engine is imported, the protocol moves to its own file
descriptors and fds 0, 1 and 2 point at ``/dev/null``; ``sys.stdout`` and ``sys.stderr`` become
bounded buffers (the first ``KEEP`` characters of each request's output are sent back with its
answer, the rest only counted), so an engine that prints megabytes or reads stdin cannot block or
flood the checker. The address space is limited (``RLIMIT_AS``, ``MEMORY_LIMIT`` bytes, where the
platform has ``resource``). An exception of the engine, ``SystemExit`` included, is an answer
(``{"ok": false, "error": "ZeroDivisionError", ...}``); a hang or ``os._exit`` is seen by the
parent (``microgradx.enginecheck.sandbox``). Nothing is pickled.

Requests:

- ``{"cmd": "load", "spec": {...} | null, "source": str | null, "class_name": ..., "data_attr":
  ..., "grad_attr": ..., "backward": ..., "path": [...]}``: import the target (a file, a module,
  or a notebook's class source); answers the class name, its spelling and supported forms, or
  ``{"ok": false, "target_error": "one line"}``.
- ``{"cmd": "run", "inputs": [x0, ...], "steps": [[form, [i, j], param], ...], "actions":
  [...]}``: leaves ``Value(x)`` for the inputs, each step applies a form (``microgradx.enginecheck
  .target.apply_form``) to earlier values; then the actions in order: ``["backward", i]``,
  ``["zero", [i, ...]]`` (set the gradient attribute to 0, as micrograd users do),
  ``["sgd", lr, [i, ...]]`` (``data -= lr * grad``), ``["read", [i, ...]]`` (their numbers and
  gradients). Answers ``{"ok": true, "reads": [{"data": [...], "grad": [...]}, ...]}``.
- ``{"cmd": "chain", "n": n}``: ``y = x; y = y + x`` n times, ``y.backward()``; answers
  ``y``'s number and ``x``'s gradient (n + 1 each), or the error and where (forward, backward).
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from typing import Any, TextIO

from microgradx.enginecheck.findings import TargetError
from microgradx.enginecheck.target import (
    Spelling,
    TargetSpec,
    apply_form,
    class_spelling,
    find_class,
    load_module,
    number_of,
    said,
    supported_forms,
)

_HERE = os.path.dirname(os.path.abspath(__file__))
KEEP = 2000  # characters of the engine's output kept per request
MEMORY_LIMIT = 2 * 1024**3  # bytes of address space
# Nested Python calls a request may make (the request's own frame first): what CPython 3.11's
# default recursion limit (1000) left below the child's main loop before it was set this way. The
# in-process mode (``microgradx.enginecheck.inprocess``) gives the engine the same, so a recursive
# engine fails at the same depth in both.
FRAMES = 995


class _Bounded(io.TextIOBase):
    """A text stream that keeps its first ``KEEP`` characters and counts the rest."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        if self.size < KEEP:
            self.kept.append(s[: KEEP - self.size])
        self.size += len(s)
        return len(s)

    def take(self) -> str:
        text = "".join(self.kept)
        if self.size > KEEP:
            text += f"... ({self.size} characters in all)"
        self.kept, self.size = [], 0
        return text


class _Engine:
    """The engine loaded, and the requests run on it. ``passes``: the exceptions that are not
    answers but end the check (in-process, the learner's KeyboardInterrupt)."""

    def __init__(self, passes: tuple[type[BaseException], ...] = ()) -> None:
        self.cls: Any = None
        self.spelling = Spelling("data", "grad", "backward")
        self.passes = passes

    def load(self, request: dict[str, Any]) -> dict[str, Any]:
        for entry in reversed(request.get("path") or []):
            if entry not in sys.path:
                sys.path.append(entry)
        try:
            if request.get("class") is not None:  # in-process: the class object itself
                self.cls = request["class"]
                self.spelling = class_spelling(
                    self.cls,
                    str(request.get("class_name") or self.cls.__qualname__),
                    request.get("data_attr"),
                    request.get("grad_attr"),
                    request.get("backward"),
                )
            elif request.get("source") is not None:
                import types

                module = types.ModuleType("__engine__")
                module.__dict__["__name__"] = "__engine__"
                sys.modules["__engine__"] = module
                try:
                    exec(compile(request["source"], "<engine cells>", "exec"), module.__dict__)
                except BaseException as error:
                    message = said(error, 200)
                    raise TargetError(
                        f"running the cells that define {request['class_name']} raised"
                        f" {type(error).__name__}: {message}"
                    ) from None
                self._find(module, request)
            else:
                self._find(load_module(TargetSpec(**request["spec"])), request)
        except TargetError as error:
            return {"ok": False, "target_error": str(error)}
        return {
            "ok": True,
            "class_name": self.cls.__name__,
            "data_attr": self.spelling.data_attr,
            "grad_attr": self.spelling.grad_attr,
            "backward": self.spelling.backward,
            "supported": supported_forms(self.cls, self.spelling, self.passes),
        }

    def _find(self, module: Any, request: dict[str, Any]) -> None:
        self.cls, self.spelling = find_class(
            module,
            request.get("class_name"),
            request.get("data_attr"),
            request.get("grad_attr"),
            request.get("backward"),
        )

    def number(self, value: Any, attr: str) -> float | str:
        got = getattr(value, attr)
        found = number_of(got)
        return f"not a number: {type(got).__name__}" if found is None else found

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        where = "building the inputs"
        values: list[Any] = []
        reads: list[dict[str, list[float | str]]] = []
        try:
            values = [self.cls(x) for x in request["inputs"]]
            for k, (form, args, param) in enumerate(request["steps"]):
                where = f"step {k} ({form})"
                values.append(apply_form(form, [values[i] for i in args], param))
            for action in request["actions"]:
                where = str(action[0])
                if action[0] == "backward":
                    getattr(values[action[1]], self.spelling.backward)()
                elif action[0] == "zero":
                    for i in action[1]:
                        setattr(values[i], self.spelling.grad_attr, 0.0)
                elif action[0] == "sgd":
                    lr, indices = action[1], action[2]
                    for i in indices:
                        data = getattr(values[i], self.spelling.data_attr)
                        grad = getattr(values[i], self.spelling.grad_attr)
                        setattr(values[i], self.spelling.data_attr, data - lr * grad)
                elif action[0] == "read":
                    reads.append(
                        {
                            "data": [
                                self.number(values[i], self.spelling.data_attr) for i in action[1]
                            ],
                            "grad": [
                                self.number(values[i], self.spelling.grad_attr) for i in action[1]
                            ],
                        }
                    )
        except BaseException as error:
            if isinstance(error, self.passes):
                raise
            return _error(error, where) | {"reads": reads}
        return {"ok": True, "reads": reads}

    def chain(self, request: dict[str, Any]) -> dict[str, Any]:
        where = "forward"
        try:
            x = self.cls(0.5)
            y = x
            for _ in range(int(request["n"])):
                y = y + x
            where = "backward"
            getattr(y, self.spelling.backward)()
            return {
                "ok": True,
                "data": self.number(y, self.spelling.data_attr),
                "grad": self.number(x, self.spelling.grad_attr),
            }
        except BaseException as error:
            if isinstance(error, self.passes):
                raise
            return _error(error, where)


def _down(n: int) -> int:
    try:
        return _down(n + 1)
    except RecursionError:
        return n


def recursion_limit(frames: int) -> int:
    """The recursion limit under which the caller's callees may nest exactly ``frames`` Python
    calls: measured (the frames below the caller, and what the interpreter counts besides them,
    differ between a child's main loop and a notebook's kernel, and between Python versions)."""
    limit = sys.getrecursionlimit()
    fit = _down(1) + 1  # _down(1) is one call below this frame, two below the caller's
    return limit + frames - fit


def _error(error: BaseException, where: str) -> dict[str, Any]:
    if isinstance(error, SystemExit):
        message = f"the engine called sys.exit({_shown(error.code)})"
    else:
        message = said(error, 300)
    frames = traceback.extract_tb(error.__traceback__)
    line = ""
    for frame in reversed(frames):  # the engine's innermost line, not the checker's
        if os.path.dirname(os.path.abspath(frame.filename)) != _HERE:
            line = f"{os.path.basename(frame.filename)}:{frame.lineno}"
            break
    return {
        "ok": False,
        "error": type(error).__name__,
        "message": message,
        "where": where,
        "line": line,
    }


def _shown(code: object) -> str:
    """``repr(code)`` of the engine's ``sys.exit(code)``, or what its ``__repr__`` raised."""
    try:
        return repr(code)[:100]
    except KeyboardInterrupt:
        raise
    except BaseException as failure:
        return f"an object whose repr() raised {type(failure).__name__}"


def _limit_memory() -> None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no resource module
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
    # the hard limit too, so the engine cannot lift it (a process without privileges cannot)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    """Serve requests until stdin closes."""
    requests: TextIO = os.fdopen(os.dup(0), "r", encoding="utf-8")
    answers: TextIO = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    out, err = _Bounded(), _Bounded()
    sys.stdout, sys.stderr = out, err
    sys.stdin = io.StringIO()
    _limit_memory()
    sys.setrecursionlimit(recursion_limit(FRAMES))
    engine = _Engine()
    for line in requests:
        request = json.loads(line)
        try:
            cmd = request["cmd"]
            if cmd == "load":
                answer = engine.load(request)
            elif cmd == "run":
                answer = engine.run(request)
            else:
                answer = engine.chain(request)
        except BaseException as error:  # MemoryError while answering, say
            answer = _error(error, "the checker's child")
        printed = out.take() + err.take()
        if printed:
            answer["output"] = printed
        try:
            text = json.dumps(answer)
        except (TypeError, ValueError):
            text = json.dumps({"ok": False, "error": "TypeError", "message": repr(answer)[:300]})
        answers.write(text + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
