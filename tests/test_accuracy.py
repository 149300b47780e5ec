"""Accuracy over the whole double range, against mpmath.

Every op's value and each of its local derivatives, and every loss (value and gradient, one
example and small batches, 2 to 10 classes), is within 4 ULP of the exact result, or within 1e-15
relative where the exact result is a normal float (each op's declared ``exact``, run by
tests/reference.py on mpmath at 300 bits and more: the math, or the op's convention at special
values; inf for a finite result beyond the range).
Inputs: any float (NaN, infinities, subnormals included), the edges where ops change regime, and
for each op the regions where its formulas could cancel or over/underflow (powers near the ends of
the range, logits 1e16 apart by 1, soft targets at the optimum). The NumPy back-end's array forms
agree with the scalar rules exactly at special values and to 1e-12 elsewhere; higher derivatives
of the loss ops agree with SymPy.
"""

from __future__ import annotations

import itertools
import math
import os
import sys

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradx
from microgradx import Value, apply, losses
from microgradx.dual import derivative
from microgradx.functional import hessian
from microgradx.ops import OPS, Op, all_members
from tests.reference import EDGES, is_nan, reference, relative, ulps, within

MAX = sys.float_info.max

# ---- inputs --------------------------------------------------------------------------------------

any_float = st.floats(allow_nan=True, allow_infinity=True)  # the whole range, subnormals too
edges = st.sampled_from(EDGES)
moderate = st.floats(-50.0, 50.0)
number = st.one_of(edges, any_float, moderate)
finite = st.one_of(
    st.sampled_from([e for e in EDGES if math.isfinite(e)]),
    st.floats(allow_nan=False, allow_infinity=False),
    moderate,
)


@st.composite
def power_pair(draw: st.DrawFn, base: float | None = None) -> tuple[float, float]:
    """(a, b) with a^b anywhere between underflow and overflow (not just 0 and inf)."""
    a = draw(number) if base is None else base
    if draw(st.booleans()) and a == a and math.isfinite(a) and a != 0 and abs(a) != 1:
        b = draw(st.floats(-1100.0, 1100.0)) / math.log2(abs(a))
    else:
        b = draw(st.one_of(number, st.integers(-60, 60).map(float)))
    return a, b


@st.composite
def logits(draw: st.DrawFn, n: int) -> list[float]:
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return draw(st.lists(moderate, min_size=n, max_size=n))
    if kind == 6:  # masked classes (-inf), or one certain class (+inf), among others far apart
        zs = draw(st.lists(st.floats(-800, 800), min_size=n, max_size=n))
        for i in draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n - 1, unique=True)):
            zs[i] = -math.inf
        if draw(st.booleans()):
            zs[draw(st.integers(0, n - 1))] = math.inf
        return zs
    if kind == 1:  # huge and (nearly) tied: [1e16, 1e16] is ln 2, not 0
        big = draw(st.sampled_from([1e8, 1e16, -1e16, 1e300]))
        steps = draw(st.lists(st.sampled_from([0.0, 1.0, -2.0, 30.0]), min_size=n, max_size=n))
        return [big + s * abs(big) * 2.0**-52 for s in steps]
    if kind == 2:  # logsumexp near 0: each near -log(n)
        noise = draw(st.lists(st.floats(-1e-3, 1e-3), min_size=n, max_size=n))
        return [-math.log(n) + e for e in noise]
    if kind == 3:  # a dominant class
        zs = draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n))
        zs[draw(st.integers(0, n - 1))] += draw(st.sampled_from([40.0, 700.0, 1e5]))
        return zs
    if kind == 4:
        return draw(st.lists(finite, min_size=n, max_size=n))
    return draw(st.lists(number, min_size=n, max_size=n))


def _softmax(zs: list[float]) -> list[float]:
    top = max(zs)
    es = [math.exp(z - top) if z - top > -745 else 0.0 for z in zs]
    return [e / sum(es) for e in es]


@st.composite
def targets(draw: st.DrawFn, zs: list[float]) -> list[float]:
    n = len(zs)
    kind = draw(st.integers(0, 2))
    if kind == 0:
        t = [0.0] * n
        t[draw(st.integers(0, n - 1))] = 1.0
        return t
    if kind == 1:
        raw = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
        total = sum(raw)
        return [r / total for r in raw] if total > 0 else [1.0 / n] * n
    if all(math.isfinite(z) for z in zs):
        return _softmax(zs)  # the optimum: the gradient cancels to almost 0
    return [1.0 / n] * n


def _probability(x: float) -> float:
    return x if 0 <= x <= 1 else 1.0 / (1.0 + math.exp(-max(min(x, 700.0), -700.0)))


@st.composite
def op_args(draw: st.DrawFn, op: Op) -> list[float]:
    """Inputs for ``op``, shaped for it."""
    name = op.name
    if name in ("logsumexp", "log_softmax", "softmax", "cross_entropy"):
        n = draw(st.integers(max(2, int(op.param or 0) + 1), 10))
        return draw(logits(n))
    if name == "soft_cross_entropy":
        zs = draw(logits(int(op.param or 2)))
        return [*zs, *draw(targets(zs))]
    if name == "bce_with_logits":
        z = draw(number)
        t = draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1), st.just(_probability(z))))
        return [z, t]
    if name == "binary_cross_entropy":
        p = draw(
            st.one_of(
                st.floats(-60, -0.3).map(lambda e: 10.0**e),
                st.floats(-60, -0.3).map(lambda e: 1.0 - 10.0**e),
                st.floats(0.0, 1.0),
                edges,
            )
        )
        t = draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1), st.just(_probability(p))))
        return [p, t]
    if name == "pow":
        return list(draw(power_pair()))
    if name == "pow_scalar":
        return [draw(st.one_of(number, power_pair().map(lambda ab: ab[0])))]
    if name == "rpow_scalar":
        return [draw(power_pair(op.param)).__getitem__(1)]
    return [draw(number) for _ in range(op.arity or 1)]


def _check(op: Op, inputs: list[float]) -> None:
    exact_value, exact_grads = reference(op, inputs)
    value = op.forward(*inputs)
    grads = [float(g) for g in op.local_grads(*inputs, value)]
    problems = []
    if not within(value, exact_value):
        problems.append(f"value {value!r}, exact {_show(exact_value)}: {ulps(value, exact_value)}")
    for k, (g, e) in enumerate(zip(grads, exact_grads)):
        if not within(g, e):
            problems.append(f"d/d{k} {g!r}, exact {_show(e)}: {ulps(g, e)} ULP")
    assert not problems, f"{op.label}{tuple(inputs)}: " + "; ".join(problems)


def _show(x: object) -> str:
    return repr(x) if isinstance(x, float) else f"{float(x)!r}" if not is_nan(x) else "nan"


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_every_op_and_local_derivative_is_within_4_ulp_over_the_whole_range(op):
    @settings(max_examples=120 if (op.arity or 3) <= 2 else 60)
    @given(op_args(op))
    def check(inputs: list[float]) -> None:
        _check(op, inputs)

    check()


@pytest.mark.parametrize("op", [op for op in all_members() if op.arity in (1, 2)])
def test_every_unary_and_binary_op_is_right_at_every_pair_of_edges(op):
    for a in EDGES:
        for b in EDGES if op.arity == 2 else [None]:
            _check(op, [a] if b is None else [a, b])


def _zeros_of_the_derivative(op: Op, low: float = -4.0, high: float = 4.0) -> list[float]:
    """Where the local derivative of a one-input op crosses 0 in [low, high] (by bisection from a
    grid); a jump across 0 (abs at 0) is not a zero and is left out."""
    slope = lambda x: float(op.local_grads(x, op.forward(x))[0])  # noqa: E731
    grid = [low + (high - low) * k / 400 for k in range(401)]
    zeros = []
    for a, b in itertools.pairwise(grid):
        ga, gb = slope(a), slope(b)
        if not (math.isfinite(ga) and math.isfinite(gb)) or ga * gb >= 0:
            continue
        for _ in range(80):
            m = 0.5 * (a + b)
            if m in (a, b):
                break
            a, b = (m, b) if slope(m) * ga > 0 else (a, m)
        if abs(slope(a)) < 1e-6 * max(abs(ga), abs(gb)):
            zeros.append(a)
    return zeros


@pytest.mark.parametrize("op", [op for op in all_members() if op.arity == 1], ids=str)
def test_every_derivative_is_right_next_to_its_zeros(op):
    """Near a zero of the derivative its terms cancel (silu' at -1.28, gelu' at -0.75): each
    local derivative stays within 4 ULP there, from a few ULP away to 0.7 away (where the
    cancellation still magnifies a formula's rounding above 4 ULP)."""
    import random

    rng = random.Random(op.label)
    for root in _zeros_of_the_derivative(op):
        near = [
            root + side * k * math.ulp(root)
            for k in (1, 2, 3, 50, 10**4, 10**8, 10**12)
            for side in (-1, 1)
        ]
        far = [root + rng.choice((-0.7, 0.7)) * rng.random() ** 3 for _ in range(300)]  # dense near
        for x in near + far:
            _check(op, [x])


# ---- the issue's examples, and one of each kind fixed --------------------------------------------


def _exact(op: Op, inputs: list[float]) -> tuple[float, list[float]]:
    value, grads = reference(op, inputs)
    return float(value), [float(g) for g in grads]


def test_sigmoid_at_40_has_its_tiny_gradient_and_at_minus_40_its_exact_value():
    x = Value(40.0)
    y = x.sigmoid()
    y.backward()
    assert y.data == 1.0  # sigmoid(40) rounds to 1, but its slope is not 0
    assert x.grad == pytest.approx(4.248354255291589e-18, rel=1e-15, abs=0)
    assert within(x.grad, reference(OPS["sigmoid"], [40.0])[1][0])
    z = Value(-40.0)
    assert z.sigmoid().data == _exact(OPS["sigmoid"], [-40.0])[0]


def test_tanh_at_20_has_its_tiny_gradient():
    x = Value(20.0)
    x.tanh().backward()
    assert x.grad == pytest.approx(1.6993417021166355e-17, rel=1e-15, abs=0)
    assert within(x.grad, reference(OPS["tanh"], [20.0])[1][0])


def test_bce_with_logits_at_20_is_exact_not_seven_digits():
    z = Value(20.0)
    loss = losses.bce_with_logits(z, 1)
    loss.backward()
    exact, (slope, _) = reference(OPS["bce_with_logits"], [20.0, 1.0])
    assert relative(loss.data, exact) <= 1e-15  # softplus(20) - 20 was 2.9e-7 off
    assert within(z.grad, slope)


@pytest.mark.parametrize("big", [1e8, 1e16])
def test_cross_entropy_of_huge_tied_logits_is_ln_2(big):
    z = [Value(big), Value(big)]
    loss = losses.cross_entropy(z, 1)
    loss.backward()
    assert loss.data == math.log(2)  # was 0.0 at 1e16 and 0.69314718246 at 1e8
    assert [v.grad for v in z] == [0.5, -0.5]
    assert [v.data for v in losses.log_softmax([big, big])] == [-math.log(2)] * 2


def test_logsumexp_near_zero_does_not_cancel():
    zs = [-0.69, -0.69]  # logsumexp = -0.69 + ln 2 = 0.0031...
    exact, _ = reference(OPS["logsumexp"], zs)
    assert ulps(losses.logsumexp(zs).data, exact) <= 1


@pytest.mark.parametrize(
    ("op", "inputs"),
    [
        ("div", [1e-320, 1e-10]),  # -a/b^2 normal, a/b subnormal: (a/b)/b was 45 ULP off
        ("div", [5e-324, 3e-10]),  # ... and 1e5 ULP here
        ("pow", [1e300, 0.1]),  # b - 1 = -0.9 is rounded: a^(b-1) would be 100s of ULP off
        ("pow", [5e-324, 1e-3]),  # b a^(b-1) = 1.3e319 * 1e-3: finite though a^(b-1) overflows
        ("pow", [1.0000000000000002, 3.2e18]),  # a^b overflows, a^b ln a does not
        ("pow", [1e-300, 1.03]),  # a^b subnormal, a^b ln a normal
        ("pow", [-1000.0, 1e-300]),  # no real value: NaN (torch: a finite number)
        ("rpow_scalar", [1780.0]),  # 1.5^x overflows, 1.5^x ln 1.5 does not
        ("tanh", [360.0]),  # e^-720 is subnormal
        ("softplus", [-740.0]),
        ("softplus", [1e-300]),
    ],
)
def test_one_example_of_each_kind_fixed(op, inputs):
    chosen = OPS[op] if op != "rpow_scalar" else OPS[op].member(1.5)
    _check(chosen, inputs)


@pytest.mark.parametrize(
    ("logits", "targets"),
    [
        ([50.0, 0.0, -math.inf], [1.0, 0.0, 0.0]),  # a masked class: dz0 -1.93e-22, not 0
        ([0.0, math.inf], [1e-20, 0.5]),  # a certain class: dz1 = the other targets, 1e-20
        ([math.inf, -363.26, -745.13], [1.0, 0.0, 3.57e-45]),
    ],
)
def test_soft_targets_at_infinite_logits_keep_their_tiny_gradients(logits, targets):
    op = OPS["soft_cross_entropy"].member(len(logits))
    _check(op, [*logits, *targets])
    leaves = [Value(z) for z in logits]
    losses.cross_entropy(leaves, targets).backward()
    _, exact = reference(op, [*logits, *targets])
    assert all(within(leaf.grad, e) for leaf, e in zip(leaves, exact))


def test_signed_zeros_where_they_matter():
    assert math.copysign(1.0, microgradx.maximum(-0.0, 0.0).data) == 1.0
    assert math.copysign(1.0, microgradx.minimum(0.0, -0.0).data) == -1.0
    assert math.copysign(1.0, Value(-0.0).sqrt().data) == -1.0
    x = Value(-0.0)
    x.log().backward()
    assert x.grad == -math.inf


# ---- losses: values and gradients through microgradx.losses, single examples and batches --------


def _mean(values: list[object], reduction: str) -> object:
    total = sum(values[1:], values[0])  # type: ignore[call-overload]
    return total / len(values) if reduction == "mean" else total


@st.composite
def batch_of_logits(draw: st.DrawFn) -> tuple[list[list[float]], list[object]]:
    classes = draw(st.integers(2, 10))
    size = draw(st.integers(1, 3))
    rows = [
        draw(logits(classes).filter(lambda z: all(math.isfinite(v) for v in z)))
        for _ in range(size)
    ]
    soft = draw(st.booleans())
    ts: list[object] = [
        draw(targets(z)) if soft else draw(st.integers(0, classes - 1)) for z in rows
    ]
    return rows, ts


def _assert_loss(loss: Value, leaves: list[Value], exact_value: object, exact_grads: list[object]):
    problems = []
    if not within(loss.data, exact_value):
        problems.append(f"loss {loss.data!r} vs {_show(exact_value)}")
    for k, (leaf, e) in enumerate(zip(leaves, exact_grads)):
        if not within(float(leaf.grad), e):
            problems.append(f"d/dx{k} {leaf.grad!r} vs {_show(e)}")
    assert not problems, "; ".join(problems)


@settings(max_examples=60)
@given(batch_of_logits(), st.sampled_from(["mean", "sum"]))
def test_cross_entropy_of_batches_is_within_4_ulp(batch, reduction):
    rows, ts = batch
    leaves = [[Value(v) for v in row] for row in rows]
    loss = losses.cross_entropy(leaves, ts, reduction=reduction)
    loss.backward()
    values, grads = [], []
    for row, t in zip(rows, ts):
        if isinstance(t, int):
            value, g = reference(OPS["cross_entropy"].member(t), row)
        else:
            value, g = reference(OPS["soft_cross_entropy"].member(len(row)), [*row, *t])
            g = g[: len(row)]
        values.append(value)
        grads.extend(g)
    scale = len(rows) if reduction == "mean" else 1
    _assert_loss(
        loss,
        [v for row in leaves for v in row],
        _mean(values, reduction),
        [g / scale for g in grads],
    )


@settings(max_examples=60)
@given(
    st.lists(st.tuples(number, st.floats(0, 1)), min_size=1, max_size=3),
    st.sampled_from(["mean", "sum"]),
    st.booleans(),
)
def test_binary_losses_of_batches_are_within_4_ulp(pairs, reduction, on_logits):
    if on_logits:
        op, loss_fn = OPS["bce_with_logits"], losses.bce_with_logits
        rows = [(z, t) for z, t in pairs if math.isfinite(z)] or [(0.5, 0.5)]
    else:
        op, loss_fn = OPS["binary_cross_entropy"], losses.binary_cross_entropy
        rows = [(_probability(z), t) for z, t in pairs if z == z]
        rows = rows or [(0.5, 0.5)]
    xs = [Value(x) for x, _ in rows]
    ts = [Value(t) for _, t in rows]  # targets as Values, as compile feeds them: d/dt too
    loss = loss_fn(xs, ts, reduction=reduction)
    loss.backward()
    scale = len(rows) if reduction == "mean" else 1
    exact = [reference(op, [x, t]) for x, t in rows]
    _assert_loss(
        loss,
        [*xs, *ts],
        _mean([value for value, _ in exact], reduction),
        [g[0] / scale for _, g in exact] + [g[1] / scale for _, g in exact],
    )


@settings(max_examples=60)
@given(
    st.lists(st.tuples(finite, finite), min_size=1, max_size=3), st.sampled_from(["mean", "sum"])
)
def test_mse_of_batches_is_within_4_ulp(pairs, reduction):
    import mpmath

    ps = [Value(p) for p, _ in pairs]
    loss = losses.mse(ps, [t for _, t in pairs], reduction=reduction)
    loss.backward()
    scale = len(pairs) if reduction == "mean" else 1
    with mpmath.workprec(2300):
        diffs = [mpmath.mpf(p) - mpmath.mpf(t) for p, t in pairs]
        exact = mpmath.fsum(d * d for d in diffs) / scale
        grads = [2 * d / scale for d in diffs]
    _assert_loss(loss, ps, exact, grads)


# ---- higher order: the loss ops' own derivatives, against SymPy ----------------------------------

X = sympy.symbols("x0:4", real=True)


def _symbolic(name: str, xs: tuple[sympy.Symbol, ...]) -> sympy.Expr:
    z = xs[:3]
    lse = sympy.log(sum(sympy.exp(v) for v in z))
    return {
        "logsumexp": lse,
        "log_softmax": z[1] - lse,
        "softmax": sympy.exp(z[1] - lse),
        "cross_entropy": lse - z[0],
        "bce_with_logits": sympy.log(1 + sympy.exp(xs[0])) - xs[1] * xs[0],
        "binary_cross_entropy": -(xs[1] * sympy.log(xs[0]) + (1 - xs[1]) * sympy.log(1 - xs[0])),
    }[name]


def _ours(name: str, *v: Value) -> Value:
    """The loss through microgradx.losses (reverse mode, on Values)."""
    return {
        "logsumexp": lambda: losses.logsumexp(v[:3]),
        "log_softmax": lambda: losses.log_softmax(v[:3])[1],
        "softmax": lambda: losses.softmax(v[:3])[1],
        "cross_entropy": lambda: losses.cross_entropy(list(v[:3]), 0),
        "bce_with_logits": lambda: losses.bce_with_logits(v[0], v[1]),
        "binary_cross_entropy": lambda: losses.binary_cross_entropy(v[0], v[1]),
    }[name]()


FORWARD_OPS = {
    "logsumexp": OPS["logsumexp"],
    "log_softmax": OPS["log_softmax"].member(1),
    "softmax": OPS["softmax"].member(1),
    "cross_entropy": OPS["cross_entropy"].member(0),
    "bce_with_logits": OPS["bce_with_logits"],
    "binary_cross_entropy": OPS["binary_cross_entropy"],
}

_DERIVATIVES: dict[str, list[list[object]]] = {}


def _second_derivatives(name: str, n: int) -> list[list[object]]:
    """SymPy's second derivatives of the loss, as mpmath functions (computed once)."""
    if name not in _DERIVATIVES:
        f = _symbolic(name, X[:n])
        _DERIVATIVES[name] = [
            [sympy.lambdify(X[:n], sympy.diff(f, X[i], X[j]), "mpmath") for j in range(n)]
            for i in range(n)
        ]
    return _DERIVATIVES[name]


@pytest.mark.parametrize("name", list(FORWARD_OPS))
@settings(max_examples=15)
@given(st.lists(st.floats(-4, 4), min_size=3, max_size=3))
def test_second_derivatives_of_the_loss_ops_match_sympy(name, xs):
    import mpmath

    if name in ("bce_with_logits", "binary_cross_entropy"):
        xs = xs[:2]
        xs[1] = 1.0 / (1.0 + math.exp(-xs[1]))  # a target in (0, 1)
        if name == "binary_cross_entropy":
            xs[0] = 1.0 / (1.0 + math.exp(-xs[0]))
    table = _second_derivatives(name, len(xs))
    with mpmath.workdps(40):
        exact = [
            [float(table[i][j](*map(mpmath.mpf, xs))) for j in range(len(xs))]
            for i in range(len(xs))
        ]
    ours = hessian(lambda *v: _ours(name, *v), xs)  # reverse over reverse, through the losses
    for i in range(len(xs)):
        for j in range(len(xs)):
            assert ours[i][j] == pytest.approx(exact[i][j], rel=1e-9, abs=1e-12), (i, j)
    # forward over forward: nested derivative calls, the op applied to Duals
    op = FORWARD_OPS[name]
    nested = derivative(lambda a: derivative(lambda b: apply(op, b, *xs[1:]), a), xs[0])
    assert nested == pytest.approx(exact[0][0], rel=1e-9, abs=1e-12)


def test_soft_cross_entropy_second_derivatives_match_sympy():
    z = X[:2]
    t = sympy.symbols("t0:2", real=True)
    lse = sympy.log(sympy.exp(z[0]) + sympy.exp(z[1]))
    f = t[0] * (lse - z[0]) + t[1] * (lse - z[1])
    point = [0.3, -1.2, 0.25, 0.75]
    at = dict(zip([*z, *t], [sympy.Float(v, 40) for v in point]))
    ours = hessian(lambda a, b, c, d: losses.cross_entropy([a, b], [c, d]), point)
    symbols = [*z, *t]
    for i in range(4):
        for j in range(4):
            exact = float(sympy.diff(f, symbols[i], symbols[j]).subs(at).evalf(40))
            assert ours[i][j] == pytest.approx(exact, rel=1e-9, abs=1e-12), (i, j)


# ---- the NumPy back-end's array forms against the scalar rules -----------------------------------

SPECIAL = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.0, -1.0, 0.5, 2.0, 40.0,
           -40.0, 710.0, -746.0, 1e300, MAX, -MAX, math.inf, -math.inf, math.nan]  # fmt: skip


def _numpy():
    try:
        import numpy
    except ImportError:
        if os.environ.get("MICROGRADX_REQUIRE_TORCH") == "1":  # CI has numpy
            pytest.fail("numpy is not installed, but CI installs it with torch")
        pytest.skip("the NumPy back-end needs numpy (pip install 'microgradx[fast]')")
    return numpy


def _grid(op: Op) -> list[tuple[float, ...]]:
    import itertools

    if op.arity in (1, 2):
        return list(itertools.product(SPECIAL, repeat=op.arity))
    small = [0.0, -0.0, 1.0, -40.0, 1e300, -MAX, math.inf, -math.inf, math.nan]
    if op.arity is None:
        return [*itertools.product(small, repeat=2), *itertools.product(small, repeat=3)]
    import random

    rng = random.Random(op.label)
    return [tuple(rng.choice(SPECIAL) for _ in range(op.arity)) for _ in range(2000)]


def _same(ours: float, scalar: float, rel: float) -> bool:
    if scalar != scalar:
        return ours != ours
    if math.isinf(scalar) or scalar == 0 or abs(scalar) < 2.2250738585072014e-308:
        return ours == scalar and math.copysign(1, ours) == math.copysign(1, scalar)
    return abs(ours - scalar) <= rel * abs(scalar)


def _compare_forms(op: Op, rows: list[tuple[float, ...]], rel: float) -> list[str]:
    np = _numpy()
    from microgradx.replay_numpy import array_forms

    forward, local = array_forms(np, op)
    n = len(rows[0])
    columns = [np.array([row[k] for row in rows], dtype=np.float64) for k in range(n)]
    with np.errstate(all="ignore"):
        out = np.broadcast_to(forward(*columns), (len(rows),))
        grads = [np.broadcast_to(g, (len(rows),)) for g in local(*columns, out)]
    bad = []
    for i, row in enumerate(rows):
        value = op.forward(*row)
        if not _same(float(out[i]), value, rel):
            bad.append(f"{op.label}{row} = {float(out[i])!r}, scalar rule {value!r}")
            continue
        for k, g in enumerate(op.local_grads(*row, value)):
            if not _same(float(grads[k][i]), float(g), rel):
                bad.append(f"d/d{k} {op.label}{row} = {float(grads[k][i])!r}, scalar {g!r}")
    return bad


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_numpy_forms_agree_with_the_scalar_rules_at_special_values(op):
    rows = [r for r in _grid(op) if op.param is None or op.name not in INDEXED or op.param < len(r)]
    bad = []
    for n in sorted({len(r) for r in rows}):  # one batch per number of inputs
        bad += _compare_forms(op, [r for r in rows if len(r) == n], rel=1e-12)
    assert not bad, "\n".join(bad[:15])


INDEXED = ("log_softmax", "softmax", "cross_entropy")


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
@settings(max_examples=20)
@given(data=st.data())
def test_numpy_forms_agree_with_the_scalar_rules_to_1e_12_elsewhere(op, data):
    rows = [tuple(data.draw(op_args(op))) for _ in range(20)]
    if op.arity is None:  # one batch: one class count
        n = len(rows[0])
        rows = [r for r in rows if len(r) == n]
    bad = _compare_forms(op, rows, rel=1e-12)
    assert not bad, "\n".join(bad[:15])


def test_the_issue_example_agrees_in_both_back_ends_at_minus_zero():
    _numpy()
    f = lambda x: (x**0.5) ** -1  # noqa: E731
    scalar = microgradx.compile(f, [2.0])
    vector = microgradx.compile(f, [2.0], backend="numpy")
    for x in (-0.0, 0.0, 5e-324, 4.0):
        assert scalar(x) == vector(x) and math.copysign(1, scalar(x)) == math.copysign(1, vector(x))
        assert scalar.run(x).input_grads == vector.run(x).input_grads


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_soft_cross_entropy_compiles_and_replays_like_backward(backend):
    if backend == "numpy":
        _numpy()
    f = lambda a, b, c, t0, t1, t2: losses.cross_entropy([a, b, c], [t0, t1, t2])  # noqa: E731
    program = microgradx.compile(f, [0.3, -1.2, 2.0, 0.2, 0.5, 0.3], backend=backend)
    for row in ([0.3, -1.2, 2.0, 0.2, 0.5, 0.3], [1e16, 1e16, 0.0, 0.0, 1.0, 0.0]):
        leaves = [Value(v) for v in row]
        loss = f(*leaves)
        loss.backward()
        replayed = program.run(*row)
        assert replayed.output == pytest.approx(loss.data, rel=1e-12)
        assert list(replayed.input_grads) == pytest.approx(
            [leaf.grad for leaf in leaves], rel=1e-12, abs=1e-300
        )


# ---- second derivatives of the losses: the Value forms must not cancel either ------------------


def _exact_loss(name: str, param: float | None):
    """The loss as mpmath math, for mpmath.diff (at 120 digits: its differences then err by
    about 1e-110, far below the smallest second derivative drawn, about 1e-70)."""
    import mpmath

    def lse(zs):
        return mpmath.log(mpmath.fsum(mpmath.exp(z) for z in zs))

    if name == "logsumexp":
        return lambda *zs: lse(zs)
    if name in ("log_softmax", "cross_entropy", "softmax"):
        k = int(param or 0)
        sign = 1 if name == "log_softmax" else -1
        if name == "softmax":
            return lambda *zs: mpmath.exp(zs[k] - lse(zs))
        return lambda *zs: sign * (zs[k] - lse(zs))
    if name == "soft_cross_entropy":
        n = int(param or 2)
        return lambda *a: mpmath.fsum(t * (lse(a[:n]) - z) for z, t in zip(a[:n], a[n:]))
    if name == "bce_with_logits":
        return lambda z, t: mpmath.log1p(mpmath.exp(z)) - t * z
    return lambda p, t: -(t * mpmath.log(p) + (1 - t) * mpmath.log1p(-p))


LOSS_OPS = [
    op
    for op in all_members()
    if op.name
    in (
        "logsumexp",
        "log_softmax",
        "softmax",
        "cross_entropy",
        "soft_cross_entropy",
        "bce_with_logits",
        "binary_cross_entropy",
    )
]


@st.composite
def smooth_args(draw: st.DrawFn, op: Op) -> list[float]:
    """Inputs where the loss is smooth and its second derivatives are normal numbers: logits in
    [-40, 40] (probabilities down to 1e-35), targets in [0, 1], probabilities in
    [1e-8, 1 - 1e-8]."""
    logit = st.floats(-40.0, 40.0)
    if op.name == "soft_cross_entropy":
        n = int(op.param or 2)
        zs = draw(st.lists(logit, min_size=n, max_size=n))
        return [*zs, *draw(targets(zs))]
    if op.name == "bce_with_logits":
        return [draw(logit), draw(st.floats(0.0, 1.0))]
    if op.name == "binary_cross_entropy":
        return [draw(st.floats(1e-8, 1 - 1e-8)), draw(st.floats(0.0, 1.0))]
    n = draw(st.integers(max(2, int(op.param or 0) + 1), 4))
    return draw(st.lists(logit, min_size=n, max_size=n))


@pytest.mark.parametrize("op", LOSS_OPS, ids=lambda op: op.label)
def test_second_derivatives_of_the_losses_match_mpmath(op):
    """Within 1e-8 relative, tails included: 1 - p is never formed as a difference where its
    derivative would cancel (dL/dt_i of soft cross-entropy, -1.04e-17, came out 0.0). The bound is
    not 4 ULP: near a tie, softmax's second derivative p_k p_i (2 p_i - 1) is made by the product
    rule from terms of size p_k p_i that cancel (2e-10 relative at logits (0, 13, 13), and 0.0 for
    1.5e-39 at (0, 1.2e-38)): there the error allowed is a few ULP of those terms."""
    import mpmath

    exact_loss = _exact_loss(op.name, op.param)

    @settings(max_examples=int(os.environ.get("MICROGRADX_LOSS_HESSIANS", "20")), deadline=None)
    @given(smooth_args(op))
    def check(xs: list[float]) -> None:
        H = hessian(lambda *v: apply(op, *v), xs)
        problems = []
        with mpmath.workdps(120):
            point = [mpmath.mpf(x) for x in xs]
            for i in range(len(xs)):
                for j in range(i, len(xs)):
                    order = [0] * len(xs)
                    order[i] += 1
                    order[j] += 1
                    exact = float(mpmath.diff(exact_loss, point, order))
                    allowed = 1e-8 * abs(exact) + 1e-100
                    if op.name == "softmax":  # the size of the product rule's terms
                        total = mpmath.fsum(mpmath.exp(z) for z in point)
                        p = [float(mpmath.exp(z) / total) for z in point]
                        allowed += 4e-16 * p[int(op.param or 0)] * (p[i] + p[j])
                    for got in {H[i][j], H[j][i]}:
                        if abs(got - exact) > allowed:
                            problems.append(f"H[{i}][{j}] {got!r}, exact {exact!r}")
        assert not problems, f"{op.label}{tuple(xs)}: " + "; ".join(problems)

    check()


def test_two_reported_loss_hessians_keep_their_tails():
    # d2L/dz1 dt1 of soft cross-entropy is p1 - 1 = -(1 - p1): it came out 0.0
    H = hessian(lambda a, b, c, d: losses.cross_entropy([a, b], [c, d]), [-19.3, 19.8, 0.4, 0.6])
    assert H[1][3] == pytest.approx(-1.0449265343612043e-17, rel=1e-14)
    # d2 log_softmax_2 / dz2 dz0 is p0 p2: it came out 1.7e-4 too large
    H = hessian(lambda a, b, c: losses.log_softmax([a, b, c])[2], [-6.68, 9.46, -20.8])
    assert H[2][0] == pytest.approx(7.0588825307093857e-21, rel=1e-14)


def test_soft_targets_near_the_optimum_keep_terms_far_below_the_total():
    # T = 1 + 2e-304: a sum S = 1 + 2e^-700 rounded to 1 made this gradient 0 at any precision
    args = [700.0, 0.0, 0.0, 1.0, 9.85967654375977e-305, 9.85967654375977e-305]
    _check(OPS["soft_cross_entropy"].member(3), args)
    _check(OPS["soft_cross_entropy"].member(2), [0.0, 1e-110, 0.5, 0.5])  # logits 1e-110 apart


def test_soft_targets_near_the_optimum_cost_exps_linear_in_the_classes(monkeypatch):
    import decimal

    import microgradx.ops as ops_module

    calls = [0]

    class Counting(decimal.Context):
        def exp(self, x):  # type: ignore[override]
            calls[0] += 1
            return super().exp(x)

    made = ops_module._context
    monkeypatch.setattr(
        ops_module,
        "_context",
        lambda digits: Counting(
            **{k: getattr(made(digits), k) for k in ("prec", "Emax", "Emin")}, traps=[]
        ),
    )
    n = 60
    zs = [math.sin(k) for k in range(n)]  # targets at the optimum: every class cancels
    top = max(zs)
    es = [math.exp(z - top) for z in zs]
    ts = [e / math.fsum(es) for e in es]
    op = OPS["soft_cross_entropy"].member(n)
    op.local_grads(*zs, *ts, op.forward(*zs, *ts))
    # one exp per class at each precision tried (two or three): a decimal formula per class
    # over all the classes was n exps per class, 3600 here at each precision
    assert 0 < calls[0] <= 4 * n


def test_a_subnormal_probability_times_many_targets_keeps_its_digits():
    # p_500 = e^-740 / 499 is subnormal: rounded first, then times the 499 other targets, it was
    # 84 ULP off (0.0 where the gradient is 4.2e-322)
    logits = [0.0] * 499 + [-740.0]
    _check(OPS["soft_cross_entropy"].member(500), [*logits, *([1.0] * 499 + [0.0])])
    # and a target of 1e-300 beside 1 (the reference itself once summed them to 1)
    _check(OPS["soft_cross_entropy"].member(2), [0.0, -math.inf, 1.0, 1e-300])


@pytest.mark.parametrize("alpha", [1e-300, 0.2, 1.0, 1e6, 1e10, 1e300, -2.0])
@pytest.mark.parametrize(
    "x", [-800.0, -777.0, -745.0, -740.0, -720.0, -709.0, -700.0, -30.0, -1e-9]
)
def test_elu_and_its_derivatives_are_accurate_for_any_alpha(alpha, x):
    """elu' = a e^x rounded e^x in the subnormal range before the product (a = 1e6, x = -720:
    1.5e4 ULP; a = 1e300, x = -777 gave 0.0 for 3.6e-38). The value and local derivative are
    within 4 ULP of mpmath; the derivative's derivative on Values (create_graph) within 1e-12."""
    op = OPS["elu"].member(alpha)
    value, (slope,) = reference(op, [x])
    v = Value(x)
    out = v.elu(alpha)
    (first,) = microgradx.autograd.grad(out, [v], create_graph=True)
    assert within(out.data, value) and within(op.local_grads(x, out.data)[0], slope)
    assert relative(first.data, slope) <= 1e-12 or within(first.data, slope)
    (second,) = microgradx.autograd.grad(first, [v], materialize_grads=True)
    assert relative(second, slope) <= 1e-12 or within(second, slope), (second, slope)
