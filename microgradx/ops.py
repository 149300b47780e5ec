"""The op table: every primitive operation, declared once.

An op is a small record of everything the rest of the library needs to know about one primitive:

* ``forward``: the float rule, ``forward(*inputs) -> float``. It follows IEEE-754 like NumPy and
  PyTorch: it returns ``inf`` or ``nan`` where the math does, and never raises.
* ``local_grads``: ``local_grads(*inputs, out) -> tuple``, one partial derivative per input,
  d(out)/d(input). The rules are written with arithmetic and the helpers below (``exp``, ``log``,
  ``divide``, ...), so the *same* rule runs on floats (fast reverse mode) and on ``Value`` objects
  (which records the derivative itself as a graph: that is how higher-order derivatives come
  for free). An op of your own must do the same: ``math.cos(x)`` turns a Value into a float, and
  every derivative through it is then 0, and ``x.cos()`` fails on the floats of reverse mode;
  write ``cos(x)`` with the helpers here, which take either, and branch on ``float(x)``. What
  a rule of your own returns is checked (one real number, Value or Dual per input) and refused
  by name otherwise.
* ``symbol``, ``math``, ``derivative`` and ``note``: what graphs and the docs show.
* ``domain`` and ``kink``: where the op is smooth. ``domain(*inputs)`` is true where the value and
  the derivative are finite; ``kink(*inputs)`` is an affine function of the inputs (linear, or
  ``p - c`` for a clamp at a constant) that is zero where the op has a kink or the edge of its
  domain (``relu`` at 0, ``maximum`` where a == b, ``log`` at 0).
  Gradient checking uses it to keep its finite-difference steps on one side of a kink, and the
  hypothesis strategies use both to build graphs that are well conditioned.

* ``torch``, ``exact`` and ``numpy``: how PyTorch computes it (for the cross-check tests), its
  exact value and derivatives as a function of an mpmath-like module (for the accuracy tests;
  this module imports no mpmath), and its array form for the NumPy back-end.

Reverse mode (``engine``), forward mode (``dual``: the ``Dual`` methods are generated from
``method``), both compile back-ends (``replay``, ``replay_numpy``), gradient checking
(``gradcheck``), the random-graph strategies (``testing``), graph labels, the generated docs
(``docs/ops.md`` and the README's op list) and the tests that loop over the table all read it.
``OPS`` holds every ``Op(...)`` declared in this module, in order. Adding an op is one declaration
here and, for a Value method, one line in ``engine`` (written out, so IDEs and type checkers see
it); docs/ops.md says how. An op of one's own is the same ``Op(...)`` anywhere, applied with
``microgradx.apply`` (to Values, Duals, or inside ``compile``).

Ops with a constant parameter (``x ** 3``, ``2 ** x``, ``leaky_relu(x, 0.2)``) are declared once as
a family; ``op.member(p)`` returns the op for one parameter (cached, so nodes share it).

**Accuracy.** On floats every value and every local derivative is within 4 units in the last
place (ULP) of the exact result, over the whole double range: where a textbook formula cancels
or over/underflows in between (``sigmoid'(40) = s (1 - s)`` is 0, the true value 4.2e-18), the
rule uses another expression of the same function, chosen by the sign or size of ``float(x)``
(``sigmoid'(x) = e^-|x| / (1 + e^-|x|)^2``). Each branch is an analytic expression of the inputs,
so on Values it is exact to every order. Where double precision itself is not enough (a loss
whose terms cancel, a power that under/overflows on the way), the float rule uses error-free
transformations (``two_sum``, ``two_product``, ``math.fsum``) or, in those regions only,
``decimal`` at a precision raised until the result is certain (``precise``). tests/test_accuracy.py
checks this against mpmath; benchmarks/README.md has the table, beside PyTorch's.
"""

from __future__ import annotations

import decimal
import itertools
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from microgradx.checks import describe, flag, is_real, real, text

inf = math.inf
nan = math.nan
TINY = sys.float_info.min  # the smallest normal float, 2**-1022: below it precision is lost

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


def safe_log1p(x: float) -> float:
    """log(1 + x), accurate for tiny x; -inf at x = -1 and nan below (math.log1p raises)."""
    if x > -1:
        return math.log1p(x)  # log1p(inf) is inf
    if x == -1:
        return -inf
    return nan


def safe_sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 else nan  # sqrt(-0.0) is -0.0; sqrt(nan) falls through to nan


def _periodic(f: Callable[[float], float], x: float) -> float:
    # The C library reduces huge arguments exactly (Payne-Hanek), so sin(1e300) is correct.
    return f(x) if math.isfinite(x) else nan  # sin(inf) has no value; math.sin raises there


def _ldexp(m: float, e: int) -> float:
    """m * 2**e rounded once, and +-inf where that overflows (math.ldexp raises there)."""
    try:
        return math.ldexp(m, e)
    except OverflowError:
        return math.copysign(inf, m)


def stable_sigmoid(x: float) -> float:
    """1 / (1 + e^-x), computed so that e^-x never overflows (exact for every finite x)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = safe_exp(x)  # x < 0, so e <= 1 and the result is never 0/0
    return e / (1.0 + e)


def stable_softplus(x: float) -> float:
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|): finite for every finite x."""
    if x != x:
        return nan
    return max(x, 0.0) + math.log1p(safe_exp(-abs(x)))


# --------------------------------------------------------------------------------------------------
# More than double precision, where a rule needs it.
# --------------------------------------------------------------------------------------------------

_SPLIT = 134217729.0  # 2**27 + 1: Veltkamp's splitting constant for doubles


def two_sum(a: float, b: float) -> tuple[float, float]:
    """(s, e) with s = fl(a + b) and s + e = a + b exactly (Knuth's TwoSum; finite a, b and s)."""
    s = a + b
    bv = s - a
    av = s - bv
    return s, (a - av) + (b - bv)


def two_product(a: float, b: float) -> tuple[float, float]:
    """(p, e) with p = fl(a b) and p + e = a b exactly (Dekker 1971, without FMA).

    Exact when |a|, |b| < 2**995 and |a b| is not subnormal; otherwise e is off by at most a
    rounding of the tiny or the subnormal part.
    """
    p = a * b
    t = _SPLIT * a
    ah = t - (t - a)
    al = a - ah
    t = _SPLIT * b
    bh = t - (t - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _fsum(parts: Sequence[float]) -> float:
    """math.fsum, with IEEE-754 results where it raises: NaN for inf - inf, inf on overflow."""
    try:
        return math.fsum(parts)
    except ValueError:
        return nan
    except OverflowError:
        return sum(parts)  # the exact sum is beyond the largest float: +-inf


def _dot(pairs: Sequence[tuple[float, float]]) -> float:
    """sum_i x_i y_i rounded once: math.fsum of the exact products (factors below 2**995)."""
    parts: list[float] = []
    for x, y in pairs:
        parts.extend(two_product(x, y))
    return _fsum(parts)


def _context(digits: int) -> decimal.Context:
    # No traps: decimal then gives Infinity, 0 and NaN as IEEE-754 does, and never raises.
    return decimal.Context(prec=digits, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN, traps=[])


def precise(formula: Callable[..., decimal.Decimal], *args: float) -> float:
    """``formula`` of the float ``args``, correctly rounded to a float (for the rare regions where
    double precision is not enough).

    ``formula(context, *decimals)`` computes the exact math in ``decimal`` with ``context``'s
    methods; the floats convert to decimals exactly. It is evaluated at 36 and then 56 digits,
    more while the two disagree after rounding to a float (Ziv's strategy: the result is then the
    correctly rounded one, barring a tie closer than the precision reached). Slow (tens of
    microseconds): rules call it only where their fast formula cancels or over/underflows.
    """
    numbers = [decimal.Decimal(x) for x in args]
    previous: float | None = None
    digits = 36
    while True:
        value = float(formula(_context(digits), *numbers))
        if previous is not None and (
            value == previous or (value != value and previous != previous)
        ):
            return value
        if digits > 2400:  # 2**-8000: no cancellation between doubles reaches this far
            return value
        previous = value
        digits = digits + 20 if digits == 36 else digits * 2


# The formulas given to precise() compute every term to full relative precision and cancel only
# in their last step: then a larger precision always gives a better answer, which Ziv's test
# needs (a formula that rounds 1 + 1e-80 to 1 at both 36 and 56 digits would agree on a wrong
# answer). They use a context's methods only: Python's operators on decimals (-x, x + y) round
# to the thread's default context (28 digits). Sums and differences of a few floats are exact in
# _EXACT: they need at most about 1100 digits (from 2**1024 down to 2**-1074).
_EXACT = _context(2000)
_SMALL = decimal.Decimal("0.001")


def _ln1p(c: decimal.Context, x: decimal.Decimal) -> decimal.Decimal:
    """ln(1 + x), to the context's relative precision also for tiny x (the series below 0.001)."""
    if abs(x) >= _SMALL:
        return c.ln(c.add(1, x))
    total, term, k = x, x, 1
    limit = abs(x) * decimal.Decimal(10) ** -(c.prec + 3)
    while abs(term) > limit:
        k += 1
        term = c.multiply(term, c.minus(x))
        total = c.add(total, c.divide(term, k))
    return total


def _expm1(c: decimal.Context, x: decimal.Decimal) -> decimal.Decimal:
    """e^x - 1, to the context's relative precision also for tiny x."""
    if abs(x) >= _SMALL:
        return c.subtract(c.exp(x), 1)
    total, term, k = x, x, 1
    limit = abs(x) * decimal.Decimal(10) ** -(c.prec + 3)
    while abs(term) > limit:
        k += 1
        term = c.divide(c.multiply(term, x), k)
        total = c.add(total, term)
    return total


# --------------------------------------------------------------------------------------------------
# Helpers for derivative rules. Each works on a float (by the op's float rule) and on a Value (by
# the Value method of the same name, which records the op, so the derivative can be differentiated).
# The engine is not imported here: dependencies point from engine to ops, never back.
# --------------------------------------------------------------------------------------------------


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float))


def _all_numbers(xs: Sequence[Any]) -> bool:
    return all(isinstance(x, (int, float)) for x in xs)


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


def _everywhere(*inputs: float) -> bool:
    return True


_BUILDING_THE_TABLE = [True]  # False once this module has made the table's ops


_TABLE_RULES: set[Callable[..., Any]] = set()  # the table's local_grads functions
_TABLE_FORWARDS: set[Callable[..., Any]] = set()  # the table's forward functions
# The table's NumPy forms (by the pair's identity) -> the float rules they compute.
_TABLE_FORMS: dict[int, tuple[Callable[..., Any], Callable[..., Any]]] = {}
_DECLARED: list[Op] = []  # the table's ops in the order declared: OPS is made from it


def _rule_function(rule: Callable[..., Any]) -> Callable[..., Any]:
    while isinstance(rule, partial):  # a family's member: its parameter fixed
        rule = rule.func
    return rule


def is_table_form(op: Op) -> bool:
    """Whether ``op``'s NumPy forms are the table's own (tested, so run unchecked); a user's
    forms are checked at every call and against the float rule when compiling."""
    return op.numpy is not None and id(op.numpy) in _TABLE_FORMS


def _is_checked(rule: Callable[..., Any]) -> bool:
    return getattr(_rule_function(rule), "checked", False) is True


def _is_table_rule(rule: Callable[..., Any]) -> bool:
    """One of the table's own rules (also a family member's, or a replace() that kept it): those
    are tested instead of checked at every call. A rule of the user's, even in a copy of a table
    op (``dataclasses.replace(OPS["tanh"], local_grads=...)``), is checked."""
    return _rule_function(rule) in _TABLE_RULES


def _as_float(name: str, what: str, x: Any) -> Any:
    """A user rule's number as a Python float: NumPy's scalars (``np.float32``, whose rounding
    would leak into every later sum, and ``np.float64``) and ints converted; a float of the
    engine's own (a recorded number inside ``compile``) kept. Raises TypeError naming the op for
    a bool, a complex number, a string or anything else not a real number."""
    if isinstance(x, bool) or not is_real(x):
        raise TypeError(f"op {name!r}: {what} must be a real number, got {describe(x)}")
    if isinstance(x, float) and not hasattr(x, "dtype"):
        return x
    return float(x)


def _checked_forward(name: str, rule: Callable[..., Any]) -> Callable[..., Any]:
    """``rule`` (an Op's ``forward``), its result a Python float (``_as_float``)."""

    def forward(*args: Any) -> Any:
        return _as_float(name, "forward", rule(*args))

    forward.checked = True  # type: ignore[attr-defined]
    return forward


def _checked_rule(
    name: str, rule: Callable[..., Any], leading: int
) -> Callable[..., tuple[Any, ...]]:
    """``rule`` (an Op's ``local_grads``), with what it returns checked: one derivative per
    input, each a number (a float, or on Values and Duals one of those), never a bool, a complex
    number or a string. A rule that returns too few would silently drop an input's gradient. On
    floats each derivative comes back a Python float (``_as_float``: an ``np.float32`` would
    round every later contribution to the same gradient)."""

    def local_grads(*args: Any) -> tuple[Any, ...]:
        result = rule(*args)
        if not isinstance(result, (tuple, list)):
            raise TypeError(
                f"op {name!r}: local_grads must return a tuple with one derivative per input,"
                f" got {describe(result)}"
            )
        grads = tuple(result)
        # on floats, floats back; on Values or Duals (higher derivatives), those or numbers
        on_numbers = all(is_real(a) for a in args)
        inputs = len(args) - 1 - leading  # (a family's parameter,) the inputs, the output
        if len(grads) != inputs:
            raise TypeError(
                f"op {name!r}: local_grads returned {len(grads)} derivative(s) for {inputs}"
                " input(s): one per input"
            )
        for k, g in enumerate(grads):
            number = is_real(g) and not isinstance(g, bool)
            traced = not on_numbers and (
                hasattr(g, "backward") or hasattr(type(g), "__microgradx_apply__")
            )
            if not (number or traced):
                raise TypeError(
                    f"op {name!r}: local_grads' derivative {k} must be a real number,"
                    f" got {describe(g)}"
                )
        if on_numbers:
            grads = tuple(
                _as_float(name, f"local_grads' derivative {k}", g) for k, g in enumerate(grads)
            )
        return grads

    local_grads.checked = True  # type: ignore[attr-defined]
    return local_grads


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
    # A family whose parameter is a count or an index (a class): member() takes integers >= 0.
    param_integer: bool = False
    # A family whose parameter fixes how many inputs it takes: arity = param * inputs_per_param
    # (soft cross-entropy over n classes takes n logits and n target probabilities).
    inputs_per_param: int | None = None
    # How PyTorch computes it, for the cross-check tests: a Python expression in ``torch``, the
    # input tensors ``xs`` (also ``x`` for one input, ``a`` and ``b`` for two) and the parameter
    # ``p``. None: ``torch.<name>(*xs)``.
    torch: str | None = None
    # The exact math, for the accuracy tests: ``exact(m, [p,] *inputs) -> (value, derivatives)``
    # with ``m`` an mpmath-like module (``m.exp``, ``m.erfc``, ``m.mpf``) and the inputs its
    # numbers (so this module imports no mpmath), a zero as the float 0.0 or -0.0 (mpmath has no
    # signed zero). A float in the answer is a convention, met exactly (relu'(0) = 0.0).
    exact: Callable[..., tuple[Any, Sequence[Any]]] | None = None
    # The NumPy back-end's array form: ``(forward(np, [p,] *inputs), local_grads(np, [p,]
    # *inputs, out))`` on float64 arrays, ``np`` the NumPy module. A row where a form gives NaN
    # (where its formula would cancel, say), a subnormal, or has a special input (0, +-inf, NaN,
    # a subnormal) is computed by the float rule instead, so the two agree there exactly.
    # None: the float rule row by row (exact, and slower). A user's forms are checked: each must
    # return float arrays of the batch's shape (one per input for local_grads), and compiling
    # checks them against the float rule at the recorded example (a CompileError if they differ).
    numpy: tuple[Callable[..., Any], Callable[..., Any]] | None = None
    # True: the ``numpy`` forms choose the rows the float rule computes themselves (by
    # ``float_rule_rows``: the table's first ops, whose forms follow each branch of their rules,
    # so a zero input, common after a relu, stays on the fast path); no rows are added to theirs.
    numpy_own_rows: bool = False
    _bound: dict[float, Op] = field(default_factory=dict, repr=False)

    def _check_text(self) -> None:
        """Raise TypeError, naming the field, for a text field that is not a str (a None symbol
        would fail much later, in a step-through or ``markdown_table``)."""
        text(self.name, "Op name")
        for field_name in ("symbol", "math", "derivative", "note"):
            text(getattr(self, field_name), f"op {self.name!r}: {field_name}")
        for field_name in ("param_name", "method"):
            if getattr(self, field_name) is not None:
                text(getattr(self, field_name), f"op {self.name!r}: {field_name} (or None)")

    def _check_arity(self) -> None:
        if self.arity is not None and type(self.arity) is not int:  # a bool is not a count
            raise TypeError(
                f"op {self.name!r}: arity must be an int >= 1 or None, got {describe(self.arity)}"
            )
        if self.arity is not None and self.arity < 1:
            raise ValueError(
                f"op {self.name!r}: arity must be an int >= 1 or None, got {self.arity!r}"
            )

    def __post_init__(self) -> None:
        self._check_text()
        self._check_arity()
        for rule_name in ("forward", "local_grads", "domain"):
            if not callable(getattr(self, rule_name)):
                raise TypeError(
                    f"op {self.name!r}: {rule_name} must be a function,"
                    f" got {describe(getattr(self, rule_name))}"
                )
        if self.kink is not None and not callable(self.kink):
            raise TypeError(
                f"op {self.name!r}: kink must be a function or None, got {describe(self.kink)}"
            )
        if self.exact is not None and not callable(self.exact):
            raise TypeError(
                f"op {self.name!r}: exact must be a function or None, got {describe(self.exact)}"
            )
        if self.torch is not None and type(self.torch) is not str:
            raise TypeError(
                f"op {self.name!r}: torch must be a str (an expression) or None,"
                f" got {describe(self.torch)}"
            )
        forms = self.numpy
        if forms is not None and not (
            isinstance(forms, tuple) and len(forms) == 2 and all(callable(f) for f in forms)
        ):
            raise TypeError(
                f"op {self.name!r}: numpy must be a pair of functions (forward, local_grads)"
                f" or None, got {describe(forms)}"
            )
        own_rows = flag(self.numpy_own_rows, f"op {self.name!r}: numpy_own_rows")
        if own_rows and forms is None:
            raise ValueError(f"op {self.name!r}: numpy_own_rows is for an op with numpy forms")
        object.__setattr__(self, "numpy_own_rows", own_rows)
        rules = (_rule_function(self.forward), _rule_function(self.local_grads))
        if _BUILDING_THE_TABLE[0]:
            _TABLE_RULES.add(rules[1])
            _TABLE_FORWARDS.add(rules[0])
            if forms is not None:
                _TABLE_FORMS[id(forms)] = rules
            if self.param is None:  # a declaration (a family's members are made later)
                _DECLARED.append(self)
            return
        if forms is not None and _TABLE_FORMS.get(id(forms), rules) != rules:
            # a copy of a table op with rules of its own (dataclasses.replace(OPS["tanh"],
            # forward=...)): the table's NumPy forms compute the table's rules, not these, so
            # the NumPy back-end runs this op's own rules row by row
            object.__setattr__(self, "numpy", None)
            object.__setattr__(self, "numpy_own_rows", False)
        if not _is_checked(self.local_grads) and not _is_table_rule(self.local_grads):
            # an op of the user's: what its rule returns is checked (the table's rules are
            # tested instead, and run unchecked at every training step)
            family = self.param_name is not None and self.param is None  # takes param first
            rule = _checked_rule(self.name, self.local_grads, 1 if family else 0)
            object.__setattr__(self, "local_grads", rule)
        if not _is_checked(self.forward) and _rule_function(self.forward) not in _TABLE_FORWARDS:
            object.__setattr__(self, "forward", _checked_forward(self.name, self.forward))

    @property
    def label(self) -> str:
        """The text on a graph node, e.g. ``tanh``, ``**2``, ``leaky_relu(0.2)``."""
        if self.param is None:
            return self.symbol
        return self.symbol.replace("{p}", f"{self.param:g}")

    def bind(self, param: float) -> Op:
        """Renamed: ``op.member(p)`` (JAX's ``bind`` applies a primitive; this one does not)."""
        raise AttributeError("Op.bind is now Op.member: OPS['leaky_relu'].member(0.2)")

    def member(self, param: float) -> Op:
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
        arity = self.arity
        if self.param_integer:
            if not (0 <= param < inf and param == int(param)):
                raise ValueError(f"{self.param_name} must be an integer >= 0, got {param:g}")
            param = float(int(param))  # -0.0 -> 0.0: an index has no signed zero
            if self.inputs_per_param is not None:
                if param < 1:
                    raise ValueError(f"{self.param_name} must be at least 1, got {param:g}")
                arity = int(param) * self.inputs_per_param
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
            arity=arity,
            _bound={},
        )
        cacheable = (param != 0 or self.param_integer) and param == param
        if cacheable and len(self._bound) < 1024:  # bounded: many exponents must not leak memory
            self._bound[param] = op
        return op

    def members(self) -> tuple[Op, ...]:
        """This op, or for a family its members at ``param_examples`` (for docs and tests)."""
        if self.param_name is None:
            return (self,)
        return tuple(self.member(p) for p in self.param_examples)

    def __repr__(self) -> str:
        return f"<op {self.label}>" if self.param is not None else f"<op {self.name}>"


# --------------------------------------------------------------------------------------------------
# The table. Each entry: the math, the float rule, the local derivative(s).
# --------------------------------------------------------------------------------------------------


def _maximum(a: float, b: float) -> float:
    if a != a or b != b:
        return nan  # like torch.maximum, nan wins
    if a == b:
        return a if a != 0 else a + b  # max(-0.0, 0.0) is +0.0 (IEEE-754 maximum): -0 + 0 = +0
    return a if a > b else b


def _minimum(a: float, b: float) -> float:
    if a != a or b != b:
        return nan
    if a == b:
        return a if a != 0 else -(-a - b)  # min(-0.0, 0.0) is -0.0
    return a if a < b else b


def _max_grads(a: Any, b: Any, out: Any) -> tuple[float, float]:
    a, b = float(a), float(b)
    if a == b:
        return (0.5, 0.5)  # at a tie the gradient is shared evenly, as in torch.maximum
    # An input gets the gradient unless it lost; with a NaN neither lost (torch does the same).
    return (0.0 if a < b else 1.0, 0.0 if b < a else 1.0)


def _min_grads(a: Any, b: Any, out: Any) -> tuple[float, float]:
    return _max_grads(-float(a), -float(b), out)


def _div_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    if _is_number(a) and _is_number(b):
        return safe_div(1.0, b), -_over_square(a, b, out)
    return divide(1.0, b), -divide(out, b)


def _over_square(a: float, b: float, out: float) -> float:
    """a / b^2 for floats, given out = a / b: out / b, unless a / b lost precision below the
    normal range (1e-310 / 0.5: out is subnormal, the answer is not), then from the mantissas."""
    if abs(out) >= TINY or (out == 0 and a == 0) or not (math.isfinite(a) and math.isfinite(b)):
        return safe_div(out, b)  # out / b is rounded once more: within 1 ULP of a / b^2
    if out != out or b == 0:
        return safe_div(out, b)
    ma, ea = math.frexp(a)  # a = ma 2^ea, 0.5 <= |ma| < 1
    mb, eb = math.frexp(b)
    return _ldexp(ma / mb / mb, ea - 2 * eb)  # ma / mb^2 is in (0.5, 4): nothing to lose


def _power_slope(a: float, b: float, out: float) -> float:
    """d(a^b)/da = b a^(b-1) for floats, given out = a^b.

    b - 1 is not rounded (1e-20 - 1 is -1 in floats: a^(b-1) would then be 1/a): when it is
    exact, b pow(a, b - 1); else b (out / a). Where both over- or underflow on the way
    (1e-3 * (5e-324)^(1e-3 - 1) = 1.3e319 overflows, the answer does not), in decimal.
    """
    if b == 0:
        return 0.0  # x^0 is constant: 0 everywhere (the limit at 0, and torch's choice)
    if out != out and a == a and b == b:
        return nan  # a < 0 with b not an integer: a^(b-1) has no real value either
    if not math.isfinite(b) or a != a:
        return b * safe_pow(a, b - 1)  # C pow's special values: NaN, but 1 * nan^0 = 1
    e, e_low = two_sum(b, -1.0)
    if a == 0 or math.isinf(a):
        return b * _zero_or_infinity_to(a, e, e_low, b)
    if e_low == 0:
        if e == 1:
            return b * a  # x^2: 2 x, exactly
        q = safe_pow(a, e)
        if TINY <= abs(q) < inf:
            return b * q
    if TINY <= abs(out) < inf:
        q = out / a
        if TINY <= abs(q) < inf:
            return b * q
    # Over- or underflow on the way: the sign is b's times that of a^(b-1) = out / a.
    sign = math.copysign(1.0, b) * math.copysign(1.0, out) * math.copysign(1.0, a)
    size = math.log2(abs(b)) + (b - 1) * math.log2(abs(a))  # log2 of the answer, roughly
    if size > 1030:
        return sign * inf
    if size < -1090:
        return sign * 0.0
    return precise(lambda c, a_, b_: c.multiply(b_, c.power(a_, c.subtract(b_, 1))), a, b)


def _zero_or_infinity_to(a: float, e: float, e_low: float, b: float) -> float:
    """a^y for a = +-0 or +-inf and y = b - 1 = e + e_low exactly, as C's pow would give it for
    the exact y: b - 1 rounds 5e-324 - 1 to -1, an odd integer, and (-0)^-1 is -inf, where the
    exact exponent is not an integer and (-0)^y is +inf."""
    if e == 0 and e_low == 0:
        return 1.0  # b = 1: a^0
    negative = e < 0 if e != 0 else e_low < 0
    odd = _is_odd_integer(e) if e_low == 0 else b == int(b)  # beyond 2**53 b is even: b - 1 odd
    size = inf if (a == 0) == negative else 0.0  # 0^-y and inf^y are infinite
    return -size if odd and math.copysign(1.0, a) < 0 else size


def _power_log_slope(a: float, b: float, out: float) -> float:
    """d(a^b)/db = a^b ln a for floats, given out = a^b; in decimal where out under- or
    overflowed but the product does not ((1 + 2^-52)^(3.2e18) overflows, times ln a = 2.2e-16 it
    does not)."""
    if a == 0 and b >= 0:
        return 0.0  # out * log(a) is 0 * -inf at a = 0; the one-sided limit is 0 (torch agrees)
    if not (a > 0 and math.isfinite(a) and math.isfinite(b)):
        return out * safe_log(a)  # nan for a < 0, and the IEEE values at infinities
    ln_a = math.log(a)
    if TINY <= abs(out) < inf or ln_a == 0:
        return out * ln_a
    size = b * math.log2(a) + math.log2(abs(ln_a))  # log2 of the answer, roughly
    if size > 1030:
        return math.copysign(inf, ln_a)
    if size < -1090:
        return math.copysign(0.0, ln_a)
    return precise(lambda c, a_, b_: c.multiply(c.power(a_, b_), c.ln(a_)), a, b)


def _pow_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    if _is_number(a) and _is_number(b):
        return _power_slope(a, b, out), _power_log_slope(a, b, out)
    a_, b_ = float(a), float(b)
    # b * a^(b-1) is 0 * inf at a = 0, b = 0; the limit (and torch) say 0. Only there: at
    # b = 0 elsewhere it is 0 with a graph, whose derivative in b (a^-1) is not 0.
    d_base = 0.0 if b_ == 0 and a_ == 0 else b * power(a, b - 1)
    # out * log(a) is 0 * -inf at a = 0; for b >= 0 the one-sided limit is 0 (torch agrees).
    d_exponent = 0.0 if a_ == 0 and b_ >= 0 else out * log(a)
    return d_base, d_exponent


def _pow_scalar_forward(p: float, x: float) -> float:
    if p == 2.0:
        return x * x  # the commonest power, exact and fast (x * x overflows to inf, never raises)
    return safe_pow(x, p)


def _pow_scalar_grads(p: float, x: Any, out: Any) -> tuple[Any]:
    if _is_number(x):
        return (_power_slope(x, p, out),)
    return (0.0 if p == 0 else p * power(x, p - 1),)


def _rpow_scalar_grads(base: float, x: Any, out: Any) -> tuple[Any]:
    if _is_number(x):
        return (_power_log_slope(base, x, out),)
    if base == 0 and float(x) >= 0:
        return (0.0,)
    return (out * safe_log(base),)


def _pow_scalar_domain(p: float, x: float) -> bool:
    if float(p).is_integer() and p >= 1:  # (inf and nan are not integers)
        return True  # x^1, x^2, x^3, ... are smooth everywhere
    return x > 0


def _pow_scalar_kink(p: float, x: float) -> float:
    return inf if float(p).is_integer() and p >= 1 else x


def _sign(x: Any) -> float:
    x = float(x)
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


def _step(x: Any) -> float:
    return 0.0 if float(x) <= 0 else 1.0  # written so that NaN gets 1, as in torch


_exp = math.exp  # a local name: the hot rules below call it at every training step


def _sech2(x: float) -> float:
    """sech(x)^2 = 1 - tanh(x)^2 = 4 t / (1 + t)^2 with t = e^(-2|x|) <= 1: no cancellation, and
    right where tanh(x) rounds to +-1 (sech(20)^2 = 1.7e-17, where 1 - tanh(20)^2 is 0)."""
    t = math.exp(-2.0 * abs(x))  # never overflows; nan stays nan, +-inf gives 0
    if 0 < t < TINY:  # t subnormal: 4 t would keep its lost digits; (2 e^-|x|)^2 rounds once
        e = 2.0 * math.exp(-abs(x))
        return e * e
    return 4.0 * t / ((1.0 + t) * (1.0 + t))


def _tanh_grads(x: Any, out: Any) -> tuple[Any]:
    if type(x) is float or _is_number(x):  # type() first: this runs at every tanh of training
        if -0.5 < out < 0.5:  # |x| < 0.55: 1 - tanh^2 is in (0.75, 1], nothing cancels (fast)
            return (1.0 - out * out,)
        t = _exp(-2.0 * abs(x))
        if t >= TINY:  # the common case of _sech2, inlined
            u = 1.0 + t
            return (4.0 * t / (u * u),)
        return (_sech2(x),)
    # On Values and Duals: the same function of x, by the sign of x so that e^(-2|x|) <= 1.
    t = exp(-2 * x) if float(x) >= 0 else exp(2 * x)
    return (4 * t / ((1 + t) * (1 + t)),)


def _sigmoid_grads(x: Any, out: Any) -> tuple[Any]:
    if type(x) is float or _is_number(x):
        e = _exp(-abs(x))  # e <= 1: never overflows; sigmoid(40)' = 4.2e-18, not s (1 - s) = 0
        u = 1.0 + e
        return (e / (u * u),)
    e = exp(-x) if float(x) >= 0 else exp(x)
    return (e / ((1 + e) * (1 + e)),)


# ---- losses as ops: softmax and cross-entropy of n logits, binary cross-entropy -----------------
#
# Every logit vector z is handled by its largest entry z_m: z_i - z_m = d_i + dd_i exactly
# (two_sum), e_i = exp(d_i) (1 + dd_i) (the exact difference, so exp(-700 + tiny) is not off by
# 700 ULP), S = sum_i e_i by math.fsum (e_m = 1). Then
#     -log softmax_k(z) = log1p(sum_{i != m} e_i) + (z_m - z_k)    (two terms >= 0: no cancellation)
#     softmax_i(z) = e_i / S,    1 - softmax_k(z) = (sum_{i != k} e_i) / S  (not 1 - p, which is 0)
# On Values and Duals the rules build the same functions from exp and arithmetic, by the index m
# of the largest logit (a branch on float(z)), so their own derivatives are exact.


def _logits(zs: Sequence[float]) -> tuple[int, list[float], list[float], list[float], list[float]]:
    """For finite logits: (m, d, dd, eh, el), z_i - z_m = d_i + dd_i exactly, exp(z_i - z_m) =
    eh_i + el_i to about one rounding; the entry of m itself is 0 in eh (e_m = 1 is implicit)."""
    zm = max(zs)
    m = zs.index(zm)
    d: list[float] = []
    dd: list[float] = []
    eh: list[float] = []
    el: list[float] = []
    for i, z in enumerate(zs):
        s = z - zm
        if i == m or s < -746.0:  # exp(s) rounds to 0 below -745.2: no error term needed
            d.append(s)
            dd.append(0.0)
            eh.append(0.0)
            el.append(0.0)
            continue
        bv = s - z  # two_sum(z, -zm), inlined: this runs for every logit of every example
        av = s - bv
        low = (z - av) + (-zm - bv)
        y = math.exp(s)
        d.append(s)
        dd.append(low)
        eh.append(y)
        el.append(y * low)  # exp(s + low) = y e^low = y (1 + low), |low| <= 2^-53 * 746
    return m, d, dd, eh, el


def _others(eh: list[float], el: list[float], m: int, k: int) -> float:
    """sum_{i != k} e_i (e_m = 1), rounded once: 1 - softmax_k times S."""
    parts = [h for i, h in enumerate(eh) if i != k]
    parts += [lo for i, lo in enumerate(el) if i != k]
    if k != m:
        parts.append(1.0)
    return _fsum(parts)


def _total(eh: list[float], el: list[float]) -> float:
    return _fsum([1.0, *eh, *el])  # S = sum_i e_i, rounded once


def _nll(
    m: int, d: list[float], dd: list[float], eh: list[float], el: list[float], k: int
) -> float:
    """-log softmax_k(z) = log1p(sum_{i != m} e_i) + (z_m - z_k), two terms >= 0, summed once."""
    tail = math.log1p(_fsum([*eh, *el]))
    if k == m:
        return tail
    return _fsum([tail, -d[k], -dd[k]])


class _Limits:
    """Softmax pieces at non-finite logits, as limits: a -inf logit has probability 0 and
    drops out; one +inf logit takes all the probability; two +inf logits, or a NaN, leave it
    undefined (NaN); all -inf: NaN (0/0). ``lse``; per class ``nll``, ``p`` and ``q`` = 1 - p."""

    def __init__(self, zs: Sequence[float]) -> None:
        n = len(zs)
        self.lse = nan
        self.nll = [nan] * n
        self.p = [nan] * n
        self.q = [nan] * n
        if any(z != z for z in zs):
            return
        top = [i for i, z in enumerate(zs) if z == inf]
        if top:
            self.lse = inf
            for i in range(n):
                if i not in top:
                    self.nll[i], self.p[i], self.q[i] = inf, 0.0, 1.0
                elif len(top) == 1:
                    self.nll[i], self.p[i], self.q[i] = 0.0, 1.0, 0.0
            return
        live = [i for i, z in enumerate(zs) if z > -inf]
        if not live:
            self.lse = -inf
            return
        sub = [zs[i] for i in live]
        m, d, dd, eh, el = _logits(sub)
        total = _total(eh, el)
        self.lse = _logsumexp_finite(sub)
        for i in range(n):
            self.nll[i], self.p[i], self.q[i] = inf, 0.0, 1.0
        for j, i in enumerate(live):
            self.nll[i] = _nll(m, d, dd, eh, el, j)
            self.p[i] = (1.0 if j == m else eh[j] + el[j]) / total
            self.q[i] = _others(eh, el, m, j) / total


def _all_finite(zs: Sequence[float]) -> bool:
    return all(-inf < z < inf for z in zs)


def _lse_decimal(c: decimal.Context, *zs: decimal.Decimal) -> decimal.Decimal:
    """z_m + ln1p(sum_{i != m} e^(z_i - z_m)): only the last addition cancels."""
    zm = max(zs)
    m = zs.index(zm)
    rest = decimal.Decimal(0)
    for i, z in enumerate(zs):
        if i != m:
            rest = c.add(rest, c.exp(_EXACT.subtract(z, zm)))
    return c.add(zm, _ln1p(c, rest))


def _logsumexp_finite(zs: Sequence[float]) -> float:
    m, _, _, eh, el = _logits(zs)
    tail = math.log1p(_fsum([*eh, *el]))
    out = zs[m] + tail
    if zs[m] < 0 and abs(out) < 2.0 * tail:  # z_m + tail cancels (lse near 0): in decimal
        return precise(_lse_decimal, *zs)
    return out


def _logsumexp(*zs: float) -> float:
    return _logsumexp_finite(zs) if _all_finite(zs) else _Limits(zs).lse


def _softmax_graph(zs: Sequence[Any]) -> tuple[int, list[Any], Any]:
    """On Values and Duals: (m, e, S) with e_i = exp(z_i - z_m) (1.0 for m) and S = sum_i e_i."""
    m = max(range(len(zs)), key=lambda i: float(zs[i]))
    es: list[Any] = [1.0 if i == m else exp(z - zs[m]) for i, z in enumerate(zs)]
    total: Any = 1.0
    for i, e in enumerate(es):
        if i != m:
            total = total + e
    return m, es, total


def _others_graph(es: list[Any], k: int) -> Any:
    rest: Any = 0.0
    for i, e in enumerate(es):
        if i != k:
            rest = rest + e
    return rest


def _complement_graph(es: list[Any], total: Any, k: int) -> Any:
    """1 - softmax_k on Values and Duals, in the form whose number and derivatives do not cancel:
    (sum of the other e_i) / S where p_k > 1/2, else 1 - e_k / S. (The first one's derivative
    in z_i is e_i / S - (others / S) e_i / S, which cancels for a small p_k; the second one's
    number cancels for p_k near 1.)"""
    p = divide(es[k], total)
    if float(p) > 0.5:
        return divide(_others_graph(es, k), total)
    return 1.0 - p


def _probabilities(zs: Sequence[float]) -> tuple[list[float], Callable[[int], float]]:
    """softmax(z) and k -> 1 - softmax_k(z), for floats (finite or not)."""
    if _all_finite(zs):
        m, _, _, eh, el = _logits(zs)
        total = _total(eh, el)
        p = [(1.0 if i == m else eh[i] + el[i]) / total for i in range(len(zs))]
        return p, lambda k: _others(eh, el, m, k) / total
    limits = _Limits(zs)
    return limits.p, lambda k: limits.q[k]


def _logsumexp_grads(*args: Any) -> tuple[Any, ...]:
    zs = args[:-1]
    if _all_numbers(zs):
        return tuple(_probabilities(zs)[0])
    _, es, total = _softmax_graph(zs)
    return tuple(divide(e, total) for e in es)


def _index(k: float, n: int) -> int:
    if not 0 <= k < n:
        raise ValueError(f"class index {k:g} is out of range for {n} logits")
    return int(k)


def _nll_k(k: int, zs: Sequence[float]) -> float:
    if _all_finite(zs):
        return _nll(*_logits(zs), k)
    return _Limits(zs).nll[k]


def _log_softmax_forward(k: float, *zs: float) -> float:
    return -_nll_k(_index(k, len(zs)), zs)


def _cross_entropy_forward(k: float, *zs: float) -> float:
    return _nll_k(_index(k, len(zs)), zs)


def _cross_entropy_grads(k: float, *args: Any) -> tuple[Any, ...]:
    """d(-log softmax_k)/dz_i = softmax_i - [i = k]; at i = k, -(sum of the other e) / S."""
    zs = args[:-1]
    j = _index(k, len(zs))
    if _all_numbers(zs):
        p, q = _probabilities(zs)
        p[j] = -q(j)
        return tuple(p)
    _, es, total = _softmax_graph(zs)
    grads = [divide(e, total) for e in es]
    grads[j] = -_complement_graph(es, total, j)
    return tuple(grads)


def _log_softmax_grads(k: float, *args: Any) -> tuple[Any, ...]:
    return tuple(-g for g in _cross_entropy_grads(k, *args))


def _softmax_forward(k: float, *zs: float) -> float:
    j = _index(k, len(zs))
    if _all_finite(zs):
        m, _, _, eh, el = _logits(zs)
        return (1.0 if j == m else eh[j] + el[j]) / _total(eh, el)
    return _Limits(zs).p[j]


def _pair(parts: list[float]) -> tuple[float, float]:
    """sum(parts) as hi + lo: hi rounded once, lo the exact rest, rounded."""
    hi = _fsum(parts)
    return hi, _fsum([*parts, -hi])


def _quotient(top: tuple[float, float], bottom: tuple[float, float]) -> float:
    """(top_hi + top_lo) / (bottom_hi + bottom_lo) rounded about once (Dekker's division)."""
    hi, lo = top
    if hi == 0 or not abs(hi) > 2.0**-900:  # tiny: scale up, so that two_product stays exact
        if hi == 0:
            return lo / bottom[0]
        return _quotient((hi * 2.0**600, lo * 2.0**600), bottom) * 2.0**-600
    r = hi / bottom[0]
    p, p_low = two_product(r, bottom[0])
    return r + (((hi - p) - p_low) + lo - r * bottom[1]) / bottom[0]


def _times_pair(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    p, p_low = two_product(a[0], b[0])
    return _pair([p, p_low, a[0] * b[1], a[1] * b[0]])


def _softmax_grads(k: float, *args: Any) -> tuple[Any, ...]:
    """d softmax_k / dz_i = p_k ([i = k] - p_i): p_k (1 - p_k) at i = k, -p_k p_i elsewhere.

    On floats as e_k e_i / S^2 and e_k (S - e_k) / S^2 with every sum and product kept as a pair
    of floats, so that only the exp calls round (p_k times p_i would round four more times)."""
    zs = args[:-1]
    j = _index(k, len(zs))
    if _all_numbers(zs):
        if not _all_finite(zs):
            limits = _Limits(zs)
            pk = limits.p[j]
            grads = [-pk * pi for pi in limits.p]
            grads[j] = pk * limits.q[j]
            return tuple(grads)
        m, _, _, eh, el = _logits(zs)
        total = _pair([1.0, *eh, *el])
        hi, low = two_product(total[0], total[0])
        square = (hi, low + 2.0 * total[0] * total[1])
        e = [(1.0, 0.0) if i == m else (eh[i], el[i]) for i in range(len(zs))]
        rest = [h for i, h in enumerate(eh) if i != j] + [lo for i, lo in enumerate(el) if i != j]
        others = _pair(rest + ([1.0] if j != m else []))
        grads = [-_quotient(_times_pair(e[j], e[i]), square) for i in range(len(zs))]
        grads[j] = _quotient(_times_pair(e[j], others), square)
        return tuple(grads)
    _, es, total = _softmax_graph(zs)
    pk = divide(es[j], total)
    grads = [-pk * divide(e, total) for e in es]
    grads[j] = pk * _complement_graph(es, total, j)
    return tuple(grads)


def _finite_index(k: float, *zs: float) -> bool:
    return 0 <= k < len(zs) and _all_finite(zs)


# Soft targets: L = sum_k t_k (-log softmax_k(z)) over n classes; the inputs are z_1..z_n and then
# t_1..t_n. dL/dz_i = T p_i - t_i with T = sum_k t_k, dL/dt_k = -log softmax_k(z).


def _split(n: float, args: Sequence[Any]) -> tuple[Sequence[Any], Sequence[Any]]:
    classes = int(n)
    if len(args) != 2 * classes:
        raise ValueError(f"soft cross-entropy over {classes} classes takes {2 * classes} inputs")
    return args[:classes], args[classes:]


def _weighted_sum(ts: Sequence[float], nlls: Sequence[float]) -> float:
    """sum_k t_k nll_k, rounded once; a class with t_k = 0 adds 0 (0 log 0 = 0, as in entropy)."""
    pairs = [(t, v) for t, v in zip(ts, nlls) if t != 0]
    if all(abs(t) < 2.0**995 and abs(v) < 2.0**995 for t, v in pairs):
        return _dot(pairs) + 0.0  # + 0.0: a loss of 0 is +0.0
    return _fsum([t * v for t, v in pairs]) + 0.0 if pairs else 0.0


def _soft_cross_entropy_forward(n: float, *args: float) -> float:
    zs, ts = _split(n, args)
    if any(z != z for z in zs):
        return nan  # no probabilities at all, whatever the targets
    if _all_finite(zs):
        parts = _logits(zs)
        nlls = [_nll(*parts, k) for k in range(len(zs))]
        if _all_finite(ts) and any(v == inf and t != 0 for t, v in zip(ts, nlls)):
            # z_m - z_k overflowed (logits near +-1.8e308), but t_k times it may not
            return precise(_soft_loss_decimal, *zs, *ts)
    else:
        nlls = _Limits(zs).nll
    return _weighted_sum(ts, nlls)


def _soft_loss_decimal(c: decimal.Context, *args: decimal.Decimal) -> decimal.Decimal:
    n = len(args) // 2
    zs, ts = args[:n], args[n:]
    zm = max(zs)
    m = zs.index(zm)
    rest = decimal.Decimal(0)
    for i, z in enumerate(zs):
        if i != m:
            rest = c.add(rest, c.exp(_EXACT.subtract(z, zm)))
    log_total = _ln1p(c, rest)
    loss = decimal.Decimal(0)
    for z, t in zip(zs, ts):
        if (
            t != 0
        ):  # -log softmax_k = ln1p(rest) + (z_m - z_k) >= 0, each term exact or rounded once
            loss = c.add(loss, c.multiply(t, c.add(log_total, _EXACT.subtract(zm, z))))
    return loss


def _soft_gradients_precise(
    zs: Sequence[float], ts: Sequence[float], which: list[int]
) -> list[float]:
    """T p_i - t_i for each class i in ``which``, correctly rounded (logits finite or -inf, targets
    finite): (T e_i - t_i S) / S in decimal, with e_j = e^(z_j - z_m) and S = sum_j e_j computed
    once for all the classes (each exp is to full relative precision, as z_j - z_m is exact).
    Ziv's strategy, as ``precise``: more digits until two precisions round to the same floats.
    The first precision resolves the closest two logits: logits 1e-110 apart have
    e_j = 1 - 1e-110, which 36 digits round to 1, and two precisions would then agree on the 0 of
    equal logits. O(n) exps per example (a decimal expression per class over all the classes
    was O(n^2): 12.8 s for 400 classes near the optimum).
    """
    live = sorted(z for z in zs if z > -inf)
    gaps = [b - a for a, b in itertools.pairwise(live) if b - a != 0]
    closest = min(gaps, default=1.0)
    digits = 36 + (math.ceil(-math.log10(closest)) if closest < 1 else 0)
    z_dec = [decimal.Decimal(z) for z in zs]
    t_dec = [decimal.Decimal(t) for t in ts]
    total_t = decimal.Decimal(0)
    for t in t_dec:
        total_t = _EXACT.add(total_t, t)
    top = max(z_dec)
    previous: list[float] | None = None
    while True:
        c = _context(digits)
        es = [c.exp(_EXACT.subtract(z, top)) for z in z_dec]
        total = decimal.Decimal(0)
        for e in es:
            total = _EXACT.add(total, e)
        # (T e_i - t_i S) / S with the sum, the products and the difference exact: only the
        # exps round, each to a relative 10^-digits, so a term t_j e_i - t_i e_j of the
        # difference keeps its own precision however small it is beside T (1 + 2e-304 rounded
        # to 1 would cancel a gradient of 1.7e-321 to 0 at every precision short of 300 digits)
        values = []
        for i in which:
            difference = _EXACT.subtract(
                _EXACT.multiply(total_t, es[i]), _EXACT.multiply(t_dec[i], total)
            )
            values.append(float(c.divide(difference, total)))
        if values == previous or digits > 2400:  # (2400: as in precise)
            return values
        digits = digits + 20 if previous is None else digits * 2
        previous = values


def _soft_cross_entropy_grads(n: float, *args: Any) -> tuple[Any, ...]:
    """dL/dz_i = T p_i - t_i, written p_i (T - t_i) - t_i (1 - p_i) (T = sum_k t_k), and
    dL/dt_k = -log softmax_k(z).

    On floats the two products are exact and summed once, with p_i and 1 - p_i each rounded
    once, also at infinite logits (a -inf logit has p = 0 and gives -t_i exactly; one +inf logit
    has p = 1 and gives the sum of the other targets); where the two products nearly cancel (near
    the optimum, p ~ t) the difference is computed in decimal. On Values the same form, so that
    its derivatives do not cancel either (d/dt_i is -(1 - p_i), not p_i - 1)."""
    zs, ts = _split(n, args[:-1])
    if _all_numbers(args[:-1]):
        if not _all_finite(ts):  # an infinite or NaN target: IEEE arithmetic on the limits
            limits = _Limits(zs)
            total_t = sum(ts)
            dz = [total_t * p - t for p, t in zip(limits.p, ts)]
            return (*dz, *limits.nll)
        finite = _all_finite(zs)
        nlls = [_nll(*_logits(zs), k) for k in range(len(zs))] if finite else _Limits(zs).nll
        # the decimal formula takes -inf logits (e^-inf = 0), not +inf or NaN ones
        in_decimal = not any(z == inf or z != z for z in zs)
        p, q = _probabilities(zs)
        dz = []
        near = []  # classes whose two products nearly cancel (near the optimum: p ~ t)
        for i in range(len(zs)):
            rest = _fsum([t for j, t in enumerate(ts) if j != i])
            qi = q(i)
            a, b = p[i] * rest, ts[i] * qi
            if abs(rest) < 2.0**995 and abs(ts[i]) < 2.0**995:
                g = _fsum([*two_product(p[i], rest), *two_product(-ts[i], qi)])
            else:
                g = a - b
            if (a > 0) == (b > 0) and a != 0 and b != 0 and abs(g) < 0.5 * (abs(a) + abs(b)):
                near.append(i)
            elif ((p[i] < TINY and rest != 0) or (qi < TINY and ts[i] != 0)) and zs[i] > -inf:
                # a probability (or 1 - p) rounded to a subnormal or to 0 keeps few digits, and
                # the other targets multiply its error (499 of them: 84 ULP): in decimal too
                near.append(i)
            dz.append(g)
        if near and in_decimal:
            for i, g in zip(near, _soft_gradients_precise(zs, ts, near)):
                dz[i] = g
        return (*dz, *nlls)
    m, es, total = _softmax_graph(zs)
    dz_graph = []
    for i, (e, t) in enumerate(zip(es, ts)):
        others: Any = 0.0  # sum of the other targets
        for j, other in enumerate(ts):
            if j != i:
                others = others + other
        dz_graph.append(divide(e, total) * others - t * _complement_graph(es, total, i))
    log_total = log(total)
    nll_graph = [log_total + (zs[m] - z) if k != m else log_total for k, z in enumerate(zs)]
    return (*dz_graph, *nll_graph)


def _soft_domain(n: float, *args: float) -> bool:
    return len(args) == 2 * int(n) and _all_finite(args)


# Binary cross-entropy on a logit: L(z, t) = softplus(z) - t z, written by the sign of z so that
# both terms are >= 0 for t in [0, 1]: (1 - t) z + log1p(e^-z) for z >= 0, -t z + log1p(e^z) below.


def _bce_logits_forward(z: float, t: float) -> float:
    if not (math.isfinite(z) and math.isfinite(t)):
        if z != z or t != t:
            return nan
        if z == inf:  # (1 - t) z: 0 at t = 1 (the limit), not 0 * inf
            return 0.0 if t == 1 else (1.0 - t) * z
        if z == -inf:
            return 0.0 if t == 0 else -t * z
        return stable_softplus(z) - t * z
    tail = math.log1p(math.exp(-abs(z)))
    weight, weight_low = two_sum(1.0, -t) if z >= 0 else (-t, 0.0)
    if abs(z) < 2.0**995 and abs(weight) < 2.0**995:
        out = _fsum([*two_product(weight, z), weight_low * z, tail])
    else:
        out = weight * z + tail
    if weight * z < 0 and abs(out) < tail:  # t outside [0, 1]: the two terms cancel
        return precise(_bce_logits_decimal, z, t)
    return out


def _bce_logits_decimal(
    c: decimal.Context, z: decimal.Decimal, t: decimal.Decimal
) -> decimal.Decimal:
    """By the sign of z, as the float rule: two terms, each to full precision."""
    if z >= 0:
        return c.add(c.multiply(_EXACT.subtract(1, t), z), _ln1p(c, c.exp(_EXACT.minus(z))))
    return c.add(c.multiply(_EXACT.minus(t), z), _ln1p(c, c.exp(z)))


def _sigmoid_minus_decimal(
    c: decimal.Context, z: decimal.Decimal, t: decimal.Decimal
) -> decimal.Decimal:
    """sigmoid(z) - t: for |z| >= 1 by the sign of z, with e = e^-|z| <= 0.37; below, with
    u = expm1(-z), as ((1 - 2t) - t u) / (2 + u), where 1 - 2t is exact (e^-z itself would round
    e^-1e-88 to 1)."""
    if z >= 1:
        e = c.exp(_EXACT.minus(z))
        return c.subtract(_EXACT.subtract(1, t), c.divide(e, c.add(1, e)))
    if z <= -1:
        e = c.exp(z)
        return c.subtract(c.divide(e, c.add(1, e)), t)
    u = _expm1(c, _EXACT.minus(z))
    top = c.subtract(_EXACT.subtract(1, _EXACT.multiply(2, t)), c.multiply(t, u))
    return c.divide(top, c.add(2, u))


def _bce_logits_grads(z: Any, t: Any, out: Any) -> tuple[Any, Any]:
    """dL/dz = sigmoid(z) - t, dL/dt = -z."""
    if _is_number(z) and _is_number(t):
        return _sigmoid_minus(z, t), -z
    return sigmoid(z) - t, -z


def _sigmoid_minus(z: float, t: float) -> float:
    """sigmoid(z) - t: for z >= 0 as (1 - t) - sigmoid(-z), so that p - 1 = -4.2e-18 at z = 40
    (not 0); in decimal where the two cancel (p close to a soft target t)."""
    if not (math.isfinite(z) and math.isfinite(t)):
        return stable_sigmoid(z) - t
    e = math.exp(-abs(z))
    small = e / (1.0 + e)  # sigmoid(-|z|) <= 1/2
    if z >= 0:
        out = _fsum([1.0, -t, -small])
        other = 1.0 - t
    else:
        out = small - t
        other = t
    if abs(out) < small and other != 0 and (other > 0) == (small > 0):
        return precise(_sigmoid_minus_decimal, z, t)
    return out


# Binary cross-entropy on a probability:
#     L(p, t) = -(t max(log p, -100) + (1 - t) max(log(1 - p), -100)).
# A clamped log (PyTorch's -100) is a constant: its term adds nothing to dL/dp.

_CLAMP = -100.0
# The smallest p whose log is not clamped: binary_cross_entropy's kink (a few ULPs below e^-100).
_P_CLAMP = math.exp(_CLAMP)
while safe_log(math.nextafter(_P_CLAMP, 0.0)) >= _CLAMP:
    _P_CLAMP = math.nextafter(_P_CLAMP, 0.0)


def _bce_logs(p: float) -> tuple[float, float]:
    log_p = safe_log(p)
    log_q = safe_log1p(-p)  # log(1 - p), right for tiny p too
    return (_CLAMP if log_p < _CLAMP else log_p), (_CLAMP if log_q < _CLAMP else log_q)


def _bce_forward(p: float, t: float) -> float:
    log_p, log_q = _bce_logs(p)
    weight, weight_low = two_sum(1.0, -t) if math.isfinite(t) else (1.0 - t, 0.0)
    if abs(t) < 2.0**995 and log_p == log_p and log_q == log_q:
        # both terms are >= 0 for t in [0, 1]: their exact products, summed once
        out = -_fsum([*two_product(t, log_p), *two_product(weight, log_q), weight_low * log_q])
    else:
        out = -(t * log_p + (1.0 - t) * log_q)
    return out + 0.0  # a loss of 0 is +0.0 (-(0 + 0) would be -0.0)


def _bce_grads(p: Any, t: Any, out: Any) -> tuple[Any, Any]:
    """dL/dp = (p - t) / (p (1 - p)) (from the unclamped logs only); dL/dt = log(1-p) - log p."""
    p_ = float(p)
    if not 0 <= p_ <= 1:
        return nan, nan  # outside [0, 1] (or NaN) there is no loss, so no slope
    live_p = safe_log(p_) >= _CLAMP
    live_q = safe_log1p(-p_) >= _CLAMP
    if _is_number(p) and _is_number(t):
        return _bce_slope(p_, t, live_p, live_q), _bce_target_slope(p_, live_p, live_q)
    log_p = log(p) if live_p else _CLAMP
    log_q = log(1 - p) if live_q else _CLAMP
    if live_p and live_q:
        # not (p - t) / (p (1 - p)), whose derivative cancels near p = 0 or 1: this form's
        # derivative, (1 - t) / (1 - p)^2 + t / p^2, is a sum of two terms >= 0
        d_p = (1 - t) / (1 - p) - t / p
    elif live_p:
        d_p = -t / p
    elif live_q:
        d_p = (1 - t) / (1 - p)
    else:
        d_p = 0.0
    return d_p, log_q - log_p


def _bce_slope(p: float, t: float, live_p: bool, live_q: bool) -> float:
    if live_p and live_q:
        return (p - t) / (p * (1.0 - p))  # one rounding each: no cancellation left
    if live_p:
        return -t / p
    if live_q:
        return (1.0 - t) / (1.0 - p)
    return 0.0


def _bce_target_slope(p: float, live_p: bool, live_q: bool) -> float:
    """log(1 - p) - log p = log((1 - p) / p); near p = 1/2 as log1p((1 - 2p) / p), which does not
    cancel (1 - 2p is exact for p in [1/4, 3/4])."""
    if live_p and live_q and 0.25 <= p <= 0.75:
        return math.log1p((1.0 - 2.0 * p) / p)
    log_p, log_q = _bce_logs(p)
    return log_q - log_p


# --------------------------------------------------------------------------------------------------
# Array forms for the NumPy back-end (the ``numpy`` of the declarations below). ``np`` is the NumPy
# module, passed in: this module imports no NumPy. Each form is the float rule's formula on
# float64 arrays; rows where the float rule takes another branch (special values, a cancellation,
# a power that over/underflows on the way) are handed to the float rule itself
# (``float_rule_rows``), so those declarations set ``numpy_own_rows``.
# --------------------------------------------------------------------------------------------------


def float_rule_rows(
    np: Any,
    rule: Callable[..., Any],
    results: tuple[Any, ...],
    mask: Any,
    inputs: tuple[Any, ...],
    single: bool = False,
) -> tuple[Any, ...]:
    """``results`` with the rows of ``mask``, and those where a result is subnormal, recomputed by
    the scalar ``rule`` on the same inputs (those rows are few: special values, or a branch of the
    rule the array formula lacks)."""
    for r in results:
        mask = mask | ((np.abs(r) < TINY) & (r != 0))  # the last digits of a subnormal differ
    where = np.flatnonzero(mask)
    if where.size == 0:
        return results
    shape = np.shape(mask)
    patched = [np.array(np.broadcast_to(r, shape), dtype=np.float64) for r in results]
    columns = [np.broadcast_to(np.asarray(x, dtype=np.float64), shape) for x in inputs]
    for i in where:
        values = rule(*[float(c.flat[i]) for c in columns])
        for array, v in zip(patched, (values,) if single else values):
            array.flat[i] = float(v)
    return tuple(patched)


def _table_rule(name: str, param: Any) -> Op:
    return OPS[name] if param is None else OPS[name].member(param)


def _np_forward_rows(np: Any, name: str, param: Any, value: Any, mask: Any, *inputs: Any) -> Any:
    """``value`` with the rows of ``mask`` computed by the float rule of table op ``name``."""
    return float_rule_rows(np, _table_rule(name, param).forward, (value,), mask, inputs, True)[0]


def _np_grad_rows(
    np: Any, name: str, param: Any, grads: Any, mask: Any, *inputs: Any
) -> tuple[Any, ...]:
    """``grads`` with the rows of ``mask`` computed by the local derivatives of op ``name``."""
    return float_rule_rows(np, _table_rule(name, param).local_grads, grads, mask, inputs)


def _np_unusual(np: Any, *arrays: Any) -> Any:
    """Rows with a zero, an infinity, a NaN or a subnormal in any of ``arrays``."""
    mask = np.zeros(np.broadcast(*arrays).shape, dtype=bool)
    for a in arrays:
        mask = mask | ~(np.abs(a) >= TINY) | ~np.isfinite(a)
    return mask


def _np_sigmoid(np: Any, x: Any) -> Any:
    e = np.exp(-np.abs(x))  # never overflows; as the scalar rule, by the sign of x
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _np_sigmoid_slope(np: Any, x: Any) -> Any:
    e = np.exp(-np.abs(x))
    return e / ((1.0 + e) * (1.0 + e))


def _np_tanh_slope(np: Any, x: Any, out: Any) -> Any:
    ax = np.abs(x)
    t = np.exp(-2.0 * ax)
    e = 2.0 * np.exp(-ax)
    sech2 = np.where((t > 0) & (t < TINY), e * e, 4.0 * t / ((1.0 + t) * (1.0 + t)))
    return np.where(np.abs(out) < 0.5, 1.0 - out * out, sech2)


def _np_div_grads(np: Any, a: Any, b: Any, out: Any) -> tuple[Any, ...]:
    d_b = -(out / b)
    # a / b below the normal range (1e-310 / 0.5): the scalar rule rescales
    lost = np.isfinite(a) & np.isfinite(b) & (b != 0) & (np.abs(out) < TINY)
    lost &= (out != 0) | (a != 0)
    return _np_grad_rows(np, "div", None, (1.0 / b, d_b), lost, a, b, out)


def _np_power_slope(np: Any, a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    """b a^(b-1) as the scalar rule's fast branches; the mask of rows they do not cover."""
    e = b - 1.0
    back = e - b
    exact = ((b - (e - back)) + (-1.0 - back)) == 0  # two_sum(b, -1) has no error
    q = np.power(a, e)
    first = exact & (np.abs(q) >= TINY) & np.isfinite(q)
    r = out / a
    second = (np.abs(out) >= TINY) & np.isfinite(out) & (np.abs(r) >= TINY) & np.isfinite(r)
    square = exact & (e == 1)
    value = np.where(square, b * a, np.where(first, b * q, b * r))
    value = np.where(b == 0, 0.0, value)
    covered = (b == 0) | square | first | second
    covered &= ~_np_unusual(np, a, b, out) | (b == 0)
    return value, ~covered


def _np_power_log_slope(np: Any, a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    """a^b ln a as the scalar rule's fast branch; the mask of rows it does not cover."""
    ln_a = np.log(np.where(a > 0, a, 1.0))
    ok = (a > 0) & np.isfinite(a) & np.isfinite(b)
    ok &= ((np.abs(out) >= TINY) & np.isfinite(out)) | (ln_a == 0)
    zero = (a == 0) & (b >= 0)
    return np.where(zero, 0.0, out * ln_a), ~(ok | zero)


def _np_pow(np: Any, a: Any, b: Any) -> Any:
    out = np.power(a, b)
    return _np_forward_rows(np, "pow", None, out, _np_unusual(np, a, b, out), a, b)


def _np_pow_grads(np: Any, a: Any, b: Any, out: Any) -> tuple[Any, ...]:
    d_a, bad_a = _np_power_slope(np, a, b, out)
    d_b, bad_b = _np_power_log_slope(np, a, b, out)
    return _np_grad_rows(np, "pow", None, (d_a, d_b), bad_a | bad_b, a, b, out)


def _np_pow_scalar(np: Any, p: float, x: Any) -> Any:
    if p == 2.0:
        return x * x  # as the scalar rule: exact, and IEEE at every special value
    out = np.power(x, p)  # NumPy takes x ** 0.5 as sqrt(x): -0.0 at -0.0, C's pow +0.0
    return _np_forward_rows(np, "pow_scalar", p, out, _np_unusual(np, x, out), x)


def _np_pow_scalar_grads(np: Any, p: float, x: Any, out: Any) -> tuple[Any, ...]:
    d, bad = _np_power_slope(np, x, np.float64(p), out)
    return _np_grad_rows(np, "pow_scalar", p, (d,), bad, x, out)


def _np_rpow(np: Any, c: float, x: Any) -> Any:
    out = np.power(c, x)
    return _np_forward_rows(np, "rpow_scalar", c, out, _np_unusual(np, x, out) | (c == 0), x)


def _np_rpow_grads(np: Any, c: float, x: Any, out: Any) -> tuple[Any, ...]:
    d, bad = _np_power_log_slope(np, np.float64(c), x, out)
    return _np_grad_rows(np, "rpow_scalar", c, (d,), bad | _np_unusual(np, x), x, out)


def _np_maximum(np: Any, a: Any, b: Any) -> Any:
    # max(-0.0, 0.0) is +0.0: -0 + 0 = +0 (np.maximum gives its first argument)
    return np.where((a == b) & (a == 0), a + b, np.maximum(a, b))


def _np_minimum(np: Any, a: Any, b: Any) -> Any:
    return np.where((a == b) & (a == 0), -(-a - b), np.minimum(a, b))


def _np_max_grads(np: Any, a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    tie = a == b
    return np.where(tie, 0.5, np.where(a < b, 0.0, 1.0)), np.where(
        tie, 0.5, np.where(b < a, 0.0, 1.0)
    )


def _np_min_grads(np: Any, a: Any, b: Any, out: Any) -> tuple[Any, Any]:
    return _np_max_grads(np, -a, -b, out)


class _NpPieces:
    """Softmax of n logits (each an array over the batch): z_i - z_m, e_i = exp(z_i - z_m),
    s = sum_{i != m} e_i, S = 1 + s over the rows, with m each row's first largest logit;
    ``bad``: rows with a logit that is not finite."""

    def __init__(self, np: Any, zs: Sequence[Any]) -> None:
        z = np.stack(np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in zs]))
        self.np = np
        self.bad = ~np.all(np.isfinite(z), axis=0)
        z = np.where(self.bad, 0.0, z)  # those rows go to the scalar rule
        self.top = np.argmax(z, axis=0)
        biggest = np.take_along_axis(z, self.top[None], 0)[0]
        self.d = z - biggest
        self.e = np.exp(self.d)
        is_top = np.arange(len(zs))[:, None] == self.top[None]
        self.is_top = is_top
        self.s = np.sum(np.where(is_top, 0.0, self.e), axis=0)
        self.total = 1.0 + self.s
        self.tail = np.log1p(self.s)
        self.biggest = biggest

    def p(self) -> Any:
        return self.e / self.total

    def others(self, k: int) -> Any:
        """sum_{i != k} e_i: 1 + (s - e_k), or s for the largest (never 1 - p_k)."""
        return self.np.where(self.is_top[k], self.s, 1.0 + (self.s - self.e[k]))

    def nll(self, k: int) -> Any:
        return self.tail - self.d[k]  # two terms >= 0


def _np_logsumexp(np: Any, *zs: Any) -> Any:
    x = _NpPieces(np, zs)
    out = x.biggest + x.tail
    cancel = (x.biggest < 0) & (np.abs(out) < 2.0 * x.tail)
    return _np_forward_rows(np, "logsumexp", None, out, x.bad | cancel, *zs)


def _np_logsumexp_grads(np: Any, *args: Any) -> tuple[Any, ...]:
    x = _NpPieces(np, args[:-1])
    return _np_grad_rows(np, "logsumexp", None, tuple(x.p()), x.bad, *args)


def _np_log_softmax(np: Any, k: float, *zs: Any) -> Any:
    x = _NpPieces(np, zs)
    return _np_forward_rows(np, "log_softmax", k, -x.nll(int(k)), x.bad, *zs)


def _np_log_softmax_grads(np: Any, k: float, *args: Any) -> tuple[Any, ...]:
    zs, j = args[:-1], int(k)
    x = _NpPieces(np, zs)
    grads = [-v for v in x.p()]
    grads[j] = x.others(j) / x.total
    return _np_grad_rows(np, "log_softmax", k, tuple(grads), x.bad, *args)


def _np_softmax(np: Any, k: float, *zs: Any) -> Any:
    x = _NpPieces(np, zs)
    return _np_forward_rows(np, "softmax", k, x.e[int(k)] / x.total, x.bad, *zs)


def _np_softmax_grads(np: Any, k: float, *args: Any) -> tuple[Any, ...]:
    zs, j = args[:-1], int(k)
    x = _NpPieces(np, zs)
    probabilities = x.p()
    pk = probabilities[j]
    grads = [-pk * v for v in probabilities]
    grads[j] = pk * (x.others(j) / x.total)
    return _np_grad_rows(np, "softmax", k, tuple(grads), x.bad, *args)


def _np_cross_entropy(np: Any, k: float, *zs: Any) -> Any:
    x = _NpPieces(np, zs)
    return _np_forward_rows(np, "cross_entropy", k, x.nll(int(k)), x.bad, *zs)


def _np_cross_entropy_grads(np: Any, k: float, *args: Any) -> tuple[Any, ...]:
    zs, j = args[:-1], int(k)
    x = _NpPieces(np, zs)
    grads = list(x.p())
    grads[j] = -x.others(j) / x.total
    return _np_grad_rows(np, "cross_entropy", k, tuple(grads), x.bad, *args)


def _np_soft_cross_entropy(np: Any, n: float, *args: Any) -> Any:
    classes = int(n)
    zs, ts = args[:classes], args[classes:]
    x = _NpPieces(np, zs)
    nlls = [x.nll(k) for k in range(classes)]
    loss = sum(np.where(t != 0, t * v, 0.0) for t, v in zip(ts, nlls)) + 0.0
    bad = x.bad | ~np.isfinite(loss)
    for t in ts:
        bad = bad | ~np.isfinite(t) | (t < 0)  # a negative target: the terms cancel
    return _np_forward_rows(np, "soft_cross_entropy", n, loss, bad, *args)


def _np_soft_cross_entropy_grads(np: Any, n: float, *args: Any) -> tuple[Any, ...]:
    classes = int(n)
    zs, ts = args[:classes], args[classes : 2 * classes]
    x = _NpPieces(np, zs)
    probabilities = x.p()
    bad = x.bad
    for t in ts:
        bad = bad | ~np.isfinite(t)
    dz = []
    for i in range(classes):
        rest = sum(t for j, t in enumerate(ts) if j != i)
        q = x.others(i) / x.total
        a = probabilities[i] * rest
        b = ts[i] * q
        g = a - b
        bad = bad | (np.abs(g) < 1e-3 * (np.abs(a) + np.abs(b))) | (g == 0)  # near the optimum
        # a probability (or 1 - p) below the normal range keeps few digits: the scalar rule
        bad = bad | ((probabilities[i] < TINY) & (rest != 0)) | ((q < TINY) & (ts[i] != 0))
        dz.append(g)
    nlls = [x.nll(k) for k in range(classes)]
    return _np_grad_rows(np, "soft_cross_entropy", n, (*dz, *nlls), bad, *args)


def _np_bce_with_logits(np: Any, z: Any, t: Any) -> Any:
    tail = np.log1p(np.exp(-np.abs(z)))
    out = np.where(z >= 0, (1.0 - t) * z, -t * z) + tail
    bad = ~np.isfinite(z) | ~np.isfinite(t) | (t < 0) | (t > 1)  # outside [0, 1]: cancels
    return _np_forward_rows(np, "bce_with_logits", None, out, bad, z, t)


def _np_bce_with_logits_grads(np: Any, z: Any, t: Any, out: Any) -> tuple[Any, ...]:
    e = np.exp(-np.abs(z))
    small = e / (1.0 + e)
    slope = np.where(z >= 0, (1.0 - t) - small, small - t)
    bad = ~np.isfinite(z) | ~np.isfinite(t) | (np.abs(slope) < 1e-3 * small)
    return _np_grad_rows(np, "bce_with_logits", None, (slope, -z), bad, z, t, out)


def _np_bce_logs(np: Any, q: Any) -> tuple[Any, Any, Any, Any]:
    log_p = np.log(q)
    log_q = np.log1p(-q)
    live_p, live_q = log_p >= _CLAMP, log_q >= _CLAMP
    return np.where(live_p, log_p, _CLAMP), np.where(live_q, log_q, _CLAMP), live_p, live_q


def _np_bce(np: Any, q: Any, t: Any) -> Any:
    log_p, log_q, _, _ = _np_bce_logs(np, q)
    out = -(t * log_p + (1.0 - t) * log_q) + 0.0  # a loss of 0 is +0.0, as the scalar rule
    bad = ~((q >= 0) & (q <= 1)) | ~np.isfinite(t)
    return _np_forward_rows(np, "binary_cross_entropy", None, out, bad, q, t)


def _np_bce_grads(np: Any, q: Any, t: Any, out: Any) -> tuple[Any, ...]:
    log_p, log_q, live_p, live_q = _np_bce_logs(np, q)
    both = live_p & live_q
    d_p = np.where(
        both,
        (q - t) / (q * (1.0 - q)),
        np.where(live_p, -t / q, np.where(live_q, (1.0 - t) / (1.0 - q), 0.0)),
    )
    middle = both & (q >= 0.25) & (q <= 0.75)
    d_t = np.where(middle, np.log1p((1.0 - 2.0 * q) / q), log_q - log_p)
    bad = ~((q >= 0) & (q <= 1)) | ~np.isfinite(t)
    return _np_grad_rows(np, "binary_cross_entropy", None, (d_p, d_t), bad, q, t, out)


# --------------------------------------------------------------------------------------------------
# Exact references (the ``exact`` of the declarations below), for the accuracy tests: ``m`` is an
# mpmath-like module (this module imports no mpmath), the inputs its numbers, except that a zero
# is the float 0.0 or -0.0 (mpmath has no signed zero, and some conventions read its sign). A float
# result states a convention (a subgradient, a clamp, C's ``pow`` at zeros and infinities, the
# limits of softmax at infinite logits): the tests then want that float, its zero's sign too.
# --------------------------------------------------------------------------------------------------


def _ex_signed_inf(m: Any, sign: float) -> Any:
    return m.inf if sign > 0 else -m.inf


def _ex_minus(m: Any, a: Any, b: Any) -> Any:
    """a - b exactly (300 bits would round 1 - 5e-324 to 1)."""
    return m.fsub(a, b, exact=True)


def _ex_times(m: Any, a: Any, b: Any) -> Any:
    """a * b as IEEE multiplies (0 * inf is NaN), on exact numbers or float conventions."""
    if a != a or b != b:
        return m.nan
    return m.mpf(a) * m.mpf(b)


def _ex_log(m: Any, x: Any) -> Any:
    if x != x or x < 0:
        return m.nan
    if x == 0:
        return -m.inf
    return m.log(x)


def _ex_odd_integer(m: Any, y: Any) -> bool:
    return bool(m.isfinite(y) and m.isint(y) and int(y) % 2 == 1)


def _ex_c_pow(m: Any, x: Any, y: Any, x_negative_zero: bool = False) -> Any:
    """x ** y as C's pow() (C99 Annex F.9.4.4); x and y exact (y may be b - 1 computed exactly)."""
    if y == 0 or x == 1:
        return m.mpf(1)
    if m.isnan(x) or m.isnan(y):
        return m.nan
    if x == 0:
        odd = _ex_odd_integer(m, y)
        if y < 0:
            return -m.inf if (x_negative_zero and odd) else m.inf
        return -0.0 if (x_negative_zero and odd) else 0.0
    if m.isinf(y):
        if x == -1:
            return m.mpf(1)
        inside = abs(x) < 1
        if y > 0:
            return 0.0 if inside else m.inf
        return m.inf if inside else 0.0
    if m.isinf(x):
        odd = _ex_odd_integer(m, y)
        if x > 0:
            return 0.0 if y < 0 else m.inf
        if y < 0:
            return -0.0 if odd else 0.0
        return -m.inf if odd else m.inf
    if x < 0 and not m.isint(y):
        return m.nan
    value = m.power(x, y)
    return m.nan if isinstance(value, m.mpc) else value


def _ex_negative_zero(a: Any) -> bool:
    return a == 0 and math.copysign(1.0, a) < 0


def _ex_div(m: Any, a: Any, b: Any) -> tuple[Any, list[Any]]:
    if a != a or b != b:
        d_a = m.nan if b != b else _ex_signed_inf(m, math.copysign(1.0, b)) if b == 0 else 1 / b
        return m.nan, [d_a, m.nan]
    if b == 0:
        b_sign = math.copysign(1.0, b)
        value = m.nan if a == 0 else _ex_signed_inf(m, math.copysign(1.0, a) * b_sign)
        d_b = m.nan if a == 0 else _ex_signed_inf(m, -math.copysign(1.0, a))
        return value, [_ex_signed_inf(m, b_sign), d_b]
    A, B = m.mpf(a), m.mpf(b)
    if m.isinf(A) and m.isinf(B):
        return m.nan, [m.mpf(0), m.nan]
    return A / B, [1 / B, -A / (B * B)]


def _ex_power_slope(m: Any, a: Any, b: Any) -> Any:
    if b == 0:
        return m.mpf(0)
    if b != b:
        return m.nan
    B = m.mpf(b)
    return _ex_times(m, B, _ex_c_pow(m, m.mpf(a), _ex_minus(m, B, 1), _ex_negative_zero(a)))


def _ex_power_log_slope(m: Any, a: Any, b: Any) -> Any:
    if a == 0 and b >= 0:
        return m.mpf(0)
    value = _ex_c_pow(m, m.mpf(a), m.mpf(b), _ex_negative_zero(a))
    return _ex_times(m, value, _ex_log(m, m.mpf(a)))


def _ex_pow(m: Any, a: Any, b: Any) -> tuple[Any, list[Any]]:
    value = _ex_c_pow(m, m.mpf(a), m.mpf(b), _ex_negative_zero(a))
    return value, [_ex_power_slope(m, a, b), _ex_power_log_slope(m, a, b)]


def _ex_pow_scalar(m: Any, p: Any, x: Any) -> tuple[Any, list[Any]]:
    value, grads = _ex_pow(m, x, p)
    return value, grads[:1]


def _ex_rpow(m: Any, c: Any, x: Any) -> tuple[Any, list[Any]]:
    value, grads = _ex_pow(m, c, x)
    return value, grads[1:]


def _ex_sqrt(m: Any, x: Any) -> tuple[Any, list[Any]]:
    if x != x or x < 0:
        return m.nan, [m.nan]
    if x == 0:  # IEEE sqrt(-0) = -0
        return math.copysign(0.0, x), [_ex_signed_inf(m, math.copysign(1.0, x))]
    root = m.sqrt(x)
    return root, [1 / (2 * root)]


def _ex_sigmoid_pieces(m: Any, x: Any) -> tuple[Any, Any]:
    e = m.exp(-abs(m.mpf(x)))  # <= 1, also at +-inf
    value = 1 / (1 + e) if x >= 0 else e / (1 + e)
    return value, e / (1 + e) ** 2


def _ex_sigmoid(m: Any, x: Any) -> tuple[Any, list[Any]]:
    if x != x:
        return m.nan, [m.nan]
    value, slope = _ex_sigmoid_pieces(m, x)
    return value, [slope]


def _ex_softplus(m: Any, x: Any) -> tuple[Any, list[Any]]:
    if x != x:
        return m.nan, [m.nan]
    X = m.mpf(x)
    return (X if X > 0 else 0) + m.log1p(m.exp(-abs(X))), [_ex_sigmoid_pieces(m, X)[0]]


def _ex_periodic(m: Any, x: Any, f: Any, slope: Any) -> tuple[Any, list[Any]]:
    X = m.mpf(x)
    if not m.isfinite(X):
        return m.nan, [m.nan]
    return f(X), [slope(X)]


def _ex_extremum(m: Any, a: Any, b: Any, larger: bool) -> tuple[Any, list[Any]]:
    """maximum (``larger``) or minimum: 1/2 each at a tie, IEEE-754's +0 > -0."""
    if a != a or b != b:
        return m.nan, [m.mpf(1), m.mpf(1)]  # neither lost: both get the gradient (as torch)
    if a == b:
        if a == 0:
            signs = (math.copysign(1.0, a), math.copysign(1.0, b))
            zero = (0.0 if 1.0 in signs else -0.0) if larger else (-0.0 if -1.0 in signs else 0.0)
            return zero, [m.mpf(0.5), m.mpf(0.5)]
        return m.mpf(a), [m.mpf(0.5), m.mpf(0.5)]
    first = a > b if larger else a < b
    return m.mpf(a if first else b), [m.mpf(1) if first else 0.0, 0.0 if first else m.mpf(1)]


def _ex_softmax(m: Any, zs: Sequence[Any]) -> tuple[Any, list[Any], list[Any], list[Any]]:
    """(logsumexp, p, q = 1 - p, nll = -log p) of the logits, exactly, with the table's limits
    at infinite logits."""
    n = len(zs)
    nan, inf = m.nan, m.inf
    if any(z != z for z in zs):
        return nan, [nan] * n, [nan] * n, [nan] * n
    top = [i for i, z in enumerate(zs) if z == math.inf]
    if top:
        if len(top) == 1:
            p = [m.mpf(1) if i in top else m.mpf(0) for i in range(n)]
            return inf, p, [1 - v for v in p], [m.mpf(0) if i in top else inf for i in range(n)]
        p = [nan if i in top else m.mpf(0) for i in range(n)]
        q = [nan if i in top else m.mpf(1) for i in range(n)]
        return inf, p, q, [nan if i in top else inf for i in range(n)]
    live = [i for i, z in enumerate(zs) if z > -math.inf]
    if not live:
        return -inf, [nan] * n, [nan] * n, [nan] * n
    z = [m.mpf(zs[i]) for i in live]
    top_z = max(z)
    biggest = z.index(top_z)
    es = [m.exp(_ex_minus(m, v, top_z)) for v in z]
    total = m.fsum(es)
    log_total = m.log1p(m.fsum(e for k, e in enumerate(es) if k != biggest))
    p = [m.mpf(0)] * n
    q = [m.mpf(1)] * n
    nll = [inf] * n
    for j, i in enumerate(live):
        p[i] = es[j] / total
        q[i] = m.fsum(e for k, e in enumerate(es) if k != j) / total
        nll[i] = log_total + _ex_minus(m, top_z, z[j])  # not lse - z_j: 1e300 + ln 2 - 1e300
    return top_z + log_total, p, q, nll


def _ex_logsumexp(m: Any, *zs: Any) -> tuple[Any, list[Any]]:
    lse, probabilities, _, _ = _ex_softmax(m, zs)
    return lse, probabilities


def _ex_log_softmax(m: Any, k: Any, *zs: Any) -> tuple[Any, list[Any]]:
    _, probabilities, q, nll = _ex_softmax(m, zs)
    j = int(k)
    grads = [-v for v in probabilities]
    grads[j] = q[j]
    return -nll[j], grads


def _ex_softmax_k(m: Any, k: Any, *zs: Any) -> tuple[Any, list[Any]]:
    _, probabilities, q, _ = _ex_softmax(m, zs)
    j = int(k)
    pk = probabilities[j]
    grads = [-pk * v for v in probabilities]
    grads[j] = pk * q[j]
    return pk, grads


def _ex_cross_entropy(m: Any, k: Any, *zs: Any) -> tuple[Any, list[Any]]:
    _, probabilities, q, nll = _ex_softmax(m, zs)
    j = int(k)
    grads = list(probabilities)
    grads[j] = -q[j]
    return nll[j], grads


def _ex_soft_cross_entropy(m: Any, n: Any, *xs: Any) -> tuple[Any, list[Any]]:
    classes = int(n)
    zs, ts = xs[:classes], xs[classes:]
    _, probabilities, _, nll = _ex_softmax(m, zs)
    terms = [_ex_times(m, t, v) for t, v in zip(ts, nll) if t != 0]  # 0 log 0 = 0
    value = m.fsum(terms) if terms else m.mpf(0)
    if any(z != z for z in zs):
        value = m.nan
    dz = [_ex_soft_slope(m, zs, ts, i, probabilities[i]) for i in range(classes)]
    return value, [*dz, *nll]


def _ex_soft_slope(m: Any, zs: Sequence[Any], ts: Sequence[Any], i: int, p_i: Any) -> Any:
    """T p_i - t_i = p_i sum_j (t_j - t_i e^(z_j - z_i)), each term to full precision: near
    (|z_j - z_i| < 1) as (t_j - t_i) - t_i expm1(z_j - z_i), so that logits 1e-185 apart are not
    rounded to e^0 = 1 at every precision tried (two precisions would agree on a wrong 0).
    At 2400 bits: a sum of doubles is then exact (1 + 1e-300 at 300 bits was 1, which lost a
    gradient of 1e-300 at logits [0, -inf] and targets [1, 1e-300])."""
    with m.workprec(2400):
        if not all(math.isfinite(v) for v in (*zs, *ts)):
            weight = m.fsum(m.mpf(t) for t in ts)
            return _ex_times(m, weight, p_i) - m.mpf(ts[i])
        terms = []
        for z, t in zip(zs, ts):
            gap = _ex_minus(m, m.mpf(z), m.mpf(zs[i]))
            if abs(gap) < 1:
                terms.append(_ex_minus(m, m.mpf(t), m.mpf(ts[i])) - m.mpf(ts[i]) * m.expm1(gap))
            else:
                terms.append(m.mpf(t) - m.mpf(ts[i]) * m.exp(gap))
        return p_i * m.fsum(terms)


def _ex_bce_with_logits(m: Any, z: Any, t: Any) -> tuple[Any, list[Any]]:
    if z != z or t != t:
        return m.nan, [m.nan, m.nan if z != z else -m.mpf(z)]
    Z, T = m.mpf(z), m.mpf(t)
    if m.isinf(Z):
        linear = (1 - T) * Z if Z > 0 else -T * Z
        value = m.mpf(0) if (Z > 0 and t == 1) or (Z < 0 and t == 0) else linear
        return value, [(1 - T) if Z > 0 else -T, -Z]
    if m.isinf(T):
        return (m.nan if z == 0 else -T * Z), [-T, -Z]
    # By the sign of z, as the op: softplus(z) - t z cancels at z = 484, t = 1 even at 300 bits.
    e = m.exp(-abs(Z))
    tail = m.log1p(e)
    if abs(Z) < 1:  # sigmoid(z) - t = ((1 - 2t) - t u) / (2 + u), u = expm1(-z): keeps z = 1e-198
        u = m.expm1(-Z)
        slope = (_ex_minus(m, 1, 2 * T) - T * u) / (2 + u)
    elif Z > 0:
        slope = _ex_minus(m, 1, T) - e / (1 + e)
    else:
        slope = e / (1 + e) - T
    if Z >= 0:
        return _ex_minus(m, 1, T) * Z + tail, [slope, -Z]
    return -T * Z + tail, [slope, -Z]


def _ex_bce(m: Any, p: Any, t: Any) -> tuple[Any, list[Any]]:
    if not 0 <= p <= 1:
        return m.nan, [m.nan, m.nan]
    P, T = m.mpf(p), m.mpf(t)
    clamp = m.mpf(_CLAMP)
    log_p = _ex_log(m, P)
    log_q = -m.inf if p == 1 else m.log1p(-P)
    live_p, live_q = log_p >= clamp, log_q >= clamp
    log_p, log_q = (log_p if live_p else clamp), (log_q if live_q else clamp)
    value = -(_ex_times(m, T, log_p) + _ex_times(m, _ex_minus(m, 1, T), log_q))
    slope = m.mpf(0)
    if live_p and live_q:
        slope = (P - T) / (P * _ex_minus(m, 1, P))
    elif live_p:
        slope = -T / P
    elif live_q:
        slope = _ex_minus(m, 1, T) / _ex_minus(m, 1, P)
    return value, [slope, log_q - log_p]


ADD = Op(
    name="add",
    method="__add__",
    symbol="+",
    arity=2,
    forward=lambda a, b: a + b,
    local_grads=lambda a, b, out: (1.0, 1.0),
    math="a + b",
    derivative="d/da = 1, d/db = 1",
    torch="a + b",
    exact=lambda m, a, b: (m.mpf(a) + m.mpf(b), [m.mpf(1), m.mpf(1)]),
    numpy=(lambda np, a, b: a + b, lambda np, a, b, out: (1.0, 1.0)),
    numpy_own_rows=True,
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
    torch="a - b",
    exact=lambda m, a, b: (m.mpf(a) - m.mpf(b), [m.mpf(1), m.mpf(-1)]),
    numpy=(lambda np, a, b: a - b, lambda np, a, b, out: (1.0, -1.0)),
    numpy_own_rows=True,
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
    torch="a * b",
    exact=lambda m, a, b: (_ex_times(m, a, b), [m.mpf(b), m.mpf(a)]),
    numpy=(lambda np, a, b: a * b, lambda np, a, b, out: (b, a)),
    numpy_own_rows=True,
)
DIV = Op(
    name="div",
    method="__truediv__",
    symbol="/",
    arity=2,
    forward=safe_div,
    local_grads=_div_grads,
    math="a / b",
    derivative="d/da = 1/b, d/db = -a/b^2",
    domain=lambda a, b: b != 0,
    kink=lambda a, b: b,
    note="x / 0 is +-inf and 0 / 0 is nan (IEEE-754); -a/b^2 without intermediate underflow",
    torch="a / b",
    exact=_ex_div,
    numpy=(lambda np, a, b: a / b, _np_div_grads),
    numpy_own_rows=True,
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
    note="a Value exponent; d/db is 0 at a = 0 (b >= 0) and nan for a < 0, as in torch;"
    " b a^(b-1) without rounding b - 1",
    torch="torch.pow(a, b)",
    exact=_ex_pow,
    numpy=(_np_pow, _np_pow_grads),
    numpy_own_rows=True,
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
    note="x ** 0 has derivative 0 everywhere; p x^(p-1) without rounding p - 1",
    param_name="p",
    param_examples=(2.0, 3.0, 0.5, -1.0, 1.5),
    torch="torch.pow(x, p)",
    exact=_ex_pow_scalar,
    numpy=(_np_pow_scalar, _np_pow_scalar_grads),
    numpy_own_rows=True,
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
    torch="torch.pow(p, x)",
    exact=_ex_rpow,
    numpy=(_np_rpow, _np_rpow_grads),
    numpy_own_rows=True,
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
    torch="-x",
    exact=lambda m, x: (-m.mpf(x), [m.mpf(-1)]),
    numpy=(lambda np, x: -x, lambda np, x, out: (-1.0,)),
    numpy_own_rows=True,
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
    # sign(x); 0 at 0 and NaN
    exact=lambda m, x: (abs(m.mpf(x)), [m.mpf(1) if x > 0 else m.mpf(-1) if x < 0 else 0.0]),
    numpy=(
        lambda np, x: np.abs(x),
        lambda np, x, out: (np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0)),),  # NaN: 0
    ),
    numpy_own_rows=True,
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
    exact=lambda m, x: (m.exp(x), [m.exp(x)]),
    numpy=(lambda np, x: np.exp(x), lambda np, x, out: (out,)),
    numpy_own_rows=True,
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
    exact=lambda m, x: (
        _ex_log(m, m.mpf(x)),
        [_ex_signed_inf(m, math.copysign(1.0, x)) if x == 0 else 1 / x],
    ),
    numpy=(lambda np, x: np.log(x), lambda np, x, out: (1.0 / x,)),
    numpy_own_rows=True,
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
    exact=_ex_sqrt,
    numpy=(lambda np, x: np.sqrt(x), lambda np, x, out: (0.5 / out,)),
    numpy_own_rows=True,
)
TANH = Op(
    name="tanh",
    method="tanh",
    symbol="tanh",
    arity=1,
    forward=math.tanh,
    local_grads=_tanh_grads,
    math="tanh(x) = (e^x - e^-x) / (e^x + e^-x)",
    derivative="d/dx = 1 - tanh(x)^2",
    note="the derivative as 4 e^-2|x| / (1 + e^-2|x|)^2 where tanh(x)^2 is near 1: tanh'(20) ="
    " 1.7e-17, not 0",
    exact=lambda m, x: (m.tanh(x), [m.sech(x) ** 2]),
    numpy=(lambda np, x: np.tanh(x), lambda np, x, out: (_np_tanh_slope(np, x, out),)),
    numpy_own_rows=True,
)
SIGMOID = Op(
    name="sigmoid",
    method="sigmoid",
    symbol="σ",
    arity=1,
    forward=stable_sigmoid,
    local_grads=_sigmoid_grads,
    math="sigmoid(x) = 1 / (1 + e^-x)",
    derivative="d/dx = sigmoid(x) * (1 - sigmoid(x))",
    note="computed without overflow, the derivative as e^-|x| / (1 + e^-|x|)^2:"
    " sigmoid'(40) = 4.2e-18, not 0",
    exact=_ex_sigmoid,
    numpy=(_np_sigmoid, lambda np, x, out: (_np_sigmoid_slope(np, x),)),
    numpy_own_rows=True,
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
    exact=lambda m, x: (
        (m.nan, [m.mpf(1)])  # torch's choice: NaN passes the gradient
        if x != x
        else ((m.mpf(x) if x > 0 else 0.0), [m.mpf(1) if x > 0 else 0.0])
    ),
    numpy=(
        lambda np, x: np.where((x > 0) | np.isnan(x), x, 0.0),
        lambda np, x, out: (np.where(x <= 0, 0.0, 1.0),),
    ),
    numpy_own_rows=True,
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
    torch="torch.nn.functional.leaky_relu(x, p)",
    exact=lambda m, s, x: (
        (m.nan, [m.mpf(s)])
        if x != x
        else ((m.mpf(x) if x > 0 else m.mpf(s) * m.mpf(x)), [m.mpf(1) if x > 0 else m.mpf(s)])
    ),
    numpy=(
        lambda np, s, x: np.where((x > 0) | np.isnan(x), x, s * x),
        lambda np, s, x, out: (np.where(x > 0, 1.0, s),),
    ),
    numpy_own_rows=True,
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
    # torch's softplus switches to x above a threshold; logaddexp(x, 0) is the exact function
    torch="torch.logaddexp(x, torch.zeros_like(x))",
    exact=_ex_softplus,
    numpy=(
        lambda np, x: np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))),
        lambda np, x, out: (_np_sigmoid(np, x),),
    ),
    numpy_own_rows=True,
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
    exact=lambda m, x: _ex_periodic(m, x, m.sin, m.cos),
    numpy=(lambda np, x: np.sin(x), lambda np, x, out: (np.cos(x),)),
    numpy_own_rows=True,
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
    exact=lambda m, x: _ex_periodic(m, x, m.cos, lambda v: -m.sin(v)),
    numpy=(lambda np, x: np.cos(x), lambda np, x, out: (-np.sin(x),)),
    numpy_own_rows=True,
)
LOG1P = Op(
    name="log1p",
    method="log1p",
    symbol="log1p",
    arity=1,
    forward=safe_log1p,
    local_grads=lambda x, out: (divide(1.0, 1 + x),),
    math="log1p(x) = ln(1 + x)",
    derivative="d/dx = 1 / (1 + x)",
    domain=lambda x: x > -1,
    kink=lambda x: x + 1,
    note="ln(1 + x) without rounding 1 + x (log1p(1e-20) = 1e-20); -inf at -1, nan below",
    exact=lambda m, x: (m.log1p(x), (m.inf if x == -1 else 1 / (1 + x),)),
    numpy=(lambda np, x: np.log1p(x), lambda np, x, out: (1.0 / (1.0 + x),)),
)


def _elu_slope_exact(c: decimal.Context, alpha: decimal.Decimal, x: decimal.Decimal) -> Any:
    return c.multiply(alpha, c.exp(x))


def _elu_grads(alpha: float, x: Any, out: Any) -> tuple[Any]:
    """a e^x for x <= 0: where e^x is subnormal (x < -708.4) it has lost its digits before the
    product with a large a, so there a e^x is computed in decimal on floats (``precise``) and as
    +-exp(x + log|a|) on Values (to about 1e-13 relative)."""
    if not float(x) <= 0:
        return (1.0,)  # also at NaN, as PyTorch
    if not float(x) < _EXP_SUBNORMAL or alpha == 0 or not math.isfinite(alpha):
        return (alpha * exp(x),)
    if _is_number(x):
        return (precise(_elu_slope_exact, alpha, x),)
    return (math.copysign(1.0, alpha) * exp(x + math.log(abs(alpha))),)


_EXP_SUBNORMAL = math.log(TINY)  # e^x is subnormal below this x (-708.396...)


ELU = Op(
    name="elu",
    method="elu",
    symbol="ELU({p})",
    arity=1,
    forward=lambda alpha, x: x if x > 0 else alpha * math.expm1(x),
    local_grads=_elu_grads,
    math="elu(x) = x if x > 0 else a (e^x - 1)",
    derivative="d/dx = 1 if x > 0 else a e^x",
    kink=lambda alpha, x: x,
    note="e^x - 1 by expm1 (no cancellation near 0); the derivative at 0 (and NaN's) as in"
    " PyTorch: a at 0, 1 at NaN",
    param_name="alpha",
    param_examples=(1.0, 0.2),
    param_default=1.0,
    torch="torch.nn.functional.elu(x, p)",
    exact=lambda m, a, x: (x if x > 0 else a * m.expm1(x), (a * m.exp(x) if x <= 0 else 1,)),
    numpy=(
        lambda np, a, x: np.where(x > 0, x, a * np.expm1(x)),
        lambda np, a, x, out: (np.where(x <= 0, a * np.exp(x), 1.0),),
    ),
)


def _silu(x: float) -> float:
    """x sigmoid(x); in decimal where e^x is near the subnormal range (x sigmoid(x) would keep
    only its digits); -0.0 where the result underflows. silu(-inf) is NaN (-inf * 0) as in
    PyTorch."""
    if -760.0 <= x < -708.0:
        return precise(lambda c, x_: c.divide(c.multiply(x_, c.exp(x_)), c.add(1, c.exp(x_))), x)
    if -inf < x < -760.0:
        return -0.0
    return x * stable_sigmoid(x)


def _silu_slope(x: float) -> float:
    """silu'(x) = s (1 + x (1 - s)), s = sigmoid(x): by the sign of x with e = e^-|x| <= 1,
    (1 + e + x e) / (1 + e)^2 for x >= 0 and e (1 + x + e) / (1 + e)^2 below. The second cancels
    near silu's minimum (x = -1.2785, where the derivative is 0; beyond 4 ULP and 1e-15 in
    -1.31 < x < -1.25): there, and where e^x is near the subnormal range, in decimal."""
    if not math.isfinite(x):
        return nan  # inf * 0 at +-inf (as PyTorch); NaN stays NaN
    if -1.33 < x < -1.22 or -760.0 <= x < -700.0:
        return precise(
            lambda c, x_: c.divide(
                c.multiply(c.exp(x_), c.add(_EXACT.add(1, x_), c.exp(x_))),
                c.power(c.add(1, c.exp(x_)), 2),
            ),
            x,
        )
    if x < -760.0:
        return -0.0  # x e^x underflows
    e = _exp(-abs(x))
    u = 1.0 + e
    if x >= 0:
        return (1.0 + e + x * e) / (u * u)
    return e * ((1.0 + x) + e) / (u * u)  # 1 + x is exact for -2 <= x <= -0.5


def _silu_grads(x: Any, out: Any) -> tuple[Any]:
    if _is_number(x):
        return (_silu_slope(x),)
    return (sigmoid(x) * (1 + x * sigmoid(-x)),)  # sigmoid(-x) = 1 - sigmoid(x), not cancelled


def _numpy_silu_slope(np: Any, x: Any, out: Any) -> tuple[Any]:
    e = np.exp(-np.abs(x))
    u = 1.0 + e
    slope = np.where(x >= 0, (1.0 + e + x * e) / (u * u), e * ((1.0 + x) + e) / (u * u))
    hard = ((x > -1.33) & (x < -1.22)) | (x < -700.0)  # NaN: the float rule takes these rows
    return (np.where(hard, np.nan, slope),)


SILU = Op(
    name="silu",
    method="silu",
    symbol="SiLU",
    arity=1,
    forward=_silu,
    local_grads=_silu_grads,
    math="silu(x) = x sigmoid(x)",
    derivative="d/dx = sigmoid(x) (1 + x (1 - sigmoid(x)))",
    note="the derivative without cancellation, in decimal near its zero (x = -1.2785);"
    " silu(-inf) and silu'(+-inf) are NaN (inf * 0), as in PyTorch",
    torch="torch.nn.functional.silu(x)",
    exact=lambda m, x: (
        x / (1 + m.exp(-x)),
        (1 / (1 + m.exp(-x)) * (1 + x / (1 + m.exp(x))),),
    ),
    numpy=(
        lambda np, x: np.where(x < -700.0, np.nan, x / (1.0 + np.exp(-x))),
        _numpy_silu_slope,
    ),
)
_INV_SQRT2 = 0.7071067811865476  # 1/sqrt(2) rounded; _INV_SQRT2_LOW is what rounding left out
_INV_SQRT2_LOW = -4.833646656726457e-17
_INV_SQRT_2PI = 0.3989422804014327  # 1/sqrt(2 pi)


_DENSITY: dict[int, decimal.Decimal] = {}  # 1/sqrt(2 pi) by precision (precise() asks few)


def _inverse_root_two_pi(work: decimal.Context) -> decimal.Decimal:
    """1/sqrt(2 pi) to ``work``'s precision, pi by the ``decimal`` documentation's recipe."""
    known = _DENSITY.get(work.prec)
    if known is None:
        c = _context(work.prec + 5)
        three = decimal.Decimal(3)
        last, t, pi, n, na, d, da = decimal.Decimal(0), three, three, 1, 0, 0, 24
        while pi != last:
            last = pi
            n, na = n + na, na + 8
            d, da = d + da, da + 32
            t = c.divide(c.multiply(t, n), d)
            pi = c.add(pi, t)
        known = _DENSITY[work.prec] = work.divide(1, work.sqrt(work.multiply(2, pi)))
    return known


def _normal_parts(
    c: decimal.Context, x: decimal.Decimal
) -> tuple[decimal.Context, decimal.Decimal, decimal.Decimal]:
    """(work, phi(x), x + x^3/3 + x^5/(3 5) + ...) with Phi(x) = 1/2 + phi(x) times the series
    (its terms have one sign). For x < 0 the sum 1/2 + ... cancels by about x^2/4.6 digits:
    ``work`` has that many more than ``c``."""
    extra = int(abs(x) * abs(x) / decimal.Decimal("4.6")) + 10
    work = _context(c.prec + extra)
    square = work.multiply(x, x)
    term = total = x
    n = 1
    limit = decimal.Decimal(10) ** -(work.prec + 3)
    while n < 3 or abs(term) > limit * abs(total):
        n += 2
        term = work.divide(work.multiply(term, square), n)
        total = work.add(total, term)
    density = work.multiply(work.exp(work.divide(square, -2)), _inverse_root_two_pi(work))
    return work, density, total


def _normal_cdf(c: decimal.Context, x: decimal.Decimal) -> decimal.Decimal:
    """Phi(x) to ``c``'s precision."""
    work, density, series = _normal_parts(c, x)
    return c.plus(work.add(decimal.Decimal("0.5"), work.multiply(density, series)))


def _gelu_slope_exact(c: decimal.Context, x: decimal.Decimal) -> decimal.Decimal:
    """gelu'(x) = Phi(x) + x phi(x) = 1/2 + phi(x) (series + x), in decimal (for ``precise``):
    every term to full precision, the cancellation near the zero in the last sum."""
    work, density, series = _normal_parts(c, x)
    slope = work.add(decimal.Decimal("0.5"), work.multiply(density, work.add(series, x)))
    return c.plus(slope)


def _phi_and_tail(x: float) -> tuple[float, float]:
    """(Phi(x), phi(x)) for finite x >= -37: Phi = erfc(-x / sqrt 2) / 2 with the argument's
    rounding corrected to first order (erfc magnifies it by 2 u^2 for large u = -x / sqrt 2),
    phi = e^(-x^2 / 2) / sqrt(2 pi) with x^2 split exactly (e^(-x^2/2) magnifies its rounding by
    x^2 / 2)."""
    u, u_low = two_product(-x, _INV_SQRT2)
    u_low += -x * _INV_SQRT2_LOW
    e_u = math.exp(-u * u)
    cdf = 0.5 * (math.erfc(u) - u_low * 1.1283791670955126 * e_u)  # 2/sqrt(pi) e^-u^2
    h, h_low = two_product(x, x)
    density = math.exp(-0.5 * h) * (1.0 - 0.5 * h_low) * _INV_SQRT_2PI
    return cdf, density


def _gelu(x: float) -> float:
    """x Phi(x); in decimal where Phi(x) is near the subnormal range; gelu(-inf) is NaN
    (-inf * 0) as in PyTorch."""
    if not math.isfinite(x) or x > 40.0:
        return x * 0.5 * math.erfc(-x * _INV_SQRT2) if x == x else nan  # x: Phi(x) is 1
    if x < -38.6:
        return -0.0  # x Phi(x) is below the smallest subnormal
    if x < -37.0:
        return precise(lambda c, x_: c.multiply(x_, _normal_cdf(c, x_)), x)
    return x * _phi_and_tail(x)[0]


def _gelu_slope(x: float) -> float:
    """Phi(x) + x phi(x); in decimal near its zero (x = -0.7518: the terms cancel, and their
    few ULPs of error are magnified beyond 4 ULP and 1e-15 in -0.97 < x < -0.59) and where
    phi(x) is near the subnormal range. (The decimal path costs a few hundred microseconds: a
    Taylor series about the zero would be faster.)"""
    if not math.isfinite(x):
        return nan  # 1 + inf * 0 and 0 - inf * 0 (as PyTorch); NaN stays NaN
    if x > 40.0:
        return 1.0
    if x < -38.7:
        return -0.0  # x phi(x) is below the smallest subnormal
    if -1.02 < x < -0.55 or x < -37.0:
        return precise(_gelu_slope_exact, x)
    cdf, density = _phi_and_tail(x)
    return cdf + x * density


def _gelu_grads(x: Any, out: Any) -> tuple[Any]:
    if _is_number(x):
        return (_gelu_slope(x),)
    # On Values: Phi(x) = gelu(x) / x for x <= -0.5, and 1 - Phi(-x) = 1 + gelu(-x) / x for
    # x >= 0.5: both the value and the derivative (phi(x), by the quotient rule) are then taken
    # in the tail, where Phi is small. (gelu(x) / x for large x has derivative gelu'(x) / x -
    # gelu(x) / x^2, two numbers near 1/x whose difference phi(x) cancels: gelu'' was off by 1e-2
    # at x = 9.) Near 0 (where gelu(x) / x divides 0 by 0) Phi's Taylor polynomial of degree 21
    # (exact to 1e-20 there, and in its derivatives to the 21st order).
    if float(x) <= -0.5:
        cdf = out / x
    elif float(x) >= 0.5:
        cdf = 1.0 + (-x).gelu() / x
    else:
        term = x * _INV_SQRT_2PI
        cdf = 0.5 + term
        for k in range(1, 11):
            term = term * (x * x) * (-(2 * k - 1) / (2.0 * k * (2 * k + 1)))
            cdf = cdf + term
    return (cdf + x * exp(-0.5 * (x * x)) * _INV_SQRT_2PI,)


def _gelu_exact(m: Any, x: Any) -> tuple[Any, tuple[Any]]:
    """gelu and gelu' in an mpmath-like module ``m``; beyond |x| = 1e8 (where mpmath's erfc
    overflows) the limits: Phi is 1 or 0 to far below a double's precision."""
    if m.isfinite(x) and abs(x) > 10**8:
        return (x, (m.mpf(1),)) if x > 0 else (m.mpf(0), (m.mpf(0),))
    cdf = m.erfc(-x / m.sqrt(2)) / 2
    return x * cdf, (cdf + x * m.exp(-x * x / 2) / m.sqrt(2 * m.pi),)


GELU = Op(
    name="gelu",
    method="gelu",
    symbol="GELU",
    arity=1,
    forward=_gelu,
    local_grads=_gelu_grads,
    math="gelu(x) = x Phi(x) = x erfc(-x / sqrt(2)) / 2",
    derivative="d/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi)",
    note="the exact (erf) form; erfc, not 1 + erf, which cancels for x < 0; the derivative in"
    " decimal near its zero (x = -0.7518); gelu(-inf), gelu'(+-inf) are NaN, as in PyTorch."
    " NumPy has no erfc: the NumPy back-end runs the float rule row by row",
    torch="torch.nn.functional.gelu(x)",
    exact=lambda m, x: _gelu_exact(m, x),
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
    note="at a == b each input gets 1/2, as in torch.maximum; max(-0.0, 0.0) = 0.0 (IEEE-754)",
    exact=lambda m, a, b: _ex_extremum(m, a, b, larger=True),
    numpy=(_np_maximum, _np_max_grads),
    numpy_own_rows=True,
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
    note="at a == b each input gets 1/2, as in torch.minimum; min(-0.0, 0.0) = -0.0 (IEEE-754)",
    exact=lambda m, a, b: _ex_extremum(m, a, b, larger=False),
    numpy=(_np_minimum, _np_min_grads),
    numpy_own_rows=True,
)
LOGSUMEXP = Op(
    name="logsumexp",
    symbol="logsumexp",
    arity=None,
    forward=_logsumexp,
    local_grads=_logsumexp_grads,
    math="logsumexp(z) = log(sum_i e^z_i)",
    derivative="d/dz_i = softmax(z)_i",
    domain=lambda *zs: _all_finite(zs),
    note="z_m + log1p(sum_{i != m} e^(z_i - z_m)) with the differences exact; in decimal where"
    " the sum is near 0 (z = [-0.69, -0.69]); one +inf input gives inf",
    torch="torch.logsumexp(torch.stack(xs), 0)",
    exact=_ex_logsumexp,
    numpy=(_np_logsumexp, _np_logsumexp_grads),
    numpy_own_rows=True,
)
LOG_SOFTMAX = Op(
    name="log_softmax",
    symbol="log_softmax[{p}]",
    arity=None,
    forward=_log_softmax_forward,
    local_grads=_log_softmax_grads,
    math="log_softmax(z)_k = z_k - logsumexp(z)",
    derivative="d/dz_i = [i = k] - softmax(z)_i",
    domain=_finite_index,
    note="-log1p(sum_{i != m} e^(z_i - z_m)) - (z_m - z_k): no cancellation, finite for any"
    " finite logits; 1 - softmax_k as the sum of the others",
    param_name="index",
    param_examples=(0.0, 1.0),
    param_integer=True,
    torch="torch.log_softmax(torch.stack(xs), 0)[int(p)]",
    exact=_ex_log_softmax,
    numpy=(_np_log_softmax, _np_log_softmax_grads),
    numpy_own_rows=True,
)
SOFTMAX = Op(
    name="softmax",
    symbol="softmax[{p}]",
    arity=None,
    forward=_softmax_forward,
    local_grads=_softmax_grads,
    math="softmax(z)_k = e^z_k / sum_i e^z_i",
    derivative="d/dz_i = softmax_k ([i = k] - softmax_i)",
    domain=_finite_index,
    note="e^(z_k - z_m) / sum_i e^(z_i - z_m), the differences exact",
    param_name="index",
    param_examples=(0.0, 1.0),
    param_integer=True,
    torch="torch.softmax(torch.stack(xs), 0)[int(p)]",
    exact=_ex_softmax_k,
    numpy=(_np_softmax, _np_softmax_grads),
    numpy_own_rows=True,
)
CROSS_ENTROPY = Op(
    name="cross_entropy",
    symbol="CE[{p}]",
    arity=None,
    forward=_cross_entropy_forward,
    local_grads=_cross_entropy_grads,
    math="cross_entropy(z, k) = -log softmax(z)_k = logsumexp(z) - z_k",
    derivative="d/dz_i = softmax(z)_i - [i = k]",
    domain=_finite_index,
    note="the class k is the parameter; -log_softmax_k exactly, so [1e16, 1e16] gives ln 2",
    param_name="target",
    param_examples=(0.0, 1.0),
    param_integer=True,
    torch="torch.nn.functional.cross_entropy(torch.stack(xs)[None], torch.tensor([int(p)]))",
    exact=_ex_cross_entropy,
    numpy=(_np_cross_entropy, _np_cross_entropy_grads),
    numpy_own_rows=True,
)
SOFT_CROSS_ENTROPY = Op(
    name="soft_cross_entropy",
    symbol="soft_CE[{p}]",
    arity=None,
    forward=_soft_cross_entropy_forward,
    local_grads=_soft_cross_entropy_grads,
    math="soft_cross_entropy(z, t) = sum_k t_k (-log softmax(z)_k), n logits then n targets",
    derivative="d/dz_i = (sum_k t_k) softmax(z)_i - t_i, d/dt_k = -log softmax(z)_k",
    domain=_soft_domain,
    note="class probabilities t (one-hot or soft); a class with t_k = 0 adds 0 (0 log 0 = 0);"
    " in decimal where p_i is close to t_i",
    param_name="classes",
    param_examples=(2.0, 3.0),
    param_integer=True,
    inputs_per_param=2,
    torch=(
        "torch.nn.functional.cross_entropy("
        "torch.stack(xs[: len(xs) // 2])[None], torch.stack(xs[len(xs) // 2 :])[None])"
    ),
    exact=_ex_soft_cross_entropy,
    numpy=(_np_soft_cross_entropy, _np_soft_cross_entropy_grads),
    numpy_own_rows=True,
)
BCE_WITH_LOGITS = Op(
    name="bce_with_logits",
    symbol="BCE_logits",
    arity=2,
    forward=_bce_logits_forward,
    local_grads=_bce_logits_grads,
    math="bce_with_logits(z, t) = log(1 + e^z) - t z",
    derivative="d/dz = sigmoid(z) - t, d/dt = -z",
    domain=lambda z, t: math.isfinite(z) and math.isfinite(t),
    note="(1 - t) z + log1p(e^-z) for z >= 0, -t z + log1p(e^z) below: no cancellation for t in"
    " [0, 1] (z = 20, t = 1: 2.06e-9 exactly)",
    torch="torch.nn.functional.binary_cross_entropy_with_logits(a, b)",
    exact=_ex_bce_with_logits,
    numpy=(_np_bce_with_logits, _np_bce_with_logits_grads),
    numpy_own_rows=True,
)
BINARY_CROSS_ENTROPY = Op(
    name="binary_cross_entropy",
    symbol="BCE",
    arity=2,
    forward=_bce_forward,
    local_grads=_bce_grads,
    math="binary_cross_entropy(p, t) = -(t log p + (1 - t) log(1 - p))",
    derivative="d/dp = (p - t) / (p (1 - p)), d/dt = log(1 - p) - log p",
    domain=lambda p, t: 0 < p < 1 and math.isfinite(t),
    kink=lambda p, t: p - _P_CLAMP,  # the clamp of log p (0 and 1: the domain's edges)
    note="each log clamped at -100, as in PyTorch; a clamped log adds 0 to d/dp;"
    " nan outside 0 <= p <= 1",
    torch=(
        # torch refuses p or t outside [0, 1]; its documented formula (logs clamped) stands in
        "torch.nn.functional.binary_cross_entropy(a, b)"
        " if 0 <= a.item() <= 1 and 0 <= b.item() <= 1"
        " else -(b * torch.clamp(torch.log(a), min=-100)"
        " + (1 - b) * torch.clamp(torch.log(1 - a), min=-100))"
    ),
    exact=_ex_bce,
    numpy=(_np_bce, _np_bce_grads),
    numpy_own_rows=True,
)


OPS: dict[str, Op] = {op.name: op for op in _DECLARED}  # every Op(...) above, in order
"""Every primitive by name; families (``pow_scalar``, ``leaky_relu``, ``softmax``, ...) unbound."""


def all_members() -> list[Op]:
    """Every op, with each family expanded at its example parameters."""
    return [member for op in OPS.values() for member in op.members()]


def markdown_table(ops: Iterable[Op] | None = None) -> str:
    """The op table as Markdown (``docs/ops.md`` is this text; a test keeps it current), or the
    same page for ``ops`` (ops of one's own, say)."""
    lines = [
        "# Ops",
        "",
        "Generated from `microgradx/ops.py` by `microgradx ops > docs/ops.md`.",
        "",
        "| op | graph symbol | function | local derivative | notes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for op in OPS.values() if ops is None else ops:
        family = op.param_name is not None
        symbol = op.symbol.replace("{p}", op.param_name) if op.param_name is not None else op.symbol
        note = op.note
        if family:
            examples = ", ".join(f"{p:g}" for p in op.param_examples)
            note = (note + "; " if note else "") + f"tested with {op.param_name} in {examples}"
        cells = [
            _md_code(op.name),
            _md_code(symbol),
            *map(_md_text, (op.math, op.derivative, note)),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n" + ADDING_AN_OP


def _md_cell(text: str) -> str:
    """``text`` on one line of a table cell: a newline would end the row, a pipe the cell."""
    return " ".join(text.splitlines()).replace("|", "\\|")


def _md_text(text: str) -> str:
    """User text as a Markdown table cell that renders as that text: no HTML (``<`` and ``&``
    as entities), no code span, link or image (backticks and brackets escaped)."""
    for char in "\\`[]":
        text = text.replace(char, "\\" + char)
    return _md_cell(text.replace("&", "&amp;").replace("<", "&lt;"))


def _md_code(text: str) -> str:
    """User text as a code span (its content shown as is, never as HTML): fenced by one more
    backtick than its longest run of them, padded by spaces if it starts or ends with one."""
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return _md_cell(f"{fence}{pad}{text}{pad}{fence}")


README_BEGIN = "<!-- ops: generated from microgradx/ops.py by docs/make_op_lists.py -->"
README_END = "<!-- /ops -->"


def readme_op_list(width: int = 100, indent: str = "  ") -> str:
    """The README's list of ops (between ``README_BEGIN`` and ``README_END``, inside a list item
    indented by ``indent``), wrapped at ``width``: the operators, the Value methods with their
    parameters, and the ops applied by a function. A test keeps the README's copy current."""
    operators = [op for op in OPS.values() if op.method is not None and op.method.startswith("__")]
    methods = [op for op in OPS.values() if op.method is not None and op not in operators]
    functions = [op for op in OPS.values() if op.method is None]

    def call(op: Op) -> str:
        if op.param_name is None:
            return f"`{op.method}`"
        default = "" if op.param_default is None else f"={op.param_default:g}"
        return f"`{op.method}({op.param_name}{default})`"

    binary = " ".join(op.symbol.replace("{p}", "") for op in operators if op.arity == 2)
    unary = ", ".join(
        f"`{op.symbol}`" for op in operators if op.arity == 1 and op.param_name is None
    )
    text = (
        f"Ops ({len(OPS)}; each a row of [docs/ops.md](docs/ops.md)): operators `{binary}`"
        " (a number or Value exponent, and `2 ** x`), unary "
        + unary
        + "; Value methods "
        + ", ".join(call(op) for op in methods)
        + "; applied by a function (`microgradx.maximum`, `microgradx.minimum`, the losses of"
        " `microgradx.losses`, one node per example): "
        + ", ".join(f"`{op.name}`" for op in functions)
        + "."
    )
    return _wrap(text, width, indent)


def readme_with_op_list(readme: str) -> str:
    """``readme`` with the text between ``README_BEGIN`` and ``README_END`` replaced by
    ``readme_op_list``, indented as the end marker is. ValueError if a marker is missing."""
    start = readme.index(README_BEGIN) + len(README_BEGIN) + 1  # after the marker's line end
    end = readme.index(README_END)
    indent = readme[readme.rindex("\n", 0, end) + 1 : end]
    return readme[:start] + readme_op_list(indent=indent) + indent + readme[end:]


def _wrap(text: str, width: int, indent: str) -> str:
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if line and len(indent) + len(line) + 1 + len(word) > width:
            lines.append(indent + line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(indent + line)
    return "\n".join(lines) + "\n"


ADDING_AN_OP = """
## Gradients of zero

A zero upstream gradient contributes exactly 0 through every op, even where the local derivative
is infinite (`log` at 0, `sqrt` at 0): `0 * inf` would otherwise be NaN and poison every gradient
below it. So a log clamped with ops, `maximum(p.log(), -100)`, has gradient 0 at p = 0 (the
fused `binary_cross_entropy` op clamps inside its own rule). PyTorch's fused losses behave this
way; its autograd does not for composed ops (`sqrt(x) * 0` at x = 0 has gradient NaN there, 0
here).

## Accuracy

Every value and local derivative in this table is within 4 ULP of the exact result (or 1e-15
relative where that is a normal float) for every float input, including subnormals, the ends of
the range and the special values, on floats (reverse mode and compiled replay; on Values, for
higher derivatives, the rules build the same functions from ops). tests/test_accuracy.py checks
it against mpmath; [benchmarks/README.md](../benchmarks/README.md#accuracy-bench_accuracypy)
has the worst case per op beside PyTorch's. The NumPy back-end agrees with these rules exactly at
special values and to 1e-12 elsewhere.

## Adding an op

An op is one declaration, `NAME = Op(...)` in `microgradx/ops.py` (its place in `OPS` is where it
is declared), and, for a Value method, one line in `microgradx/engine.py`
(`def name(self) -> Value:` with the math line as its docstring, `return _unary(ops.NAME, self)`:
written out, so IDEs and type checkers see it). The declaration carries everything the rest
reads:

- `forward` and `local_grads`: the float rule and the local derivatives, written with the
  helpers of `microgradx.ops` (`exp`, `log`, `divide`, ...) so the same rule runs on floats, on
  Values (higher order) and on forward mode's Duals (`Dual` makes its methods from `method`);
- `symbol`, `math`, `derivative`, `note`: graph labels, this page and the README's op list;
- `domain` and `kink`: where it is smooth (gradcheck, the random-graph strategies);
- `torch`: how PyTorch computes it, for the cross-checks (default `torch.<name>(*xs)`);
- `exact`: the exact value and derivatives as a function of an mpmath-like module, for the
  accuracy tests (4 ULP): the inputs are its numbers, a zero the float itself (so a convention
  such as sqrt(-0) = -0 can read the sign), and a float in the answer is a convention, met exactly;
- `numpy`: its array form for the NumPy back-end (without one, the float rule runs row by row);
  rows with a special input (0, +-inf, NaN, a subnormal) or a NaN or subnormal result are handed
  to the float rule, unless `numpy_own_rows=True` says the forms choose those rows themselves
  (with `float_rule_rows`, as the table's forms do, so a zero input stays on the fast path);
- `param_name`, `param_examples`, `param_default` for a family (`leaky_relu(negative_slope)`).

Then `python docs/make_op_lists.py` rewrites this page and the README's op list (a test fails
while either is stale). Every test that loops over the table (values and derivatives at a point
from `exact`, gradcheck, forward mode, both compile back-ends, PyTorch, accuracy) takes the new op
with no edit. An op of your own is the same `Op(...)` anywhere, applied with
`microgradx.apply(op, *inputs)` to Values, Duals or inside `compile`.
"""

_BUILDING_THE_TABLE[0] = False  # ops made from here on are the user's
