"""Recorded numbers: the floats ``compile`` puts in ``Value.data`` while it records a function.

A ``RecordedFloat`` behaves as a float and remembers where it came from (an entry of its
``Recording``'s expression table); every read that could steer the graph is noted as a guard.
``microgradx.replay`` describes what is guarded and why.
"""

from __future__ import annotations

import math
import operator
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any

from microgradx.engine import Value
from microgradx.modes import RecordedNumber
from microgradx.ops import Op

_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_ROUNDING: dict[str, Callable[[float], int]] = {
    "trunc": math.trunc,
    "floor": math.floor,
    "ceil": math.ceil,
    "round": round,
}


def bits(x: Any) -> Any:
    """A number as a comparable key: a float by its bit pattern (so -0.0 is not 0.0), every NaN
    alike; an int by value."""
    if type(x) is float:
        return ("nan",) if x != x else struct.pack("<d", x)
    return ("int", x)


def same(a: Any, b: Any) -> bool:
    """Bit for bit equal (any NaN equals any NaN; -0.0 is not 0.0); used by generated guards."""
    if a != a:
        return bool(b != b)
    return bool(a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


def real_power(a: Any, b: Any) -> Any:
    """``a ** b`` in generated code: a complex result (a negative base, a fractional exponent)
    raises, as the function would meet it once it made a Value of it or compared it."""
    result = a**b
    if type(result) is complex:
        raise TypeError("a power of recorded numbers is complex here")
    return result


class Recording:
    """One run of the function: the expression table its numbers point into, and its guards.

    Expression entries (``entries[j]``): ``("v", node)`` a node's number; ``("c", number)`` a
    constant; ``(symbol, a, b)`` arithmetic on entries a and b (``+ - * / // % **``);
    ``("neg", a)``, ``("abs", a)``, ``("round", a, ndigits)``; ``("apply", op, args)`` an op
    applied without recording a node (inside ``no_grad``). Guards:
    ``("cmp", symbol, a, b, outcome)``, ``("bool", a, outcome)``, ``("int", rounding, a,
    result)``, ``("same", a, number)``, ``("is_integer", a, outcome)``.
    """

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.live = True
        self.entries: list[tuple[Any, ...]] = []
        self.guards: list[tuple[Any, ...]] = []
        self.nodes: list[Value] = []  # every Value whose number was replaced, to put back
        self.restore: list[tuple[Value, float, RecordedFloat]] = []  # leaves that live on

    def active(self) -> bool:
        """Recording now, on this thread (another thread reading a wrapped weight is not fn)."""
        return self.live and self.thread == threading.get_ident()

    def add(self, entry: tuple[Any, ...]) -> int:
        self.entries.append(entry)
        return len(self.entries) - 1

    def entry_of(self, x: Any) -> int:
        """The entry for a number of this recording, or a new constant for any other number."""
        if type(x) is RecordedFloat:
            return x._entry if x._recording is self else self.add(("c", x._value))
        return self.add(("c", x))

    def wrap(self, node: Value, keep: bool = False) -> None:
        """Give ``node`` a recording number; ``keep``: a Value that outlives the recording."""
        plain: Any = node.data
        if type(plain) is RecordedFloat:
            plain = plain._value
        number = RecordedFloat(plain, self.add(("v", node)), self)
        node.data = number  # type: ignore[assignment]  # a float to everything but type()
        if keep:
            self.restore.append((node, plain, number))
        else:
            self.nodes.append(node)

    # -- the engine's side (modes.recording) --

    def numbers(self, inputs: Sequence[Value]) -> list[float]:
        numbers: list[Any] = [x.data for x in inputs]
        return [d._value if type(d) is RecordedFloat else d for d in numbers]

    def made(self, node: Value, op: Op, inputs: Sequence[Value]) -> None:
        if node.op is not None:
            self.wrap(node)
            return
        # inside no_grad: a leaf whose number is still computed from the inputs
        args = tuple(self.entry_of(x.data) for x in inputs)
        number = RecordedFloat(node.data, self.add(("apply", op, args)), self)
        node.data = number  # type: ignore[assignment]
        self.nodes.append(node)

    def finish(self) -> None:
        """Stop recording and put plain floats back everywhere this recording put its numbers."""
        self.live = False
        for node, plain, number in self.restore:
            if node.data is number:  # type: ignore[comparison-overlap]
                node.data = plain
            else:  # fn set it (perhaps to a number computed from recorded ones): keep its value
                unwrap(node)
            _plain_grad(node)
        for node in self.nodes:
            unwrap(node)
            _plain_grad(node)
        # The numbers kept in ``restore`` point back at this recording (a reference cycle that
        # would keep the graph alive until the cyclic collector runs), and the tape has copied
        # what it needs from ``entries``: let go of the graph.
        self.restore, self.nodes, self.entries = [], [], []


def unwrap(node: Value) -> None:
    data: Any = node.data
    if type(data) is RecordedFloat:
        node.data = data._value


def _plain_grad(node: Value) -> None:
    """A backward pass inside fn while it was recorded may have left recording numbers."""
    grad: Any = node.grad
    if type(grad) is RecordedFloat:
        node.grad = grad._value


def _arithmetic(symbol: str, reflected: bool) -> Callable[[RecordedFloat, Any], Any]:
    function = _ARITHMETIC[symbol]

    def method(self: RecordedFloat, other: Any) -> Any:
        if type(other) is RecordedFloat:
            value: Any = other._value
        elif isinstance(other, (int, float)) and type(other) is not bool:
            value = float(other) if isinstance(other, float) else int(other)
        elif type(other) is bool:
            value = int(other)
        else:
            return NotImplemented
        a, b = (value, self._value) if reflected else (self._value, value)
        recording = self._recording
        if not recording.active():
            return function(a, b)
        try:
            result = function(a, b)
        except (ArithmeticError, ValueError):
            # fn sees an exception here: the recording holds only for these very numbers
            recording.guards.append(("same", self._entry, self._value))
            if type(other) is RecordedFloat and other._recording is recording:
                recording.guards.append(("same", other._entry, other._value))
            raise
        if type(result) is not float:  # a complex power: a plain number, exact guards
            recording.guards.append(("same", self._entry, self._value))
            if type(other) is RecordedFloat and other._recording is recording:
                recording.guards.append(("same", other._entry, other._value))
            return result
        mine = self._entry
        theirs = recording.entry_of(other if type(other) is RecordedFloat else value)
        left, right = (theirs, mine) if reflected else (mine, theirs)
        return RecordedFloat(result, recording.add((symbol, left, right)), recording)

    method.__name__ = f"__{'r' if reflected else ''}{symbol}__"
    return method


def _comparison(symbol: str) -> Callable[[RecordedFloat, Any], Any]:
    function = _COMPARISONS[symbol]

    def method(self: RecordedFloat, other: Any) -> Any:
        if type(other) is RecordedFloat:
            value: Any = other._value
        elif isinstance(other, (int, float)):
            value = float(other) if isinstance(other, float) else int(other)
        else:
            return NotImplemented
        result = function(self._value, value)
        recording = self._recording
        if recording.active():
            theirs = recording.entry_of(other if type(other) is RecordedFloat else value)
            recording.guards.append(("cmp", symbol, self._entry, theirs, result))
        return result

    return method


class RecordedFloat(RecordedNumber):
    """A float that remembers where it came from, in ``Value.data`` while ``compile`` records.

    It behaves as a float (``isinstance(x, float)`` is True) and every read that could steer the
    graph is noted as a guard (see the module docstring). Outside the recording (on another
    thread, or kept after it ended) it is an ordinary number.
    """

    __slots__ = ("_entry", "_recording", "_value")

    _value: float
    _entry: int
    _recording: Recording

    def __init__(self, value: float, entry: int, recording: Recording) -> None:
        self._value = value
        self._entry = entry
        self._recording = recording

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(x.data, float) stays True, as for a plain float
        return float

    def keep(self) -> Any:
        return self if self._recording.active() else self._value

    def _exact(self) -> float:
        """The number itself leaves the recording: guard that it stays the same, bit for bit."""
        if self._recording.active():
            self._recording.guards.append(("same", self._entry, self._value))
        return self._value

    def _rounded(self, name: str, *ndigits: Any) -> Any:
        try:
            result = _ROUNDING[name](self._value, *ndigits)
        except (ArithmeticError, ValueError):
            self._exact()  # int(nan), floor(inf): fn sees the exception for these numbers only
            raise
        if self._recording.active():
            self._recording.guards.append(("int", name, self._entry, result))
        return result

    __add__ = _arithmetic("+", False)
    __radd__ = _arithmetic("+", True)
    __sub__ = _arithmetic("-", False)
    __rsub__ = _arithmetic("-", True)
    __mul__ = _arithmetic("*", False)
    __rmul__ = _arithmetic("*", True)
    __truediv__ = _arithmetic("/", False)
    __rtruediv__ = _arithmetic("/", True)
    __floordiv__ = _arithmetic("//", False)
    __rfloordiv__ = _arithmetic("//", True)
    __mod__ = _arithmetic("%", False)
    __rmod__ = _arithmetic("%", True)
    _pow = _arithmetic("**", False)
    __rpow__ = _arithmetic("**", True)
    __lt__ = _comparison("<")
    __le__ = _comparison("<=")
    __gt__ = _comparison(">")
    __ge__ = _comparison(">=")
    __eq__ = _comparison("==")
    __ne__ = _comparison("!=")

    def __pow__(self, other: Any, modulo: Any = None) -> Any:
        if modulo is not None:
            raise TypeError("pow() 3rd argument not allowed unless all arguments are integers")
        return self._pow(other)

    def __divmod__(self, other: Any) -> Any:
        return self // other, self % other

    def __rdivmod__(self, other: Any) -> Any:
        return other // self, other % self

    def _unary(self, name: str, value: float) -> Any:
        recording = self._recording
        if not recording.active():
            return value
        return RecordedFloat(value, recording.add((name, self._entry)), recording)

    def __neg__(self) -> Any:
        return self._unary("neg", -self._value)

    def __abs__(self) -> Any:
        return self._unary("abs", abs(self._value))

    def __pos__(self) -> Any:
        return self

    def __bool__(self) -> bool:
        result = bool(self._value)
        if self._recording.active():
            self._recording.guards.append(("bool", self._entry, result))
        return result

    def is_integer(self) -> bool:
        result = self._value.is_integer()
        if self._recording.active():
            self._recording.guards.append(("is_integer", self._entry, result))
        return result

    def __int__(self) -> int:
        return self._rounded("trunc")  # type: ignore[no-any-return]

    def __trunc__(self) -> int:
        return self._rounded("trunc")  # type: ignore[no-any-return]

    def __floor__(self) -> int:
        return self._rounded("floor")  # type: ignore[no-any-return]

    def __ceil__(self) -> int:
        return self._rounded("ceil")  # type: ignore[no-any-return]

    def __round__(self, ndigits: Any = None) -> Any:
        if ndigits is None:
            return self._rounded("round")
        if not isinstance(ndigits, int):
            raise TypeError(
                f"'{type(ndigits).__name__}' object cannot be interpreted as an integer"
            )
        recording = self._recording
        value = round(self._value, int(ndigits))
        if not recording.active():
            return value
        return RecordedFloat(value, recording.add(("round", self._entry, int(ndigits))), recording)

    def __float__(self) -> float:
        return self._exact()

    def __complex__(self) -> complex:
        return complex(self._exact())

    # NumPy: a ufunc (np.exp(x.data)) or an array made from the number gets the number itself,
    # read as float(x) reads it (guarded: the replay runs only where it is the same, bit for bit),
    # as math.exp(x.data) does, instead of NumPy's "loop of ufunc does not support" TypeError.
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        plain = [x._exact() if type(x) is RecordedFloat else x for x in inputs]
        return getattr(ufunc, method)(*plain, **kwargs)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        import numpy  # only when NumPy asks: the caller has it

        return numpy.array(self._exact(), dtype=dtype)

    def __hash__(self) -> int:
        return hash(self._exact())

    def __repr__(self) -> str:
        return repr(self._exact())

    def __str__(self) -> str:
        return str(self._exact())

    def __format__(self, spec: str) -> str:
        return format(self._exact(), spec)

    def __reduce__(self) -> tuple[Any, ...]:
        return (float, (self._exact(),))

    def as_integer_ratio(self) -> tuple[int, int]:
        return self._exact().as_integer_ratio()

    def hex(self) -> str:
        return self._exact().hex()

    def conjugate(self) -> Any:
        return self

    @property
    def real(self) -> Any:
        return self

    @property
    def imag(self) -> float:
        return 0.0
