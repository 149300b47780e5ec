"""An exercise and its check: the reference, the named mistakes and their hints, the result.

``Exercise.check(answer)`` classifies an answer as ``not answered``, ``right``, ``wrong`` (with
the hint of the named mistake it equals, or a general one) or ``error``; see
``microgradx.exercises``. Standard library and the engine only: this runs in a browser (Pyodide)
as it does in CPython.
"""

from __future__ import annotations

import html
import json
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from microgradx.checks import describe
from microgradx.engine import Value

Status = Literal["not answered", "right", "wrong", "error"]


@dataclass(frozen=True)
class Result:
    """The outcome of one check: ``status``, the line printed, and the mistake found (or None)."""

    exercise: str
    status: Status
    message: str
    mistake: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "right"

    def __str__(self) -> str:
        return f"{self.exercise}: {self.message}"

    def _repr_html_(self) -> str:
        colour = {"right": "#1a7f37", "not answered": "#57606a"}.get(self.status, "#cf222e")
        return (
            f'<div class="mgx-check" style="color:{colour}"><b>{html.escape(self.exercise)}</b>: '
            f"{html.escape(self.message)}</div>"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "status": self.status,
            "passed": self.passed,
            "mistake": self.mistake,
            "message": self.message,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class Mistake:
    """A named mistake: its hint, and the answer it produces (a value, or a function)."""

    name: str
    hint: str
    answer: Any


@dataclass(frozen=True)
class Exercise:
    """One exercise. ``reference()`` and ``mistakes()`` are computed on first use (with the
    engine); ``cases()`` are the inputs a function answer is called on (``[()]`` for a value)."""

    id: str
    statement: str
    reference: Callable[[], Any]
    mistakes: Callable[[], list[Mistake]]
    function: bool = False
    cases: Callable[[], list[tuple[Any, ...]]] = lambda: [()]
    tolerance: float = 1e-6
    shape: str = "a number"
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def notebook(self) -> str:
        return self.id.split(".", 1)[0]

    def outputs(self, answer: Any) -> list[Any]:
        """The answer's outputs on every case (the answer itself for a value exercise)."""
        if not self.function:
            return [answer]
        return [answer(*case) for case in self.cases()]

    def _expected(self) -> list[Any]:
        if "reference" not in self._cache:
            self._cache["reference"] = self.outputs(self.reference())
            self._cache["mistakes"] = [(m, self.outputs(m.answer)) for m in self.mistakes()]
        return list(self._cache["reference"])

    def named_mistakes(self) -> list[tuple[Mistake, list[Any]]]:
        self._expected()
        return list(self._cache["mistakes"])

    def check(self, answer: Any) -> Result:
        """Classify ``answer``; never raises on what the learner gives: an exception of the
        learner's function, ``SystemExit`` included (``sys.exit()`` in an answer must not end the
        kernel), is the result ``"error"``; ``KeyboardInterrupt`` (the learner stopping a slow
        answer) propagates."""
        if answer is ...:
            return Result(
                self.id, "not answered", "not answered yet (replace the ... with your answer)"
            )
        if self.function and not callable(answer):
            return Result(self.id, "wrong", f"give a function, got {describe(answer)}")
        if isinstance(answer, Value):
            return Result(
                self.id, "wrong", "give the number (.data or .grad), not the Value itself"
            )
        expected = self._expected()
        try:
            given = self.outputs(answer)
        except (Exception, SystemExit) as error:  # the learner's function: report, never crash
            return Result(self.id, "error", _raised(error))
        if self.function and any(output is ... for output in given):  # body still `return ...`
            return Result(self.id, "not answered", "not answered yet (your function returns ...)")
        if _all_close(given, expected, self.tolerance):
            return Result(self.id, "right", "right")
        for mistake, outputs in self.named_mistakes():
            if _all_close(given, outputs, self.tolerance):
                return Result(self.id, "wrong", f"not right: {mistake.hint}", mistake.name)
        return Result(
            self.id,
            "wrong",
            f"not right, and not a mistake this check knows (the answer is {self.shape}); "
            "retrace the chain rule one factor at a time",
        )


def _all_close(a: Any, b: Any, tolerance: float) -> bool:
    """Numbers within ``tolerance`` (relative, and absolute near 0); sequences elementwise.
    False, never an exception, for anything else the learner gives (``b`` is ours)."""
    try:
        return _close(a, b, tolerance)
    except (Exception, SystemExit):  # (RecursionError too) an object refusing comparison
        return False


def _raised(error: BaseException) -> str:
    """``your function raised NAME: message``, whatever the exception's ``__str__`` does."""
    name = type(error).__name__
    if isinstance(error, SystemExit):
        return f"your function called sys.exit({_text(error.code)}) (the kernel keeps running)"
    message = _text(error, str)
    return f"your function raised {name}" + (f": {message}" if message else "")


def _text(value: object, how: Any = repr) -> str:
    """``how(value)``, at most 300 characters, or a placeholder when it raises."""
    try:
        shown = str(how(value))
    except Exception:  # the learner's __str__/__repr__ raising is not the checker's error
        return f"<{type(value).__name__} that cannot be shown>"
    return shown if len(shown) <= 300 else shown[:300] + "..."


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if hasattr(a, "tolist") and not isinstance(a, (list, tuple)):
        a = a.tolist()  # a NumPy array or scalar
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a == b)
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        x, y = float(a), float(b)
        if math.isnan(x) or math.isnan(y):
            return False
        return math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance * 1e-3)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(p, q, tolerance) for p, q in zip(a, b))
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().lower() == b.strip().lower()
    return False


def _m(name: str, hint: str, answer: Any) -> Mistake:
    """A named mistake (the catalogue's shorthand)."""
    return Mistake(name, hint, answer)
