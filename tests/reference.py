"""Exact references for every op of the table (mpmath, 300 bits), and the distance in ULPs.

Used by tests/test_accuracy.py and benchmarks/bench_accuracy.py. ``reference(op, inputs)`` gives
the exact value and local derivatives of ``op`` at float inputs: mpmath numbers (the math, at 300
bits), or, where the table states a convention (a subgradient, a clamp, C's ``pow`` at zeros and
infinities, the limits of softmax at infinite logits), that number. ``ulps(ours, exact)`` says
how far a float is from it.
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

PREC = 300  # bits: far more than any double cancellation below needs
INF = mpf("inf")
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


# ---- C's pow at special values (C99 Annex F.9.4.4), on exact numbers -----------------------------


def _odd_integer(y: mpf) -> bool:
    return bool(mpmath.isfinite(y) and mpmath.isint(y) and int(y) % 2 == 1)


def c_pow(x: mpf, y: mpf, x_negative_zero: bool = False) -> Any:
    """x ** y as C's pow(); x and y exact (y may be b - 1 computed exactly)."""
    if y == 0 or x == 1:
        return mpf(1)
    if mpmath.isnan(x) or mpmath.isnan(y):
        return NAN
    if x == 0:
        odd = _odd_integer(y)
        if y < 0:
            return -INF if (x_negative_zero and odd) else INF
        return -0.0 if (x_negative_zero and odd) else 0.0
    if mpmath.isinf(y):
        if x == -1:
            return mpf(1)
        inside = abs(x) < 1
        if y > 0:
            return 0.0 if inside else INF
        return INF if inside else 0.0
    if mpmath.isinf(x):
        odd = _odd_integer(y)
        if x > 0:
            return 0.0 if y < 0 else INF
        if y < 0:
            return -0.0 if odd else 0.0
        return -INF if odd else INF
    if x < 0 and not mpmath.isint(y):
        return NAN
    return _real(mpmath.power(x, y))


def _minus(a: mpf, b: Any) -> mpf:
    """a - b exactly (300 bits would round 1 - 5e-324 to 1)."""
    return mpmath.fsub(a, b, exact=True)


def _times(a: Any, b: Any) -> Any:
    """a * b as IEEE multiplies (0 * inf is NaN), on exact numbers or float conventions."""
    if is_nan(a) or is_nan(b):
        return NAN
    a = mpf(a)
    b = mpf(b)
    return a * b


def _log(x: mpf) -> Any:
    if mpmath.isnan(x) or x < 0:
        return NAN
    if x == 0:
        return -INF
    return mpmath.log(x)


# ---- softmax pieces, with the table's limits at infinite logits ----------------------------------


def _softmax(zs: Sequence[float]) -> tuple[Any, list[Any], list[Any], list[Any]]:
    """(logsumexp, p, q = 1 - p, nll = -log p) of float logits, exactly."""
    n = len(zs)
    if any(z != z for z in zs):
        return NAN, [NAN] * n, [NAN] * n, [NAN] * n
    top = [i for i, z in enumerate(zs) if z == math.inf]
    if top:
        if len(top) == 1:
            p = [mpf(1) if i in top else mpf(0) for i in range(n)]
            return INF, p, [1 - v for v in p], [mpf(0) if i in top else INF for i in range(n)]
        p = [NAN if i in top else mpf(0) for i in range(n)]
        q = [NAN if i in top else mpf(1) for i in range(n)]
        return INF, p, q, [NAN if i in top else INF for i in range(n)]
    live = [i for i, z in enumerate(zs) if z > -math.inf]
    if not live:
        return -INF, [NAN] * n, [NAN] * n, [NAN] * n
    z = [_m(zs[i]) for i in live]
    top_z = max(z)
    top = z.index(top_z)
    es = [mpmath.exp(_minus(v, top_z)) for v in z]
    total = mpmath.fsum(es)
    log_total = mpmath.log1p(mpmath.fsum(e for k, e in enumerate(es) if k != top))
    lse = top_z + log_total
    p = [mpf(0)] * n
    q = [mpf(1)] * n
    nll = [INF] * n
    for j, i in enumerate(live):
        p[i] = es[j] / total
        q[i] = mpmath.fsum(e for k, e in enumerate(es) if k != j) / total
        nll[i] = log_total + _minus(top_z, z[j])  # not lse - z_j: 1e300 + ln 2 - 1e300 cancels
    return lse, p, q, nll


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


def _exact(op: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    """The op's own ``exact`` (its declaration's, on mpmath numbers), else this module's."""
    if op.exact is None:
        return _REFERENCES[op.name](op.param, xs)
    param = () if op.param is None else (mpf(op.param),)
    value, grads = op.exact(mpmath, *param, *[_m(x) for x in xs])
    return _real(value), [_real(g) for g in grads]


def has_reference(op: Any) -> bool:
    """True if ``op`` has exactly one exact reference: its ``exact``, or one here."""
    return (op.exact is not None) != (op.name in _REFERENCES)


def _as_float(x: Any) -> tuple[str, float]:
    """A comparable float rounding of an exact value (NaN compares equal to NaN here)."""
    if is_nan(x):
        return ("nan", 0.0)
    f = float(x)
    return ("", math.copysign(1.0, f) if f == 0 else f)


def _add(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    return _m(xs[0]) + _m(xs[1]), [mpf(1), mpf(1)]


def _sub(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    return _m(xs[0]) - _m(xs[1]), [mpf(1), mpf(-1)]


def _mul(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    a, b = xs
    return _times(a, b), [_m(b), _m(a)]


def _signed_inf(sign: float) -> Any:
    return INF if sign > 0 else -INF


def _div(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    a, b = xs
    if a != a or b != b:
        d_a = NAN if b != b else _signed_inf(math.copysign(1.0, b)) if b == 0 else 1 / _m(b)
        return NAN, [d_a, NAN]
    if b == 0:
        b_sign = math.copysign(1.0, b)
        value = NAN if a == 0 else _signed_inf(math.copysign(1.0, a) * b_sign)
        d_b = NAN if a == 0 else _signed_inf(-math.copysign(1.0, a))
        return value, [_signed_inf(b_sign), d_b]
    A, B = _m(a), _m(b)
    if mpmath.isinf(A) and mpmath.isinf(B):
        return NAN, [mpf(0), NAN]
    return A / B, [1 / B, -A / (B * B)]


def _power_slope(a: float, b: float) -> Any:
    if b == 0:
        return mpf(0)
    if b != b:
        return NAN
    B = _m(b)
    return _times(B, c_pow(_m(a), _minus(B, 1), math.copysign(1.0, a) < 0 and a == 0))


def _power_log_slope(a: float, b: float) -> Any:
    if a == 0 and b >= 0:
        return mpf(0)
    value = c_pow(_m(a), _m(b), math.copysign(1.0, a) < 0 and a == 0)
    return _times(value, _log(_m(a)))


def _pow(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    a, b = xs
    value = c_pow(_m(a), _m(b), math.copysign(1.0, a) < 0 and a == 0)
    return value, [_power_slope(a, b), _power_log_slope(a, b)]


def _pow_scalar(p: float, xs: list[float]) -> tuple[Any, list[Any]]:
    value, grads = _pow(None, [xs[0], p])
    return value, grads[:1]


def _rpow_scalar(c: float, xs: list[float]) -> tuple[Any, list[Any]]:
    value, grads = _pow(None, [c, xs[0]])
    return value, grads[1:]


def _neg(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    return -_m(xs[0]), [mpf(-1)]


def _abs(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    x = xs[0]
    return abs(_m(x)), [mpf(1) if x > 0 else mpf(-1) if x < 0 else 0.0]  # sign; 0 at 0 and NaN


def _exp(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    value = mpmath.exp(_m(xs[0]))
    return value, [value]


def _log_ref(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    x = xs[0]
    slope = _signed_inf(math.copysign(1.0, x)) if x == 0 else 1 / _m(x)
    return _log(_m(x)), [slope]


def _sqrt(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    x = xs[0]
    if x != x or x < 0:
        return NAN, [NAN]
    if x == 0:
        return math.copysign(0.0, x), [_signed_inf(math.copysign(1.0, x))]  # IEEE sqrt(-0) = -0
    root = mpmath.sqrt(_m(x))
    return root, [mpf(1) / (2 * root)]


def _tanh(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    x = _m(xs[0])
    return mpmath.tanh(x), [mpmath.sech(x) ** 2]


def _sigmoid_pieces(x: mpf) -> tuple[Any, Any]:
    e = mpmath.exp(-abs(x))  # <= 1, also at +-inf
    value = 1 / (1 + e) if x >= 0 else e / (1 + e)
    return value, e / (1 + e) ** 2


def _sigmoid(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    if xs[0] != xs[0]:
        return NAN, [NAN]
    value, slope = _sigmoid_pieces(_m(xs[0]))
    return value, [slope]


def _relu(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    x = xs[0]
    if x != x:
        return NAN, [mpf(1)]  # torch's choice: NaN passes the gradient
    return (_m(x) if x > 0 else 0.0), [mpf(1) if x > 0 else 0.0]


def _leaky_relu(s: float, xs: list[float]) -> tuple[Any, list[Any]]:
    x = xs[0]
    if x != x:
        return NAN, [_m(s)]
    return (_m(x) if x > 0 else _m(s) * _m(x)), [mpf(1) if x > 0 else _m(s)]


def _softplus(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    if xs[0] != xs[0]:
        return NAN, [NAN]
    x = _m(xs[0])
    value = (x if x > 0 else 0) + mpmath.log1p(mpmath.exp(-abs(x)))
    return value, [_sigmoid_pieces(x)[0]]


def _sin(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    x = _m(xs[0])
    if not mpmath.isfinite(x):
        return NAN, [NAN]
    return mpmath.sin(x), [mpmath.cos(x)]


def _cos(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    x = _m(xs[0])
    if not mpmath.isfinite(x):
        return NAN, [NAN]
    return mpmath.cos(x), [-mpmath.sin(x)]


def _maximum(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    a, b = xs
    if a != a or b != b:
        return NAN, [mpf(1), mpf(1)]  # neither lost: both get the gradient (torch does the same)
    if a == b:
        if a == 0:  # IEEE-754 maximum: +0 is larger than -0
            plus = math.copysign(1.0, a) > 0 or math.copysign(1.0, b) > 0
            return (0.0 if plus else -0.0), [mpf(0.5), mpf(0.5)]
        return _m(a), [mpf(0.5), mpf(0.5)]
    return (_m(a) if a > b else _m(b)), [mpf(1) if a > b else 0.0, mpf(1) if b > a else 0.0]


def _minimum(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    a, b = xs
    if a != a or b != b:
        return NAN, [mpf(1), mpf(1)]
    if a == b:
        if a == 0:
            minus = math.copysign(1.0, a) < 0 or math.copysign(1.0, b) < 0
            return (-0.0 if minus else 0.0), [mpf(0.5), mpf(0.5)]
        return _m(a), [mpf(0.5), mpf(0.5)]
    return (_m(a) if a < b else _m(b)), [mpf(1) if a < b else 0.0, mpf(1) if b < a else 0.0]


def _logsumexp(p: Any, zs: list[float]) -> tuple[Any, list[Any]]:
    lse, probabilities, _, _ = _softmax(zs)
    return lse, probabilities


def _log_softmax(k: float, zs: list[float]) -> tuple[Any, list[Any]]:
    _, probabilities, q, nll = _softmax(zs)
    j = int(k)
    grads = [-v for v in probabilities]
    grads[j] = q[j]
    return -nll[j], grads


def _softmax_ref(k: float, zs: list[float]) -> tuple[Any, list[Any]]:
    _, probabilities, q, _ = _softmax(zs)
    j = int(k)
    pk = probabilities[j]
    grads = [-pk * v for v in probabilities]
    grads[j] = pk * q[j]
    return pk, grads


def _cross_entropy(k: float, zs: list[float]) -> tuple[Any, list[Any]]:
    _, probabilities, q, nll = _softmax(zs)
    j = int(k)
    grads = list(probabilities)
    grads[j] = -q[j]
    return nll[j], grads


def _soft_cross_entropy(n: float, xs: list[float]) -> tuple[Any, list[Any]]:
    classes = int(n)
    zs, ts = xs[:classes], xs[classes:]
    _, probabilities, _, nll = _softmax(zs)
    terms = [_times(t, v) for t, v in zip(ts, nll) if t != 0]  # 0 log 0 = 0
    value = mpmath.fsum(terms) if terms else mpf(0)
    if any(z != z for z in zs):
        value = NAN
    dz = [_soft_slope(zs, ts, i, probabilities[i]) for i in range(classes)]
    return value, [*dz, *nll]


def _soft_slope(zs: list[float], ts: list[float], i: int, p_i: Any) -> Any:
    """T p_i - t_i = p_i sum_j (t_j - t_i e^(z_j - z_i)), each term to full precision: near
    (|z_j - z_i| < 1) as (t_j - t_i) - t_i expm1(z_j - z_i), so that logits 1e-185 apart are not
    rounded to e^0 = 1 at every precision tried (two precisions would agree on a wrong 0).
    At 2400 bits: a sum of doubles is then exact (1 + 1e-300 at 300 bits was 1, which lost a
    gradient of 1e-300 at logits [0, -inf] and targets [1, 1e-300])."""
    with mp.workprec(2400):
        if not all(math.isfinite(v) for v in (*zs, *ts)):
            weight = mpmath.fsum(_m(t) for t in ts)
            return _times(weight, p_i) - _m(ts[i])
        terms = []
        for z, t in zip(zs, ts):
            gap = _minus(_m(z), _m(zs[i]))
            if abs(gap) < 1:
                terms.append(_minus(_m(t), _m(ts[i])) - _m(ts[i]) * mpmath.expm1(gap))
            else:
                terms.append(_m(t) - _m(ts[i]) * mpmath.exp(gap))
        return p_i * mpmath.fsum(terms)


def _bce_with_logits(p: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    z, t = xs
    if z != z or t != t:
        return NAN, [NAN, NAN if z != z else -_m(z)]
    Z, T = _m(z), _m(t)
    if mpmath.isinf(Z):
        linear = (1 - T) * Z if Z > 0 else -T * Z
        value = mpf(0) if (Z > 0 and t == 1) or (Z < 0 and t == 0) else linear
        slope = (1 - T) if Z > 0 else -T
        return value, [slope, -Z]
    if mpmath.isinf(T):
        value = NAN if z == 0 else -T * Z
        return value, [-T, -Z]
    # By the sign of z, as the op: softplus(z) - t z cancels at z = 484, t = 1 even at 300 bits.
    e = mpmath.exp(-abs(Z))
    tail = mpmath.log1p(e)
    if abs(Z) < 1:  # sigmoid(z) - t = ((1 - 2t) - t u) / (2 + u), u = expm1(-z): keeps z = 1e-198
        u = mpmath.expm1(-Z)
        slope = (_minus(1, 2 * T) - T * u) / (2 + u)
    elif Z > 0:
        slope = _minus(1, T) - e / (1 + e)
    else:
        slope = e / (1 + e) - T
    if Z >= 0:
        return _minus(1, T) * Z + tail, [slope, -Z]
    return -T * Z + tail, [slope, -Z]


def _bce(param: Any, xs: list[float]) -> tuple[Any, list[Any]]:
    p, t = xs
    if not 0 <= p <= 1:
        return NAN, [NAN, NAN]
    P, T = _m(p), _m(t)
    clamp = mpf(-100)
    log_p = _log(P)
    log_q = -INF if p == 1 else mpmath.log1p(-P)
    live_p, live_q = log_p >= clamp, log_q >= clamp
    log_p, log_q = (log_p if live_p else clamp), (log_q if live_q else clamp)
    value = -(_times(T, log_p) + _times(_minus(1, T), log_q))
    slope = mpf(0)
    if live_p and live_q:
        slope = (P - T) / (P * _minus(1, P))
    elif live_p:
        slope = -T / P
    elif live_q:
        slope = _minus(1, T) / _minus(1, P)
    return value, [slope, log_q - log_p]


_REFERENCES = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "div": _div,
    "pow": _pow,
    "pow_scalar": _pow_scalar,
    "rpow_scalar": _rpow_scalar,
    "neg": _neg,
    "abs": _abs,
    "exp": _exp,
    "log": _log_ref,
    "sqrt": _sqrt,
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "relu": _relu,
    "leaky_relu": _leaky_relu,
    "softplus": _softplus,
    "sin": _sin,
    "cos": _cos,
    "maximum": _maximum,
    "minimum": _minimum,
    "logsumexp": _logsumexp,
    "log_softmax": _log_softmax,
    "softmax": _softmax_ref,
    "cross_entropy": _cross_entropy,
    "soft_cross_entropy": _soft_cross_entropy,
    "bce_with_logits": _bce_with_logits,
    "binary_cross_entropy": _bce,
}
