"""The checks of another engine (issue 19 §2), each giving ``Finding``s.

The engine runs in the sandbox's child; every number it computes is compared here with the
same expression built from microgradx's Values (``expected``: its op table's IEEE-754 float rules
and local derivatives, ``microgradx.ops.OPS``) on the same float64 inputs. Every op the checker
detects is in the op table, so microgradx always has a rule to compare with.

**Tolerance.** A number agrees when ``|got - expected| <= ATOL + RTOL * |expected|`` with
``RTOL = 1e-7`` and ``ATOL = 1e-9``: an engine that writes a rule another correct way in float64
(``tanh`` as ``(e^2x - 1) / (e^2x + 1)``, ``a / b`` as ``a * b ** -1``) is a few units in the last
place off per op, amplified at most by the graphs' conditioning (values and local derivatives at
most 100 over at most 6 steps: far below 1e-7); a wrong rule is off in the first digits.

Checks (``category``: check names):

- ``ops``: ``op NAME`` for each supported op: hypothesis draws expressions over that op only
  (``microgradx.strategies.expressions(ops=[NAME], max_steps=6)``, seeded; ``examples`` of them,
  fewer when the op's share of the budget runs out), each evaluated in the child; the
  first node whose value disagrees is a wrong value; wrong input gradients are traced to the op
  whose local rule disagrees (each op run alone on fresh leaves in the child, compared with the
  op table's rule; a central difference, ``gradcheck``'s, is quoted beside it). Hypothesis shrinks
  a failure to the smallest expression. Missing forms of issue 19's list are ``unsupported``.
- ``reuse``, ``semantics``: ``microgradx.enginecheck.semantics``; ``depth``, ``numerics``:
  ``microgradx.enginecheck.limits``; ``training``: ``microgradx.enginecheck.training``; the order
  they run in: ``microgradx.enginecheck.api``.

The budget: each request waits at most ``limit`` seconds (per example); when the budget is
spent, the checks left are ``not checked``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from microgradx.engine import Value, apply, grad_number
from microgradx.enginecheck.findings import (
    CRASH,
    NOT_CHECKED,
    OK,
    UNSUPPORTED,
    WRONG_GRADIENT,
    WRONG_VALUE,
    Finding,
)
from microgradx.enginecheck.inprocess import InProcess
from microgradx.enginecheck.sandbox import Sandbox, _describe
from microgradx.files import deferred_interrupt
from microgradx.gradcheck import _check_op
from microgradx.modes import enable_grad
from microgradx.ops import OPS, Op

if TYPE_CHECKING:
    from microgradx.strategies import Expression

RTOL = 1e-7
ATOL = 1e-9
# the forms as a learner writes them, with a, b Values and c a float
SHOWN = {
    "add": "a + b",
    "sub": "a - b",
    "mul": "a * b",
    "div": "a / b",
    "pow": "a ** b",
    "pow_scalar": "a ** 2.0",
    "rpow_scalar": "2.0 ** a",
    "neg": "-a",
    "abs": "abs(a)",
    "add_f": "a + 2.0",
    "f_add": "2.0 + a",
    "sub_f": "a - 2.0",
    "f_sub": "2.0 - a",
    "mul_f": "a * 2.0",
    "f_mul": "2.0 * a",
    "div_f": "a / 2.0",
    "f_div": "2.0 / a",
}
_OPERATORS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


class _Stop(BaseException):
    """Ends a hypothesis run early (the budget, or a hang): not a failure hypothesis shrinks."""


@contextmanager
def source_constants_off() -> Iterator[None]:
    """Hypothesis (6.1xx) also draws numbers it finds in the source of the modules the process
    has imported, and caches them in a ``.hypothesis/`` folder in the working directory: a
    check's examples then depended on what the learner's notebook had imported (and on every
    edit of it), against ``hypothesis_settings``' promise of the same examples on every run,
    and the check wrote a folder beside the learner's files. Off for the block (Hypothesis
    turns it off itself under Pyodide); the function it replaces is put back after, and a
    Hypothesis without it is left as it is. The expressions' strategies draw their edge
    values (0, -0.0, inf, kinks) themselves.

    Blocks may overlap (checks in two threads at once, ending in either order): the first to
    open saves the function and the last to close puts it back, so one block's end never
    restores another's replacement as if it were Hypothesis's own."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:
        yield
        return
    opened = False
    try:
        # a Ctrl-C meanwhile is delivered as the deferring ends: inside the try, once opened
        with deferred_interrupt(), _constants_lock:
            if _constants_off[0] == 0:
                original = getattr(providers, "_get_local_constants", None)
                if original is not None:  # (a Hypothesis without it is left as it is)
                    nothing = Constants()
                    _constants_off[1] = original
                    providers._get_local_constants = lambda: nothing
                    _constants_off[0], opened = 1, True
            else:
                _constants_off[0] += 1
                opened = True
        yield
    finally:
        if opened:
            with deferred_interrupt(), _constants_lock:
                _constants_off[0] -= 1
                if _constants_off[0] == 0:
                    providers._get_local_constants = _constants_off[1]
                    _constants_off[1] = None


# How many source_constants_off blocks are open (any thread), and the function the first saved.
_constants_lock = threading.Lock()
_constants_off: list[Any] = [0, None]


def close(got: float, expected: float) -> bool:
    """Agreement within the tolerance (see the module's docstring); NaN agrees with NaN and an
    infinity with the same infinity."""
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if math.isinf(expected) or math.isinf(got):
        return got == expected
    return abs(got - expected) <= ATOL + RTOL * abs(expected)


def form_of(op: Op) -> tuple[str, float | None]:
    """The child's form for an op of the table (its parameter for a family member)."""
    if op.name in ("pow_scalar", "rpow_scalar"):
        return op.name, op.param
    return op.name, None


@dataclass
class Expected:
    """Every node's value and gradient by microgradx's float rules (inputs first, then steps)."""

    data: list[float]
    grad: list[float]
    local: list[tuple[float, ...]]


def expected(expr: Expression) -> Expected:
    """``expr`` built with microgradx's Values (its op table's float rules) and ``backward()``:
    every node's number and gradient, and each step's local derivatives."""
    nodes = [Value(x) for x in expr.inputs]
    with enable_grad():  # a graph even inside a caller's no_grad()
        for step in expr.steps:
            nodes.append(apply(step.op, *[nodes[i] for i in step.args]))
    nodes[-1].backward()
    steps = nodes[len(expr.inputs) :]
    local = [tuple(float(g) for g in node.local_grads()) for node in steps]
    return Expected([n.data for n in nodes], [grad_number(n) for n in nodes], local)


def reference(op: Op, args: Sequence[float]) -> tuple[float, tuple[float, ...]]:
    """``op`` at ``args`` by microgradx (IEEE-754: ``inf``, ``nan``, never an exception): its
    value and its local derivatives."""
    leaves = [Value(x) for x in args]
    with enable_grad():
        out = apply(op, *leaves)
    out.backward()
    return out.data, tuple(grad_number(leaf) for leaf in leaves)


def _fmt(x: object) -> str:
    return f"{x:.6g}" if isinstance(x, float) else str(x)


@dataclass
class Checker:
    """Runs the checks on the engine in ``sandbox`` (a child process, or ``InProcess``) until
    ``deadline`` (``time.monotonic``)."""

    sandbox: Sandbox | InProcess
    class_name: str
    spelling: dict[str, str]
    supported: list[str]
    deadline: float
    limit: float
    seed: int = 0
    examples: int = 25
    findings: list[Finding] = field(default_factory=list)
    complete: bool = True
    _recursion: int | None = None

    # -- the sandbox ------------------------------------------------------------------------
    def left(self) -> float:
        return self.deadline - time.monotonic()

    def call(self, request: dict[str, Any], limit: float | None = None) -> dict[str, Any]:
        """One request, waiting at most ``limit`` seconds (default ``self.limit``); a timeout
        cut short by the budget is marked ``"budget"``."""
        limit = self.limit if limit is None else limit
        left = self.left()
        if left <= 0:
            return {"ok": False, "error": "budget", "message": "the budget is spent"}
        timeout = min(limit, left)
        answer = self.sandbox.call(request, timeout)
        if not isinstance(answer, dict):  # what the engine wrote in the channel, not an answer
            raise TypeError(f"an answer must be a JSON object, got {type(answer).__name__}")
        if answer.get("error") == "timeout":
            if timeout < limit:
                answer = {"ok": False, "error": "budget", "message": "the budget is spent"}
            else:
                answer["message"] = f"no answer within the time limit of {limit:.3g} s (a hang?)"
        return answer

    def run(
        self, expr_inputs: Sequence[float], steps: list[list[Any]], actions: list[Any]
    ) -> dict[str, Any]:
        return self.call(
            {"cmd": "run", "inputs": list(expr_inputs), "steps": steps, "actions": actions}
        )

    def add(self, check: str, category: str, kind: str, message: str = "", **extra: Any) -> None:
        self.findings.append(Finding(check, category, kind, message, **extra))

    def not_checked(self, check: str, category: str) -> None:
        self.complete = False
        self.add(check, category, NOT_CHECKED, "the budget ran out before this check")

    # -- source a learner can paste -----------------------------------------------------------
    def source(self, expr: Expression, note: str = "") -> str:
        """The expression over the engine's class, then backward and the input gradients."""
        cls, data, grad, backward = (
            self.class_name,
            self.spelling["data_attr"],
            self.spelling["grad_attr"],
            self.spelling["backward"],
        )
        names = [f"x{i}" for i in range(len(expr.inputs))]
        lines = [f"{name} = {cls}({x!r})" for name, x in zip(names, expr.inputs)]
        for step in expr.steps:
            name = f"v{len(names)}"
            form, param = form_of(step.op)
            args = [names[i] for i in step.args]
            lines.append(f"{name} = {_spell(form, args, param)}")
            names.append(name)
        lines.append(f"{names[-1]}.{backward}()")
        shown = ", ".join(f"x{i}.{grad}" for i in range(len(expr.inputs)))
        lines.append(f"print({names[-1]}.{data}, {shown}){note}")
        return "\n".join(lines)

    # -- running an expression and judging it -------------------------------------------------
    def program(self, expr: Expression) -> list[list[Any]] | None:
        """The child's steps for ``expr``; None if it uses a form the engine lacks."""
        steps = []
        for step in expr.steps:
            form, param = form_of(step.op)
            if form not in self.supported:
                return None
            steps.append([form, list(step.args), param])
        return steps

    def judge(self, expr: Expression) -> dict[str, Any] | None:
        """Run ``expr`` in the child; None when every value and input gradient agrees, else the
        finding's fields (kind, message, node, details). A hang or exit is a crash too."""
        steps = self.program(expr)
        assert steps is not None
        last = len(expr.inputs) + len(steps) - 1
        everything = list(range(last + 1))
        answer = self.run(
            expr.inputs, steps, [["read", everything], ["backward", last], ["read", everything]]
        )
        want = expected(expr)
        reads = answer.get("reads", [])
        if reads:
            wrong = self._first_wrong_value(expr, want, reads[0]["data"])
            if wrong is not None:
                return wrong
        if not answer.get("ok"):
            return self.crashed(answer, expr)
        grads = reads[1]["grad"]
        for i in range(len(expr.inputs)):
            got = grads[i]
            if isinstance(got, str) or not close(got, want.grad[i]):
                return self._wrong_gradient(expr, want, i, got)
        return None

    def crashed(self, answer: dict[str, Any], expr: Expression | None = None) -> dict[str, Any]:
        where = answer.get("where", "")
        line = f" ({answer['line']})" if answer.get("line") else ""
        message = f"{_describe(answer)}" + (f" in {where}{line}" if where else "")
        details: dict[str, Any] = {"error": answer.get("error", "")}
        if answer.get("output"):
            details["output"] = answer["output"]
        return {"kind": CRASH, "message": message, "details": details}

    def _first_wrong_value(
        self, expr: Expression, want: Expected, data: list[Any]
    ) -> dict[str, Any] | None:
        n = len(expr.inputs)
        for node, got in enumerate(data):
            if isinstance(got, str) or not close(got, want.data[node]):
                if node < n:
                    what = f"x{node} = {self.class_name}({expr.inputs[node]!r})"
                    return {
                        "kind": WRONG_VALUE,
                        "message": f"{what} holds {_fmt(got)}",
                        "node": node,
                        "details": {"expected": want.data[node], "got": got},
                    }
                step = expr.steps[node - n]
                formula = self.formula(expr, node)
                at = ", ".join(
                    f"v{i} = {want.data[i]:.6g}" if i >= n else f"x{i} = {want.data[i]:.6g}"
                    for i in sorted(set(step.args))
                )
                return {
                    "kind": WRONG_VALUE,
                    "message": f"{formula} at {at}: expected {_fmt(want.data[node])},"
                    f" got {_fmt(got)}",
                    "node": node,
                    "details": {"expected": want.data[node], "got": got, "op": step.op.name},
                }
        return None

    def formula(self, expr: Expression, node: int) -> str:
        n = len(expr.inputs)
        step = expr.steps[node - n]
        names = [f"x{i}" if i < n else f"v{i}" for i in step.args]
        form, param = form_of(step.op)
        return f"v{node} = {_spell(form, names, param)}"

    def _wrong_gradient(
        self, expr: Expression, want: Expected, leaf: int, got: Any
    ) -> dict[str, Any]:
        """Name the op whose local rule disagrees: each op alone, on fresh leaves at its inputs."""
        n = len(expr.inputs)
        for j, step in enumerate(expr.steps):
            node = n + j
            args = [want.data[i] for i in step.args]
            form, param = form_of(step.op)
            k = len(args)
            answer = self.run(
                args, [[form, list(range(k)), param]], [["backward", k], ["read", list(range(k))]]
            )
            if not answer.get("ok"):
                return self.crashed(answer) | {"node": node}
            engine_local = answer["reads"][0]["grad"]
            for position, (g, w) in enumerate(zip(engine_local, want.local[j])):
                if isinstance(g, str) or not close(g, w):
                    operand = (
                        f"x{step.args[position]}"
                        if step.args[position] < n
                        else f"v{step.args[position]}"
                    )
                    formula = self.formula(expr, node)
                    numbers = [g if not isinstance(g, str) else math.nan for g in engine_local]
                    difference = _check_op(step.op, args, numbers, 1e-6)
                    also = (
                        " (a central difference agrees with the expected value)"
                        if difference is not None
                        else ""
                    )
                    return {
                        "kind": WRONG_GRADIENT,
                        "message": f"`{formula}`: expected d v{node}/d {operand} = {w:.6g},"
                        f" got {_fmt(g)} at {operand} = {args[position]:.6g}{also}",
                        "node": node,
                        "details": {
                            "expected": w,
                            "got": g,
                            "op": step.op.name,
                            "operand": position,
                            "inputs": args,
                        },
                    }
        return {
            "kind": WRONG_GRADIENT,
            "message": f"d out/d x{leaf}: expected {want.grad[leaf]:.6g}, got {_fmt(got)}, though"
            " every op's local derivative is right alone: the backward pass combines them"
            " wrongly (a value used twice counted once, as with children kept in a set?)",
            "node": leaf,
            "details": {"expected": want.grad[leaf], "got": got},
        }

    # -- the checks ---------------------------------------------------------------------------
    def ops_to_check(self) -> list[str]:
        return [name for name in self.supported if name in OPS]

    def hypothesis_settings(self) -> Callable[[Callable[..., None]], Callable[..., None]]:
        """Seeded, no example database, no deadline (the child's time limit is the deadline),
        quiet: the same examples, in the same order, on every run."""
        from hypothesis import HealthCheck, Phase, Verbosity, seed, settings

        chosen = settings(
            max_examples=self.examples,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate, Phase.shrink],
            print_blob=False,
            verbosity=Verbosity.quiet,
            report_multiple_bugs=False,
        )

        def apply_both(test: Callable[..., None]) -> Callable[..., None]:
            return seed(self.seed)(chosen(test))

        return apply_both

    def add_verdict(
        self,
        check: str,
        category: str,
        verdict: dict[str, Any],
        expr: Expression | None = None,
        example: str | None = None,
    ) -> None:
        """A finding from ``judge``'s or ``crashed``'s verdict (on ``expr``, if one)."""
        self.add(
            check,
            category,
            verdict["kind"],
            verdict["message"],
            example=example if expr is None else self.source(expr),
            expression=expr,
            node=verdict.get("node"),
            details=verdict["details"],
        )

    def check_op(self, name: str, share: float) -> None:
        """Hypothesis over expressions of ``name`` only; the smallest failure is the finding.
        After ``share`` seconds no new example starts (once one has run)."""
        check = f"op {name}"
        if self.left() <= 0:
            self.not_checked(check, "ops")
            return
        from hypothesis import given, reject

        from microgradx.strategies import expressions

        best: list[tuple[tuple[int, int, int], Expression, dict[str, Any]]] = []
        ran = [0]
        stop = time.monotonic() + share

        @self.hypothesis_settings()
        @given(expressions(ops=[name], max_steps=6))
        def prop(expr: Expression) -> None:
            if self.left() <= 0 or (ran[0] and time.monotonic() > stop):
                raise _Stop
            if self.program(expr) is None:
                reject()
            ran[0] += 1
            verdict = self.judge(expr)
            if verdict is None:
                return
            key = (len(expr.steps), len(expr.inputs), len(str(expr)))
            if not best or key <= best[0][0]:
                best[:] = [(key, expr, verdict)]
            if verdict["details"].get("error") in ("timeout", "exit", "budget"):
                raise _Stop  # a hang is not shrunk: each try costs the time limit
            raise AssertionError(verdict["message"])

        try:
            with source_constants_off():
                prop()
        except _Stop:
            pass
        except Exception:  # the failure hypothesis found: kept in best
            pass
        if best and best[0][2]["details"].get("error") == "budget":
            self.not_checked(check, "ops")
        elif best:
            self.add_verdict(check, "ops", best[0][2], best[0][1])
        elif ran[0] == 0:
            self.not_checked(check, "ops")
        else:
            self.add(check, "ops", OK, f"{ran[0]} random expressions agree with microgradx")

    def check_expression(self, check: str, category: str, expr: Expression) -> None:
        if self.program(expr) is None:
            needs = sorted({form_of(s.op)[0] for s in expr.steps} - set(self.supported))
            self.add(check, category, UNSUPPORTED, f"needs {', '.join(needs)}")
            return
        verdict = self.judge(expr)
        if verdict is not None and verdict["details"].get("error") == "budget":
            raise _Stop
        if verdict is None:
            self.add(check, category, OK, "values and gradients agree with microgradx")
        else:
            self.add(
                check,
                category,
                verdict["kind"],
                verdict["message"],
                example=self.source(expr),
                expression=expr,
                node=verdict.get("node"),
                details=verdict["details"],
            )


def _fmt_list(xs: Sequence[object]) -> str:
    return "[" + ", ".join(_fmt(x) for x in xs) + "]"


def _spell(form: str, args: Sequence[str], param: float | None) -> str:
    """``form`` applied to ``args`` as a learner writes it (``x0 * x1``, ``v2.tanh()``)."""
    c = 2.0 if param is None else param
    if form in _OPERATORS:
        return f"{args[0]} {_OPERATORS[form]} {args[-1]}"
    if form in SHOWN and (form.endswith("_f") or form.startswith("f_")):
        return SHOWN[form].replace("a", args[0]).replace("2.0", repr(c))
    if form == "pow_scalar":
        return f"{args[0]} ** {c!r}"
    if form == "rpow_scalar":
        return f"{c!r} ** {args[0]}"
    if form == "neg":
        return f"-{args[0]}"
    if form == "abs":
        return f"abs({args[0]})"
    return f"{args[0]}.{form}()"


def _expr(inputs: Sequence[float], steps: Sequence[tuple[str, tuple[int, ...]]]) -> Expression:
    from microgradx.strategies import Expression, Step

    return Expression(tuple(inputs), tuple(Step(OPS[name], args) for name, args in steps))
