"""Gradient checking: reverse-mode gradients against central finite differences.

For each input x_i the numeric derivative is the central difference

    (f(x + h e_i) - f(x - h e_i)) / (2h),     error O(h^2),

with the step h scaled to |x_i|. Two refinements make the check trustworthy:

* Kinks and domain edges. Before choosing h, the graph is swept once in forward mode to learn how
  fast every node moves when x_i moves. Each op in the table knows where its kinks are (``relu`` at
  0, ``maximum`` at a == b, ``log`` at 0), so h is shrunk to 1% of the distance to the nearest
  one. An input that sits *on* a kink (``relu(0)``) is reported as not differentiable there,
  not as a failure.
* Blame. When a gradient disagrees, every op in the graph (inputs first) has its own local
  derivative checked against a central difference of its float rule, and the first op that
  disagrees is named: a wrong derivative rule is found, not just its symptom.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from microgradx.engine import Operand, Value, topological_order
from microgradx.modes import no_grad
from microgradx.ops import Op


class GradcheckError(AssertionError):
    """A gradient disagreed with its finite difference. ``report`` has the details."""

    def __init__(self, report: GradcheckReport) -> None:
        self.report = report
        super().__init__(str(report))


@dataclass(frozen=True)
class GradcheckRow:
    """One input: its reverse-mode (analytic) and finite-difference (numeric) derivatives."""

    name: str
    value: float
    analytic: float
    numeric: float
    step: float
    status: str  # "ok", "FAIL", or "kink" (not differentiable at this point; not checked)
    detail: str = ""

    @property
    def abs_error(self) -> float:
        return abs(self.analytic - self.numeric)

    @property
    def rel_error(self) -> float:
        scale = abs(self.numeric)
        return self.abs_error / scale if scale > 0 else self.abs_error


@dataclass(frozen=True)
class GradcheckReport:
    """The result of ``gradcheck``: one row per input; prints as a table."""

    output: float
    rows: tuple[GradcheckRow, ...]
    eps: float
    atol: float
    rtol: float
    suspect: str | None = None  # the first op whose own local derivative is wrong, if any

    @property
    def checked(self) -> int:
        """How many inputs were compared (an input on a kink is not)."""
        return sum(row.status != "kink" for row in self.rows)

    @property
    def passed(self) -> bool:
        """Every compared input agreed, and at least one was compared: a check that compared
        nothing has not shown anything."""
        return self.checked > 0 and all(row.status != "FAIL" for row in self.rows)

    @property
    def verdict(self) -> str:
        if self.checked == 0:
            return "compared nothing"
        return "passed" if self.passed else "FAILED"

    @property
    def worst(self) -> GradcheckRow | None:
        """The failing row with the largest error (``None`` when every row passed)."""
        failed = [row for row in self.rows if row.status == "FAIL"]
        return max(failed, key=lambda row: row.abs_error, default=None)

    def __str__(self) -> str:
        lines = [
            f"gradcheck {self.verdict}: f = {self.output:.6g}, "
            f"{len(self.rows)} input(s), eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}",
            f"  {'input':<10} {'value':>12} {'analytic':>14} {'numeric':>14}"
            f" {'abs err':>10} {'rel err':>10}  status",
        ]
        for r in self.rows:
            if r.status == "kink":  # not compared: no numeric value or errors to show
                numbers = f"{'-':>14} {'-':>10} {'-':>10}"
            else:
                numbers = f"{r.numeric:>14.8g} {r.abs_error:>10.2e} {r.rel_error:>10.2e}"
            detail = f" ({r.detail})" if r.detail else ""
            lines.append(
                f"  {r.name:<10} {r.value:>12.6g} {r.analytic:>14.8g} {numbers}  {r.status}{detail}"
            )
        worst = self.worst
        if worst is not None:
            lines.append(
                f"worst input: {worst.name} (analytic {worst.analytic:.8g}"
                f" vs numeric {worst.numeric:.8g})"
            )
        if self.suspect is not None:
            lines.append(f"first op whose own local derivative disagrees: {self.suspect}")
        if self.checked == 0:
            lines.append(
                "no input could be checked: every one sits on a kink or the edge of a domain,"
                " where the function has no derivative to compare; check at other points"
            )
        return "\n".join(lines)


def _close(analytic: float, numeric: float, atol: float, rtol: float) -> bool:
    if math.isfinite(analytic) and math.isfinite(numeric):
        return abs(analytic - numeric) <= atol + rtol * abs(numeric)
    return analytic == numeric or (math.isnan(analytic) and math.isnan(numeric))


def _shrink(h: float, limit: float) -> float:
    """``h``, made no larger than ``limit`` when the limit is a number (NaN never gets in)."""
    return limit if limit >= 0 and limit < h else h


def _largest_safe_step(
    order: list[Value], local: dict[Value, tuple[float, ...]], leaf: Value
) -> tuple[float, str]:
    """How far ``leaf`` may move before some node crosses a kink, by one forward-mode sweep.

    The tangent of a node is d(node)/d(leaf): the sum over its children of local_grad * tangent.
    A node with kink function k (linear in its inputs) is k(inputs) away from its kink and moves
    at speed |k(tangents)|. Returns (step limit, reason); the limit is 0 on a kink.
    """
    tangent: dict[Value, float] = {leaf: 1.0}
    limit, reason = math.inf, ""
    for node in order:
        op = node.op
        if op is None:
            continue
        child_tangents = [tangent.get(c, 0.0) for c in node.children]
        if not any(t != 0.0 for t in child_tangents):
            continue  # this node does not move with the leaf
        if op.kink is not None:
            distance = abs(op.kink(*[c.data for c in node.children]))
            speed = abs(op.kink(*child_tangents))
            finite = math.isfinite(distance) and math.isfinite(speed)
            if finite and speed > 0 and distance / speed < limit:
                limit, reason = distance / speed, f"{op.label} is at a kink"
        # an input that does not move adds 0 (not 0 * inf = nan), as in forward mode
        tangent[node] = sum(g * t for g, t in zip(local[node], child_tangents) if t != 0.0)
    return limit, reason


def _check_op(op: Op, inputs: list[float], analytic: Sequence[float], eps: float) -> int | None:
    """The index of the first input whose local derivative disagrees with a central difference."""
    for k, x in enumerate(inputs):
        if not math.isfinite(x):
            continue  # no finite difference to compare with at inf or NaN
        h = eps * max(1.0, abs(x))
        if op.kink is not None:
            unit = [1.0 if j == k else 0.0 for j in range(len(inputs))]
            speed = abs(op.kink(*unit))
            if speed > 0:
                h = _shrink(h, 0.01 * abs(op.kink(*inputs)) / speed)
        if not h > 0:
            continue  # at a kink: no one-sided answer to compare with

        def at(xk: float, k: int = k) -> float:
            return op.forward(*(xk if j == k else v for j, v in enumerate(inputs)))

        numeric = (at(x + h) - at(x - h)) / (2 * h)
        # A looser test than the user's: this only points at the op most likely to be wrong.
        if not _close(analytic[k], numeric, 1e-5, 1e-3):
            return k
    return None


def gradcheck(
    f: Callable[..., Value],
    inputs: Sequence[Operand],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> GradcheckReport:
    """Compare the reverse-mode gradient of ``f`` at ``inputs`` with central differences.

    ``f`` takes one Value per input and returns a Value. ``inputs`` are numbers or Values (their
    data and labels are used; they are not modified). An input passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``. Returns a ``GradcheckReport``; on failure,
    raises ``GradcheckError`` (unless ``raise_exception=False``) naming the worst input and the
    first op whose own local derivative disagrees with a finite difference. A check that could
    compare no input (each sits on a kink, like ``relu`` at 0) has not passed: its report says so
    and, with ``raise_exception``, it raises too.
    """
    if not (eps > 0 and math.isfinite(eps)):
        raise ValueError(f"eps must be a positive finite number, got {eps!r}")
    if atol < 0 or rtol < 0:
        raise ValueError(f"atol and rtol must be >= 0, got atol={atol!r}, rtol={rtol!r}")
    if not callable(f):
        raise TypeError(f"f must be callable, got {type(f).__name__}")
    names, values = [], []
    for i, x in enumerate(inputs):
        if isinstance(x, Value):
            names.append(x.label or f"x{i}")
            values.append(x.data)
        else:
            names.append(f"x{i}")
            values.append(Value(x).data)  # Value() gives the TypeError for a bad input
    if not values:
        raise ValueError("inputs must not be empty")

    leaves = [Value(x, label=name) for x, name in zip(values, names)]
    out = f(*leaves)
    if not isinstance(out, Value):
        raise TypeError(f"f must return a Value, got {type(out).__name__}")
    out.backward()
    order = topological_order(out)
    local = {node: node.local_grads() for node in order if node.op is not None}

    def f_at(xs: list[float]) -> float:
        with no_grad():
            return f(*[Value(x) for x in xs]).data

    rows = []
    for i, leaf in enumerate(leaves):
        x, analytic = leaf.data, float(leaf.grad)
        h = eps * max(1.0, abs(x))
        limit, reason = _largest_safe_step(order, local, leaf)
        # Stay well inside: near a pole (log, 1/x) the error of a central difference grows like
        # (h / distance)^2, so h is kept at 1% of the distance to the nearest kink or edge.
        h = _shrink(h, 0.01 * limit)
        if h < eps * max(1.0, abs(x)) * 1e-6:
            rows.append(GradcheckRow(names[i], x, analytic, math.nan, h, "kink", reason))
            continue
        plus = f_at([*values[:i], x + h, *values[i + 1 :]])
        minus = f_at([*values[:i], x - h, *values[i + 1 :]])
        numeric = (plus - minus) / (2 * h)
        status = "ok" if _close(analytic, numeric, atol, rtol) else "FAIL"
        rows.append(GradcheckRow(names[i], x, analytic, numeric, h, status))

    report = GradcheckReport(out.data, tuple(rows), eps, atol, rtol)
    if report.checked == 0:
        if raise_exception:
            raise GradcheckError(report)
        return report
    if not report.passed:
        report = GradcheckReport(
            out.data, report.rows, eps, atol, rtol, suspect=_first_wrong_op(order, local, eps)
        )
        if raise_exception:
            raise GradcheckError(report)
    return report


def _first_wrong_op(order: list[Value], local: dict[Value, tuple[float, ...]], eps: float) -> str:
    for position, node in enumerate(order):
        if node.op is None:
            continue
        inputs = [c.data for c in node.children]
        k = _check_op(node.op, inputs, local[node], eps)
        if k is not None:
            args = ", ".join(f"{x:.6g}" for x in inputs)
            return (
                f"{node.op.name} (node {position} of {len(order)}, "
                f"{node.op.label}({args}), input {k}: local derivative {local[node][k]:.8g})"
            )
    return "none: every op's local derivative matches; the function may be ill-conditioned here"
