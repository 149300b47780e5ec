"""The op table: every primitive operation, declared once.

An op is a small record of everything the rest of the library needs to know about one primitive:

* ``forward``: the float rule, ``forward(*inputs) -> float``. It follows IEEE-754 like NumPy and
  PyTorch: it returns ``inf`` or ``nan`` where the math does, and never raises.
* ``local_grads``: ``local_grads(*inputs, out) -> tuple``, one partial derivative per input,
  d(out)/d(input). The rules are written with arithmetic and the helpers below (``exp``, ``log``,
  ``divide``, ...), so the *same* rule runs on floats (fast reverse mode) and on ``Value`` objects
  (which records the derivative itself as a graph: that is how higher-order derivatives come
  for free).
* ``symbol``, ``math`` and ``derivative``: what graphs and the docs show.
* ``domain`` and ``kink``: where the op is smooth. ``domain(*inputs)`` is true where the value and
  the derivative are finite; ``kink(*inputs)`` is a linear function of the inputs that is zero where
  the op has a kink or the edge of its domain (``relu`` at 0, ``maximum`` where a == b, ``log``
  at 0).
  Gradient checking uses it to keep its finite-difference steps on one side of a kink, and the
  hypothesis strategies use both to build graphs that are well conditioned.

Reverse mode (``engine``), forward mode (``forward``: the ``Dual`` methods are generated from
``method``), gradient checking (``gradcheck``), the random-graph strategies (``testing``), graph
labels and the generated docs table (``microgradx ops``) all read this table. Adding an op is an
entry here, a one-line ``Value`` method (written out, so IDEs and type checkers see it), and two
lines of tests; docs/ops.md lists every place, and a test fails for each one forgotten.

Ops with a constant parameter (``x ** 3``, ``2 ** x``, ``leaky_relu(x, 0.2)``) are declared once as
a family; ``op.bind(p)`` returns the op for one parameter (cached, so nodes share it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from microgradx.checks import real

inf = math.inf
nan = math.nan

# --------------------------------------------------------------------------------------------------
# IEEE-754 float helpers. Python's float operators raise where IEEE-754 returns inf or nan
# (1 / 0.0, 10.0 ** 400, math.exp(1000), math.log(0), math.sin(inf)); these do not.
# --------------------------------------------------------------------------------------------------


def _is_odd_integer(x: float) -> bool:
    return math.isfinite(x) and x == int(x) and int(x) % 2 == 1


def safe_div(a: float, b: float) -> float:
    """a / b with IEEE-754 results for b == 0: +-inf, or nan for 0/0."""
    try:
        return a / b
    except ZeroDivisionError:
        if a == 0 or a != a:
            return nan
        return math.copysign(inf, a) * math.copysign(1.0, b)


def safe_pow(base: float, exponent: float) -> float:
    """base ** exponent as C's pow(): inf on overflow and at 0 ** negative, nan for (-8) ** 0.5."""
    try:
        return math.pow(base, exponent)
    except OverflowError:
        # The result is too large; it is negative only for a negative base and an odd exponent.
        return -inf if base < 0 and _is_odd_integer(exponent) else inf
    except ValueError:
        if base == 0:  # 0 ** negative is a pole; -0.0 ** -odd keeps the sign of zero
            negative_zero = math.copysign(1.0, base) < 0
            return -inf if negative_zero and _is_odd_integer(exponent) else inf
        return nan  # negative base, non-integer exponent: no real result


def safe_exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return inf


def safe_log(x: float) -> float:
    if x > 0:
        return math.log(x)  # log(inf) is inf
    if x == 0:
        return -inf
    return nan  # negative or nan


def safe_sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else nan  # sqrt(-0.0) is -0.0; sqrt(nan) falls through to nan


def _periodic(f: Callable[[float], float], x: float) -> float:
    return f(x) if math.isfinite(x) else nan  # sin(inf) has no value; math.sin raises there


def stable_sigmoid(x: float) -> float:
    """1 / (1 + e^-x), computed so that e^-x never overflows (exact for every finite x)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = safe_exp(x)  # x < 0, so e <= 1 and the result is never 0/0
    return e / (1.0 + e)


def stable_softplus(x: float) -> float:
    """log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): finite for every finite x."""
    if x != x:
        return nan
    return max(x, 0.0) + math.log1p(safe_exp(-abs(x)))


# --------------------------------------------------------------------------------------------------
# Helpers for derivative rules. Each works on a float (by the op's float rule) and on a Value (by
# the Value method of the same name, which records the op, so the derivative can be differentiated).
# The engine is not imported here: dependencies point from engine to ops, never back.
# --------------------------------------------------------------------------------------------------


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float))


def exp(x: Any) -> Any:
    return safe_exp(x) if _is_number(x) else x.exp()


def log(x: Any) -> Any:
    return safe_log(x) if _is_number(x) else x.log()


def sin(x: Any) -> Any:
    return _periodic(math.sin, x) if _is_number(x) else x.sin()


def cos(x: Any) -> Any:
    return _periodic(math.cos, x) if _is_number(x) else x.cos()


def sigmoid(x: Any) -> Any:
    return stable_sigmoid(x) if _is_number(x) else x.sigmoid()


def divide(a: Any, b: Any) -> Any:
    return safe_div(a, b) if _is_number(a) and _is_number(b) else a / b


def power(base: Any, exponent: Any) -> Any:
    return safe_pow(base, exponent) if _is_number(base) and _is_number(exponent) else base**exponent


# --------------------------------------------------------------------------------------------------
# The Op record.
# --------------------------------------------------------------------------------------------------


def _everywhere(*inputs: float) -> bool:
    return True


@dataclass(frozen=True, eq=False)
class Op:
    """One primitive: its float rule, its local derivatives, and how to show it.

    ``eq=False``: ops compare by identity, so the engine's fast paths can test ``op is ADD``.
    """

    name: str
    symbol: str  # drawn on op nodes; "{p}" is replaced by a family's parameter
    arity: int | None  # how many inputs; None: any number from 1 up (logsumexp of a list)
    forward: Callable[..., float]
    local_grads: Callable[..., tuple[Any, ...]]
    math: str  # the function, as a learner would write it
    derivative: str  # its local derivative(s)
    domain: Callable[..., bool] = _everywhere
    kink: Callable[..., float] | None = None
    note: str = ""  # subgradient choices and other conventions
    param_name: str | None = None  # set for a family such as pow_scalar (param_name "p")
    param_examples: tuple[float, ...] = ()  # parameters the docs and the property tests use
    param_default: float | None = None  # the method's default parameter (leaky_relu's 0.01)
    param: float | None = None  # set on a bound member of a family
    # How a user applies it: the Value method or operator (``"tanh"``, ``"__add__"``), or None for
    # a function (``microgradx.maximum``). Forward mode's Dual gets its methods from this.
    method: str | None = None
    _bound: dict[float, Op] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.arity is not None and (type(self.arity) is not int or self.arity < 1):
            raise ValueError(
                f"op {self.name!r}: arity must be an int >= 1 or None, got {self.arity!r}"
            )

    @property
    def label(self) -> str:
        """The text on a graph node, e.g. ``tanh``, ``**2``, ``leaky_relu(0.2)``."""
        if self.param is None:
            return self.symbol
        return self.symbol.replace("{p}", f"{self.param:g}")

    def bind(self, param: float) -> Op:
        """The member of this family for one parameter value (cached, so graph nodes share it).

        The cache is keyed by the number, and ``-0.0 == 0.0`` (with the same hash), so a zero is
        never cached: ``0.0 ** x`` and ``(-0.0) ** x`` are different ops (+inf and -inf at
        x = -1), and a cached one would answer for the other. NaN is never found again in a
        dict, so it is not cached either.
        """
        if self.param_name is None:
            raise TypeError(f"op {self.name!r} takes no parameter")
        if self.param is not None:
            raise TypeError(f"op {self.name!r} already has {self.param_name}={self.param:g}")
        param = real(param, self.param_name)
        op = self._bound.get(param)
        if op is not None:
            return op
        # The family's rules take the parameter first; partial fixes it once per parameter value.
        op = replace(
            self,
            forward=partial(self.forward, param),
            local_grads=partial(self.local_grads, param),
            domain=partial(self.domain, param),
            kink=None if self.kink is None else partial(self.kink, param),
            param=param,
            _bound={},
        )
        cacheable = param != 0 and param == param
        if cacheable and len(self._bound) < 1024:  # bounded: many exponents must not leak memory
            self._bound[param] = op
        return op

    def members(self) -> tuple[Op, ...]:
        """This op, or for a family its members at ``param_examples`` (for docs and tests)."""
        if self.param_name is None:
            return (self,)
        return tuple(self.bind(p) for p in self.param_examples)

    def __repr__(self) -> str:
        return f"<op {self.label}>" if self.param is not None else f"<op {self.name}>"


# --------------------------------------------------------------------------------------------------
# The table. Each entry: the math, the float rule, the local derivative(s).
# --------------------------------------------------------------------------------------------------


def _maximum(a: float, b: float) -> float:
    if a != a or b != b:
        return nan  # like torch.maximum, nan wins
    return a if a >= b else b


def _minimum(a: float, b: float) -> float:
    if a != a or b != b:
        return nan
    return a if a <= b else b


def _max_grads(a: Any, b: Any, out: Any) -> tuple[float, float]:
    a, b = float(a), float(b)
    if a == b:
        return (0.5, 0.5)  # at a tie the gradient is shared evenly, as in torch.maximum
    # An input gets the gradient unless it lost; with a NaN neither lost (torch does the same).
    return (0.0 if a < b else 1.0, 0.0 if b < a else 1.0)


def _min_grads(a: Any, b: Any, out: Any) -> tuple[float, float]:
    return _max_grads(-float(a), -float(b), out)


def _pow_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    a_, b_ = float(a), float(b)
    # b * a^(b-1) is 0 * inf at a = 0, b = 0; the limit (and torch) say 0.
    d_base = 0.0 if b_ == 0 else b * power(a, b - 1)
    # out * log(a) is 0 * -inf at a = 0; for b >= 0 the one-sided limit is 0 (torch agrees).
    d_exponent = 0.0 if a_ == 0 and b_ >= 0 else out * log(a)
    return d_base, d_exponent


def _pow_scalar_forward(p: float, x: float) -> float:
    if p == 2.0:
        return x * x  # the commonest power, exact and fast (x * x overflows to inf, never raises)
    return safe_pow(x, p)


def _pow_scalar_grads(p: float, x: Any, out: Any) -> tuple[Any]:
    return (0.0 if p == 0 else p * power(x, p - 1),)


def _rpow_scalar_grads(base: float, x: Any, out: Any) -> tuple[Any]:
    if base == 0 and float(x) >= 0:
        return (0.0,)
    return (out * safe_log(base),)


def _pow_scalar_domain(p: float, x: float) -> bool:
    if p == int(p) and p >= 1:
        return True  # x^1, x^2, x^3, ... are smooth everywhere
    return x > 0


def _pow_scalar_kink(p: float, x: float) -> float:
    return inf if p == int(p) and p >= 1 else x


def _sign(x: Any) -> float:
    x = float(x)
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


def _step(x: Any) -> float:
    return 0.0 if float(x) <= 0 else 1.0  # written so that NaN gets 1, as in torch


ADD = Op(
    name="add",
    method="__add__",
    symbol="+",
    arity=2,
    forward=lambda a, b: a + b,
    local_grads=lambda a, b, out: (1.0, 1.0),
    math="a + b",
    derivative="d/da = 1, d/db = 1",
)
SUB = Op(
    name="sub",
    method="__sub__",
    symbol="-",
    arity=2,
    forward=lambda a, b: a - b,
    local_grads=lambda a, b, out: (1.0, -1.0),
    math="a - b",
    derivative="d/da = 1, d/db = -1",
)
MUL = Op(
    name="mul",
    method="__mul__",
    symbol="*",
    arity=2,
    forward=lambda a, b: a * b,
    local_grads=lambda a, b, out: (b, a),
    math="a * b",
    derivative="d/da = b, d/db = a",
)
DIV = Op(
    name="div",
    method="__truediv__",
    symbol="/",
    arity=2,
    forward=safe_div,
    local_grads=lambda a, b, out: (divide(1.0, b), -divide(out, b)),
    math="a / b",
    derivative="d/da = 1/b, d/db = -a/b^2",
    domain=lambda a, b: b != 0,
    kink=lambda a, b: b,
    note="x / 0 is +-inf and 0 / 0 is nan (IEEE-754)",
)
POW = Op(
    name="pow",
    method="__pow__",
    symbol="**",
    arity=2,
    forward=safe_pow,
    local_grads=_pow_grads,
    math="a ** b",
    derivative="d/da = b * a^(b-1), d/db = a^b * log(a)",
    domain=lambda a, b: a > 0,
    kink=lambda a, b: a,
    note="a Value exponent; d/db is 0 at a = 0 (b >= 0) and nan for a < 0, as in torch",
)
POW_SCALAR = Op(
    name="pow_scalar",
    method="__pow__",
    symbol="**{p}",
    arity=1,
    forward=_pow_scalar_forward,
    local_grads=_pow_scalar_grads,
    math="x ** p (p a number)",
    derivative="d/dx = p * x^(p-1)",
    domain=_pow_scalar_domain,
    kink=_pow_scalar_kink,
    note="x ** 0 has derivative 0 everywhere",
    param_name="p",
    param_examples=(2.0, 3.0, 0.5, -1.0, 1.5),
)
RPOW_SCALAR = Op(
    name="rpow_scalar",
    method="__rpow__",
    symbol="{p}**",
    arity=1,
    forward=lambda base, x: safe_pow(base, x),
    local_grads=_rpow_scalar_grads,
    math="c ** x (c a number)",
    derivative="d/dx = c^x * log(c)",
    domain=lambda base, x: base > 0,
    param_name="c",
    param_examples=(2.0, 0.5, math.e),
)
NEG = Op(
    name="neg",
    method="__neg__",
    symbol="-",
    arity=1,
    forward=lambda x: -x,
    local_grads=lambda x, out: (-1.0,),
    math="-x",
    derivative="d/dx = -1",
)
ABS = Op(
    name="abs",
    method="__abs__",
    symbol="abs",
    arity=1,
    forward=abs,
    local_grads=lambda x, out: (_sign(x),),
    math="|x|",
    derivative="d/dx = sign(x)",
    kink=lambda x: x,
    note="subgradient abs'(0) = 0",
)
EXP = Op(
    name="exp",
    method="exp",
    symbol="exp",
    arity=1,
    forward=safe_exp,
    local_grads=lambda x, out: (out,),
    math="e^x",
    derivative="d/dx = e^x",
    domain=lambda x: x < 700,  # e^710 overflows to inf
    note="e^x is inf for x > 709.78",
)
LOG = Op(
    name="log",
    method="log",
    symbol="log",
    arity=1,
    forward=safe_log,
    local_grads=lambda x, out: (divide(1.0, x),),
    math="ln(x)",
    derivative="d/dx = 1/x",
    domain=lambda x: x > 0,
    kink=lambda x: x,
    note="log(0) = -inf, log(x < 0) = nan; no hidden epsilon",
)
SQRT = Op(
    name="sqrt",
    method="sqrt",
    symbol="sqrt",
    arity=1,
    forward=safe_sqrt,
    local_grads=lambda x, out: (divide(0.5, out),),
    math="sqrt(x)",
    derivative="d/dx = 1 / (2 sqrt(x))",
    domain=lambda x: x > 0,
    kink=lambda x: x,
    note="sqrt(x < 0) = nan; the derivative at 0 is inf",
)
TANH = Op(
    name="tanh",
    method="tanh",
    symbol="tanh",
    arity=1,
    forward=math.tanh,
    local_grads=lambda x, out: (1 - out * out,),
    math="tanh(x) = (e^x - e^-x) / (e^x + e^-x)",
    derivative="d/dx = 1 - tanh(x)^2",
)
SIGMOID = Op(
    name="sigmoid",
    method="sigmoid",
    symbol="σ",
    arity=1,
    forward=stable_sigmoid,
    local_grads=lambda x, out: (out * (1 - out),),
    math="sigmoid(x) = 1 / (1 + e^-x)",
    derivative="d/dx = sigmoid(x) * (1 - sigmoid(x))",
    note="computed without overflow: sigmoid(-1000) = 0.0 with gradient 0.0",
)
RELU = Op(
    name="relu",
    method="relu",
    symbol="ReLU",
    arity=1,
    forward=lambda x: x if x > 0 or x != x else 0.0,
    local_grads=lambda x, out: (_step(x),),
    math="relu(x) = max(x, 0)",
    derivative="d/dx = 1 if x > 0 else 0",
    kink=lambda x: x,
    note="subgradient relu'(0) = 0, as in PyTorch",
)
LEAKY_RELU = Op(
    name="leaky_relu",
    method="leaky_relu",
    symbol="LeakyReLU({p})",
    arity=1,
    forward=lambda slope, x: x if x > 0 or x != x else slope * x,
    local_grads=lambda slope, x, out: (1.0 if float(x) > 0 else slope,),
    math="leaky_relu(x) = x if x > 0 else s * x",
    derivative="d/dx = 1 if x > 0 else s",
    kink=lambda slope, x: x,
    note="at x = 0 the derivative is s, as in PyTorch",
    param_name="negative_slope",
    param_examples=(0.01, 0.2),
    param_default=0.01,
)
SOFTPLUS = Op(
    name="softplus",
    method="softplus",
    symbol="softplus",
    arity=1,
    forward=stable_softplus,
    local_grads=lambda x, out: (sigmoid(x),),
    math="softplus(x) = log(1 + e^x)",
    derivative="d/dx = sigmoid(x)",
    note="computed as max(x, 0) + log1p(e^-|x|): exact and finite for every finite x",
)
SIN = Op(
    name="sin",
    method="sin",
    symbol="sin",
    arity=1,
    forward=lambda x: _periodic(math.sin, x),
    local_grads=lambda x, out: (cos(x),),
    math="sin(x)",
    derivative="d/dx = cos(x)",
)
COS = Op(
    name="cos",
    method="cos",
    symbol="cos",
    arity=1,
    forward=lambda x: _periodic(math.cos, x),
    local_grads=lambda x, out: (-sin(x),),
    math="cos(x)",
    derivative="d/dx = -sin(x)",
)
MAXIMUM = Op(
    name="maximum",
    symbol="max",
    arity=2,
    forward=_maximum,
    local_grads=_max_grads,
    math="max(a, b)",
    derivative="d/da = 1 if a > b else 0, d/db = 1 if b > a else 0",
    kink=lambda a, b: a - b,
    note="at a == b each input gets 1/2, as in torch.maximum",
)
MINIMUM = Op(
    name="minimum",
    symbol="min",
    arity=2,
    forward=_minimum,
    local_grads=_min_grads,
    math="min(a, b)",
    derivative="d/da = 1 if a < b else 0, d/db = 1 if b < a else 0",
    kink=lambda a, b: a - b,
    note="at a == b each input gets 1/2, as in torch.minimum",
)

OPS: dict[str, Op] = {
    op.name: op
    for op in (
        ADD,
        SUB,
        MUL,
        DIV,
        POW,
        POW_SCALAR,
        RPOW_SCALAR,
        NEG,
        ABS,
        EXP,
        LOG,
        SQRT,
        TANH,
        SIGMOID,
        RELU,
        LEAKY_RELU,
        SOFTPLUS,
        SIN,
        COS,
        MAXIMUM,
        MINIMUM,
    )
}
"""Every primitive by name; families (``pow_scalar``, ``rpow_scalar``, ``leaky_relu``) unbound."""


def all_members() -> list[Op]:
    """Every op, with each family expanded at its example parameters."""
    return [member for op in OPS.values() for member in op.members()]


def markdown_table() -> str:
    """The op table as Markdown (``docs/ops.md`` is this text; a test keeps it current)."""
    lines = [
        "# Ops",
        "",
        "Generated from `microgradx/ops.py` by `microgradx ops > docs/ops.md`.",
        "",
        "| op | graph symbol | function | local derivative | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for op in OPS.values():
        symbol = op.symbol.replace("{p}", op.param_name or "")
        note = op.note
        if op.param_name is not None:
            examples = ", ".join(f"{p:g}" for p in op.param_examples)
            note = (note + "; " if note else "") + f"tested with {op.param_name} in {examples}"
        cells = [f"`{op.name}`", f"`{symbol}`", op.math, op.derivative, note]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n" + ADDING_AN_OP


ADDING_AN_OP = """
## Gradients of zero

A zero upstream gradient contributes exactly 0 through every op, even where the local derivative
is infinite (`log` at 0, `sqrt` at 0): `0 * inf` would otherwise be NaN and poison every gradient
below it. So a clamped loss such as `binary_cross_entropy` has finite gradients at p = 0 and 1.
PyTorch's fused losses behave this way; its autograd does not for composed ops (`sqrt(x) * 0` at
x = 0 has gradient NaN there, 0 here).

## Adding an op

Every place a new op touches, each guarded by a test that fails until it is done:

1. `microgradx/ops.py`: the entry (forward rule, local derivatives, symbol, math, derivative,
   domain, kinks, `method`) and its place in `OPS`. Reverse mode, forward mode (`Dual` generates
   its methods from `method`), gradcheck, the random-graph strategies, graph labels and this page
   all read it from there.
2. `microgradx/engine.py`: the one-line `Value` method named by `method`, with the math line as
   its docstring (written out, so IDEs and type checkers see it).
3. `tests/test_ops_table.py`: the value and local derivatives at a point computed by hand
   (`KNOWN_POINTS`).
4. `tests/test_vs_torch.py`: how PyTorch computes it (`TORCH_OPS`).
5. This page: `microgradx ops > docs/ops.md`.
"""
