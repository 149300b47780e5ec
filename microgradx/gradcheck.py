"""Gradient checking: reverse-mode gradients against central finite differences.

For each input x_i the numeric derivative is the central difference

    (f(x + h e_i) - f(x - h e_i)) / (2h),     error O(h^2),

with the step h scaled to |x_i|. Three refinements make the check trustworthy:

* Kinks and domain edges. Before choosing h, the graph is swept once in forward mode to learn how
  fast every node moves when x_i moves. Each op in the table knows where its kinks are (``relu`` at
  0, ``maximum`` at a == b, ``log`` at 0), so h is shrunk to 1% of the distance to the nearest
  one. An input that sits *on* a kink (``relu(0)``) is reported as not differentiable there,
  not as a failure.
* Numbers that are not finite are never compared by equality. Where f itself is NaN or infinite
  (``sqrt(-4)``, ``log(0)``, ``exp(1000)``), or a step of the finite difference leaves the domain
  or overflows, the input is "not compared" and the row says why (outside the domain of an op, at
  a pole, overflow). Where f has a finite slope that a smaller step confirms but the reverse-mode
  gradient is NaN or infinite, the gradient is wrong: that row FAILs. Where the slope grows as
  the step shrinks (a pole of the derivative, or f oscillating faster than the steps: the two
  look alike from outside), the row is "unresolved".
* Blame. When a gradient disagrees, every op in the graph (inputs first) has its own local
  derivative checked against a central difference of its float rule, and the first op that
  disagrees is named: a wrong derivative rule is found, not just its symptom.

* Edges no op declares. A step that would take any op outside its ``domain`` or make f NaN or
  infinite (an edge on either side, a clamp's other end) is shrunk, by probing, to 1% or less of
  the distance to that edge.

* Speed. From ``COMPILE_INPUTS`` (16) inputs on (a network's weights), f at every probe and
  step runs on the compiled replay (``microgradx.replay``): the same float operations in the same
  order, so the same report, for a fraction of the cost of building the graph again (the weights
  of a 64-32-10 MLP: 77 s -> 2-3 s). Where ``compile`` refuses f, or moving an input changes
  the graph f builds (control flow on the numbers), the check goes on interpreted.

A report's verdict is "passed", "FAILED", "incomplete" (an input where f is differentiable could
not be resolved by any step: it is not known to be right) or "compared nothing"; its truth value
is whether it passed, so PyTorch's habit ``assert gradcheck(f, inputs, raise_exception=False)``
fails on a wrong gradient, on an incomplete check, and on a check that compared nothing. Only
inputs where f has no derivative (exactly on a kink or a domain edge; f or the gradient NaN or
infinite) may be left out of a pass, and the report lists them.

An op's ``kink(*inputs)`` must return a real number and be affine in the inputs (``x``, ``a - b``,
``p - c`` for a clamp at a constant c); its ``domain(*inputs)`` must return True or False. Others
are refused with a ``TypeError`` naming the op.
"""

from __future__ import annotations

import heapq
import inspect
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from microgradx.checks import describe, flag, function, in_range, is_real, number, sequence
from microgradx.engine import Operand, Value, grad_number, topological_order
from microgradx.modes import enable_grad, no_grad
from microgradx.nn import Module
from microgradx.ops import Op, _everywhere
from microgradx.replay import Compiled, compile_function

# The statuses of a row. Only "ok" and "FAIL" rows were compared. "kink" and "not compared" rows
# have no derivative to compare (f is not differentiable there, or a number there is not finite);
# an "unresolved" row has one that the finite difference could not resolve.
OK, FAIL, KINK, NOT_COMPARED, UNRESOLVED = "ok", "FAIL", "kink", "not compared", "unresolved"


class GradcheckError(AssertionError):
    """The check did not pass: a gradient disagreed with its finite difference (FAILED), an
    input where f is differentiable could not be checked (incomplete), or no input could be
    compared (compared nothing). ``report`` has the details."""

    def __init__(self, report: GradcheckReport) -> None:
        self.report = report
        super().__init__(str(report))


@dataclass(frozen=True)
class GradcheckRow:
    """One input: its reverse-mode (analytic) and finite-difference (numeric) derivatives.

    ``status`` is ``"ok"``, ``"FAIL"``, ``"kink"`` (exactly on a kink or domain edge: not
    differentiable at this point, so not compared), ``"not compared"`` (f or its gradient is NaN
    or infinite here, for the reason in ``detail``: outside the domain of an op, at a pole,
    overflow) or ``"unresolved"`` (f is differentiable here, but no finite difference could
    resolve its slope: the step that fits before a kink or edge is too small for f's rounding,
    the difference overflowed, or the kink is within rounding of x)."""

    name: str
    value: float
    analytic: float
    numeric: float
    step: float
    status: str
    detail: str = ""

    @property
    def compared(self) -> bool:
        """Whether the two derivatives were compared (``ok`` or ``FAIL``)."""
        return self.status in (OK, FAIL)

    @property
    def abs_error(self) -> float:
        return abs(self.analytic - self.numeric)

    @property
    def rel_error(self) -> float:
        scale = abs(self.numeric)
        return self.abs_error / scale if scale > 0 else self.abs_error


@dataclass(frozen=True)
class GradcheckReport:
    """The result of ``gradcheck``: one row per input; prints as a table.

    ``verdict`` is one of

    * ``"FAILED"``: some input's gradient disagreed with its finite difference;
    * ``"incomplete"``: none disagreed, but some input where f is differentiable could not be
      checked (an ``"unresolved"`` row): nothing is known about its gradient;
    * ``"compared nothing"``: every input sits exactly on a kink or where a number is not finite;
    * ``"passed"``: every input was compared and agreed, except inputs where f has no derivative
      (``"kink"`` and ``"not compared"`` rows), which the printed report lists.

    ``bool(report)`` is ``report.passed`` (the verdict is ``"passed"``): ``assert gradcheck(...)``
    asserts the verdict.
    """

    output: float
    rows: tuple[GradcheckRow, ...]
    eps: float
    atol: float
    rtol: float
    suspect: str | None = None  # the first op whose own local derivative is wrong, if any

    @property
    def checked(self) -> int:
        """How many inputs were compared (an input on a kink or where a number is not finite is
        not)."""
        return sum(row.compared for row in self.rows)

    @property
    def passed(self) -> bool:
        """Every input was compared and agreed, but for inputs where f has no derivative, and at
        least one was compared: a check that compared nothing, or could not resolve an input
        where f is differentiable, has not shown that gradient right."""
        return self.verdict == "passed"

    def __bool__(self) -> bool:
        return self.passed

    @property
    def verdict(self) -> str:
        """``"FAILED"``, ``"incomplete"``, ``"compared nothing"`` or ``"passed"`` (see above)."""
        statuses = {row.status for row in self.rows}
        if FAIL in statuses:
            return "FAILED"
        if UNRESOLVED in statuses:
            return "incomplete"
        if self.checked == 0:
            return "compared nothing"
        return "passed"

    @property
    def worst(self) -> GradcheckRow | None:
        """The failing row with the largest error (``None`` when no row failed); a NaN or
        infinite analytic gradient counts as the largest."""
        failed = [row for row in self.rows if row.status == FAIL]

        def size(row: GradcheckRow) -> float:
            error = row.abs_error
            return math.inf if math.isnan(error) else error

        return max(failed, key=size, default=None)

    def __str__(self) -> str:
        lines = [
            f"gradcheck {self.verdict}: f = {self.output:.6g}, "
            f"{len(self.rows)} input(s), eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}",
            f"  {'input':<10} {'value':>12} {'analytic':>14} {'numeric':>14}"
            f" {'abs err':>10} {'rel err':>10}  status",
        ]
        for r in self.rows:
            if r.status == KINK or math.isnan(r.numeric):  # no numeric value or errors to show
                numbers = f"{'-':>14} {'-':>10} {'-':>10}"
            elif not r.compared:  # the numbers, but no errors: nothing was compared
                numbers = f"{r.numeric:>14.8g} {'-':>10} {'-':>10}"
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
        unresolved = [row.name for row in self.rows if row.status == UNRESOLVED]
        skipped = [row.name for row in self.rows if row.status in (KINK, NOT_COMPARED)]
        if unresolved:
            lines.append(
                f"not passed: f is differentiable at {', '.join(unresolved)} but a finite"
                " difference could not resolve it there (see each row); check at other points"
            )
        elif self.checked == 0:
            lines.append(
                "no input could be checked: each sits on a kink or the edge of a domain, or a"
                " number there is not finite (see each row); check at other points"
            )
        elif skipped:
            lines.append(
                f"passed on {self.checked} of {len(self.rows)} inputs; not compared, as f has no"
                f" finite derivative there: {', '.join(skipped)} (see each row)"
            )
        return "\n".join(lines)


def _close(analytic: float, numeric: float, atol: float, rtol: float) -> bool:
    """Both finite and ``|analytic - numeric| <= atol + rtol * |numeric|`` (as torch.allclose)."""
    return (
        math.isfinite(analytic)
        and math.isfinite(numeric)
        and abs(analytic - numeric) <= atol + rtol * abs(numeric)
    )


def kink_value(op: Op, inputs: Sequence[float]) -> float:
    """``op.kink(*inputs)`` as a float; a kink function that returns anything but a real number
    (None, a string, a complex number) is refused naming the op: it would break the step sizes
    with a raw error or silently."""
    assert op.kink is not None
    value = op.kink(*inputs)
    if not is_real(value):
        raise TypeError(f"op {op.name!r}: kink must return a real number, got {describe(value)}")
    return float(value)


def domain_holds(op: Op, inputs: Sequence[float]) -> bool:
    """``op.domain(*inputs)``, refused naming the op unless it is True or False."""
    value = op.domain(*inputs)
    try:
        return flag(value, "domain")  # True or False, NumPy's bools too
    except TypeError:
        raise TypeError(
            f"op {op.name!r}: domain must return True or False, got {describe(value)}"
        ) from None


def _kink_rate(op: Op, direction: Sequence[float]) -> float:
    """How fast the kink function changes along ``direction``: |k(d) - k(0)| for an affine k.

    A kink function is affine in the inputs (``x``, ``a - b``, or ``p - c`` for a clamp at a
    constant c), so its change is k(d) - k(0). The direction is scaled by a power of two (exact)
    so that it is as large as the constant, and the constant's rounding is negligible beside it
    (``p - 1e20`` along 1e-3 is not 0)."""
    size = max(abs(t) for t in direction)
    if not (0 < size < math.inf):
        return math.nan if size != 0 else 0.0
    offset = kink_value(op, [0.0] * len(direction))
    if not math.isfinite(offset):
        return math.nan
    ratio = max(1.0, abs(offset)) / size
    if not ratio < math.inf:
        return math.nan  # a direction too small beside the constant to measure
    # 2 ** exponent <= ratio (frexp's is up to twice it): the scaled direction and the scale
    # stay finite (a direction of 1e-308 beside 1 overflowed ldexp)
    exponent = math.frexp(ratio)[1] - 1
    scale = math.ldexp(1.0, exponent)
    moved = kink_value(op, [math.ldexp(t, exponent) for t in direction])
    return abs(moved - offset) / scale


def _check_affine(op: Op, inputs: Sequence[float]) -> None:
    """Refuse, naming the op, a kink function that is not affine at ``inputs``: for an affine k,
    k(x) - k(0) is the sum over the inputs of k(x_j e_j) - k(0). (``a * b`` is not: its rate
    of change at 0 is 0, and a step would cross the kink unseen.)"""
    zero = [0.0] * len(inputs)
    base = kink_value(op, zero)
    whole = kink_value(op, inputs) - base
    parts = [kink_value(op, [*zero[:j], x, *zero[j + 1 :]]) - base for j, x in enumerate(inputs)]
    if not all(math.isfinite(v) for v in (base, whole, *parts)):
        return  # infinities or NaN: nothing to measure
    size = abs(base) + abs(whole) + sum(abs(v) for v in parts)
    if abs(whole - math.fsum(parts)) > 1e-9 * size:
        raise TypeError(
            f"op {op.name!r}: kink must be an affine function of the inputs (x, a - b, p - c);"
            f" at {_call(op, list(inputs))} it is not"
        )


_PROBES = 100  # how many times a step may shrink by 4 toward an undeclared domain edge


def _shrink(h: float, limit: float) -> float:
    """``h``, made no larger than ``limit`` when the limit is a number (NaN never gets in)."""
    return limit if limit >= 0 and limit < h else h


def _largest_safe_step(
    order: list[Value],
    local: dict[Value, tuple[float, ...]],
    leaf: Value,
    users: dict[Value, list[int]],
) -> tuple[float, str]:
    """How far ``leaf`` may move before some node crosses a kink, by one forward-mode sweep.

    The tangent of a node is d(node)/d(leaf): the sum over its children of local_grad * tangent.
    A node with kink function k (linear in its inputs) is k(inputs) away from its kink and moves
    at speed |k(tangents)|. Returns (step limit, reason); the limit is 0 on a kink.

    ``users[node]``: the positions in ``order`` of the nodes that take ``node`` as an input. Only
    the nodes downstream of the leaf can move, so the sweep visits those alone, in the order's
    order (a heap of positions): the same nodes in the same order as a sweep over all of
    ``order`` that skips the still ones, at a fraction of the cost in a network, where a weight
    moves only the nodes after it (checking every weight swept every node once per weight).
    """
    tangent: dict[Value, float] = {leaf: 1.0}
    limit, reason = math.inf, ""
    pending = list(users.get(leaf, ()))
    heapq.heapify(pending)
    queued = set(pending)
    while pending:
        node = order[heapq.heappop(pending)]
        op = node.op
        if op is None:
            continue
        child_tangents = [tangent.get(c, 0.0) for c in node.children]
        if not any(t != 0.0 for t in child_tangents):
            continue  # this node does not move with the leaf
        if op.kink is not None:
            _check_affine(op, [c.data for c in node.children])
            distance = abs(kink_value(op, [c.data for c in node.children]))
            speed = _kink_rate(op, child_tangents)
            finite = math.isfinite(distance) and math.isfinite(speed)
            if finite and speed > 0 and distance / speed < limit:
                limit, reason = distance / speed, _shown(op.label)
        # an input that does not move adds 0 (not 0 * inf = nan), as in forward mode
        tangent[node] = sum(g * t for g, t in zip(local[node], child_tangents) if t != 0.0)
        for position in users.get(node, ()):
            if position not in queued:
                queued.add(position)
                heapq.heappush(pending, position)
    return limit, reason


def _users(order: list[Value]) -> dict[Value, list[int]]:
    """For each node, the positions in ``order`` of the nodes that take it as an input (each
    once)."""
    users: dict[Value, list[int]] = {}
    for position, node in enumerate(order):
        for child in dict.fromkeys(node.children):
            users.setdefault(child, []).append(position)
    return users


def _shown(name: str) -> str:
    """An op's name (user text) in a report, with every character Python's repr would escape
    (an escape sequence, U+202E) written out: such a name printed raw could hide a verdict."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


def _call(op: Op, inputs: list[float]) -> str:
    """``op`` applied to ``inputs``, in words: ``sqrt(-4)``, ``pow_scalar[p=0.5](-4)``."""
    name = op.name if op.param is None else f"{op.name}[{op.param_name}={op.param:g}]"
    name = _shown(name)
    return f"{name}({', '.join(f'{x:.6g}' for x in inputs)})"


def _where_not_finite(order: list[Value]) -> str:
    """Why the graph holds a NaN or an infinity: the first op that made one from finite inputs.

    NaN from finite inputs is outside the op's domain (``sqrt(-4)``); an infinity is a pole
    where the op sits on the edge of its domain (``log(0)``, ``1 / 0``), else an overflow
    (``exp(1000)``).
    """
    for node in order:
        if math.isfinite(node.data):
            continue
        if node.op is None:
            name = f" {node.label}" if node.label else ""
            return f"the constant{name} is {node.data!r}"
        inputs = [c.data for c in node.children]
        if not all(math.isfinite(x) for x in inputs):
            continue  # carried from below: the first one is the cause
        op = node.op
        if math.isnan(node.data):
            return f"outside the domain of {_shown(op.name)}: {_call(op, inputs)} is nan"
        if op.kink is not None and kink_value(op, inputs) == 0:
            return f"at a pole of {_shown(op.name)}: {_call(op, inputs)} is {node.data!r}"
        return f"overflow: {_call(op, inputs)} is {node.data!r}"
    return "a number is not finite"


def _where_derivative_not_finite(
    order: list[Value], local: dict[Value, tuple[float, ...]]
) -> str | None:
    """The first op whose local derivative is NaN or infinite, in words (``None``: no op)."""
    for node in order:
        if node.op is None:
            continue
        for k, g in enumerate(local[node]):
            if not math.isfinite(g):
                inputs = [c.data for c in node.children]
                return f"{_call(node.op, inputs)} has local derivative {g!r} (input {k})"
    return None


def _check_op(op: Op, inputs: list[float], analytic: Sequence[float], eps: float) -> int | None:
    """The index of the first input whose local derivative disagrees with a central difference.

    A NaN or infinite local derivative where the op has a finite slope disagrees; where the
    difference itself is not finite, there is nothing to compare with.
    """
    for k, x in enumerate(inputs):
        if not math.isfinite(x):
            continue  # no finite difference to compare with at inf or NaN
        h = eps * max(1.0, abs(x))
        if op.kink is not None:
            unit = [1.0 if j == k else 0.0 for j in range(len(inputs))]
            speed = _kink_rate(op, unit)
            if speed > 0:
                h = _shrink(h, 0.01 * abs(kink_value(op, inputs)) / speed)
        if not h > 0:
            continue  # at a kink: no one-sided answer to compare with

        def at(xk: float, k: int = k) -> float:
            return op.forward(*(xk if j == k else v for j, v in enumerate(inputs)))

        numeric = (at(x + h) - at(x - h)) / (2 * h)
        if not math.isfinite(numeric):
            continue
        # A looser test than the user's: this only points at the op most likely to be wrong.
        if not _close(analytic[k], numeric, 1e-5, 1e-3):
            return k
    return None


def _inputs(inputs: object) -> tuple[list[str], list[float]]:
    """Names and numbers of ``inputs``: a list of numbers or Values, or one number or Value (as
    ``torch.autograd.gradcheck`` takes one tensor or a tuple of them)."""
    if isinstance(inputs, Value) or is_real(inputs):
        inputs = [inputs]
    items = sequence(inputs, "inputs")
    if len(items) == 0:
        raise ValueError("inputs must not be empty: gradcheck needs a point to check at")
    names, values = [], []
    for i, x in enumerate(items):
        name = f"inputs[{i}]"
        if isinstance(x, Value):
            names.append(x.label or f"x{i}")
            point = x.data
        else:
            names.append(f"x{i}")
            point = number(x, name)
        if not math.isfinite(point):
            raise ValueError(
                f"{name} must be a finite number, got {point!r}: there is no finite difference"
                " to compare with at a NaN or an infinity"
            )
        values.append(point)
    return names, values


def _check_arity(func: Callable[..., Value], n: int) -> None:
    """A ``func`` that cannot take ``n`` inputs is refused naming both arguments (its own
    TypeError would name neither)."""
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return
    try:
        signature.bind(*range(n))
    except TypeError as error:
        raise TypeError(
            f"func cannot take the {n} value(s) in inputs, one per argument: {error}"
        ) from None


def gradcheck(
    func: Callable[..., Value],
    inputs: Sequence[Operand] | Operand,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> GradcheckReport:
    """Compare the reverse-mode gradient of ``func`` at ``inputs`` with central differences.

    The arguments are those of ``torch.autograd.gradcheck`` (same names, order and meanings):
    ``func`` takes one Value per input and returns a Value. ``inputs`` is a list of finite numbers
    or Values (their data and labels are used; they are not modified), or one of them. An input
    passes when ``|analytic - numeric| <= atol + rtol * |numeric|``, both finite, with the
    numeric derivative ``(f(x + h) - f(x - h)) / (2h)`` and ``h = eps * max(1, |x|)``, or 1% of
    the distance to the nearest kink or domain edge where that is smaller (the row then says
    which step it used). A step that would leave an op's domain on either side, or make f NaN or
    infinite, is shrunk the same way. An input is on a kink only when the kink is exactly at x;
    where it is within rounding of x, the step is too small to resolve f's rounding (shrunk or
    not), or the slope grows as the step shrinks, the row is "unresolved" and the verdict
    "incomplete".

    Returns a ``GradcheckReport`` (true when its verdict is "passed"). Unless it passed, raises
    ``GradcheckError`` (an ``AssertionError``; unless ``raise_exception=False``); on failure it
    names the worst input and the first op whose own local derivative disagrees with a finite
    difference. An input is not compared where it sits on a kink (``relu`` at 0) or where f or
    the gradient is NaN or infinite (``sqrt(-4)``: outside the domain; the row says why); such
    inputs may be left out of a pass, which lists them. An input where f is differentiable but
    no step resolves it makes the check "incomplete", and a check that compared no input
    "compared nothing": neither passed. A NaN or infinite gradient where f has a finite slope is
    a failure.

    Raises ``TypeError`` for a ``func`` that is not callable or returns something other than a
    Value, an input that is not a number or Value, or an op in the graph whose ``kink`` returns
    anything but a real number or whose ``domain`` returns anything but True or False;
    ``ValueError`` for an empty or non-finite input, ``eps`` not in (0, inf), or ``atol``/``rtol``
    not in [0, inf)."""
    function(func, "func")
    eps = in_range(eps, "eps", 0.0, math.inf, low_open=True, high_open=True)
    atol = in_range(atol, "atol", 0.0, math.inf, high_open=True)
    rtol = in_range(rtol, "rtol", 0.0, math.inf, high_open=True)
    raise_exception = flag(raise_exception, "raise_exception")
    names, values = _inputs(inputs)
    _check_arity(func, len(values))
    point = _Point(func, names, values, atol, rtol)
    rows = []
    for i, leaf in enumerate(point.leaves):
        numeric, step, status, detail = point.check(i, eps * max(1.0, abs(values[i])))
        rows.append(
            GradcheckRow(names[i], values[i], grad_number(leaf), numeric, step, status, detail)
        )

    out, order, local = point.out, point.order, point.local
    report = GradcheckReport(out.data, tuple(rows), eps, atol, rtol)
    if report.verdict == "FAILED":
        report = GradcheckReport(
            out.data, report.rows, eps, atol, rtol, suspect=_first_wrong_op(order, local, eps)
        )
    if raise_exception and not report.passed:
        raise GradcheckError(report)
    return report


# From this many inputs on, f is evaluated at the probes and steps by the compiled replay: each
# input costs four evaluations of f (two probes for an edge, the two steps), and a compiled
# evaluation is about 100x cheaper than building the graph again, which pays for the recording
# (about 50 interpreted evaluations) from a dozen inputs on. Below it a check stays interpreted.
COMPILE_INPUTS = 16


def _trivial_domain(op: Op) -> bool:
    """An op defined everywhere (the default domain, bound to a parameter or not)."""
    domain = op.domain
    return domain is _everywhere or (isinstance(domain, partial) and domain.func is _everywhere)


class _Inputs(Module):
    """The inputs of a check as a module's Values: ``compile`` then records their numbers (every
    read of them that steers the graph is a guard) and reads them at every call, so one input can
    be moved by writing its ``data`` and the replay called with nothing else to check."""

    def __init__(self, leaves: list[Value]) -> None:
        self.leaves = leaves


class _Replay:
    """f as a compiled replay (``microgradx.compile_function``, Python back-end): for the same
    numbers, the same float operations in the same order as the interpreted engine, so f and the
    domains of its ops come out bit for bit the same, and so does every row of the report.

    A recording is one graph. It stands for f at a moved input only if f builds the same graph
    there, which is not so where f's control flow depends on the numbers (``a * b if a.data > 0
    else a + b`` with ``a`` moved across 0). The recording guards every such read; a guard that
    fails at a moved input makes ``compile`` record again (``recordings`` grows). That is the
    sign that the graph's structure changes under the perturbation: from then on this check uses
    the interpreted engine alone (that call too). A function ``compile`` refuses (a random draw,
    dropout in training mode) is checked interpreted from the start."""

    def __init__(self, compiled: Compiled, inputs: _Inputs, domains: list[tuple[Op, int]]) -> None:
        self.compiled: Compiled | None = compiled
        self.inputs = inputs
        self.domains = domains  # (op, arity) of each node with a domain, in the watched order
        self.checked = False  # the leaves' data checked by one run (then only floats are written)

    @classmethod
    def of(cls, point: _Point) -> _Replay | None:
        """The replay of ``point``'s f, or None where ``compile`` cannot record it faithfully."""
        inputs = _Inputs([Value(x) for x in point.values])
        domains: list[tuple[Op, int]] = []

        def function(_: Value) -> tuple[Value, list[Value]]:
            out = point.call(inputs.leaves)
            # the inputs of every op whose domain can end: outside() checks them at each probe
            edged = [n for n in topological_order(out) if n.op and not _trivial_domain(n.op)]
            domains[:] = [(n.op, len(n.children)) for n in edged if n.op is not None]
            return out, [c for n in edged for c in n.children]

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compiled = compile_function(function, [0.0], model=inputs)
        except Exception:  # anything compile cannot replay runs interpreted, as it always did
            return None
        return cls(compiled, inputs, list(domains))

    def at(self, i: int, xi: float) -> tuple[float, bool] | None:
        """(f, every domain holds) with input ``i`` at ``xi``; None: ask the interpreted engine."""
        compiled = self.compiled
        if compiled is None:
            return None
        leaf = self.inputs.leaves[i]
        before = leaf.data
        leaf.data = xi
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if self.checked:
                    result = compiled._forward_unchecked(0.0)
                else:
                    result = compiled.run(0.0, gradient=None)
                    self.checked = True
        except Exception:  # a refusal of f's own at this point: the interpreted call says it
            result = None
        finally:
            leaf.data = before
        if result is None or compiled.recordings != 1:
            self.compiled = None  # the graph changed here (see the class): interpreted from now on
            return None
        watched, k = result.watched, 0
        for op, arity in self.domains:
            if not domain_holds(op, watched[k : k + arity]):
                return result.output, False
            k += arity
        return result.output, True


class _Point:
    """``func`` at the inputs, its gradient, and the probes around it that check each input."""

    def __init__(
        self,
        func: Callable[..., Value],
        names: list[str],
        values: list[float],
        atol: float,
        rtol: float,
    ) -> None:
        self.func, self.values, self.atol, self.rtol = func, values, atol, rtol
        self.leaves = [Value(x, label=name) for x, name in zip(values, names)]
        with enable_grad():  # the check needs a graph even inside a user's no_grad()
            self.out = self.call(self.leaves)
        self.out.backward()
        self.order = topological_order(self.out)
        self.local = {node: node.local_grads() for node in self.order if node.op is not None}
        self.users = _users(self.order)
        # Every op inside its domain at x: then a step that takes one outside has crossed an edge.
        self.domains_hold = all(
            domain_holds(n.op, [c.data for c in n.children]) for n in self.order if n.op is not None
        )
        # f itself NaN or infinite here: no slope to compare, for any input
        out = self.out.data
        self.undefined = (
            "" if math.isfinite(out) else f"f = {out!r}: {_where_not_finite(self.order)}"
        )
        # f at the probes and steps: the compiled replay where it pays (see _Replay)
        self.replay = _Replay.of(self) if len(values) >= COMPILE_INPUTS else None

    def call(self, leaves: list[Value]) -> Value:
        result = self.func(*leaves)
        if not isinstance(result, Value):
            raise TypeError(f"func must return a Value, got {type(result).__name__}")
        return result

    def f_at(self, i: int, xi: float) -> float:
        """f with input ``i`` moved to ``xi`` (the others at x)."""
        fast = self.replay.at(i, xi) if self.replay is not None else None
        if fast is not None:
            return fast[0]
        with no_grad():
            return self.call([Value(x) for x in self.at(i, xi)]).data

    def why_not_finite(self, xs: list[float]) -> str:
        with enable_grad():
            return _where_not_finite(topological_order(self.call([Value(x) for x in xs])))

    def outside(self, i: int, xi: float) -> str:
        """Why f with input ``i`` at ``xi`` is past the edge of a domain ("" when it is not): f is
        not finite there, an op that was inside its domain at x is not, or f refuses the point
        with a ValueError (``binary_cross_entropy`` of a probability above 1)."""
        fast = self.replay.at(i, xi) if self.replay is not None else None
        if fast is not None:
            out, inside = fast
            if math.isfinite(out) and (inside or not self.domains_hold):
                return ""
            # past an edge: the interpreted graph below says which, in words
        xs = self.at(i, xi)
        try:
            with enable_grad():
                result = self.call([Value(x) for x in xs])
        except (ValueError, ArithmeticError) as error:  # a refusal, or 1 / 0 past an edge
            return f"f refuses it: {type(error).__name__}: {error}"
        nodes = topological_order(result)
        if not math.isfinite(result.data):
            return _where_not_finite(nodes)
        if self.domains_hold:
            for n in nodes:
                inputs = [c.data for c in n.children]
                if n.op is not None and not domain_holds(n.op, inputs):
                    return f"outside the domain of {_shown(n.op.name)}: {_call(n.op, inputs)}"
        return ""

    def at(self, i: int, xi: float) -> list[float]:
        """The inputs with input ``i`` moved to ``xi``."""
        return [*self.values[:i], xi, *self.values[i + 1 :]]

    def check(self, i: int, wanted: float) -> tuple[float, float, str, str]:
        """(numeric, step, status, detail) for input i, with the step ``wanted`` where no kink
        or domain edge is near."""
        x = self.values[i]
        if self.undefined:
            return math.nan, wanted, NOT_COMPARED, self.undefined
        limit, op = _largest_safe_step(self.order, self.local, self.leaves[i], self.users)
        # Stay well inside: near a pole (log, 1/x) the error of a central difference grows like
        # (h / distance)^2, so h is kept at 1% of the distance to the nearest kink or edge.
        h = _shrink(wanted, 0.01 * limit)
        if limit == 0:
            return math.nan, h, KINK, f"x is at a kink or domain edge of {op}"
        if not x - h < x < x + h:  # the kink is within rounding of x: no step fits between
            detail = f"x is within rounding of a kink or domain edge of {op}: no step fits"
            return math.nan, h, UNRESOLVED, detail
        shrunk = h < wanted
        note = f"step {h:.3g}: a kink or domain edge of {op} is {limit:.3g} away" if shrunk else ""
        edge = self._undeclared_edge(i, h)
        if edge is not None:
            h, note, status = edge
            if status is not None:  # no step fits between x and the edge
                return math.nan, h, status, note
            shrunk = True
        return self._difference(i, h, shrunk, note)

    def _undeclared_edge(self, i: int, h: float) -> tuple[float, str, str | None] | None:
        """An edge no op declared as a kink (a domain that ends on either side, an undeclared
        pole): probe 50 steps out on both sides and shrink by 4 until f stays inside its
        domains, so that, as for a kink, the step is 0.25% to 1% of the distance to the edge.
        At most _PROBES shrinks (2^-200): an edge closer than that is x's own. Returns None (no
        edge near) or (step, note, None); when no step fits, (step, why, the row's status)."""
        x, analytic = self.values[i], grad_number(self.leaves[i])
        reach = 50 * h
        edge = self.outside(i, x + reach) or self.outside(i, x - reach)
        if not edge:
            return None
        for _ in range(_PROBES + 1):
            reach /= 4
            if _ == _PROBES or not x - reach / 100 < x < x + reach / 100:
                detail = f"x is at or within rounding of the edge of a domain ({edge})"
                status = UNRESOLVED if math.isfinite(analytic) else NOT_COMPARED
                return reach / 100, detail, status
            reason = self.outside(i, x + reach) or self.outside(i, x - reach)
            if not reason:
                break
            edge = reason
        h = reach / 100
        return h, f"step {h:.3g}: f leaves a domain within {4 * reach:.3g} ({edge})", None

    def _difference(
        self, i: int, h: float, shrunk: bool, note: str
    ) -> tuple[float, float, str, str]:
        """The central difference with step ``h`` for input i, compared with the gradient."""
        x, analytic = self.values[i], grad_number(self.leaves[i])
        atol, rtol = self.atol, self.rtol
        # the points as floats hold them: the divisor is their exact distance, not 2h rounded
        above, below = x + h, x - h
        plus, minus = self.f_at(i, above), self.f_at(i, below)
        numeric = (plus - minus) / (above - below)
        if math.isfinite(analytic) and math.isfinite(numeric):
            # A step shrunk for a kink must still resolve f: the rounding of f(x +- h) (a few
            # ULPs each) over the step must be below the tolerance, or the two cannot be told.
            # (An unshrunk step too: x * x * 1e300 at 1e-300 has f's rounding 1e-16 / 1e-6.)
            rounding = 4 * (math.ulp(plus) + math.ulp(minus)) / (above - below)
            if rounding > atol + rtol * abs(numeric):
                why = f"{note}; too small" if shrunk else f"the step {h:.3g} is too small"
                detail = f"{why} to resolve f's rounding ({rounding:.2g})"
                return numeric, h, UNRESOLVED, detail
            return numeric, h, OK if _close(analytic, numeric, atol, rtol) else FAIL, note
        # Past here a number is not finite. A finite gradient that could not be compared is
        # unresolved; a gradient that is itself NaN or infinite is not compared, or fails below.
        unchecked = UNRESOLVED if math.isfinite(analytic) else NOT_COMPARED
        if not (math.isfinite(plus) and math.isfinite(minus)):
            side, xi = ("x + h", x + h) if not math.isfinite(plus) else ("x - h", x - h)
            return numeric, h, unchecked, f"at {side}: {self.why_not_finite(self.at(i, xi))}"
        if not math.isfinite(numeric):  # f(x + h) - f(x - h) itself overflowed
            return numeric, h, unchecked, "overflow: f(x + h) - f(x - h) is not finite"
        # The gradient is NaN or infinite and the difference is finite. A slope that grows as the
        # step shrinks is a pole of the derivative (a vertical tangent); one that settles shows
        # that the gradient is wrong.
        small = h / 16
        finer = (self.f_at(i, x + small) - self.f_at(i, x - small)) / (2 * small)
        where = _where_derivative_not_finite(self.order, self.local)
        where = where or "no local derivative is infinite"
        if not math.isfinite(finer) or abs(finer) > 4 * abs(numeric) + atol:
            # a slope that grows as the step shrinks: a pole of the derivative, or a function
            # that oscillates faster than the steps (sin(1e7 x)); the two cannot be told apart
            # from outside, so the row is unresolved (never part of a pass)
            detail = f"the slope grows as the step shrinks (a pole of the derivative?): {where}"
            return numeric, h, UNRESOLVED, detail
        return numeric, h, FAIL, f"the gradient is {analytic!r} where f has a finite slope: {where}"


def _first_wrong_op(order: list[Value], local: dict[Value, tuple[float, ...]], eps: float) -> str:
    for position, node in enumerate(order):
        if node.op is None:
            continue
        inputs = [c.data for c in node.children]
        k = _check_op(node.op, inputs, local[node], eps)
        if k is not None:
            return (
                f"{_shown(node.op.name)} (node {position} of {len(order)}, "
                f"{_call(node.op, inputs)}, input {k}: local derivative {local[node][k]:.8g})"
            )
    where = _where_derivative_not_finite(order, local)
    if where is not None:
        return (
            f"none: every op's local derivative matches, but {where}; in the chain rule an"
            " infinite factor times 0 is nan (PyTorch's autograd gives the same)"
        )
    return "none: every op's local derivative matches; the function may be ill-conditioned here"
