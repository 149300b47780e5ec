"""Depth and numerics, checked on another engine.

- ``depth`` (``check_depth``): ``y = x; y = y + x`` n times for n in ``DEPTHS``, then
  ``backward()``: the value 0.5 (n + 1) and the gradient n + 1. A RecursionError (a recursive
  walk of the graph, one Python frame per node) is a crash; the first failing length is found by
  bisection (``bisect``, within the budget) and given as ``details["depth"]``. A chain may take
  ``CHAIN_LIMIT`` seconds.
- ``numerics`` (``check_numeric``): ``exp(1000)``, ``1/0``, ``(-8) ** 0.5``, ``0 ** -1``,
  ``tanh`` and ``sigmoid`` at ±1000, value and gradient: ``ok`` where they agree with IEEE-754's
  (the op table's float rules; NaN agrees with NaN), else ``behaviour`` with both, an exception of
  the engine included (``ZeroDivisionError`` where IEEE-754 gives ``inf``): the engine's choice,
  not a failure. A hang or an exit is a crash.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from microgradx.enginecheck.checks import (
    SHOWN,
    Checker,
    _Stop,
    close,
    reference,
)
from microgradx.enginecheck.findings import (
    BEHAVIOUR,
    CRASH,
    OK,
    UNSUPPORTED,
    WRONG_GRADIENT,
    WRONG_VALUE,
)
from microgradx.enginecheck.sandbox import _describe
from microgradx.ops import OPS

DEPTHS = (1000, 10_000, 100_000)
CHAIN_LIMIT = 10.0  # seconds a chain of DEPTHS[-1] ops may take (about 1 s in micrograd)

if TYPE_CHECKING:
    pass


def check_depth(self: Checker, n: int) -> None:
    check = f"depth {n}"
    if "add" not in self.supported:
        self.add(check, "depth", UNSUPPORTED, "needs a + b for the chain")
        return
    answer = self.call({"cmd": "chain", "n": n}, max(self.limit, CHAIN_LIMIT))
    example = (
        f"x = {self.class_name}(0.5); y = x\nfor _ in range({n}):\n    y = y + x\n"
        f"y.{self.spelling['backward']}()"
    )
    if answer.get("error") == "budget":
        raise _Stop
    if answer.get("ok"):
        got = (answer["data"], answer["grad"])
        want = (0.5 * (n + 1), float(n + 1))
        if all(isinstance(g, float) and close(g, w) for g, w in zip(got, want)):
            self.add(check, "depth", OK, f"a chain of {n} additions: value and gradient right")
        else:
            self.add(
                check,
                "depth",
                WRONG_GRADIENT,
                f"a chain of {n} additions: value, x's gradient {got}, expected {want}",
                example=example,
                details={"expected": want, "got": got},
            )
        return
    verdict = self.crashed(answer)
    details = dict(verdict["details"])
    message = f"a chain of {n} additions: {verdict['message']}"
    if answer.get("error") == "RecursionError":
        first = self._recursion if self._recursion is not None else bisect(self, n)
        if first is not None:
            self._recursion = first
            details["depth"] = first
            message += (
                f"; it starts at a chain of {first} additions ({first - 1} work): a recursive"
                " walk of the graph (a recursive topological sort?) uses one Python frame per"
                " node; walk with an explicit stack"
            )
    self.add(check, "depth", CRASH, message, example=example, details=details)


def bisect(self: Checker, failing: int) -> int | None:
    """The shortest chain that raises RecursionError, by bisection (None: out of budget)."""
    low, high = 0, failing  # low works (no chain at all), high fails
    while high - low > 1:
        if self.left() <= 0:
            return None
        middle = (low + high) // 2
        answer = self.call({"cmd": "chain", "n": middle}, max(self.limit, CHAIN_LIMIT))
        if answer.get("error") == "RecursionError":
            high = middle
        elif answer.get("ok"):
            low = middle
        else:
            return None
    return high


def check_numeric(
    self: Checker, text: str, form: str, inputs: list[float], param: float | None
) -> None:
    check = f"numerics {text}"
    if form not in self.supported:
        alternative = {"div": "div_f"}.get(form)
        if alternative in self.supported:
            form, inputs = alternative, inputs[:1]
        else:
            self.add(check, "numerics", UNSUPPORTED, f"needs {SHOWN.get(form, f'a.{form}()')}")
            return
    name = form.removesuffix("_f")
    op = OPS[name].member(param) if param is not None and name in ("pow_scalar",) else OPS[name]
    args = inputs + ([0.0] if form == "div_f" else [])
    out, grads = reference(op, args)
    grad = grads[0]
    answer = self.run(
        inputs,
        [[form, list(range(len(inputs))), param if form != "div_f" else 0.0]],
        [["backward", len(inputs)], ["read", list(range(len(inputs) + 1))]],
    )
    if answer.get("error") == "budget":
        raise _Stop
    ieee = f"IEEE-754 gives {out!r} (gradient {grad!r})"
    example = _NUMERIC_SOURCE[text].format(V=self.class_name, backward=self.spelling["backward"])
    if not answer.get("ok"):
        hung = answer.get("error") in ("timeout", "exit")
        verdict = self.crashed(answer)
        details = {"ieee": out, "ieee_gradient": grad, "got": _describe(answer)}
        message = f"{text}: the engine raises {verdict['message']}; {ieee}"
        kind = CRASH if hung else BEHAVIOUR
        self.add(check, "numerics", kind, message, example=example, details=details)
        return
    got_out = answer["reads"][0]["data"][-1]
    got_grad = answer["reads"][0]["grad"][0]
    details = {"ieee": out, "ieee_gradient": grad, "got": got_out, "got_gradient": got_grad}
    if all(isinstance(g, float) and close(g, w) for g, w in ((got_out, out), (got_grad, grad))):
        self.add(
            check,
            "numerics",
            OK,
            f"{text} = {got_out!r}, gradient {got_grad!r}, as IEEE-754",
            details=details,
        )
        return
    # Where IEEE-754 and the engine both give finite numbers that differ, the engine is wrong
    # (tanh'(-1000) = 2 is a wrong rule, not a way of handling overflow); a difference involving
    # inf or nan, or an exception, is the engine's behaviour at the edge.
    wrong_value, wrong_gradient = (
        _finite_and_apart(g, w) for g, w in ((got_out, out), (got_grad, grad))
    )
    kind = WRONG_VALUE if wrong_value else WRONG_GRADIENT if wrong_gradient else BEHAVIOUR
    self.add(
        check,
        "numerics",
        kind,
        f"{text}: the engine gives {got_out!r} (gradient {got_grad!r}); {ieee}",
        example=example,
        details=details,
    )


def _finite_and_apart(got: object, want: float) -> bool:
    """Both finite numbers, and not equal within the checker's tolerance."""
    return (
        isinstance(got, float)
        and math.isfinite(got)
        and math.isfinite(want)
        and not close(got, want)
    )


_NUMERICS: dict[str, tuple[str, str, list[float], float | None]] = {
    "exp(1000)": ("exp(1000)", "exp", [1000.0], None),
    "1/0": ("1/0", "div", [1.0, 0.0], None),
    "(-8) ** 0.5": ("(-8) ** 0.5", "pow_scalar", [-8.0], 0.5),
    "0 ** -1": ("0 ** -1", "pow_scalar", [0.0], -1.0),
    "tanh(1000)": ("tanh(1000)", "tanh", [1000.0], None),
    "tanh(-1000)": ("tanh(-1000)", "tanh", [-1000.0], None),
    "sigmoid(1000)": ("sigmoid(1000)", "sigmoid", [1000.0], None),
    "sigmoid(-1000)": ("sigmoid(-1000)", "sigmoid", [-1000.0], None),
}


_NUMERIC_SOURCE = {
    "exp(1000)": "y = {V}(1000.0).exp(); y.{backward}()",
    "1/0": "y = {V}(1.0) / {V}(0.0); y.{backward}()",
    "(-8) ** 0.5": "y = {V}(-8.0) ** 0.5; y.{backward}()",
    "0 ** -1": "y = {V}(0.0) ** -1.0; y.{backward}()",
    "tanh(1000)": "y = {V}(1000.0).tanh(); y.{backward}()",
    "tanh(-1000)": "y = {V}(-1000.0).tanh(); y.{backward}()",
    "sigmoid(1000)": "y = {V}(1000.0).sigmoid(); y.{backward}()",
    "sigmoid(-1000)": "y = {V}(-1000.0).sigmoid(); y.{backward}()",
}
