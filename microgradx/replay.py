"""Compiled replay: record a graph once, then run the same graph as a program.

Training rebuilds an identical graph for every example: the same ops in the same order, only the
numbers differ. ``compile(fn, example_inputs)`` runs ``fn`` once on Values, records that graph, and
writes it out as straight-line Python, one line per node, forward then backward::

    v7 = v3 * v4              # forward: the op table's own rule, on floats
    v8 = f_tanh_0(v7)
    ...
    if g8 != 0.0:             # backward, in backward()'s order: child.grad += upstream * local
        g7 += g8 * d_tanh_1(v7, v8)[0]

No Value objects are made when it runs, which is where the interpreted engine spends its time.
It is the same graph run as a program, not a new engine: for the same inputs its output and every
gradient are bit for bit those of ``backward()`` (the same float operations in the same order; a
test checks this on random graphs over the whole op table and on MLP losses).

Leaves that are not inputs (a model's parameters, constants) are read from their Value at every
call and their ``grad`` accumulates, exactly as after ``backward()``. A NumPy back-end (extra
``fast``) replays one example's graph over a whole batch at once: see ``microgradx.replay_numpy``.

**Guards: no replay is silently wrong.** While ``fn`` is recorded, the ``data`` of its inputs, of
every node it computes and (with ``model=``) of every Value the model holds is a
``RecordedFloat``: a number that behaves as a float and remembers where it came from. Every
*read that could steer the graph* becomes a guard: comparisons (``<``, ``==``, ...), ``bool``,
``int``, ``round``, ``math.floor``/``ceil``/``trunc``, ``is_integer``, and, for reads that expose
the exact number (``float()``, ``hash``, ``str``/``repr``/``format``, ``math.exp(x.data)``, NumPy's
``np.exp(x.data)`` or ``np.asarray(x.data)``, and any other function that converts it to a plain
float, an exception raised by arithmetic on it), the
guard that the number is the same, bit for bit. Arithmetic on such numbers (``x.data * 2 + 1``)
gives numbers of the same kind, so a guard is written over the inputs it depends on. The program
checks every guard at each call, in generated code, before it changes anything; if one fails, the
call records ``fn`` again on its own inputs (so its result is right by construction) and keeps
that recording too, keyed by its guards, as TorchDynamo does: up to ``CACHE_SIZE`` recordings;
beyond that, inputs that match none run on the interpreted engine (with one warning).

A number read from the graph that becomes part of it (``x.detach()``, ``Value(x.data * 2)``,
``x + x.data``) is replayed as a value computed from the inputs at each call, with no gradient
(exactly what ``detach`` means), never frozen. Op rules themselves see plain floats, so the
engine's own comparisons inside an op (relu's ``x > 0``) are part of the op, not guards.

With ``model=``, the model is guarded too: every module's training flag, every attribute of every
module (parameters by identity, settings such as a LeakyReLU slope or a dropout ``p`` by value,
bit for bit, lists and dicts by content) and so every parameter's identity and count. A change
records again; if that recording is refused, the call runs on the interpreted engine with a
warning that names what changed (``model.layers.1.negative_slope changed from 0.01 to 0.2``).

Each recording is checked by a second run: with ``check``, on other numbers where every guard
comes out the same, where the graph must be the same too; otherwise (or if the guards come out
differently on every other numbers tried) on the same numbers, where everything must be the same.
Either way a dropout mask in training mode, a random draw or a counter (something a recorded
graph would freeze) is refused, and so is a read the guards did not see.

What is *not* seen: numbers that do not come from a Value (a global float, ``random.random()``,
the time: the double recording catches those that change between two runs), a test of a number's
type (``type(x.data) is float`` is False while recording; ``isinstance(x.data, float)`` is True),
``is``/``id()`` on numbers, and side effects of ``fn`` (prints, counters, writes to ``.data``),
which a replay does not repeat. Values ``fn`` reaches other than through ``model`` are read from
the objects recorded: rebinding a variable to a new Value is not seen.
"""

from __future__ import annotations

import builtins
import math
import operator
import struct
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from microgradx import checks
from microgradx.checks import is_real, real
from microgradx.engine import Value, topological_order
from microgradx.modes import RecordedNumber, no_grad, recording
from microgradx.nn import Module
from microgradx.ops import ADD, MUL, OPS, Op
from microgradx.replay_numpy import numpy_program

BACKENDS = ("python", "numpy")
CACHE_SIZE = 8  # recordings kept per compiled function (TorchDynamo's default cache size too)

Function = Callable[..., tuple[Value, Sequence[Value]]]  # Values in -> (output, watched values)


class CompileError(ValueError):
    """The function cannot be compiled faithfully; the message says why and what to do."""


# ---- numbers that remember where they came from --------------------------------------------------

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


def _bits(x: Any) -> Any:
    """A number as a comparable key: a float by its bit pattern (so -0.0 is not 0.0), every NaN
    alike; an int by value."""
    if type(x) is float:
        return ("nan",) if x != x else struct.pack("<d", x)
    return ("int", x)


def _same(a: Any, b: Any) -> bool:
    """Bit for bit equal (any NaN equals any NaN; -0.0 is not 0.0); used by generated guards."""
    if a != a:
        return bool(b != b)
    return bool(a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


def _real_power(a: Any, b: Any) -> Any:
    """``a ** b`` in generated code: a complex result (a negative base, a fractional exponent)
    raises, as the function would meet it once it made a Value of it or compared it."""
    result = a**b
    if type(result) is complex:
        raise TypeError("a power of recorded numbers is complex here")
    return result


class _Recording:
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
                _unwrap(node)
            _plain_grad(node)
        for node in self.nodes:
            _unwrap(node)
            _plain_grad(node)


def _unwrap(node: Value) -> None:
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
    _recording: _Recording

    def __init__(self, value: float, entry: int, recording: _Recording) -> None:
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


# ---- the recorded graph -------------------------------------------------------------------------


@dataclass(frozen=True)
class Tape:
    """A recorded graph in topological order, with each node's role.

    ``order``: every node of the output's graph, inputs first, the output last (backward runs in
    its reverse). ``inputs``: the input leaves (numbers given at each call). ``leaves``: every
    other leaf read at each call (parameters, constants). ``watch``: nodes whose values a call
    also returns (a model's output, for accuracy). From a recording by ``compile`` also:
    ``forward``, every value a call computes, in an order that computes each after what it
    depends on (``order`` plus the values guards and computed leaves need); ``computed``, the
    leaves whose number is computed from the inputs (``x.detach()``), each with its entry in
    ``exprs``; ``exprs``, the expressions they and the guards use (``_Recording`` describes the
    entries); ``guards``, the conditions the recording holds under.
    """

    order: tuple[Value, ...]
    inputs: tuple[Value, ...]
    leaves: tuple[Value, ...]
    watch: tuple[Value, ...]
    forward: tuple[Value, ...] = ()
    computed: dict[Value, int] = field(default_factory=dict)
    exprs: tuple[tuple[Any, ...], ...] = ()
    guards: tuple[tuple[Any, ...], ...] = ()

    @property
    def root(self) -> Value:
        return self.order[-1]

    @property
    def values(self) -> tuple[Value, ...]:
        """Every value a call computes or reads: ``forward``, or ``order`` without a recording."""
        return self.forward or self.order

    def signature(self) -> tuple[Any, ...]:
        """Everything but the leaves' numbers (computed once per tape)."""
        cached: tuple[Any, ...] | None = self.__dict__.get("_signature")
        if cached is None:
            cached = self._signature()
            self.__dict__["_signature"] = cached  # a frozen dataclass: the cache goes around it
        return cached

    def _signature(self) -> tuple[Any, ...]:
        """Everything but the leaves' numbers, comparably: for each value its op and where its
        inputs are (positions or roles), the expressions (constants bit for bit) and the guards
        with their outcomes."""
        values = self.values
        position = {node: k for k, node in enumerate(values)}
        input_index = {node: k for k, node in enumerate(self.inputs)}
        shape: list[tuple[Any, ...]] = []
        for node in values:
            if node in input_index:
                shape.append(("input", input_index[node]))
            elif node in self.computed:
                shape.append(("computed", self.computed[node]))
            elif node.op is None:
                shape.append(("leaf",))
            else:
                shape.append((_op_key(node.op), *(position[c] for c in node.children)))
        shape.append(("output", position[self.root], *(position[w] for w in self.watch)))
        exprs: list[tuple[Any, ...]] = []
        for entry in self.exprs:
            kind = entry[0]
            if kind == "v":
                exprs.append(("v", position[entry[1]]))
            elif kind == "c":
                exprs.append(("c", _bits(entry[1])))
            elif kind == "apply":
                exprs.append(("apply", _op_key(entry[1]), entry[2]))
            else:
                exprs.append(entry)
        guards = [(g[0], g[1], _bits(g[2])) if g[0] == "same" else g for g in self.guards]
        return tuple(shape), tuple(exprs), tuple(guards)


def _op_key(op: Op) -> Any:
    """An op, comparably: a family's members compare by family and parameter, bit for bit (a
    zero or NaN parameter is not cached by ``member``, so two recordings hold two objects)."""
    if op.param is None:
        return op
    forward, local = op.forward, op.local_grads
    return (getattr(forward, "func", forward), getattr(local, "func", local), _bits(op.param))


def record(root: Value, inputs: Sequence[Value], watch: Iterable[Value] = ()) -> Tape:
    """The tape of ``root``'s graph; ``inputs`` are the leaves that each call supplies.

    A graph built without ``compile``'s recording has no guards: nothing says how it depends on
    the numbers it was built from (``compile`` records that).

    ``root``: a Value computed by ops (a leaf has no graph: ``CompileError``). ``inputs``: leaf
    Values, each once (an input the graph does not use is allowed: its gradient is 0); a
    computed value as an input would cut the graph there for the output but not for the
    gradients, so it is refused. ``watch``: Values of the graph whose numbers each call returns.
    Each is named in the TypeError/ValueError it raises (``inputs[1]``, ``watch[0]``)."""
    checks.instance(root, "root", Value, "Value (the graph's output)")
    if root.op is None:
        raise CompileError("root is a leaf: there is no graph to record")
    given = checks.instances(inputs, "inputs", Value, "Value")
    first: dict[int, int] = {}
    for k, node in enumerate(given):
        if node.op is not None:
            raise ValueError(
                f"inputs[{k}] is computed (by {node.op.label}), not a leaf: each input must be a"
                " leaf Value, whose number each call supplies"
            )
        if id(node) in first:
            raise ValueError(f"inputs[{k}] is the same Value as inputs[{first[id(node)]}]")
        first[id(node)] = k
    watched = checks.instances(watch, "watch", Value, "Value")
    return _record(topological_order(root), given, watched, "watch[{k}]")


def _record(
    order: list[Value],
    inputs: Sequence[Value],
    watch: Sequence[Value],
    watch_name: str = "watched value {k}",
) -> Tape:
    """The tape of the graph ``order`` ends in (its output last)."""
    in_graph = set(order)  # an input the function ignores is allowed: its gradient is 0
    watched = tuple(watch)
    for k, node in enumerate(watched):
        if node not in in_graph:
            shown = watch_name.format(k=k)
            raise CompileError(f"{shown} is not part of the output's graph")
    input_set = set(inputs)
    leaves = tuple(n for n in order if n.op is None and n not in input_set)
    return Tape(tuple(order), tuple(inputs), leaves, watched)


def _checked_order(root: Any) -> list[Value]:
    if not isinstance(root, Value):
        raise TypeError(
            f"fn (the function) must return one Value (a scalar, such as a loss), got"
            f" {type(root).__name__}{_length(root)}: reduce it to one Value first"
        )
    if root.op is None:
        raise CompileError("the function returned a leaf: there is no graph to compile")
    return topological_order(root)


def _length(x: Any) -> str:
    return f" of {len(x)}" if isinstance(x, (list, tuple)) else ""


def _closure(entries: Sequence[tuple[Any, ...]], start: Iterable[int]) -> set[int]:
    """Every entry the given ones are computed from (themselves included)."""
    seen: set[int] = set()
    stack = list(start)
    while stack:
        j = stack.pop()
        if j in seen:
            continue
        seen.add(j)
        entry = entries[j]
        kind = entry[0]
        if kind in ("v", "c"):
            continue
        if kind == "apply":
            stack.extend(entry[2])
        elif kind in ("neg", "abs", "round"):
            stack.append(entry[1])
        else:
            stack.extend(entry[1:3])
    return seen


def _guard_entries(guard: tuple[Any, ...]) -> tuple[int, ...]:
    """The expression entries a guard reads."""
    if guard[0] == "cmp":
        return (guard[2], guard[3])
    if guard[0] == "int":
        return (guard[2],)
    return (guard[1],)


def _tape_of(
    recording: _Recording, root: Any, inputs: Sequence[Value], watch: Sequence[Value]
) -> Tape:
    """The tape of one recording (called after it stopped, with its numbers still in place)."""
    order = _checked_order(root)
    plain = _record(order, inputs, watch)  # checks the watched values
    entries = recording.entries
    input_set = set(inputs)

    def entry_of(node: Value) -> int | None:
        data: Any = node.data
        if type(data) is RecordedFloat and data._recording is recording:
            return data._entry
        return None

    computed: dict[Value, int] = {}

    def is_computed(node: Value) -> bool:
        if node.op is not None or node in input_set:
            return False
        if node in computed:
            return True
        j = entry_of(node)
        if j is None or (entries[j][0] == "v" and entries[j][1] is node):
            return False  # a constant, or a leaf that lives on (a weight): read at each call
        computed[node] = j
        return True

    guard_roots = {j for g in recording.guards for j in _guard_entries(g)}
    if not guard_roots and not any(is_computed(n) for n in order if n.op is None):
        return plain  # nothing steers this graph and nothing in it is computed from its numbers

    def needed_values(start: Iterable[int]) -> list[Value]:
        return [entries[j][1] for j in sorted(_closure(entries, start)) if entries[j][0] == "v"]

    # every value a call computes, each after what it depends on (a computed leaf depends on the
    # values its expression reads); depth first with an explicit stack, as topological_order
    forward: list[Value] = []
    placed: set[Value] = set()
    starts = [root, *needed_values(guard_roots)]
    for start in starts:
        stack: list[tuple[Value, bool]] = [(start, False)]
        while stack:
            node, ready = stack.pop()
            if ready:
                forward.append(node)
                continue
            if node in placed:
                continue
            placed.add(node)
            stack.append((node, True))
            if node.op is not None:
                deps: Sequence[Value] = node.children
            elif is_computed(node):
                deps = needed_values([computed[node]])
            else:
                deps = ()
            stack.extend((d, False) for d in reversed(deps) if d not in placed)

    # the expressions used, renumbered in the order they were made
    used = sorted(_closure(entries, [*guard_roots, *computed.values()]))
    new = {j: k for k, j in enumerate(used)}
    exprs: list[tuple[Any, ...]] = []
    for j in used:
        entry = entries[j]
        kind = entry[0]
        if kind in ("v", "c"):
            exprs.append(entry)
        elif kind == "apply":
            exprs.append(("apply", entry[1], tuple(new[a] for a in entry[2])))
        elif kind in ("neg", "abs"):
            exprs.append((kind, new[entry[1]]))
        elif kind == "round":
            exprs.append((kind, new[entry[1]], entry[2]))
        else:
            exprs.append((kind, new[entry[1]], new[entry[2]]))
    guards: list[tuple[Any, ...]] = []
    for g in recording.guards:
        if g[0] == "cmp":
            guards.append((g[0], g[1], new[g[2]], new[g[3]], g[4]))
        elif g[0] == "int":
            guards.append((g[0], g[1], new[g[2]], g[3]))
        else:
            guards.append((g[0], new[g[1]], g[2]))
    in_order = set(order)
    leaves = [n for n in order if n.op is None and n not in input_set and n not in computed]
    leaves += [
        n
        for n in forward
        if n.op is None and n not in input_set and n not in computed and n not in in_order
    ]
    return Tape(
        tuple(order),
        tuple(inputs),
        tuple(leaves),
        plain.watch,
        tuple(forward),
        {node: new[j] for node, j in computed.items()},
        tuple(exprs),
        tuple(guards),
    )


# ---- straight-line Python -----------------------------------------------------------------------


@dataclass
class _Line:
    """One line of generated code, with the variables it reads and the one it creates."""

    text: str  # with {name} placeholders for variables
    uses: tuple[str, ...] = ()
    new: str | None = None  # a variable this line creates (it starts living here)
    indent: int = 0


def _allocate(lines: list[_Line]) -> list[str]:
    """Give the variables the fewest local names: a name is reused once its value is dead.

    The whole graph in locals would make one local per node, and a Python frame that large is
    allocated afresh (mmap) at every call, which costs more than the arithmetic. Straight-line
    code, so a variable is dead after its last use; new variables are only created outside the
    ``if`` blocks, so reusing a name can never skip a definition.
    """
    last_use: dict[str, int] = {}
    for i, line in enumerate(lines):
        for name in line.uses:
            last_use[name] = i
    slot: dict[str, str] = {}
    free: list[str] = []
    count = 0
    out = []
    for i, line in enumerate(lines):
        names = {name: slot[name] for name in line.uses}
        for name in line.uses:
            if last_use[name] == i and slot.get(name) is not None:
                free.append(slot.pop(name))
        if line.new is not None:
            if free:
                slot[line.new] = free.pop()
            else:
                slot[line.new] = f"x{count}"
                count += 1
            names[line.new] = slot[line.new]
            if last_use.get(line.new, -1) <= i:  # created but never read (a dead value)
                free.append(slot.pop(line.new))
        out.append("    " * line.indent + line.text.format(**names))
    return out


class _Names:
    """The names generated code uses, none made from user text (an op named ``x²`` is
    ``f_op_3``): op rules, and every constant (so inf, NaN and -0.0 need no literal)."""

    def __init__(self) -> None:
        self.table: dict[str, Any] = {
            "_same": _same,
            "_trunc": math.trunc,
            "_floor": math.floor,
            "_ceil": math.ceil,
            "_round": round,
            "_is_integer": float.is_integer,
            "_pow": _real_power,
        }
        self.ops: dict[int, str] = {}

    def op(self, op: Op, kind: str) -> str:
        key = id(op) * 2 + (kind == "d")
        if key not in self.ops:
            stem = op.name if OPS.get(op.name) is not None else "op"  # a table name: our own text
            self.ops[key] = f"{kind}_{stem}_{len(self.ops)}"
            self.table[self.ops[key]] = op.forward if kind == "f" else op.local_grads
        return self.ops[key]

    def constant(self, value: Any) -> str:
        name = f"k{len(self.table)}"
        self.table[name] = value
        return name


_GUARDED_ERRORS = "(ArithmeticError, ValueError, TypeError)"  # as fn would meet them: re-record


def _forward_lines(
    tape: Tape, names: _Names, keep: Callable[[Value], bool] | None = None
) -> tuple[list[_Line], Callable[[Value], tuple[str, tuple[str, ...]]]]:
    """The forward pass with the guards and computed leaves, each guard as soon as the values it
    reads exist (it returns None when it fails, before anything has changed). ``keep``: compute
    only these values (the others are not needed)."""
    values = tape.values
    position = {node: k for k, node in enumerate(values)}
    input_index = {node: k for k, node in enumerate(tape.inputs)}
    leaf_index = {node: k for k, node in enumerate(tape.leaves)}
    exprs = tape.exprs

    def value(node: Value) -> tuple[str, tuple[str, ...]]:
        """How a line reads ``node``'s number: a leaf's from its Value, anything else's from
        its variable (a leaf's data does not change during a call, so reading it twice is
        the same number)."""
        if node in leaf_index:
            return f"P[{leaf_index[node]}].data", ()
        return f"{{v{position[node]}}}", (f"v{position[node]}",)

    lines: list[_Line] = []
    emitted: dict[int, tuple[str, tuple[str, ...]]] = {}

    def expression(j: int) -> tuple[str, tuple[str, ...]]:
        """The text of entry j, emitting the lines that compute it (and its parts) once."""
        for i in sorted(_closure(exprs, [j])):
            if i in emitted:
                continue
            entry = exprs[i]
            kind = entry[0]
            if kind == "v":
                emitted[i] = value(entry[1])
                continue
            if kind == "c":
                emitted[i] = (names.constant(entry[1]), ())
                continue
            if kind == "apply":
                parts = [emitted[a] for a in entry[2]]
                text = f"{names.op(entry[1], 'f')}({', '.join(p[0] for p in parts)})"
            elif kind == "neg":
                parts = [emitted[entry[1]]]
                text = f"-{parts[0][0]}"
            elif kind == "abs":
                parts = [emitted[entry[1]]]
                text = f"abs({parts[0][0]})"
            elif kind == "round":
                parts = [emitted[entry[1]]]
                text = f"_round({parts[0][0]}, {names.constant(entry[2])})"
            else:
                parts = [emitted[entry[1]], emitted[entry[2]]]
                if kind == "**":  # a complex power raises, as fn would meet it (Value(complex))
                    text = f"_pow({parts[0][0]}, {parts[1][0]})"
                else:
                    text = f"{parts[0][0]} {kind} {parts[1][0]}"
            uses = tuple(u for p in parts for u in p[1])
            lines.append(_Line(f"{{e{i}}} = {text}", uses, new=f"e{i}"))
            emitted[i] = (f"{{e{i}}}", (f"e{i}",))
        return emitted[j]

    def guard_line(guard: tuple[Any, ...]) -> None:
        kind = guard[0]
        if kind == "cmp":
            a, b = expression(guard[2]), expression(guard[3])
            condition, uses = f"{a[0]} {guard[1]} {b[0]}", a[1] + b[1]
            outcome = guard[4]
        elif kind == "bool":
            a = expression(guard[1])
            condition, uses, outcome = a[0], a[1], guard[2]
        elif kind == "is_integer":
            a = expression(guard[1])
            condition, uses, outcome = f"_is_integer({a[0]})", a[1], guard[2]
        elif kind == "int":
            a = expression(guard[2])
            result = names.constant(guard[3])
            condition, uses, outcome = f"_{guard[1]}({a[0]}) == {result}", a[1], True
        else:  # "same"
            a = expression(guard[1])
            number = names.constant(guard[2])
            condition, uses, outcome = f"_same({a[0]}, {number})", a[1], True
        test = f"not ({condition})" if outcome else condition
        lines.append(_Line(f"if {test}: return None", uses))

    # each guard right after the last value it reads (leaves are there from the start)
    after: dict[int, list[tuple[Any, ...]]] = {}
    for guard in tape.guards:
        reads = [
            position[exprs[i][1]]
            for j in _guard_entries(guard)
            for i in _closure(exprs, [j])
            if exprs[i][0] == "v" and exprs[i][1] not in leaf_index
        ]
        after.setdefault(max(reads, default=-1), []).append(guard)
    for guard in after.get(-1, []):
        guard_line(guard)
    for node in values:
        k = position[node]
        if keep is None or keep(node):
            if node in input_index:
                lines.append(_Line(f"{{v{k}}} = I[{input_index[node]}]", new=f"v{k}"))
            elif node in tape.computed:
                text, uses = expression(tape.computed[node])
                lines.append(_Line(f"{{v{k}}} = {text}", uses, new=f"v{k}"))
            elif node.op is not None:
                args = [value(c) for c in node.children]
                uses = tuple(name for _, used in args for name in used)
                texts = [text for text, _ in args]
                if node.op is ADD:
                    expression_text = f"{texts[0]} + {texts[1]}"
                elif node.op is MUL:
                    expression_text = f"{texts[0]} * {texts[1]}"
                else:
                    expression_text = f"{names.op(node.op, 'f')}({', '.join(texts)})"
                lines.append(_Line(f"{{v{k}}} = {expression_text}", uses, new=f"v{k}"))
        for guard in after.get(k, []):
            guard_line(guard)
    return lines, value


def _guarded(lines: list[_Line], tape: Tape) -> list[_Line]:
    """Forward lines inside ``try``: an exception where fn would meet one fails the guards."""
    if not tape.guards and not tape.computed:
        return lines
    inner = [_Line(line.text, line.uses, line.new, line.indent + 1) for line in lines]
    return [
        _Line("try:"),
        *inner,
        _Line(f"except {_GUARDED_ERRORS}:"),
        _Line("return None", (), None, 1),
    ]


def python_source(tape: Tape) -> tuple[str, dict[str, Any]]:
    """The program for ``tape`` and the names it uses (the ops' own rules, constants).

    ``run(I, P, seed)`` takes the input numbers ``I``, the leaf Values ``P`` and the gradient of
    the output ``seed``; it adds each leaf's gradient into ``P[m].grad`` and returns the output,
    the inputs' gradients and the watched values, or ``None`` (having changed nothing) when a
    guard fails. ``forward(I, P)`` returns the output and the watched values only (or ``None``).
    """
    checks.instance(tape, "tape", Tape, "Tape (from record())")
    names = _Names()
    forward, value = _forward_lines(tape, names)
    order = tape.order
    in_order = set(order)
    position = {node: k for k, node in enumerate(tape.values)}
    leaf_index = {node: k for k, node in enumerate(tape.leaves)}
    sinks = set(tape.computed)  # computed leaves: their gradient goes nowhere (detach)

    # Backward, in backward()'s order. A gradient starts at 0.0 and each contribution is added
    # to it (a leaf's straight into its .grad, as backward() does); a first contribution made
    # only when the upstream is not 0 needs the start written out before the test. (+ needs no
    # test: adding +0.0 changes nothing.)
    root = tape.root
    backward = [_Line(f"{{g{position[root]}}} = seed", new=f"g{position[root]}")]
    started = {root}

    def contribute(child: Value, expression: str, uses: tuple[str, ...], indent: int) -> None:
        c = position[child]
        if child in sinks:
            return
        if child in leaf_index:
            backward.append(
                _Line(f"P[{leaf_index[child]}].grad += {expression}", uses, None, indent)
            )
        elif child in started:
            backward.append(_Line(f"{{g{c}}} += {expression}", (f"g{c}", *uses), None, indent))
        else:
            started.add(child)
            backward.append(_Line(f"{{g{c}}} = 0.0 + {expression}", uses, f"g{c}", indent))

    for node in reversed(order):
        if node.op is None:
            continue
        k = position[node]
        g = (f"{{g{k}}}", (f"g{k}",))
        if all(child in sinks for child in node.children):
            continue
        if node.op is ADD:
            for child in node.children:
                contribute(child, g[0], g[1], 0)
            continue
        for child in node.children:  # inside the test below, a first contribution needs a start
            if child not in started and child not in leaf_index and child not in sinks:
                started.add(child)
                backward.append(_Line(f"{{g{position[child]}}} = 0.0", new=f"g{position[child]}"))
        backward.append(_Line(f"if {{g{k}}} != 0.0:", g[1]))  # a zero upstream contributes 0
        a, b = (value(c) for c in node.children) if len(node.children) == 2 else (None, None)
        if node.op is MUL:
            assert a is not None and b is not None
            contribute(node.children[0], f"{g[0]} * {b[0]}", g[1] + b[1], 1)
            contribute(node.children[1], f"{g[0]} * {a[0]}", g[1] + a[1], 1)
            continue
        rule = names.op(node.op, "d")
        out = (f"{{v{k}}}", (f"v{k}",))
        if len(node.children) == 1:
            x = value(node.children[0])
            expression = f"{g[0]} * {rule}({x[0]}, {out[0]})[0]"
            contribute(node.children[0], expression, g[1] + x[1] + out[1], 1)
        else:
            args = [value(c) for c in node.children]
            locals_ = [f"l{j}" for j in range(len(args))]
            call = f"{', '.join(locals_)}, = {rule}({', '.join(t for t, _ in args)}, {out[0]})"
            uses = tuple(u for _, used in args for u in used) + out[1]
            backward.append(_Line(call, uses, None, 1))
            for child, local in zip(node.children, locals_):
                contribute(child, f"{g[0]} * {local}", g[1], 1)

    k_root = position[root]
    watched = [value(n) for n in tape.watch]
    used = [n for n in tape.inputs if n in in_order]  # an unused input's gradient is 0.0
    grads = [f"{{g{position[n]}}}" if n in in_order else "0.0" for n in tape.inputs]
    result = _Line(
        f"return {{v{k_root}}}, {_tuple(grads)}, {_tuple(text for text, _ in watched)}",
        (f"v{k_root}", *(f"g{position[n]}" for n in used), *(u for _, w in watched for u in w)),
    )
    guarded = _guarded(forward, tape)
    run = ["def run(I, P, seed):"] + ["    " + t for t in _allocate([*guarded, *backward, result])]
    only = _Line(
        f"return {{v{k_root}}}, {_tuple(text for text, _ in watched)}",
        (f"v{k_root}", *(u for _, w in watched for u in w)),
    )
    ahead = ["def forward(I, P):"] + ["    " + t for t in _allocate([*guarded, only])]
    return "\n".join(run) + "\n\n" + "\n".join(ahead) + "\n", names.table


def _prepass_source(tape: Tape) -> tuple[str, dict[str, Any]]:
    """For the NumPy back-end: ``prepass(I, P)`` checks one example's guards (and that no
    expression raises where the function would), returning ``None`` when one fails; it computes
    only the values those need, in plain Python, so the guards see exactly the numbers the
    interpreted engine would."""
    names = _Names()
    exprs = tape.exprs
    start = [*(j for g in tape.guards for j in _guard_entries(g)), *tape.computed.values()]
    needed: set[Value] = set()
    stack = [exprs[i][1] for i in _closure(exprs, start) if exprs[i][0] == "v"]
    stack += tape.computed
    while stack:  # and every value those are computed from
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        if node.op is not None:
            stack.extend(node.children)
        elif node in tape.computed:
            j = tape.computed[node]
            stack.extend(exprs[i][1] for i in _closure(exprs, [j]) if exprs[i][0] == "v")
    forward, _ = _forward_lines(tape, names, keep=lambda node: node in needed)
    result = _Line("return ()")
    lines = ["def prepass(I, P):"] + [
        "    " + t for t in _allocate([*_guarded(forward, tape), result])
    ]
    return "\n".join(lines) + "\n", names.table


def _tuple(items: Iterable[str]) -> str:
    """A tuple expression in generated code: ``()``, ``(a,)``, ``(a, b)``."""
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _program(source: str, names: dict[str, Any], what: str) -> dict[str, Any]:
    code = builtins.compile(source, f"<microgradx compiled graph{what}>", "exec")
    exec(code, names)  # the program: plain Python made from the graph, nothing else
    return names


# ---- the model guard ----------------------------------------------------------------------------


class _ModelState:
    """What a model looked like when it was recorded, and a cheap test that it still does.

    The walk covers every module reachable through any attribute (private ones too: a neuron's
    ``_activation``), every list, tuple and dict on the way, and every Value: training flags,
    parameters by identity, settings by value (floats bit for bit). ``holds()`` runs at every
    call: for each module its flag and its attribute dict (identity first, so a weight list is one
    pointer comparison), then each list's and dict's content (element identity, in C). A
    difference there is looked at precisely before it counts (``model.train()`` writes a flag
    that only the class had, which changes the dict but not the model).
    """

    def __init__(self, model: Module) -> None:
        self.model = model
        self.modules: list[tuple[Module, Any, dict[str, Any]]] = []
        self.containers: list[tuple[Any, Any]] = []
        self.zeros: list[tuple[Any, Any, float]] = []  # a float 0 is not -0.0: checked apart
        self.values: list[Value] = []  # every Value the model holds (recorded as inputs do)
        self.facts = self._walk(model)
        self._index()

    def _walk(self, model: Module) -> list[tuple[str, str, Any]]:
        """The model as a list of (dotted path, kind, what) in a fixed order, for comparing two
        states precisely and for saying what changed."""
        facts: list[tuple[str, str, Any]] = []
        seen: set[int] = set()
        stack: list[tuple[str, Any, Any, Any]] = [("model", model, None, None)]
        while stack:
            path, item, holder, key = stack.pop()
            if isinstance(item, Value):
                facts.append((path, "value", item))
                if id(item) not in seen:
                    seen.add(id(item))
                    self.values.append(item)
            elif isinstance(item, Module):
                facts.append((path, "module", item))
                if id(item) in seen:
                    continue
                seen.add(id(item))
                attributes = vars(item)
                self.modules.append((item, item.training, dict(attributes)))
                facts.append((f"{path}.training", "flag", item.training))
                members = [(k, v) for k, v in attributes.items() if k != "training"]
                facts.append((path, "attributes", tuple(k for k, _ in members)))
                stack.extend((f"{path}.{k}", v, item, k) for k, v in reversed(members))
            elif isinstance(item, (list, tuple, dict)):
                facts.append((path, type(item).__name__, len(item)))
                if id(item) in seen:
                    continue
                seen.add(id(item))
                if not isinstance(item, tuple):
                    self.containers.append((item, item.copy()))
                pairs = list(item.items()) if isinstance(item, dict) else list(enumerate(item))
                facts.append((path, "keys", tuple(k for k, _ in pairs)))
                stack.extend((f"{path}.{k}", v, item, k) for k, v in reversed(pairs))
            elif type(item) is float:
                facts.append((path, "number", _bits(item)))
                if item == 0 and holder is not None:
                    self.zeros.append((holder, key, math.copysign(1.0, item)))
            else:
                facts.append((path, "object", item))
        return facts

    def _index(self) -> None:
        """The snapshot as flat lists, so ``holds`` compares them in C (map, list ==)."""
        self._modules = [module for module, _, _ in self.modules]
        self._flags = [training for _, training, _ in self.modules]
        self._attributes = [attributes for _, _, attributes in self.modules]
        self._live = [container for container, _ in self.containers]
        self._copies = [copy for _, copy in self.containers]

    def holds(self) -> bool:
        """True if the model is as recorded (cheap: about 10 us for the digits 64-32-10 MLP)."""
        try:
            same = (
                list(map(_training, self._modules)) == self._flags
                and list(map(vars, self._modules)) == self._attributes  # identity first: fast
                and self._live == self._copies  # each list or dict against its copy
            )
        except Exception:  # an attribute whose == raises (a NumPy array): look closely
            same = False
        if not same:
            return self._recheck()
        for holder, key, sign in self.zeros:
            number = vars(holder)[key] if isinstance(holder, Module) else holder[key]
            if type(number) is not float or math.copysign(1.0, number) != sign:
                return self._recheck()
        return True

    def _recheck(self) -> bool:
        now = _ModelState(self.model)
        if self.change(now) is not None:
            return False
        self.modules, self.containers, self.zeros = now.modules, now.containers, now.zeros
        self._index()
        return True

    def change(self, now: _ModelState | None = None) -> str | None:
        """What differs between this state and the model now (``None``: nothing)."""
        now = now or _ModelState(self.model)
        for before, after in zip(self.facts, now.facts):
            if before[:2] != after[:2]:
                return f"{before[0]} changed (the model's structure is not the one recorded)"
            path, kind, old = before
            new = after[2]
            if kind in ("value", "module", "object"):
                if old is not new and (kind != "object" or not _same_object(old, new)):
                    what = {"value": "another Value", "module": "another module"}.get(kind)
                    if what is not None:
                        return f"{path} was replaced by {what}"
                    return f"{path} changed from {_show(old)} to {_show(new)}"
            elif kind == "flag":
                if old != new:
                    return f"{path} changed from {old!r} to {new!r}"
            elif kind == "number":
                if old != new:
                    return f"{path} changed from {_unbits(old)!r} to {_unbits(new)!r}"
            elif kind in ("list", "dict", "tuple"):
                if old != new:
                    return f"{path} changed length from {old} to {new}"
            elif old != new:
                return f"{path} changed (its attributes or keys are not the ones recorded)"
        if len(self.facts) != len(now.facts):
            return "the model's structure changed"
        return None


_training = operator.attrgetter("training")


def _same_object(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # an object whose == fails is compared by identity only
        return False


def _show(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def _unbits(key: Any) -> float:
    return math.nan if key == ("nan",) else float(struct.unpack("<d", key)[0])


# ---- recording a function -----------------------------------------------------------------------


def _record_once(function: Function, numbers: Sequence[float], keep: Sequence[Value]) -> Tape:
    """Run ``function`` once on Values of ``numbers`` with recording numbers in the inputs and in
    ``keep`` (Values that outlive the call: weights), and return its tape."""
    run = _Recording()
    inputs = [Value(x) for x in numbers]
    failure: Exception | None = None
    try:
        for x in inputs:
            run.wrap(x)
        for leaf in dict.fromkeys(keep):
            run.wrap(leaf, keep=True)
        with recording(run):
            try:
                result = function(*inputs)
            except Exception as error:  # judged below, once the recording is over
                failure = error
        if failure is not None:
            raise failure
        run.live = False
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError(
                "function must return a pair (output, values to watch), got"
                f" {checks.describe(result)}"
            )
        root, watch = result
        tape = _tape_of(run, root, inputs, list(watch))
        for node in tape.computed:
            _unwrap(node)
        return tape
    except Exception as error:
        if error is not failure or isinstance(error, CompileError):
            raise
    finally:
        run.finish()
    _blame_the_recording(function, numbers, failure)
    raise failure


def _blame_the_recording(function: Function, numbers: Sequence[float], failure: Exception) -> None:
    """Raise ``CompileError`` if ``function``, which raised ``failure`` while recorded, runs on
    plain Values of the same ``numbers``: the recording made it fail, not the function. If it
    fails there too with the same error, the caller re-raises ``failure`` unchanged; with another
    error, that one is fn's own, raised as it is (not the recording's, which names the recorded
    number's type)."""
    try:
        function(*[Value(x) for x in numbers])
    except Exception as own:
        if type(own) is type(failure) and str(own) == str(failure):
            return
        raise own from None
    raise CompileError(
        f"fn fails only while compile records it ({type(failure).__name__}: {failure}): while"
        " recording, a number read from the graph (x.data) is a recorded number, a float that"
        " notes each read, and fn handed it to something that does not take it (it works"
        " interpreted on the same inputs). Convert it with float(x.data) first, or call fn"
        " without compile"
    ) from failure


def _kept_leaves(tape: Tape, already: Sequence[Value]) -> list[Value]:
    known = set(already)
    return [leaf for leaf in tape.leaves if leaf not in known]


def _record_function(
    function: Function,
    numbers: Sequence[float],
    model: Module | None,
    check: Any,
    state: _ModelState | None = None,
) -> tuple[Tape, _ModelState | None]:
    """Record ``function`` on ``numbers`` as ``compile`` does, and check the recording: on other
    numbers where every guard comes out the same (``check``) the graph must be the same (which
    also refuses a dropout mask: two runs draw two masks); without such numbers, a second run on
    the same numbers must be the same. ``state``: the model's state now, if taken already."""
    if state is None and model is not None:
        state = _ModelState(model)
    keep = list(state.values) if state is not None else []
    first = _record_once(function, numbers, keep)
    # Leaves the model does not hold (a weight the function captured, or a constant it made)
    # were plain floats in that run; later runs record them too and say which live on.
    extra = _kept_leaves(first, keep)
    probes = [] if check is False else _probes(numbers, check)
    if _probe(function, first, probes, keep, extra) == "same":
        return first, state
    second = _record_once(function, numbers, keep + extra)
    captured = [leaf for leaf in extra if leaf in set(second.leaves)]
    if captured:  # the first run read those weights as plain numbers: it may miss guards
        keep = keep + captured
        first, second = second, _record_once(function, numbers, keep)
    _same_run(first, second)
    if captured and probes:
        _probe(function, first, probes, keep, [])
    return first, state


def _probe(
    function: Function,
    first: Tape,
    probes: list[list[float]],
    keep: list[Value],
    extra: list[Value],
) -> str:
    """Record on each of ``probes`` until every guard comes out as in ``first``; then the graph
    must be the same, or this raises. Returns ``"same"``, ``"captured"`` (a leaf in ``extra``
    lives on: the runs are not comparable yet) or ``"inconclusive"``."""
    made = set(extra)
    for probe in probes:
        try:
            other = _record_once(function, probe, keep + extra)
        except Exception:  # fn does not run on these numbers: no conclusion from them
            continue
        if made and not made.isdisjoint(other.leaves):
            return "captured"
        if other.signature()[2] != first.signature()[2]:
            continue  # a guard comes out differently there: no conclusion either
        try:
            same_graph(first, other, probes=True)
        except CompileError:
            # one more run on the probe's numbers tells a random draw or a counter (two runs in
            # a row differ: refused as such) from a read of the numbers that no guard saw
            _same_run(other, _record_once(function, probe, keep + extra))
            raise
        return "same"
    return "inconclusive"


def _probes(numbers: Sequence[float], check: Any) -> list[list[float]]:
    """The numbers to record on for the check: those given, then the example moved far (to
    catch a choice on the data) and moved a little (to stay on the same side of every guard)."""
    probes = []
    if check is not True:
        if (
            isinstance(check, (str, bytes))
            or not hasattr(check, "__len__")
            or len(check) != len(numbers)
            or not all(is_real(x) for x in check)
        ):
            raise ValueError(f"check must be True, False or {len(numbers)} numbers")
        probes.append([float(x) for x in check])
    probes.append([-1.37 * x + 0.71 for x in numbers])
    probes.append([x * (1 + 2.0**-20) + 2.0**-30 for x in numbers])
    return probes


def _same_run(first: Tape, second: Tape) -> None:
    """Two recordings on the same numbers must be the same, or the function depends on
    something other than its inputs and the model (a random draw, a counter)."""
    _same_leaves(first, second)
    if first.signature() != second.signature():
        raise CompileError(
            "the function builds a different graph each time it runs on the same numbers (a"
            " random choice or a counter decides it): a recorded graph would freeze one of"
            " them, so it is not compiled. Keep the interpreted engine"
        )


def _same_leaves(first: Tape, second: Tape) -> None:
    for a, b in zip(first.leaves, second.leaves):
        if a is not b and _bits(a.data) != _bits(b.data):
            raise CompileError(
                "a number inside the function changes from call to call (a dropout mask, a"
                f" random draw, a counter: {a.data!r} then {b.data!r}): a recorded graph would"
                " freeze it, so it is not compiled. Compile in eval mode, or keep the"
                " interpreted engine"
            )


def same_graph(first: Tape, second: Tape, *, probes: bool = False) -> None:
    """Raise ``CompileError`` unless two recordings of one function are the same graph: the same
    op sequence, the same parameters, constants of the same values (bit for bit), the same
    expressions and guards. ``probes``: the second was recorded on other numbers with every
    guard coming out the same."""
    checks.instance(first, "first", Tape, "Tape (from record())")
    checks.instance(second, "second", Tape, "Tape (from record())")
    if len(first.leaves) == len(second.leaves) and first.signature() == second.signature():
        _same_leaves(first, second)
        return
    if probes:
        raise CompileError(
            "the function builds a different graph for other input values although every"
            " comparison it made on them came out the same: it reads the numbers in a way a"
            " recording cannot follow (their type, or numbers kept from an earlier call), so it"
            " is not compiled. Write the choice with ops (relu, maximum), or keep the"
            " interpreted engine"
        )
    raise CompileError(
        "the function builds a different graph for different input values (a Python `if`"
        " on .data, or a loop whose length depends on the data): a recorded graph would be"
        " wrong for some inputs, so it is not compiled. Write the choice with ops (relu,"
        " maximum), or keep the interpreted engine"
    )


# ---- the compiled callable ----------------------------------------------------------------------


class _Program:
    """One recording as a program (``Compiled`` keeps one per recording, TorchDynamo style)."""

    def __init__(self, tape: Tape, backend: str) -> None:
        self.tape = tape
        self.leaves = list(tape.leaves)
        self.prepass: Callable[..., Any] | None = None
        if backend == "python":
            self.source, names = python_source(tape)
            _program(self.source, names, "")
            self.run: Callable[..., Any] = names["run"]
            self.forward: Callable[..., Any] = names["forward"]
        else:
            self.source, self.run, self.forward = numpy_program(tape)
            if tape.guards or tape.computed:
                source, names = _prepass_source(tape)
                self.prepass = _program(source, names, ", guards")["prepass"]
                self.source += "\n" + source


class Compiled:
    """A recorded function as a program: ``program(*inputs)`` runs forward and backward for one
    example (returns the output; leaves' ``grad`` accumulate, as after ``backward()``);
    ``program.forward(*inputs)`` runs forward only; ``program.batch(rows)`` runs many examples
    (with the NumPy back-end, all at once). ``input_grads`` and ``watched`` hold the last call's
    inputs' gradients and watched values; ``recordings`` counts the recordings made (guards that
    failed record again, up to ``CACHE_SIZE``)."""

    def __init__(
        self,
        tape: Tape,
        backend: str = "python",
        model: Any = None,
        *,
        function: Function | None = None,
        check: Any = True,
        state: _ModelState | None = None,
    ) -> None:
        checks.instance(tape, "tape", Tape, "Tape (from record())")
        backend = checks.choice(backend, "backend", BACKENDS)
        _check_model(model)
        if model is not None and state is None:
            state = _ModelState(model)
        self.backend = backend
        self.n_inputs = len(tape.inputs)
        self.input_grads: tuple[Any, ...] = ()
        self.watched: tuple[Any, ...] = ()
        self.recordings = 1
        self._model = model
        self._function = function
        self._check = check
        self._warned: set[str] = set()
        first = _Program(tape, backend)
        self.tape = tape
        self.source = first.source
        self.nodes = len(tape.order)
        # recordings grouped by the model state they were made in; the group in use first. A
        # state whose recording was refused keeps an empty group: its calls run interpreted.
        self._groups: list[tuple[_ModelState | None, list[_Program]]] = [(state, [first])]
        self._state, self._programs = self._groups[0]
        self._refused: set[int] = set()  # ids of the groups refused

    def __repr__(self) -> str:
        recorded = f", {self.recordings} recordings" if self.recordings > 1 else ""
        return (
            f"<compiled graph: {self.nodes} nodes, {self.n_inputs} inputs,"
            f" {len(self.tape.leaves)} leaves, {self.backend} back-end{recorded}>"
        )

    # -- which recordings apply now --

    def _current(self) -> list[_Program]:
        """The recordings made in the model's present state (all of them without a model)."""
        state = self._state
        if state is None or state.holds():
            return self._programs
        for other, programs in reversed(self._groups):
            if other is not None and other is not state and other.holds():
                self._state, self._programs = other, programs
                return programs
        return []

    def _record_again(self, numbers: Sequence[float]) -> _Program | None:
        """A recording on ``numbers`` (no recording applies to them), or None: run interpreted."""
        if id(self._programs) in self._refused:
            return None  # this model state was refused already (warned then)
        now = _ModelState(self._model) if self._model is not None else None
        changed = None
        if self._state is not None and now is not None:
            changed = self._state.change(now)
        if self._function is None:
            raise CompileError(
                f"the model changed after it was compiled ({changed}): a graph given to"
                " compile_graph cannot be recorded again; compile it again"
            )
        if changed is not None:  # from now on, calls are in the new state's group
            self._groups.append((now, []))
            self._state, self._programs = self._groups[-1]
        if self.recordings >= CACHE_SIZE:
            self._warn(
                "cache",
                f"the function was recorded {CACHE_SIZE} times (CACHE_SIZE) and these inputs or"
                " model settings match none of the recordings: such calls now run on the"
                " interpreted engine (same results, slower)",
            )
            return None
        self.recordings += 1
        try:
            tape, _ = _record_function(self._function, numbers, self._model, self._check, now)
        except CompileError as error:
            if changed is not None:
                self._refused.add(id(self._programs))
            why = f"the model changed ({changed}) and " if changed else ""
            self._warn(
                f"refused {changed}",
                f"{why}recording the function again was refused: {error}. Such calls run on the"
                " interpreted engine (same results, slower)",
            )
            return None
        program = _Program(tape, self.backend)
        self._programs.append(program)
        return program

    def _warn(self, kind: str, message: str) -> None:
        """Warn once per kind (a cache full, a refusal in one model state)."""
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(f"compiled function: {message}", RuntimeWarning, stacklevel=5)

    # -- running --

    def _numbers(self, inputs: Sequence[Any], where: str = "") -> list[float]:
        if len(inputs) != self.n_inputs:
            raise ValueError(
                f"the compiled function takes {self.n_inputs} inputs, got {len(inputs)}{where}"
            )
        numbers = []
        for k, x in enumerate(inputs):
            number = real(x, f"input {k}{where}")
            if not math.isfinite(number):
                raise ValueError(f"input {k}{where} is {number}: the data must be finite numbers")
            numbers.append(number)
        return numbers

    def _one(
        self, programs: list[_Program], numbers: list[float], seed: float | None
    ) -> tuple[Any, ...]:
        """One example through the first recording whose guards hold (``seed`` None: forward
        only), recording again or running interpreted when none does."""
        for program in programs:
            result = self._try(program, numbers, seed)
            if result is not None:
                return result  # type: ignore[no-any-return]
        again = self._record_again(numbers)
        if again is not None:
            result = self._try(again, numbers, seed)
            if result is not None:
                return result  # type: ignore[no-any-return]
        return self._interpret(numbers, seed)

    def _try(self, program: _Program, numbers: list[float], seed: float | None) -> Any:
        if self.backend == "python":
            if seed is None:
                return program.forward(numbers, program.leaves)
            return program.run(numbers, program.leaves, seed)
        outcome = self._columns(program, [numbers], seed)
        if outcome is None:
            return None
        out, grads, watched = outcome
        if seed is None:
            return float(out[0]), tuple(w[0] for w in watched)
        return float(out[0]), tuple(g[0] for g in grads), tuple(w[0] for w in watched)

    def _interpret(self, numbers: list[float], seed: float | None) -> tuple[Any, ...]:
        """The function itself on Values: what the recordings stand for, right by definition."""
        assert self._function is not None
        inputs = [Value(x) for x in numbers]
        if seed is None:
            with no_grad():
                root, watch = self._function(*inputs)
            return float(root), tuple(float(w) for w in watch)
        root, watch = self._function(*inputs)
        _checked_order(root)
        root.backward(seed)
        return root.data, tuple(float(x.grad) for x in inputs), tuple(w.data for w in watch)

    def __call__(self, *inputs: Any, gradient: float = 1.0) -> float:
        """Forward and backward for one example, like ``fn(*inputs).backward(gradient)``."""
        if self.backend != "python":
            return float(self.batch([inputs], gradient=gradient)[0])
        numbers, seed = self._numbers(inputs), real(gradient, "gradient")
        for program in self._current():
            result = program.run(numbers, program.leaves, seed)
            if result is not None:
                out, self.input_grads, self.watched = result
                return out  # type: ignore[no-any-return]
        out, self.input_grads, self.watched = self._one([], numbers, seed)
        return out  # type: ignore[no-any-return]

    def forward(self, *inputs: Any) -> float:
        """The output for one example, no gradients (like ``fn`` under ``no_grad``)."""
        out, self.watched = self._one(self._current(), self._numbers(inputs), None)
        return out  # type: ignore[no-any-return]

    def batch(self, rows: Sequence[Sequence[Any]], gradient: float = 1.0) -> list[float]:
        """Forward and backward for every row (one example's inputs each), in order; each
        leaf's gradient is the sum over the rows. Returns the outputs; ``watched`` holds, per
        watched value, its value for every row. ``rows``: a list of lists, or a 2-D NumPy
        array."""
        table = checks.sequence(rows, "rows")
        if len(table) == 0:
            raise ValueError("rows is empty: batch() needs at least one row")
        checked = [
            self._numbers(checks.sequence(row, f"rows[{i}]"), f" of row {i}")
            for i, row in enumerate(table)
        ]
        seed = real(gradient, "gradient")
        programs = self._current()  # the model is checked once per batch
        if self.backend == "numpy":
            return self._batch_numpy(programs, checked, seed)
        outputs, watched = [], []
        for numbers in checked:
            out, self.input_grads, seen = self._one(programs, numbers, seed)
            outputs.append(out)
            watched.append(seen)
        self.watched = tuple(zip(*watched)) if watched and watched[0] else ()
        return outputs

    # -- the NumPy back-end: a batch at once, split by the recordings whose guards hold --

    def _columns(
        self, program: _Program, rows: list[list[float]], seed: float | None, checked: bool = False
    ) -> Any:
        """``rows`` through one recording with NumPy, or None if its guards fail for one
        (``checked``: they were checked already)."""
        prepass = None if checked else program.prepass
        if prepass is not None and any(prepass(row, program.leaves) is None for row in rows):
            return None
        columns = [[row[k] for row in rows] for k in range(self.n_inputs)]
        if seed is None:
            out, watched = program.forward(columns, program.leaves)
            return out, (), watched
        return program.run(columns, program.leaves, seed)

    def _batch_numpy(
        self, programs: list[_Program], rows: list[list[float]], seed: float
    ) -> list[float]:
        import numpy as np  # the back-end needs it (numpy_program imported it already)

        n = len(rows)
        out = np.empty(n)
        grads = [np.empty(n) for _ in range(self.n_inputs)]
        watched = [np.empty(n) for _ in self.tape.watch]
        pending = list(range(n))
        candidates = list(programs)
        while pending:
            if not candidates:
                program = self._record_again(rows[pending[0]])
                if program is None:
                    for i in pending:  # beyond the cache, or refused: the interpreted engine
                        result = self._interpret(rows[i], seed)
                        out[i] = result[0]
                        for column, value in zip(grads, result[1]):
                            column[i] = value
                        for column, value in zip(watched, result[2]):
                            column[i] = value
                    break
                candidates = [program]
            program = candidates.pop(0)
            fits: list[int] = []
            rest: list[int] = []
            for i in pending:
                prepass = program.prepass
                ok = prepass is None or prepass(rows[i], program.leaves) is not None
                (fits if ok else rest).append(i)
            if fits:
                result = self._columns(program, [rows[i] for i in fits], seed, checked=True)
                index = np.asarray(fits)
                out[index] = result[0]
                for column, values in zip(grads, result[1]):
                    column[index] = values
                for column, values in zip(watched, result[2]):
                    column[index] = values
            pending = rest
        self.input_grads = tuple(grads)
        self.watched = tuple(watched)
        return [float(v) for v in out]


def _check_model(model: Any) -> None:
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"model must be a microgradx Module or None, got {checks.describe(model)}")


def compile_graph(
    root: Value,
    inputs: Sequence[Value],
    *,
    watch: Iterable[Value] = (),
    backend: str = "python",
    model: Any = None,
) -> Compiled:
    """Compile a graph already built: ``root`` its output, ``inputs`` the leaves each call
    supplies. Nothing records how the graph depended on the numbers it was built from, so there
    are no guards: use it only for a graph that does not depend on them (``compile`` records
    and guards). With ``model``, a change of the model is refused at the next call. The
    arguments are checked as ``record`` and ``Compiled`` check them, before anything is built."""
    backend = checks.choice(backend, "backend", BACKENDS)
    _check_model(model)
    return Compiled(record(root, inputs, watch), backend, model)


def compile(
    fn: Callable[..., Value],
    example_inputs: Sequence[float],
    *,
    backend: str = "python",
    model: Any = None,
    check: bool | Sequence[float] = True,
) -> Compiled:
    """Record ``fn``'s graph on ``example_inputs`` and return it as a program (see the module
    docstring). ``fn`` takes one Value per input and returns one Value.

    Every read of a recorded number that could steer the graph becomes a guard checked at each
    call; a failed guard records again (the call's result is then the function's own). ``model``:
    the module whose parameters ``fn`` uses; its parameters' identities, its settings and its
    training flags are guarded too. ``check``: check the recording by a run on other numbers
    (``True``: the example moved far, then a little; or the numbers to try first) where every
    guard comes out the same, and refuse if the graph differs there; ``False``: by a second run
    on the same numbers only. ``backend``: ``"python"`` (no dependencies) or ``"numpy"``
    (``pip install 'microgradx[fast]'``): many examples at once. Raises ``CompileError`` (with
    the reason) for a function that cannot be replayed faithfully, such as one with dropout in
    training mode.
    """
    checks.function(fn, "fn")

    def function(*inputs: Value) -> tuple[Value, Sequence[Value]]:
        return fn(*inputs), ()

    function.__wrapped_fn__ = fn  # type: ignore[attr-defined]  # for the signature check

    return compile_function(function, example_inputs, backend=backend, model=model, check=check)


def compile_function(
    function: Function,
    example_inputs: Sequence[float],
    *,
    backend: str = "python",
    model: Any = None,
    check: bool | Sequence[float] = True,
) -> Compiled:
    """``compile`` for a function that returns ``(output, values to watch)``: each call also
    sets ``watched`` (``fit`` watches the model's outputs for its accuracy)."""
    function = checks.function(function, "function")
    example = checks.reals(example_inputs, "example_inputs", allow_empty=True)
    if not example:
        raise ValueError("example_inputs is empty: fn needs at least one input to replay")
    checks.takes(
        getattr(function, "__wrapped_fn__", function), len(example), "fn", "example_inputs"
    )
    backend = checks.choice(backend, "backend", BACKENDS)
    _check_model(model)
    if check is not True and check is not False:
        _probes(example, check)  # refuses a malformed check before anything runs
    tape, state = _record_function(function, example, model, check)
    return Compiled(tape, backend, model, function=function, check=check, state=state)
