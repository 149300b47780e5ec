"""Code generation: a tape as straight-line Python, forward then backward, one line per node.

The backward lines come from the engine's walk (``microgradx.walk``): this module says only how
a gradient, a local derivative and a contribution are written.

Memory (compile() must stay within ~1.5 KB a node): CPython's compiler needs about 3 KB a line of
source while it works. So a sum of products ``b + w0*x0 + w1*x1 + ...`` (a neuron: ``_Chain``)
is one call of a straight-line function written once per length (``_kernel``), which makes an
MLP a few lines a neuron; and a program of more than ``CHUNK`` lines is compiled in pieces that
share the variables that outlive a piece through cells (``_Pieces``), each piece as soon as its
lines are made (``python_program``): the lines themselves (about 200 bytes each, four a node on a
graph with no sums) never all exist at once.

NaN's sign bit: a compiled run does the float operations of ``backward()`` in the same order, so
a NaN has the interpreted engine's sign wherever CPython's arithmetic decides it: a NaN made by
an invalid operation (``inf - inf``, ``0 * inf``, ``log`` of a negative number: the same C
operation or op rule in both), or carried through arithmetic with numbers. One case it does
not: ``a + b`` or ``a * b`` of two NaNs of different signs. x86's SSE returns the first
operand's NaN, and CPython 3.11 compiles its generic float addition and multiplication
(``float_add``, ``float_mul``) with the operands the other way round from its specialized
instructions (``BINARY_OP_ADD_FLOAT``, ``BINARY_OP_MULTIPLY_FLOAT``): the same ``a + b`` gives
``b``'s NaN in code run cold and ``a``'s once the interpreter has specialized it (after ~8 runs
of a function or a loop). ``backward()`` disagrees with itself the same way (its first pass can
give +NaN where later passes give -NaN), and a compiled program's straight-line code is
specialized after its first ~6 calls; so where two such NaNs meet (a gradient receiving two NaN
contributions of different signs), the sign bit is CPython's choice of the moment in both
engines, and nothing short of replacing every ``+`` and ``*`` with a call (several times slower)
would make it agree. Every other bit, including the sign of every non-NaN number, agrees.
"""

from __future__ import annotations

import builtins
import math
import operator
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import CellType, CodeType, FunctionType
from typing import Any, Protocol

from microgradx import checks, walk
from microgradx.engine import Value
from microgradx.ops import ADD, MUL, OPS, Op
from microgradx.replay_numbers import real_power, same
from microgradx.replay_tape import Tape, closure, guard_entries


@dataclass(slots=True)  # three or so per node: no __dict__ each
class _Line:
    """One line of generated code, with the variables it reads and the one it creates."""

    text: str  # with {name} placeholders for variables
    uses: tuple[str, ...] = ()
    new: str | None = None  # a variable this line creates (it starts living here)
    indent: int = 0


class _Sink(Protocol):
    """Where the generated lines go: a list, or one of the two passes of a program compiled in
    pieces (``_Plan``, then ``_Writer``), which never hold the lines."""

    def append(self, line: _Line, /) -> None: ...


def _allocate(lines: list[_Line]) -> list[str]:
    """Give the variables the fewest local names: a name is reused once its value is dead.

    The whole graph in locals would make one local per node, and a Python frame that large is
    allocated afresh (mmap) at every call, which costs more than the arithmetic. Straight-line
    code, so a variable is dead after its last use; new variables are only created outside the
    ``if`` blocks, so reusing a name can never skip a definition.
    """
    return [text for text, _ in _named(lines)]


class _Names:
    """The names generated code uses, none made from user text (an op named ``x²`` is
    ``f_op_3``): op rules, and every constant (so inf, NaN and -0.0 need no literal)."""

    def __init__(self) -> None:
        self.table: dict[str, Any] = {
            "_same": same,
            "_trunc": math.trunc,
            "_floor": math.floor,
            "_ceil": math.ceil,
            "_round": round,
            "_is_integer": float.is_integer,
            "_pow": real_power,
            "_dot": _dot,
            "_dot_back": walk.chain_backward,
        }
        self.ops: dict[int, str] = {}

    def op(self, op: Op, kind: str) -> str:
        key = id(op) * 2 + (kind == "d")
        if key not in self.ops:
            stem = op.name if OPS.get(op.name) is not None else "op"  # a table name: our own text
            self.ops[key] = f"{kind}_{stem}_{len(self.ops)}"
            self.table[self.ops[key]] = op.forward if kind == "f" else op.local_grads
        return self.ops[key]

    def kernel(self, kind: str, n: int) -> str:
        """The name of the loop for a chain of ``n`` products (``_dot`` or ``_dot_back``),
        written out as straight-line code for that ``n`` (made once per program and length)."""
        if n > MAX_KERNEL:
            return kind
        name = f"{kind}{n}"
        if name not in self.table:
            self.table[name] = _kernel(kind, n)
        return name

    def constant(self, value: Any) -> str:
        name = f"k{len(self.table)}"
        self.table[name] = value
        return name


_GUARDED_ERRORS = "(ArithmeticError, ValueError, TypeError)"  # as fn would meet them: re-record


Text = tuple[str, tuple[str, ...]]  # a piece of generated code and the variables it reads


# ---- sums of products: w0*x0 + w1*x1 + ... as one loop ------------------------------------------


def _dot(start: float, weights: Sequence[Value], xs: Sequence[float]) -> float:
    """A chain of ``z = z + w * x`` from ``start``, the weights' numbers read at each call: the
    same float operations in the same order as the chain's nodes (``*`` then ``+``)."""
    z = start
    for w, x in zip(weights, xs):
        z = z + w.data * x
    return z


MIN_CHAIN = 4  # products in a chain worth a loop
# The longest chain whose loop is written out for its length: straight-line code runs about
# twice as fast as a loop over the products, and one such function serves every chain of its
# length (a layer's neurons); longer chains run ``_dot``'s loop.
MAX_KERNEL = 512


def _kernel(kind: str, n: int) -> Callable[..., Any]:
    """``_dot`` or ``_dot_back`` for ``n`` products, written out: the same operations in the
    same order."""
    w = [f"w{k}" for k in range(n)]
    x = [f"x{k}" for k in range(n)]
    if kind == "_dot":
        body = [f"def {kind}(z, W, X):", f"    {', '.join(w)}, = W", f"    {', '.join(x)}, = X"]
        body += [f"    z = z + w{k}.data * x{k}" for k in range(n)]  # statements: no deep tree
        body.append("    return z")
    else:
        body = walk.chain_backward_source(kind, n)
    names: dict[str, Any] = {}
    exec(builtins.compile("\n".join(body) + "\n", f"<microgradx {kind} of {n}>", "exec"), names)
    function: Callable[..., Any] = names.pop(kind)
    return function


@dataclass(slots=True)
class _Chain:
    """``root = ((start + w0*x0) + w1*x1) + ...``: each ``w`` a leaf read at each call (a
    weight), each ``x`` a value computed or given at each call, every node but the root used
    once. Its nodes are contiguous in the walk (no other node of the graph between its first and
    its root but leaves), and its weights, its ``x`` and its start all different nodes: so each
    node the chain adds to gets one contribution from it, and running the chain's backward as
    one step at its root's place adds exactly what the walk adds, in the same order for every
    gradient."""

    start: Value
    weights: list[Value]
    xs: tuple[Value, ...]


_Found = tuple[dict[Value, _Chain], set[Value]]  # chains by root, and the nodes inside them


def _chains(tape: Tape, leaf_index: dict[Value, int]) -> _Found:
    """The chains of ``tape`` (by root) and the nodes inside them (computed by their root's
    loop). Linear in the graph: each node is looked at a bounded number of times."""
    order = tape.order
    uses: dict[Value, int] = {}
    for node in tape.values:  # (with a recording, also the values only guards read)
        if node.op is not None:
            for child in node.children:
                uses[child] = uses.get(child, 0) + 1
    kept = {tape.root, *tape.watch, *tape.inputs, *tape.computed}
    kept.update(entry[1] for entry in tape.exprs if entry[0] == "v")
    sinks = set(tape.computed)
    position = {node: k for k, node in enumerate(order)}
    ops_before = array("l", [0])  # how many nodes with an op come before each position
    for node in order:
        ops_before.append(ops_before[-1] + (node.op is not None))

    def inside(node: Value) -> bool:  # may be a node inside a chain
        return uses.get(node) == 1 and node not in kept

    found: dict[Value, _Chain] = {}
    members: set[Value] = set()
    for root in reversed(order):
        if root in members or root.op is not ADD:
            continue
        z: Value = root
        weights: list[Value] = []
        xs: list[Value] = []
        nodes: list[Value] = []
        while z.op is ADD and (z is root or inside(z)):
            left, product = z.children
            if product.op is not MUL or not inside(product):
                break
            w, x = product.children
            if w not in leaf_index or x in leaf_index or x in sinks:
                break
            weights.append(w)
            xs.append(x)
            nodes += (z, product)
            z = left
        n = len(weights)
        if n < MIN_CHAIN:
            continue
        first = min(position[node] for node in nodes)
        distinct = len({*weights, *xs, z}) == 2 * n + 1
        if distinct and ops_before[position[root] + 1] - ops_before[first] == 2 * n:
            weights.reverse()
            xs.reverse()
            found[root] = _Chain(z, weights, tuple(xs))
            members.update(nodes[1:])
    return found, members


class _Forward:
    """The forward pass as lines: each value in order, each computed leaf from its expression,
    and each guard as soon as the values it reads exist (it returns None when it fails, before
    anything has changed)."""

    def __init__(
        self,
        tape: Tape,
        names: _Names,
        chains: bool = False,
        lines: _Sink | None = None,
        found: _Found | None = None,
    ) -> None:
        self.tape = tape
        self.names = names
        self.position = {node: k for k, node in enumerate(tape.values)}
        self.input_index = {node: k for k, node in enumerate(tape.inputs)}
        self.leaf_index = {node: k for k, node in enumerate(tape.leaves)}
        self.lines: _Sink = [] if lines is None else lines
        self.emitted: dict[int, Text] = {}
        # sums of products run as loops (``_Chain``): the roots, and the nodes inside them
        # (``found``: as a first pass found them)
        if found is None:
            found = _chains(tape, self.leaf_index) if chains else ({}, set())
        self.chains, self.members = found
        self.tuples: dict[tuple[Value, ...], Text] = {}  # each chain's x, as one tuple

    def operands(self, xs: tuple[Value, ...]) -> Text:
        """The variable holding ``xs``' numbers as a tuple (made once, by the first chain that
        reads them: the chains of one layer read the same ones)."""
        made = self.tuples.get(xs)
        if made is None:
            parts = [self.value(x) for x in xs]
            name = f"X{len(self.tuples)}"
            uses = tuple(u for _, used in parts for u in used)
            text = f"{{{name}}} = {_tuple(t for t, _ in parts)}"
            self.lines.append(_Line(text, uses, new=name))
            made = self.tuples[xs] = (f"{{{name}}}", (name,))
        return made

    def weights(self, weights: Sequence[Value]) -> str:
        """The weights' Values, from ``P``: a slice when they are in a row there (backwards,
        as a graph built by ``w * x`` sums lists them: its walk meets the last product first)."""
        index = [self.leaf_index[w] for w in weights]
        first, n = index[0], len(index)
        if index == list(range(first, first + n)):
            return f"P[{first}:{first + n}]"
        if index == list(range(first, first - n, -1)):
            return f"P[{first}:{first - n}:-1]" if first >= n else f"P[{first}::-1]"
        return f"{self.names.constant(operator.itemgetter(*index))}(P)"

    def value(self, node: Value) -> Text:
        """How a line reads ``node``'s number: a leaf's from its Value, anything else's from
        its variable (a leaf's data does not change during a call, so reading it twice is
        the same number)."""
        if node in self.leaf_index:
            return f"P[{self.leaf_index[node]}].data", ()
        k = self.position[node]
        return f"{{v{k}}}", (f"v{k}",)

    def expression(self, j: int) -> Text:
        """The text of entry j, emitting the lines that compute it (and its parts) once."""
        exprs = self.tape.exprs
        for i in sorted(closure(exprs, [j])):
            if i in self.emitted:
                continue
            entry = exprs[i]
            if entry[0] == "v":
                self.emitted[i] = self.value(entry[1])
            elif entry[0] == "c":
                self.emitted[i] = (self.names.constant(entry[1]), ())
            else:
                text, uses = self._entry(entry)
                self.lines.append(_Line(f"{{e{i}}} = {text}", uses, new=f"e{i}"))
                self.emitted[i] = (f"{{e{i}}}", (f"e{i}",))
        return self.emitted[j]

    def _entry(self, entry: tuple[Any, ...]) -> Text:
        """An expression entry computed from its parts (emitted already)."""
        kind, emitted = entry[0], self.emitted
        if kind == "apply":
            parts = [emitted[a] for a in entry[2]]
            text = f"{self.names.op(entry[1], 'f')}({', '.join(p[0] for p in parts)})"
        elif kind in ("neg", "abs", "round"):
            parts = [emitted[entry[1]]]
            x = parts[0][0]
            if kind == "round":
                text = f"_round({x}, {self.names.constant(entry[2])})"
            else:
                text = f"-{x}" if kind == "neg" else f"abs({x})"
        else:
            parts = [emitted[entry[1]], emitted[entry[2]]]
            a, b = parts[0][0], parts[1][0]
            # a complex power raises, as fn would meet it (Value(complex))
            text = f"_pow({a}, {b})" if kind == "**" else f"{a} {kind} {b}"
        return text, tuple(u for p in parts for u in p[1])

    def guard(self, guard: tuple[Any, ...]) -> None:
        kind, constant = guard[0], self.names.constant
        if kind == "cmp":
            a, b = self.expression(guard[2]), self.expression(guard[3])
            condition, uses = f"{a[0]} {guard[1]} {b[0]}", a[1] + b[1]
            outcome = guard[4]
        elif kind in ("bool", "is_integer"):
            a = self.expression(guard[1])
            condition = a[0] if kind == "bool" else f"_is_integer({a[0]})"
            uses, outcome = a[1], guard[2]
        elif kind == "int":
            a = self.expression(guard[2])
            condition, uses = f"_{guard[1]}({a[0]}) == {constant(guard[3])}", a[1]
            outcome = True
        else:  # "same"
            a = self.expression(guard[1])
            condition, uses, outcome = f"_same({a[0]}, {constant(guard[2])})", a[1], True
        test = f"not ({condition})" if outcome else condition
        self.lines.append(_Line(f"if {test}: return None", uses))

    def node(self, node: Value) -> None:
        k = self.position[node]
        if node in self.members:
            return  # computed by its chain's loop
        chain = self.chains.get(node)
        if chain is not None:
            start, xs = self.value(chain.start), self.operands(chain.xs)
            dot = self.names.kernel("_dot", len(chain.xs))
            text = f"{{v{k}}} = {dot}({start[0]}, {self.weights(chain.weights)}, {xs[0]})"
            self.lines.append(_Line(text, start[1] + xs[1], new=f"v{k}"))
        elif node in self.input_index:
            self.lines.append(_Line(f"{{v{k}}} = I[{self.input_index[node]}]", new=f"v{k}"))
        elif node in self.tape.computed:
            text, uses = self.expression(self.tape.computed[node])
            self.lines.append(_Line(f"{{v{k}}} = {text}", uses, new=f"v{k}"))
        elif node.op is not None:
            args = [self.value(c) for c in node.children]
            uses = tuple(name for _, used in args for name in used)
            texts = [text for text, _ in args]
            if node.op is ADD:
                text = f"{texts[0]} + {texts[1]}"
            elif node.op is MUL:
                text = f"{texts[0]} * {texts[1]}"
            else:
                text = f"{self.names.op(node.op, 'f')}({', '.join(texts)})"
            self.lines.append(_Line(f"{{v{k}}} = {text}", uses, new=f"v{k}"))

    def all(self, keep: Callable[[Value], bool] | None = None) -> None:
        """Every value (``keep``: only those), each guard right after the last value it reads
        (leaves are there from the start)."""
        exprs = self.tape.exprs
        after: dict[int, list[tuple[Any, ...]]] = {}
        for guard in self.tape.guards:
            reads = [
                self.position[exprs[i][1]]
                for j in guard_entries(guard)
                for i in closure(exprs, [j])
                if exprs[i][0] == "v" and exprs[i][1] not in self.leaf_index
            ]
            after.setdefault(max(reads, default=-1), []).append(guard)
        for guard in after.get(-1, []):
            self.guard(guard)
        for node in self.tape.values:
            if keep is None or keep(node):
                self.node(node)
            for guard in after.get(self.position[node], []):
                self.guard(guard)


def _guarded(lines: list[_Line], tape: Tape) -> list[_Line]:
    """Forward lines inside ``try``: an exception where fn would meet one fails the guards."""
    if not tape.guards and not tape.computed:
        return lines
    return _in_try(lines)


def _in_try(lines: list[_Line]) -> list[_Line]:
    inner = [_Line(line.text, line.uses, line.new, line.indent + 1) for line in lines]
    return [
        _Line("try:"),
        *inner,
        _Line(f"except {_GUARDED_ERRORS}:"),
        _Line("return None", (), None, 1),
    ]


class _Backward(walk.Source):
    """The backward pass as lines: the engine's walk (``microgradx.walk``), with each gradient a
    variable ``g<k>`` and a leaf's added straight into its ``.grad``, as ``backward()`` does. A
    computed leaf (``x.detach()``) receives nothing. The zero-upstream rule is a test in the
    code; ``+`` needs none unless an input is a leaf (adding a zero upstream to a gradient that
    started at +0.0 changes nothing; a leaf's may be -0.0). Sums of products (``_Chain``) run as
    one loop each."""

    def __init__(
        self, tape: Tape, names: _Names, forward: _Forward, lines: _Sink | None = None
    ) -> None:
        self.names = names
        self.forward = forward
        self.position = forward.position
        self.leaf_index = forward.leaf_index
        self.sinks = set(tape.computed)
        root = self.position[tape.root]
        self.lines: _Sink = [] if lines is None else lines
        self.lines.append(_Line(f"{{g{root}}} = seed", new=f"g{root}"))
        self.started = {tape.root}  # the gradients that have a variable already
        self.indent = 0
        # consecutive chains over the same x add to those x's gradients in one list
        self.pending: tuple[tuple[Value, ...], str, set[Value], set[Value]] | None = None
        self.count = 0

    def gradient(self, node: Value) -> Text:
        k = self.position[node]
        return f"{{g{k}}}", (f"g{k}",)

    def upstream(self, node: Any) -> Any:
        if node in self.forward.members:
            return None  # its chain's root did its part
        chain = self.forward.chains.get(node)
        if chain is None:
            pending = self.pending
            if pending is not None and (
                node in pending[2] or not pending[2].isdisjoint(node.children)
            ):  # it reads or adds to an x's gradient: the x's gradients go back to variables
                self.finish()
            return self.gradient(node) if node in self.started else None
        if node in self.started:
            self._chain(node, chain)
        return None  # (done here: the walk has nothing more to do for it)

    def _chain(self, root: Value, chain: _Chain) -> None:
        """A chain's backward at its root's place in the walk (``_Chain`` says why that is
        the walk's order): nothing if the upstream is 0 (every node of the chain passes it
        unchanged, so the zero-upstream rule holds for all or none), else the start's
        contribution and ``_dot_back``."""
        g = self.gradient(root)
        xs, start = chain.xs, chain.start
        if self.pending is not None and (self.pending[0] != xs or start in self.pending[2]):
            self.finish()
        if self.pending is None:
            grads = [self.gradient(x) if x in self.started else ("0.0", ()) for x in xs]
            fresh = {x for x in xs if x not in self.started}
            self.started.update(xs)  # their gradients are in the list until finish()
            name = f"G{self.count}"
            self.count += 1
            uses = tuple(u for _, used in grads for u in used)
            self.lines.append(_Line(f"{{{name}}} = [{', '.join(t for t, _ in grads)}]", uses, name))
            self.pending = (xs, name, set(xs), fresh)
        name = self.pending[1]
        receives = start not in self.leaf_index and self.receives(start)
        if receives and start not in self.started:
            self.started.add(start)
            self.lines.append(
                _Line(f"{self.gradient(start)[0]} = 0.0", new=self.gradient(start)[1][0])
            )
        self.lines.append(_Line(f"if {g[0]} != 0.0:", g[1]))
        if start in self.leaf_index:  # the start's contribution, as ``accumulate`` writes it
            text = self.adds(f"P[{self.leaf_index[start]}].grad", g[0])
            self.lines.append(_Line(text, g[1], None, 1))
        elif receives:
            target = self.gradient(start)
            self.lines.append(_Line(self.adds(target[0], g[0]), target[1] + g[1], None, 1))
        weights = self.forward.weights(chain.weights)
        operands = self.forward.operands(xs)
        back = self.names.kernel("_dot_back", len(xs))
        text = f"{back}({g[0]}, {weights}, {operands[0]}, {{{name}}})"
        self.lines.append(_Line(text, g[1] + operands[1] + (name,), None, 1))

    def finish(self) -> None:
        """The x's gradients of the chains just done, from their list back to variables."""
        if self.pending is None:
            return
        xs, name, _, fresh = self.pending
        self.pending = None
        for k, x in enumerate(xs):
            text, used = self.gradient(x)
            if x in fresh:  # its gradient starts here
                self.lines.append(_Line(f"{text} = {{{name}}}[{k}]", (name,), used[0]))
            else:
                self.lines.append(_Line(f"{text} = {{{name}}}[{k}]", (name, *used)))

    def receives(self, child: Any) -> bool:
        return child not in self.sinks

    def number(self, node: Any) -> Any:
        return self.forward.value(node)

    def opened(self, node: Any, upstream: Any, zero: int) -> None:
        if node.op is ADD and not any(c in self.leaf_index for c in node.children):
            return  # adding a zero upstream to a gradient started at +0.0 changes nothing
        # (but a leaf's gradient may be -0.0 before the pass, and -0.0 + 0.0 is +0.0: test)
        for child in node.children:  # inside the test, a first contribution needs a start
            if child not in self.started and child not in self.leaf_index and self.receives(child):
                self.started.add(child)
                k = self.position[child]
                self.lines.append(_Line(f"{{g{k}}} = 0.0", new=f"g{k}"))
        self.lines.append(_Line(f"if {upstream[0]} != 0.0:", upstream[1]))
        self.indent = 1

    def local_grads(self, node: Any, op: Op) -> Sequence[Any]:
        rule = self.names.op(op, "d")
        out = self.forward.value(node)
        args = [self.forward.value(c) for c in node.children]
        uses = tuple(u for _, used in args for u in used) + out[1]
        texts = ", ".join(t for t, _ in args)
        if len(args) == 1:
            return ((f"{rule}({texts}, {out[0]})[0]", uses),)
        locals_ = [f"l{j}" for j in range(len(args))]
        self.lines.append(
            _Line(f"{', '.join(locals_)}, = {rule}({texts}, {out[0]})", uses, None, 1)
        )
        return [(local, ()) for local in locals_]

    def accumulate(self, node: Any, i: int, child: Any, local: Any, contribution: Any) -> None:
        term, uses = contribution
        if child in self.leaf_index:
            text = self.adds(f"P[{self.leaf_index[child]}].grad", term)
            self.lines.append(_Line(text, uses, None, self.indent))
            return
        target, used = self.gradient(child)
        if child in self.started:
            self.lines.append(_Line(self.adds(target, term), used + uses, None, self.indent))
        else:
            self.started.add(child)
            text = self.adds(target, term, first=True)
            self.lines.append(_Line(text, uses, used[0], self.indent))

    def closed(self, node: Any, upstream: Any) -> None:
        self.indent = 0


def _returns(tape: Tape, forward: _Forward) -> tuple[_Line, _Line]:
    """``run``'s return line (output, inputs' gradients, watched values) and ``forward``'s."""
    position, in_order = forward.position, set(tape.order)
    k_root = position[tape.root]
    watched = [forward.value(n) for n in tape.watch]
    used = [n for n in tape.inputs if n in in_order]  # an unused input's gradient is 0.0
    grads = [f"{{g{position[n]}}}" if n in in_order else "0.0" for n in tape.inputs]
    seen = _tuple(text for text, _ in watched)
    watched_uses = tuple(u for _, w in watched for u in w)
    result = _Line(
        f"return {{v{k_root}}}, {_tuple(grads)}, {seen}",
        (f"v{k_root}", *(f"g{position[n]}" for n in used), *watched_uses),
    )
    return result, _Line(f"return {{v{k_root}}}, {seen}", (f"v{k_root}", *watched_uses))


def python_source(tape: Tape) -> tuple[str, dict[str, Any]]:
    """The program for ``tape`` and the names it uses (the ops' own rules, constants).

    ``run(I, P, seed)`` takes the input numbers ``I``, the leaf Values ``P`` and the gradient of
    the output ``seed``; it adds each leaf's gradient into ``P[m].grad`` and returns the output,
    the inputs' gradients and the watched values, or ``None`` (having changed nothing) when a
    guard fails. ``forward(I, P)`` returns the output and the watched values only (or ``None``).
    """
    checks.instance(tape, "tape", Tape, "Tape (from tape_of())")
    names = _Names()
    lists = _Lists()
    _write(tape, names, lists)
    return _one_piece(tape, lists), names.table


# Lines compiled at a time. CPython's compiler needs about 3 KB a line while it works (its syntax
# tree and code generator: 9 KB a node, 70 MB for a 64-32-10 network compiled whole), so a graph
# of more lines is compiled in pieces of this many, and the compiler's memory is that of one piece.
# The pieces share their variables through cells (``_Pieces``), which read and write about as fast
# as a function's locals, so a piece costs only its call (~0.1 us): they can be small. 200 lines
# (0.7 MB of the compiler's) keep a graph of 2,000 nodes within 1.5 KB a node; pieces of 100, 200
# or 400 lines ran a random graph and a 64-32-10 network equally fast (benchmarks/README.md).
CHUNK = 200
COMPILER_BYTES_PER_LINE = 3_300


def python_program(tape: Tape) -> tuple[str, Callable[..., Any], Callable[..., Any]]:
    """``(source, run, forward)``: ``python_source``'s program, compiled.

    A graph of more than ``CHUNK`` lines is compiled in pieces of about ``CHUNK`` lines
    (``_Pieces``) while its lines are being made, so that its lines never all exist at once (at
    about 200 bytes a line and four lines a node, they were most of compile()'s memory): a
    first pass (``_Plan``) makes the lines and keeps only the line where each variable is last
    read and where each piece ends; a second makes the same lines again (the same names, the
    same ``_Names`` table), names each variable as it comes and compiles each piece as soon as it
    is complete (``_Writer``). The same lines in the same order (the passes are deterministic),
    so the same numbers, with the compiler's memory (about 3 KB a line) that of one piece.
    ``forward`` runs the forward pieces of ``run``, then one of its own that returns. A program
    of one piece is made once (the first pass keeps its lines while they are few)."""
    checks.instance(tape, "tape", Tape, "Tape (from tape_of())")
    names = _Names()
    plan = _Plan()
    found = _write(tape, names, plan)
    if plan.lists is not None:  # a program of one piece: the first pass kept its lines
        source = _one_piece(tape, plan.lists)
        load_program(source, names.table, "")
        return source, names.table.pop("run"), names.table.pop("forward")
    writer = _Writer(plan, bool(tape.guards or tape.computed), names.table)
    _write(tape, names, writer, found)
    return writer.program()


def _write(
    tape: Tape, names: _Names, sink: _Lists | _Plan | _Writer, found: _Found | None = None
) -> _Found:
    """The program's lines in order into ``sink``: the forward pass (inside ``try`` where the
    tape has guards), then the backward pass and the return line. Returns the sums of products
    found (``_chains``), for a second pass (``found``)."""
    forward = _Forward(tape, names, chains=True, lines=sink, found=found)
    forward.all()
    result, only = _returns(tape, forward)
    sink.forward_done(only)
    backward = _Backward(tape, names, forward, lines=sink)
    walk.walk(tape.order, backward)
    backward.finish()
    sink.done(result)
    return forward.chains, forward.members


class _Lists:
    """A program's lines held in lists, for a program written as one piece (``_one_piece``)."""

    def __init__(self) -> None:
        self.forward: list[_Line] = []
        self.backward: list[_Line] = []
        self.lines = self.forward  # where the next line goes
        self.only = self.result = _Line("")

    def append(self, line: _Line) -> None:
        self.lines.append(line)

    def forward_done(self, only: _Line) -> None:
        self.only, self.lines = only, self.backward

    def done(self, result: _Line) -> None:
        self.result = result


def _one_piece(tape: Tape, lists: _Lists) -> str:
    """The source of ``run`` and ``forward`` as one function each."""
    guarded = _guarded(lists.forward, tape)
    run = _allocate([*guarded, *lists.backward, lists.result])
    ahead = _allocate([*guarded, lists.only])
    run = ["def run(I, P, seed):"] + ["    " + t for t in run]
    ahead = ["def forward(I, P):"] + ["    " + t for t in ahead]
    return "\n".join(run) + "\n\n" + "\n".join(ahead) + "\n"


class _LastUse:
    """The line where each variable of a program is last read (-1: never). A node's value
    ``v<k>`` and gradient ``g<k>`` (``k`` its position) are in arrays, 8 bytes each (in a dict,
    with their names and line numbers as objects, about 120 bytes a variable, two a node); the
    few others (``e``, ``X``, ``G``) in a dict."""

    def __init__(self) -> None:
        self.v = array("q")
        self.g = array("q")
        self.other: dict[str, int] = {}

    def set(self, name: str, line: int) -> None:
        kind = name[0]
        if kind == "v" or kind == "g":
            table, k = (self.v if kind == "v" else self.g), int(name[1:])
            if k >= len(table):  # (grown by doubling: linear in the graph)
                table.extend(array("q", [-1]) * (max(k + 1, 2 * len(table)) - len(table)))
            table[k] = line
        else:
            self.other[name] = line

    def get(self, name: str) -> int:
        kind = name[0]
        if kind == "v" or kind == "g":
            table, k = (self.v if kind == "v" else self.g), int(name[1:])
            return table[k] if k < len(table) else -1
        return self.other.get(name, -1)


class _Namer:
    """The fewest local names for a program's variables, a line at a time (``_allocate``): a
    name is reused once its value is dead (after its last read, ``_LastUse``). A variable that
    lives on past the end of its piece (``stop``) is named ``c<n>`` (a cell the pieces share),
    any other ``x<n>`` (a local of its piece)."""

    def __init__(self, last: _LastUse) -> None:
        self.last = last.get
        self.slot: dict[str, str] = {}  # the live variables' names
        self.free: dict[str, list[str]] = {"x": [], "c": []}
        self.count = {"x": 0, "c": 0}

    def name(self, line: _Line, i: int, stop: int) -> tuple[str, list[str]]:
        """Line ``i``'s text, its variables named, and the names it reads or makes."""
        last, slot, free = self.last, self.slot, self.free
        names = {name: slot[name] for name in line.uses}
        for name in line.uses:
            if last(name) == i and slot.get(name) is not None:
                local = slot.pop(name)
                free[local[0]].append(local)
        if line.new is not None:
            end = last(line.new)
            kind = "c" if end >= stop else "x"
            if free[kind]:
                local = free[kind].pop()
            else:
                local = f"{kind}{self.count[kind]}"
                self.count[kind] += 1
            names[line.new] = local
            if end <= i:  # created but never read (a dead value)
                free[kind].append(local)
            else:
                slot[line.new] = local
        return "    " * line.indent + line.text.format(**names), list(names.values())


def _named(lines: Sequence[_Line]) -> Iterator[tuple[str, list[str]]]:
    """``_Namer`` over ``lines``, one piece."""
    last = _LastUse()
    for i, line in enumerate(lines):
        for name in line.uses:
            last.set(name, i)
    namer = _Namer(last)
    for i, line in enumerate(lines):
        yield namer.name(line, i, len(lines))


class _Plan:
    """The first pass over a program's lines (``python_program``): counts them and notes where
    each variable is last read (``_LastUse``) and where each piece ends (after about ``CHUNK``
    lines, never inside an ``if``, and at the end of the forward pass). Keeps the lines
    themselves (``lists``) only while they would fit in one piece (at most ``CHUNK``, the return
    line not counted), then drops them."""

    def __init__(self) -> None:
        self.last = _LastUse()
        self.count = 0
        self.start = 0  # the first line of the piece being made
        self.stops: list[int] = []  # where each piece ends (the line after its last)
        self.lists: _Lists | None = _Lists()

    def append(self, line: _Line) -> None:
        i = self.count
        if line.indent == 0 and i - self.start >= CHUNK:
            self.stops.append(i)
            self.start = i
        for name in line.uses:
            self.last.set(name, i)
        self.count = i + 1
        if self.lists is not None:
            if i >= CHUNK:  # more than one piece: compiled in pieces, by a second pass
                self.lists = None
            else:
                self.lists.append(line)

    def forward_done(self, only: _Line) -> None:
        if self.count > self.start:
            self.stops.append(self.count)
            self.start = self.count
        if self.lists is not None:
            self.lists.forward_done(only)

    def done(self, result: _Line) -> None:
        for name in result.uses:  # (in the last piece, whatever its length)
            self.last.set(name, self.count)
        self.count += 1
        self.stops.append(self.count)
        if self.lists is not None:
            self.lists.done(result)


class _Writer:
    """The second pass over a program's lines (``python_program``): names each line as it comes
    (``_Namer``, with the first pass's last reads and piece ends) and compiles each piece as
    soon as its last line has come. Keeps each piece's code and text (the program's
    ``source``), never its lines."""

    def __init__(self, plan: _Plan, guarded: bool, table: dict[str, Any]) -> None:
        self.namer = _Namer(plan.last)
        self.stops = iter(plan.stops)
        self.stop = next(self.stops)
        self.i = 0
        self.guarded = guarded  # the forward pieces' lines go inside ``try`` (``_guarded``)
        self.table = table
        self.body: list[str] = []
        self.used: set[str] = set()
        self.codes: list[CodeType] = []  # run's pieces: the forward ones, then the backward ones
        self.n_forward = 0
        self.ahead: list[CodeType] = []  # forward's last piece (its return)
        self.texts: list[str] = []

    def append(self, line: _Line) -> None:
        if self.i == self.stop:
            self._piece("return True")
        text, names = self.namer.name(line, self.i, self.stop)
        self.body.append(text)
        self.used.update(names)
        self.i += 1

    def forward_done(self, only: _Line) -> None:
        if self.body:
            self._piece("return True")
        self.n_forward = len(self.codes)
        self.guarded = False
        # the values ``forward`` returns are read by ``run``'s return line: cells, living now
        names = {name: self.namer.slot[name] for name in only.uses}
        text = only.text.format(**names)
        self.ahead.append(self._code("f", [], set(names.values()), False, text))

    def done(self, result: _Line) -> None:
        text, names = self.namer.name(result, self.i, self.stop)
        self.used.update(names)
        self._piece(text)

    def _piece(self, last: str) -> None:
        """The lines since the last piece as a function ``r<k>``, compiled."""
        name = f"r{len(self.codes)}"
        self.codes.append(self._code(name, self.body, self.used, self.guarded, last))
        self.body, self.used = [], set()
        self.stop = next(self.stops, -1)

    def _code(self, name: str, body: list[str], used: set[str], guarded: bool, last: str) -> Any:
        """A piece ``name(I, P, seed=None)``: ``body`` (inside ``try`` if ``guarded``: None
        where it raises), then ``last``; the cells it uses declared ``nonlocal``."""
        cells = sorted(n for n in used if n[0] == "c")
        inner = body
        if guarded:
            inner = ["try:", *("    " + t for t in body), f"except {_GUARDED_ERRORS}:",
                     "    return None"]  # fmt: skip
        inner.append(last)
        head = [f"def {name}(I, P, seed=None):"]
        if cells:
            head.append(f"    nonlocal {', '.join(cells)}")
        text = "\n".join(head + ["    " + t for t in inner])
        self.texts.append(text)
        # an outer function whose locals the piece's ``nonlocal`` names (never called: only
        # the piece's code is used, with the cells of ``_functions``)
        outer = ["def _piece():", *([f"    {' = '.join(cells)} = None"] if cells else [])]
        outer += ["    " + t for t in text.split("\n")]
        return _inner_code("\n".join(outer) + "\n", name)

    def program(self) -> tuple[str, Callable[..., Any], Callable[..., Any]]:
        run = _Pieces(self.codes, self.table)
        ahead = _Pieces([*self.codes[: self.n_forward], *self.ahead], self.table)
        return "\n".join(self.texts), run, ahead


class _Pieces:
    """A program compiled in pieces, called as the one-piece function would be
    (``run(I, P, seed)`` or ``forward(I, P)``).

    ``codes``: the pieces (``_Writer``), each a function ``(I, P, seed)`` that returns None
    where a guard fails (the pieces after it do not run) and True otherwise; the last one
    returns the program's result. The local names are those of the one-piece program
    (``_Namer``); a name that more than one piece uses is a cell the pieces share (a closure
    made once): reading and writing a cell costs about what a local does, where handing the
    values on in a list or a dict would cost a load and a store per value and piece. Shared
    cells are used by one call at a time: a call made while another runs (from another thread,
    or from an op's rule) gets cells of its own.
    """

    def __init__(self, codes: list[CodeType], table: dict[str, Any]) -> None:
        self.codes = codes
        self.table = table
        self.lock = threading.Lock()
        self.functions = self._functions()

    def _functions(self) -> list[Callable[..., Any]]:
        """The pieces as functions over one new set of cells."""
        cells: dict[str, CellType] = {}
        return [
            FunctionType(
                code,
                self.table,
                code.co_name,
                None,
                tuple(cells.setdefault(n, CellType()) for n in code.co_freevars) or None,
            )
            for code in self.codes
        ]

    def __call__(self, inputs: Any, P: Any, seed: Any = None) -> Any:
        if not self.lock.acquire(False):  # another call is using the cells: new ones
            return _chain(self._functions(), inputs, P, seed)
        try:
            return _chain(self.functions, inputs, P, seed)
        finally:
            self.lock.release()


def _chain(functions: list[Callable[..., Any]], inputs: Any, P: Any, seed: Any) -> Any:
    """The pieces run one after another; None (a guard failed) stops them."""
    for piece in functions[:-1]:
        if piece(inputs, P, seed) is None:
            return None
    return functions[-1](inputs, P, seed)


def _inner_code(source: str, name: str) -> CodeType:
    """The code of the function ``name`` that ``_piece`` in ``source`` defines (neither is
    run)."""
    module = builtins.compile(source, "<microgradx compiled graph>", "exec")
    piece = next(c for c in module.co_consts if isinstance(c, CodeType))
    return next(c for c in piece.co_consts if isinstance(c, CodeType) and c.co_name == name)


def prepass_source(tape: Tape) -> tuple[str, dict[str, Any]]:
    """For the NumPy back-end: ``prepass(I, P)`` checks one example's guards (and that no
    expression raises where the function would), returning ``None`` when one fails; it computes
    only the values those need, in plain Python, so the guards see exactly the numbers the
    interpreted engine would."""
    names = _Names()
    exprs = tape.exprs
    start = [*(j for g in tape.guards for j in guard_entries(g)), *tape.computed.values()]
    needed: set[Value] = set()
    stack = [exprs[i][1] for i in closure(exprs, start) if exprs[i][0] == "v"]
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
            stack.extend(exprs[i][1] for i in closure(exprs, [j]) if exprs[i][0] == "v")
    forward: list[_Line] = []
    _Forward(tape, names, lines=forward).all(keep=lambda node: node in needed)
    result = _Line("return ()")
    lines = ["def prepass(I, P):"] + [
        "    " + t for t in _allocate([*_guarded(forward, tape), result])
    ]
    return "\n".join(lines) + "\n", names.table


def _tuple(items: Iterable[str]) -> str:
    """A tuple expression in generated code: ``()``, ``(a,)``, ``(a, b)``."""
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def load_program(source: str, names: dict[str, Any], what: str) -> dict[str, Any]:
    """Run ``source`` with ``names`` as its globals and return them. Pop the functions it
    defines out of ``names``: a function in its own globals is a reference cycle."""
    code = builtins.compile(source, f"<microgradx compiled graph{what}>", "exec")
    exec(code, names)  # the program: plain Python made from the graph, nothing else
    return names
