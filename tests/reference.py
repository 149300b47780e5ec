"""Exact references for every op (mpmath, 300 bits and up), and the distance in ULPs.

Used by tests/test_accuracy.py and benchmarks/bench_accuracy.py. ``reference(op, inputs)`` gives
the exact value and local derivatives of ``op`` at float inputs from its declaration's ``exact``
(microgradx/ops.py), run on mpmath numbers: the math, or, where the op states a convention (a
subgradient, a clamp, C's ``pow`` at zeros and infinities, the limits of softmax at infinite
logits), that float. ``ulps(ours, exact)`` says how far a float is from it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import mpmath
from mpmath import mp, mpf

MAX = sys.float_info.max
# Where ops change regime: signed zeros, subnormals, the ends of the range, the thresholds of exp,
# sigmoid and tanh, huge arguments of sin and cos, huge logits; then infinities and NaN.
EDGES = [
    0.0,
    -0.0,
    5e-324,
    -5e-324,
    2.2250738585072014e-308,
    -2.2250738585072014e-308,
    1e-300,
    1e-20,
    0.5,
    -0.5,
    1.0,
    -1.0,
    2.0,
    20.0,
    -20.0,
    36.7368005696771,  # sigmoid rounds to 1 above this
    40.0,
    -40.0,
    354.9,  # e^(-2x) turns subnormal: tanh'
    372.5,
    -372.5,
    708.3964185322641,  # e^-x turns subnormal
    709.782712893384,  # e^x overflows above this
    709.7827128933841,
    -745.1332191019411,  # e^x underflows to 0 below this
    -745.1332191019412,
    1e8,
    1e16,
    -1e16,
    1e22,  # sin and cos of huge arguments
    2.0**63,
    1e300,
    MAX,
    -MAX,
    math.inf,
    -math.inf,
    math.nan,
]

PREC = 300  # bits: far more than the cancellations in the ops' exact formulas need
NAN = mpf("nan")
_BIG = mpf(2) ** 1024  # where the float range ends: inf sits here when the exact value is finite
_MAX = mpf(2) ** 1024 - mpf(2) ** 971  # the largest float


def _m(x: float) -> mpf:
    return mpf(x)  # exact, including +-inf and nan


def is_nan(x: Any) -> bool:
    return (isinstance(x, float) and x != x) or (isinstance(x, mpf) and mpmath.isnan(x))


def _real(x: Any) -> mpf:
    """mpmath's complex results (log of a negative number) are no real value: NaN."""
    if isinstance(x, mpmath.mpc):
        return NAN
    return x


def ulp_of(x: mpf) -> mpf:
    """The spacing of doubles at |x| (x finite), 2**-1074 in the subnormal range."""
    if x == 0:
        return mpf(2) ** -1074
    _, e = mpmath.frexp(abs(x))  # |x| = m 2^e, 0.5 <= m < 1
    return mpf(2) ** max(e - 1 - 52, -1074)


def ulps(ours: float, exact: Any) -> float:
    """How many ULPs of ``exact`` the float ``ours`` is from it.

    NaN is right only where the exact value is NaN (no real value). An infinite exact value
    (a pole, a limit) must be met exactly. A finite exact value beyond the float range rounds to
    +-inf: inf counts as 2**1024, the next number after the largest float, and so do exact values
    beyond it, so an overflowing answer is judged like any other (inf is right for 1e400, 1 ULP
    off for the largest float).
    ``exact`` may be a float: a convention such as relu'(0) = 0, whose zero sign is checked too.
    """
    with mp.workprec(PREC):
        if is_nan(exact):
            return 0.0 if ours != ours else math.inf
        if ours != ours:
            return math.inf
        if isinstance(exact, float):
            if ours == exact and math.copysign(1.0, ours) == math.copysign(1.0, exact):
                return 0.0
            if exact == 0 and ours == 0:
                return math.inf  # a zero of the wrong sign where the sign is the convention
            exact = mpf(exact)
        if mpmath.isinf(exact):
            return 0.0 if ours == exact else math.inf
        value = _m(ours) if math.isfinite(ours) else math.copysign(1.0, ours) * _BIG
        if abs(exact) > _BIG:
            exact = mpmath.sign(exact) * _BIG  # beyond the range: its float is inf, at 2**1024
        return float(abs(value - exact) / ulp_of(exact))


def relative(ours: float, exact: Any) -> float:
    with mp.workprec(PREC):
        if is_nan(exact) or isinstance(exact, float) or mpmath.isinf(exact) or exact == 0:
            return math.inf
        if not math.isfinite(ours):
            return math.inf
        return float(abs(_m(ours) - exact) / abs(exact))


def is_normal(exact: Any) -> bool:
    with mp.workprec(PREC):
        return not (is_nan(exact) or isinstance(exact, float) or mpmath.isinf(exact)) and bool(
            mpf(2) ** -1022 <= abs(exact) <= _MAX
        )


def within(ours: float, exact: Any, max_ulps: float = 4.0, rel: float = 1e-15) -> bool:
    """The accuracy promised: <= 4 ULP, or <= 1e-15 relative where the exact value is normal."""
    return ulps(ours, exact) <= max_ulps or (is_normal(exact) and relative(ours, exact) <= rel)


# ---- the references ------------------------------------------------------------------------------


def reference(op: Any, inputs: Sequence[float]) -> tuple[Any, list[Any]]:
    """(value, [d value / d input_i]) of ``op`` at ``inputs``: exact, or the table's convention.

    Computed at 300 bits and again at twice that, and so on until both round to the same floats:
    some answers cancel to 1e-111 from terms near 1 (softmax of logits 1e-110 apart), which 300
    bits cannot see.
    """
    xs = [float(x) for x in inputs]
    previous = None
    for bits in (PREC, 2 * PREC, 4 * PREC, 8 * PREC, 16 * PREC, 32 * PREC):
        with mp.workprec(bits):
            value, grads = _exact(op, xs)
        rounded = [_as_float(v) for v in (value, *grads)]
        if rounded == previous:
            break
        previous = rounded
    return value, grads


def _number(x: float) -> Any:
    """An input as ``Op.exact`` takes it: an mpmath number, or a zero as the float itself (mpmath
    has no signed zero, and conventions such as sqrt(-0) = -0 read its sign)."""
    return x if x == 0 else _m(x)


def _exact(op: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    """The op's declared ``exact`` on mpmath numbers; a complex result (log of a negative
    number) is NaN."""
    param = () if op.param is None else (_number(op.param),)
    value, grads = op.exact(mpmath, *param, *[_number(x) for x in xs])
    return _real(value), [_real(g) for g in grads]


def has_reference(op: Any) -> bool:
    """True if ``op`` declares its exact reference (``Op.exact``)."""
    return op.exact is not None


def _as_float(x: Any) -> tuple[str, float]:
    """A comparable float rounding of an exact value (NaN compares equal to NaN here)."""
    if is_nan(x):
        return ("nan", 0.0)
    f = float(x)
    return ("", math.copysign(1.0, f) if f == 0 else f)
