"""The NumPy back-end of compiled replay: one example's graph run over a whole batch at once.

Every scalar op of the recorded graph becomes the same op on an array of examples: inputs are
columns (one number per example), parameters stay single numbers and broadcast, and a parameter's
gradient is the sum of its gradients over the batch. The nodes run level by level
(``LevelProgram``): the nodes of one depth and one op are one NumPy operation over (nodes x
batch), and an add chain (a neuron's ``b + w_1 x_1 + ... + w_n x_n``) is one group whose terms
are added one at a time, left to right, over (neurons x batch), so a layer is a few array
operations per input, not one call per node; each gradient adds its terms in the scalar walk's
order, so with ``+ - * /`` each example's numbers are the scalar engine's bit for bit. Each
op's declaration gives its array form (``Op.numpy``: forward rule and local derivatives); an op
without one runs its float rule row by row, and tests check that the two agree.

Agreement is to about 1e-12 relative on well-conditioned graphs, not bit for bit (a graph that
magnifies its last bits, such as cos(exp(40)), magnifies the difference as much): NumPy's
``exp``, ``log``, ``tanh``, ``sin``, ``cos`` and ``log1p`` are its own implementations
(vectorised, sometimes one unit in the last place away from the C library's), and a
parameter's gradient is summed over the batch by ``numpy.sum`` (pairwise), or for a layer's
weights by a matrix product (BLAS), rather than one example after another (for one example it is
that example's number exactly). At special values (signed zeros,
infinities, NaN, subnormal results), and where an array formula would cancel (a loss near its
optimum) or over/underflow on the way, the rows concerned are computed by the scalar rule itself,
so they agree exactly: NumPy's ``power`` takes ``x ** 0.5`` as ``sqrt(x)``, which is -0.0 at -0.0
where C's ``pow`` gives +0.0. Exactly, but for the sign of a NaN: a NaN made by an invalid
operation (``log`` or ``sqrt`` of a negative number, 0/0, inf/inf, inf - inf) is NaN in both, but
the array operation's NaN has its sign bit set (the processor's default NaN) where the scalar
rule's often has not; IEEE-754 gives that sign no meaning, and CPython's own arithmetic flips it
too (see ``microgradx.replay_python``). The zero-gradient rule (a zero
upstream contributes exactly 0, even where a local derivative is infinite: ``log(0) * x``) is
applied to every op but ``+``, whose local derivatives are 1; a zero upstream adds nothing to a
leaf, so a leaf's gradient of -0.0 stays -0.0 as in ``backward()``: a sum over the batch that
is 0 gets its sign from the contributions themselves (``_signed_zeros``).

Needs NumPy: ``pip install 'microgradx[fast]'``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from operator import attrgetter
from typing import Any

from microgradx import walk
from microgradx.checks import describe
from microgradx.ops import ADD, MUL, OPS, TINY, Op, is_table_form
from microgradx.ops import float_rule_rows as _rows
from microgradx.replay_tape import CompileError, closure


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise ImportError(
            "the NumPy back-end needs NumPy: pip install 'microgradx[fast]'"
            " (or use backend='python', which needs nothing)"
        ) from None
    return numpy


def _tuple(items: Any) -> str:
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def array_forms(np: Any, op: Op) -> tuple[Callable[..., Any], ...]:
    """``(forward(*inputs), local_grads(*inputs, out))`` of ``op`` on arrays, the parameter of a
    family's member fixed: the op's own NumPy form (``Op.numpy``), else the float rule row by
    row. Every op has one, a user's too."""
    param = () if op.param is None else (op.param,)
    if op.numpy is not None and op.numpy_own_rows:
        return partial(op.numpy[0], np, *param), partial(op.numpy[1], np, *param)
    if op.numpy is not None:
        own_forward, own_grads = op.numpy
        if not is_table_form(op):  # a user's forms: what they return is checked
            own_forward, own_grads = _checked_forms(np, op)

        def forward(*inputs: Any) -> Any:
            out = own_forward(np, *param, *inputs)
            return _rows(np, op.forward, (out,), _special(np, out, inputs), inputs, True)[0]

        def local_grads(*args: Any) -> tuple[Any, ...]:
            grads = tuple(own_grads(np, *param, *args))
            return _rows(np, op.local_grads, grads, _special(np, *grads, args[:-1]), args)

        return forward, local_grads
    return _by_rows(np, op)


def _by_rows(np: Any, op: Op) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``op``'s float rules run row by row on arrays (exact, and slower)."""

    def each_forward(*inputs: Any) -> Any:
        shape = np.broadcast(*inputs).shape
        return _rows(np, op.forward, (np.zeros(shape),), np.ones(shape, bool), inputs, True)[0]

    def each_grads(*args: Any) -> tuple[Any, ...]:
        shape = np.broadcast(*args).shape
        zeros = tuple(np.zeros(shape) for _ in args[:-1])
        return _rows(np, op.local_grads, zeros, np.ones(shape, bool), args)

    return each_forward, each_grads


def _checked_forms(np: Any, op: Op) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """A user's NumPy forms with what they return checked: an array of floats of the batch's
    shape (the inputs' broadcast shape), and one derivative per input. A wrong shape would
    otherwise broadcast (row 0 for every row) and an int or complex array pass silently."""
    assert op.numpy is not None
    forward, grads = op.numpy

    def array(result: Any, shape: Any, what: str) -> Any:
        if not (
            isinstance(result, (np.ndarray, np.floating))
            and result.dtype.kind == "f"
            and np.shape(result) == shape
        ):
            kind = getattr(result, "dtype", None)
            raise TypeError(
                f"op {op.name!r}: its NumPy {what} must return an array of floats of the batch's"
                f" shape {shape}, got {describe(result)}"
                + ("" if kind is None else f" (dtype {kind}, shape {np.shape(result)})")
            )
        return np.asarray(result, dtype=np.float64)

    def checked_forward(np_: Any, *args: Any) -> Any:
        inputs = args[len(args) - _count(op, args, 0) :]
        return array(forward(np_, *args), np.broadcast(*inputs).shape, "forward")

    def checked_grads(np_: Any, *args: Any) -> tuple[Any, ...]:
        result = grads(np_, *args)
        n = _count(op, args, 1)
        if not isinstance(result, (tuple, list)) or len(result) != n:
            raise TypeError(
                f"op {op.name!r}: its NumPy local_grads must return a tuple of {n} array(s),"
                f" one per input, got {describe(result)}"
            )
        shape = np.broadcast(*args[len(args) - 1 - n : -1]).shape
        return tuple(array(g, shape, "local_grads") for g in result)

    return checked_forward, checked_grads


def _count(op: Op, args: tuple[Any, ...], extra: int) -> int:
    """How many inputs ``args`` (``[p,] *inputs`` and ``extra`` more) holds."""
    return len(args) - extra - (0 if op.param is None else 1)


def check_forms(tape: Any) -> None:
    """Raise ``CompileError`` if a user's NumPy form disagrees with its op's float rule at the
    recorded example (each node of the graph), beyond 1e-9 relative: a wrong form would give
    wrong numbers for every batch with nothing to show for it."""
    np = _numpy()
    seen: set[int] = set()
    for node in tape.values:
        op = node.op
        if op is None or op.numpy is None or is_table_form(op) or id(op) in seen:
            continue
        seen.add(id(op))
        inputs = [float(c.data) for c in node.children]
        forward, grads = array_forms(np, op)
        columns = [np.array([x]) for x in inputs]
        try:
            value = forward(*columns)
            got = (value, *grads(*columns, value))
        except (TypeError, ValueError, ArithmeticError) as error:
            text = str(error)
            if not text.startswith(f"op {op.name!r}"):
                text = f"op {op.name!r}: its NumPy form fails: {text}"
            raise CompileError(text) from None
        rule_forward, rule_grads = _by_rows(np, op)
        value = rule_forward(*columns)
        want = (value, *rule_grads(*columns, value))
        for k, (g, w) in enumerate(zip(got, want)):
            g, w = float(g[0]), float(w[0])
            if not (g == w or math.isclose(g, w, rel_tol=1e-9) or (g != g and w != w)):
                what = "forward" if k == 0 else f"derivative {k - 1}"
                raise CompileError(
                    f"op {op.name!r}: its NumPy form's {what} is {g!r} at the recorded example"
                    f" {tuple(inputs)}, its float rule's {w!r}: fix the form (or leave numpy="
                    "None to run the float rule row by row)"
                )


def _special(np: Any, *arrays: Any) -> Any:
    """Rows where a result (the leading arrays) is NaN, or an input (the last, a tuple) is 0,
    +-inf, NaN or subnormal: the float rule's own answer is taken there."""
    *results, inputs = arrays
    mask = np.zeros(np.broadcast(*results, *inputs).shape, dtype=bool)
    for r in results:
        mask = mask | np.isnan(r)
    for a in inputs:
        mask = mask | ~(np.abs(a) >= TINY) | ~np.isfinite(a)
    return mask


class _Rules:
    """The names of the ops' NumPy forms in the generated code: ``f_op_<n>`` and ``d_op_<n>``,
    never the op's name (that is user text). Every op runs: a user's own by its NumPy form or,
    without one, row by row (``array_forms``)."""

    def __init__(self, np: Any) -> None:
        self.np = np
        self.names: dict[str, Any] = {
            "np": np,
            "_round_each": _round_each,
            "_add_in_order": _add_in_order,
        }
        self.rules: dict[int, str] = {}

    def __call__(self, op: Op, kind: int) -> str:  # kind 0: forward, 1: local derivatives
        key = id(op) * 2 + kind
        if key not in self.rules:
            name = f"{'fd'[kind]}_op_{len(self.rules)}"  # never the op's name: that is user text
            self.names[name] = array_forms(self.np, op)[kind]
            self.rules[key] = name
        return self.rules[key]

    def constant(self, value: Any) -> str:
        name = f"k{len(self.names)}"
        self.names[name] = value
        return name


_NUMPY_FORMS = {"//": "np.floor_divide", "%": "np.remainder", "**": "np.power"}


class _Forward:
    """The forward pass on columns: each value, and each computed leaf from its expression."""

    def __init__(self, tape: Any, rules: _Rules) -> None:
        self.tape = tape
        self.rules = rules
        self.position = {node: k for k, node in enumerate(tape.values)}
        self.input_index = {node: k for k, node in enumerate(tape.inputs)}
        self.leaf_index = {node: k for k, node in enumerate(tape.leaves)}
        self.lines: list[str] = []
        self.emitted: dict[int, str] = {}

    def value(self, node: Any) -> str:
        if node in self.leaf_index:
            # a NumPy number, not a float: a node of weights alone (w / w at w = 0) then gives
            # IEEE's inf or NaN, as on a column, where Python's float would raise
            return f"np.float64(P[{self.leaf_index[node]}].data)"
        return f"v{self.position[node]}"

    def expression(self, j: int) -> str:
        """Entry j of the expressions, on columns (the prepass has checked that no row raises
        where Python would, so NumPy's IEEE results are Python's)."""
        exprs, emitted = self.tape.exprs, self.emitted
        for i in sorted(closure(exprs, [j])):  # the entries j needs, each before its users
            if i in emitted:
                continue
            entry = exprs[i]
            if entry[0] == "v":
                emitted[i] = self.value(entry[1])
            elif entry[0] == "c":
                emitted[i] = self.rules.constant(entry[1])
            else:
                self.lines.append(f"e{i} = {self._entry(entry)}")
                emitted[i] = f"e{i}"
        return emitted[j]

    def _entry(self, entry: tuple[Any, ...]) -> str:
        kind, emitted = entry[0], self.emitted
        if kind == "apply":
            return f"{self.rules(entry[1], 0)}({', '.join(emitted[a] for a in entry[2])})"
        if kind == "neg":
            return f"-{emitted[entry[1]]}"
        if kind == "abs":
            return f"np.abs({emitted[entry[1]]})"
        if kind == "round":
            return f"_round_each({emitted[entry[1]]}, {int(entry[2])})"
        a, b = emitted[entry[1]], emitted[entry[2]]
        return f"{_NUMPY_FORMS[kind]}({a}, {b})" if kind in _NUMPY_FORMS else f"{a} {kind} {b}"

    def all(self) -> list[str]:
        for node in self.tape.values:
            k = self.position[node]
            if node.op is not None:
                args = [self.value(c) for c in node.children]
                if node.op is ADD:
                    text = f"{args[0]} + {args[1]}"
                elif node.op is MUL:
                    text = f"{args[0]} * {args[1]}"
                else:
                    text = f"{self.rules(node.op, 0)}({', '.join(args)})"
            elif node in self.input_index:
                text = f"np.asarray(I[{self.input_index[node]}], dtype=np.float64)"
            elif node in self.tape.computed:
                text = self.expression(self.tape.computed[node])
            else:
                text = self.value(node)
            self.lines.append(f"v{k} = {text}")
        return self.lines


class _Backward(walk.Source):
    """The backward pass on columns: the engine's walk (``microgradx.walk``), with each gradient
    a column ``g<k>`` started at 0, the zero-upstream rule applied row by row (data computed from
    finite inputs can be infinite: log 0). A leaf's contributions are kept, in the walk's order,
    in a list ``g<k>`` and added to its ``grad`` at the end by ``_add_in_order``: one row after
    another, each row's in the walk's order, starting from the ``grad`` before the pass, which is
    ``backward()``'s sum on each row in turn (``grad + c1 + c2``, never ``grad + (c1 + c2)``:
    float addition is not associative). A computed leaf (``x.detach()``) receives nothing."""

    def __init__(self, tape: Any, rules: _Rules, forward: _Forward) -> None:
        self.tape = tape
        self.rules = rules
        self.position = forward.position
        self.sinks = set(tape.computed)
        self.leaf_set = set(tape.leaves)
        root = self.position[tape.root]
        self.lines = [f"g{root} = np.full({_SIZE}, seed, dtype=np.float64)"]
        # a leaf's contributions are listed (added at the end, in order: ``_add_in_order``)
        self.lines += [
            f"g{self.position[n]} = {'[]' if n in self.leaf_set else '0.0'}"
            for n in tape.order[:-1]
        ]

    def upstream(self, node: Any) -> Any:
        return f"g{self.position[node]}"

    def receives(self, child: Any) -> bool:
        return child not in self.sinks

    def number(self, node: Any) -> Any:
        return f"v{self.position[node]}"

    def local_grads(self, node: Any, op: Op) -> Sequence[Any]:
        locals_ = [f"l{j}" for j in range(len(node.children))]
        args = ", ".join(f"v{self.position[c]}" for c in node.children)
        rule = self.rules(op, 1)
        self.lines.append(f"{', '.join(locals_)}, = {rule}({args}, v{self.position[node]})")
        return locals_

    def times(self, upstream: Any, local: Any) -> Any:
        return f"np.where({upstream} != 0.0, {upstream} * {local}, -0.0)"  # (-0.0: nothing)

    def accumulate(self, node: Any, i: int, child: Any, local: Any, contribution: Any) -> None:
        if child in self.leaf_set and node.op in walk.PASS_THROUGH:
            # the upstream itself: a row where it is 0 passes nothing to a leaf, whose gradient
            # may be -0.0 (and -0.0 + 0.0 is +0.0); an inner node's starts at +0.0 (no matter)
            upstream = self.upstream(node)
            contribution = f"np.where({upstream} != 0.0, {contribution}, -0.0)"
        if child in self.leaf_set:  # -0.0 (nothing) adds nothing: x + -0.0 is x for every x
            self.lines.append(f"g{self.position[child]}.append({contribution})")
            return
        self.lines.append(self.adds(f"g{self.position[child]}", contribution, in_place=False))

    def leaves(self) -> list[str]:
        """Each leaf's contributions added to its ``grad`` in ``backward()``'s order."""
        in_order = set(self.tape.order)
        for m, node in enumerate(self.tape.leaves):
            if node in in_order:  # (a leaf only a guard or a computed leaf reads has no gradient)
                self.lines.append(f"_add_in_order(P[{m}], g{self.position[node]})")
        return self.lines


_SIZE = "len(I[0])"  # the batch size, in the generated code


def _returns(tape: Any, position: dict[Any, int]) -> tuple[str, str]:
    """What ``run`` returns after ``(output, ``: the inputs' gradients; and the watched values."""
    in_order, n = set(tape.order), _SIZE
    inputs = _tuple(
        f"np.broadcast_to(g{position[x]}, ({n},))" if x in in_order else f"np.zeros({n})"
        for x in tape.inputs
    )
    watched = _tuple(f"np.broadcast_to(v{position[w]}, ({n},))" for w in tape.watch)
    return inputs, watched


def numpy_program(tape: Any) -> tuple[str, Callable[..., Any], Callable[..., Any]]:
    """``(description, run, forward)`` for a ``replay.Tape``: ``run(I, P, seed)`` and
    ``forward(I, P)`` with ``I`` the batch's inputs (a 2-D array, one row per example), as
    ``per_node_program``'s. The graph runs level by level (``LevelProgram``); a graph with a leaf
    computed from its numbers (``x.detach()``) runs node by node (``per_node_program``), since
    that leaf's expression is not a node of the graph."""
    if tape.computed:
        return per_node_program(tape)
    check_forms(tape)
    program = LevelProgram(tape)
    return program.describe(), program.run, program.forward


def per_node_program(tape: Any) -> tuple[str, Callable[..., Any], Callable[..., Any]]:
    """``(source, run, forward)`` for a ``replay.Tape``, as ``replay.python_source`` makes them,
    but each variable holds a whole batch: ``run(I, P, seed)`` and ``forward(I, P)`` with ``I``
    the input columns. The guards are not here: the caller checks them example by example in
    plain Python (``replay_python.prepass_source``) and passes only the rows that meet them. A
    leaf computed from numbers read from the graph (``x.detach()``, ``Value(x.data * 2)``) is
    computed here from this program's own columns, so ``x - x.detach()`` is exactly 0 as in the
    scalar engine. Names in the generated code never come from user text (an op's name is not
    used); every op runs, a user's own by its NumPy form or row by row (``array_forms``)."""
    np = _numpy()
    check_forms(tape)
    rules = _Rules(np)
    forward = _Forward(tape, rules)
    forward.all()
    backward = _Backward(tape, rules, forward)
    walk.walk(tape.order, backward)
    backward.leaves()
    inputs, watched = _returns(tape, forward.position)
    out = f"np.broadcast_to(v{forward.position[tape.root]}, ({_SIZE},))"
    lines = ["def run(I, P, seed, wanted=True):", "    with np.errstate(all='ignore'):"]
    lines += ["        " + line for line in forward.lines + backward.lines]
    lines.append(f"        return {out}, {inputs}, {watched}")
    lines += ["", "def forward(I, P):", "    with np.errstate(all='ignore'):"]
    lines += ["        " + line for line in forward.lines]
    lines.append(f"        return {out}, {watched}")
    source = "\n".join(lines) + "\n"
    code = compile(source, "<microgradx compiled graph, NumPy>", "exec")
    exec(code, rules.names)
    return source, rules.names.pop("run"), rules.names.pop("forward")


def _add_in_order(leaf: Any, parts: list[Any]) -> None:
    """Add a leaf's contributions ``parts`` (batch columns, in the walk's order) to its
    ``grad`` as ``backward()`` run on each row in turn adds them: row 0's in order, then row
    1's, ..., each added to the running sum (``np.add.accumulate`` adds left to right, one
    term at a time), the first to the ``grad`` before the pass. A contribution of -0.0 (where
    the upstream is 0: nothing) changes no sum, -0.0 included. A ``grad`` that is a Value
    (``create_graph``) stays one: the walk's own accumulation, term by term."""
    if not parts:
        return
    import numpy

    terms = numpy.stack(numpy.broadcast_arrays(*parts), axis=1).ravel()  # row-major: by row
    grad = leaf.grad
    if type(grad) is float:
        leaf.grad = float(numpy.add.accumulate(numpy.concatenate(([grad], terms)))[-1])
        return
    on_nodes = walk.OnNodes()
    for term in terms.tolist():
        on_nodes.accumulate(None, 0, leaf, None, term)


def _round_each(column: Any, ndigits: int) -> Any:
    """Python's ``round(x, ndigits)`` on every number (NumPy's rounds differently)."""
    import numpy

    return numpy.asarray([round(float(x), ndigits) for x in numpy.atleast_1d(column)])


# ---- level-vectorized replay ---------------------------------------------------------------------
#
# The nodes of the recorded graph, grouped by depth (the longest chain of ops from an input) and
# op: every node of one group reads only nodes of smaller depth, so a group is one NumPy operation
# over (group x batch), its operands gathered from the values already computed. Values live in
# one array ``V`` (a row per non-leaf node and input, a column per example); leaves (parameters,
# constants) in ``P`` (one number each, broadcast). Every node still does the same float operation
# as the scalar engine: ``+`` and ``*`` are IEEE's, other ops are their array forms (above).
#
# Backward goes through the groups in reverse. A gradient is a sum, and float addition is not
# associative, so each node's contributions must be added in the order of the scalar walk
# (``microgradx.walk``: outputs first, each node's inputs left to right), starting from +0.0.
# A node whose contributions arrive in that order anyway (or that gets at most two: a + b is
# b + a) adds them in place; one that gets all of them from one chain group (a layer's input,
# read by each neuron) adds them rank by rank as they are made (``_grid``); the others' are kept
# apart (``C``) and added in the walk's order just before the node passes its own gradient on.
#
# Add chains (``_Chain``, ``_find_chains``): the nodes of ``((s + t_1) + t_2) + ... + t_L`` whose
# inner nodes have no other use get no row: the sum runs term by term over (chains x batch), with
# ``np.add`` in the engine's order (``np.sum`` and ``np.add.reduce`` add in another order, and
# ``np.add.accumulate`` along the terms is several times slower), and a term that is a product
# used only there is computed in the same step. A chain's upstream reaches its start and every
# term unchanged (the local derivatives of + are 1), so its backward pass is a few products per
# block of terms; a weight's contributions are summed over the batch by one matrix product
# where none of its factors is infinite.


_DATA = attrgetter("data")
_GRAD = attrgetter("grad")
_FLOAT = frozenset([float])


def _as_index(np: Any, rows: Sequence[int], broadcast: bool = False) -> Any:
    """Rows as a slice when they are evenly spaced (a view, no copy), else an index array;
    ``broadcast``: one row read by every node of a group is that row, broadcast."""
    n = len(rows)
    if n == 1 or (broadcast and rows.count(rows[0]) == n):
        return slice(rows[0], rows[0] + 1)
    step = rows[1] - rows[0]
    if step > 0 and all(rows[k + 1] - rows[k] == step for k in range(n - 1)):
        return slice(rows[0], rows[-1] + 1, step)
    return np.asarray(rows, dtype=np.intp)


class _Group:
    """Nodes of one depth and one op whose operands come from the same places: ``V`` rows
    ``start:stop``; ``operands[i]``: ``(True, rows of V)`` or ``(False, indices into P)``."""

    __slots__ = ("forward", "grads", "op", "operands", "sends", "start", "stop")

    def __init__(self, op: Op, start: int, stop: int, operands: list[tuple[bool, Any]]) -> None:
        self.op = op
        self.start, self.stop = start, stop
        self.operands = operands
        self.forward: Callable[..., Any] | None = None
        self.grads: Callable[..., Any] | None = None
        # per operand: where its contributions go (see _Sends)
        self.sends: list[_Sends] = []


class _Sends:
    """Where one operand's contributions go: ``first`` (rows of the group, rows of ``G``) the
    first contribution a node gets, written as ``0.0 + c`` (the walk starts a gradient at +0.0,
    so ``G`` needs no zeroing); ``direct`` the next ones, added in place; ``kept`` (rows of
    the group, rows of the buffer ``C``); ``leaves`` (rows of the group, rows of the 1-D leaf
    buffer ``CL``), summed over the batch first. ``check``: for ``*``, the rows of the other
    input (the local derivative), tested for infinities (the zero-upstream rule)."""

    __slots__ = ("beyond_inputs", "check", "direct", "first", "grid", "kept", "leaves")

    def __init__(self) -> None:
        self.first: tuple[Any, Any] | None = None
        self.check: tuple[bool, Any] | None = None
        self.direct: tuple[Any, Any] | None = None
        self.kept: tuple[Any, Any] | None = None
        self.leaves: tuple[Any, Any] | None = None
        self.grid: list[tuple[Any, Any, Any]] | None = None  # a chain's slot only (_grid)
        self.beyond_inputs = True  # whether the grid reaches a node that is not an input

    def empty(self) -> bool:
        """Nothing to send but by ``grid``."""
        return self.first is self.direct is self.kept is self.leaves is None


class _Chain:
    """A group of add chains run as one: each member is the last node of a chain
    ``((s + t_1) + t_2) + ... + t_L`` (a neuron's ``b + w_1 x_1 + ... + w_L x_L``) whose inner
    nodes have no other use, all of the group's chains the same length and kind. The inner
    nodes get no row: the sum runs one term at a time over (members x batch), left to right as
    the scalar engine adds (``np.add`` per term, never ``np.sum``, whose pairwise order is
    another sum). ``start``: the operand ``s``. A *fused* chain's terms are products ``a_j * b_j``
    with no other use, also without rows: ``factors`` (a, b), each ``(varying, index)`` of shape
    (L, members) or (L,) when every member reads the same row; else ``terms`` likewise.
    Step-major: term j of member m is entry ``j * members + m`` of a slot (``slots``)."""

    __slots__ = (
        "dot",
        "factors",
        "first",
        "length",
        "op",
        "parts",
        "sends",
        "start",
        "stop",
        "terms",
    )

    def __init__(self, start: int, stop: int, length: int, first: tuple[bool, Any]) -> None:
        self.op: Op = ADD
        self.start, self.stop = start, stop
        self.length = length
        self.first = first
        self.factors: list[tuple[bool, Any]] = []
        self.terms: tuple[bool, Any] | None = None
        self.sends: list[_Sends] = []
        self.parts: dict[int, list[list[_Sends]]] = {}  # sends split by blocks (``_parts``)
        # the factors (0: a, 1: b) whose contributions all go to leaves, and whose other
        # factor is one row per step (a layer's weights times its inputs): summed over the batch
        # by a matrix product
        self.dot: list[int] = []


_BLOCK = 1 << 16  # numbers in one block of a chain's terms: (terms x members x batch) in cache


def _find_chains(
    tape: Any, leaf_index: dict[Any, int]
) -> tuple[dict[Any, tuple[list[Any], bool]], set[Any]]:
    """The add chains worth running as one (``_Chain``): for each chain's last node, its nodes
    ``a_1 .. a_L`` (L >= 2) and whether its terms are fused products. An inner node ``a_j``
    (j < L) is ``a_{j+1}``'s left input and used nowhere else (not watched, not the output); a
    fused term is a product used only by its ``a_j``. A chain whose terms differ in kind (some
    fusable, some not; leaves and computed values mixed) is not one: its nodes run level by
    level as any other. Also returns the nodes that get no row (inner nodes, fused products)."""
    uses: dict[Any, int] = {}
    user: dict[Any, Any] = {}
    for node in tape.order:
        for child in node.children:
            uses[child] = uses.get(child, 0) + 1
            user[child] = node
    kept = set(tape.watch)
    kept.add(tape.root)

    def alone(node: Any) -> bool:  # used once, and only inside the graph
        return uses.get(node, 0) == 1 and node not in kept

    def inner(node: Any) -> bool:
        if node.op is not ADD or not alone(node):
            return False
        parent = user[node]
        return parent.op is ADD and parent.children[0] is node

    def varying(node: Any) -> bool:
        return node not in leaf_index

    chains: dict[Any, tuple[list[Any], bool]] = {}
    for head in tape.order:
        if head.op is not ADD or inner(head) or not inner(head.children[0]):
            continue
        links = [head]
        while inner(links[-1].children[0]):
            links.append(links[-1].children[0])
        links.reverse()
        terms = [a.children[1] for a in links]
        if all(t.op is MUL and alone(t) for t in terms):
            kinds = {tuple(varying(c) for c in t.children) for t in terms}
            if len(kinds) == 1:
                chains[head] = (links, True)
                continue
        if len({varying(t) for t in terms}) == 1:
            chains[head] = (links, False)
    inside: set[Any] = set()
    for links, fused in chains.values():
        inside.update(links[:-1])
        if fused:
            inside.update(a.children[1] for a in links)
    return chains, inside


def _levels(
    tape: Any,
    chains: dict[Any, tuple[list[Any], bool]],
    inside: set[Any],
    leaf_index: dict[Any, int],
) -> tuple[dict[Any, int], list[tuple[tuple[Any, ...], list[Any]]]]:
    """Each node's depth (the earliest level it can run at: after its inputs; a chain's nodes
    at its last node's, which runs all of it) and the nodes in groups by (depth, op, which
    inputs vary), a chain by its shape (``_chain_key``): the groups in order of depth."""
    depth: dict[Any, int] = {node: 0 for node in tape.inputs}
    for node in tape.order:
        if node.op is not None:
            d = max((depth[c] for c in node.children if c not in leaf_index), default=0)
            depth[node] = d if node in inside else d + 1
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for node in tape.order:
        op = node.op
        if op is None or node in inside:
            continue
        if node in chains:
            key: tuple[Any, ...] = (depth[node], *_chain_key(*chains[node], leaf_index))
        else:
            key = (depth[node], id(op), tuple(c not in leaf_index for c in node.children))
        groups.setdefault(key, []).append(node)
    return depth, sorted(groups.items(), key=lambda item: item[0][0])


def _chain_key(links: list[Any], fused: bool, leaf_index: dict[Any, int]) -> tuple[Any, ...]:
    first = links[0].children[0] not in leaf_index
    term = links[0].children[1]
    kinds = (
        tuple(c not in leaf_index for c in term.children) if fused else (term not in leaf_index,)
    )
    return ("chain", len(links), fused, first, kinds)


def _chain_operand(np: Any, nodes: list[list[Any]], row: dict[Any, int], leaf_index: Any) -> Any:
    """One operand of a chain group's steps, ``nodes[j][m]`` (step j, member m): ``(True, rows
    of V)`` or ``(False, indices into P)``, of shape (L, members), or (L,) when every member
    reads the same node at each step (an input all of a layer's neurons read)."""
    varying = nodes[0][0] not in leaf_index
    table = row if varying else leaf_index
    same = all(len(set(map(id, step))) == 1 for step in nodes)
    if same:
        index = [table[step[0]] for step in nodes]
        first, n = index[0], len(index)
        if varying and index == list(range(first, first + n)):
            return (True, slice(first, first + n))  # a view of V, no copy
        return (varying, np.asarray(index, dtype=np.intp))
    return (varying, np.asarray([[table[x] for x in step] for step in nodes], dtype=np.intp))


class LevelProgram:
    """A tape as groups of (depth, op) run over a batch (see the comment above), add chains as
    groups of their own (``_Chain``). ``run(I, P, seed)`` and ``forward(I, P)`` as
    ``numpy_program``'s, with ``I`` a 2-D float array (one row per example) or the input
    columns."""

    def __init__(self, tape: Any) -> None:
        np = _numpy()
        self.np = np
        self.made_forms: dict[int, tuple[Callable[..., Any], ...]] = {}  # (``_forms``)
        order = tape.order
        leaf_index = {node: m for m, node in enumerate(tape.leaves)}
        self.n_leaves = len(tape.leaves)
        self.n_inputs = len(tape.inputs)
        chains, inside = _find_chains(tape, leaf_index)
        row: dict[Any, int] = {node: k for k, node in enumerate(tape.inputs)}
        depth, levels = _levels(tape, chains, inside, leaf_index)
        # rows: inputs first, then group after group by depth (a group's rows are contiguous)
        plans: list[tuple[Any, list[Any], list[tuple[list[Any], int]]]] = []
        count = self.n_inputs
        for key, members in levels:
            for node in members:
                row[node] = count
                count += 1
            if key[1] == "chain":
                plans.append(self._chain_plan(members, chains, row, leaf_index, count))
                continue
            operands = []
            for i, varying in enumerate(key[2]):
                if varying:
                    rows = [row[n.children[i]] for n in members]
                    operands.append((True, _as_index(np, rows, broadcast=True)))
                else:
                    where = [leaf_index[n.children[i]] for n in members]
                    operands.append((False, np.asarray(where, dtype=np.intp)))
            op = members[0].op
            group = _Group(op, count - len(members), count, operands)
            if op is not ADD and op is not MUL:
                group.forward, group.grads = self._forms(op)
            slots = [(members, i) for i in range(len(operands))]
            plans.append((group, members, slots))
        self.rows = count
        self.groups = [group for group, _, _ in plans]
        self.root = row[tape.root]
        self.watch = [(True, row[w]) if w in row else (False, leaf_index[w]) for w in tape.watch]
        in_order = set(order)
        self.input_rows = [row[x] if x in in_order else None for x in tape.inputs]
        self.graded_list = [m for m, leaf in enumerate(tape.leaves) if leaf in in_order]
        self.graded = np.asarray(self.graded_list, dtype=np.intp)
        del levels, in_order  # (freed before the plan's own tables: compile()'s peak)
        self._backward_plan(tape, plans, row, leaf_index, depth)
        self._spare: list[tuple[Any, ...]] = []  # the arrays of the last call, for the next

    def _forms(self, op: Op) -> tuple[Callable[..., Any], ...]:
        """``array_forms`` of ``op``, made once per op: its groups share them (a pair of
        functions per group was 44 bytes a node of a random graph's program)."""
        made = self.made_forms.get(id(op))
        if made is None:
            made = self.made_forms[id(op)] = array_forms(self.np, op)
        return made

    def _chain_plan(
        self,
        members: list[Any],
        chains: dict[Any, tuple[list[Any], bool]],
        row: dict[Any, int],
        leaf_index: dict[Any, int],
        count: int,
    ) -> tuple[_Chain, list[Any], list[tuple[list[Any], int]]]:
        """A group of chains (``_Chain``) and its slots: the edges its contributions go along,
        the start's first, then each operand's of the terms, step-major."""
        np = self.np
        all_links = [chains[head][0] for head in members]
        fused = chains[members[0]][1]
        length = len(all_links[0])
        starts = [links[0].children[0] for links in all_links]
        if starts[0] in leaf_index:
            first: tuple[bool, Any] = (False, np.asarray([leaf_index[s] for s in starts], np.intp))
        else:
            first = (True, _as_index(np, [row[s] for s in starts], broadcast=True))
        group = _Chain(count - len(members), count, length, first)
        steps = range(length)
        slots: list[tuple[list[Any], int]] = [([links[0] for links in all_links], 0)]
        if fused:
            for side in (0, 1):
                nodes = [
                    [links[j].children[1].children[side] for links in all_links] for j in steps
                ]
                group.factors.append(_chain_operand(np, nodes, row, leaf_index))
                slots.append(([links[j].children[1] for j in steps for links in all_links], side))
        else:
            nodes = [[links[j].children[1] for links in all_links] for j in steps]
            group.terms = _chain_operand(np, nodes, row, leaf_index)
            slots.append(([links[j] for j in steps for links in all_links], 1))
        return group, members, slots

    def _backward_plan(
        self,
        tape: Any,
        plans: list[tuple[Any, list[Any], list[tuple[list[Any], int]]]],
        row: dict[Any, int],
        leaf_index: dict[Any, int],
        depth: dict[Any, int],
    ) -> None:
        np = self.np
        # Long: one plan (the walk's order, the nodes kept apart, their buffer rows, each
        # group's sends), its parts sharing the tables they build. A slot is one operand's
        # edges (node, input) over a group: its contributions are one array operation.
        arity = max((len(node.children) for node in tape.order), default=0)  # (the most inputs)
        order = _Order(arity)  # the walk's own order of every node's contributions
        walk.walk(tape.order, order)
        walk_rank = order.rank
        del order  # (and its counts)
        # the order in which the groups (in reverse) would deliver them, event by event
        # (each child's as one flat list: event, rank, event, rank, ...: no tuple an edge)
        arrived: dict[Any, list[int]] = {}
        event = 0
        chain_events = set()  # the events of a chain group's terms
        for group, _, slots in reversed(plans):
            for i, (nodes, k) in enumerate(slots):
                for node in nodes:
                    arrived.setdefault(node.children[k], []).extend(
                        (event, walk_rank[id(node) * arity + k])
                    )
                if i > 0 and type(group) is _Chain:
                    chain_events.add(event)
                event += 1
        kept = set()
        in_one: set[Any] = set()  # kept, all of it from one chain slot: added there (_Grid)
        for child, got in arrived.items():
            if child in leaf_index:
                continue
            events = got[0::2]
            in_walk_order = got[1::2] == list(range(len(events)))
            if len(set(events)) < len(events) or (len(events) > 2 and not in_walk_order):
                if len(set(events)) == 1 and events[0] in chain_events:
                    in_one.add(child)
                else:
                    kept.add(child)
        # the kept contributions' rows in the buffer C: by depth, then rank, then node, so that
        # adding one rank of them is (mostly) one slice of C onto one slice of G
        slot_row: dict[tuple[Any, int], int] = {}
        c_rows = 0
        by_level: dict[int, list[Any]] = {}
        for child in kept:
            by_level.setdefault(depth[child], []).append(child)
        self.ordered: dict[int, list[tuple[Any, Any]]] = {}
        for d, children in by_level.items():
            children.sort(key=row.__getitem__)
            width = len(children)
            steps = []
            for rank in range(max(len(arrived[c]) // 2 for c in children)):
                has = [k for k, c in enumerate(children) if len(arrived[c]) > 2 * rank]
                for k in has:
                    slot_row[(children[k], rank)] = c_rows + k
                targets = _as_index(np, [row[children[k]] for k in has])
                steps.append((targets, _as_index(np, [c_rows + k for k in has])))
                c_rows += width
            self.ordered[d] = steps
        del arrived, by_level  # (freed before the sends are made: compile()'s peak)
        cl_rows = 0
        leaf_at: dict[int, list[tuple[int, int]]] = {}  # leaf -> [(walk rank, CL row)]
        started: set[Any] = set()
        for group, _, slots in reversed(plans):
            sends = []
            for i, (nodes, k) in enumerate(slots):
                direct_m, direct_r, kept_m, kept_r, leaf_m, leaf_r = [], [], [], [], [], []
                first_m, first_r = [], []
                grid: list[tuple[int, int, Any]] = []  # (rank, entry, child)
                for m, node in enumerate(nodes):
                    child = node.children[k]
                    rank = walk_rank[id(node) * arity + k]
                    if child in in_one:
                        grid.append((rank, m, child))
                    elif child in leaf_index:
                        leaf_m.append(m)
                        leaf_r.append(cl_rows)
                        leaf_at.setdefault(leaf_index[child], []).append((rank, cl_rows))
                        cl_rows += 1
                    elif child in kept:
                        kept_m.append(m)
                        kept_r.append(slot_row[(child, rank)])
                    elif child in started:
                        direct_m.append(m)
                        direct_r.append(row[child])
                    else:
                        started.add(child)
                        first_m.append(m)
                        first_r.append(row[child])
                s = _Sends()
                n = len(nodes)
                for attr, ms, rs in (
                    ("first", first_m, first_r),
                    ("direct", direct_m, direct_r),
                    ("kept", kept_m, kept_r),
                    ("leaves", leaf_m, leaf_r),
                ):
                    if ms:
                        whole = len(ms) == n
                        setattr(s, attr, (None if whole else _as_index(np, ms), _as_index(np, rs)))
                if group.op is MUL:  # the local derivative is the other input: check its rows
                    varying, where = group.operands[1 - i]
                    s.check = (varying, _as_index(np, sorted(set(_rows_of(where)))))
                if grid:
                    assert type(group) is _Chain
                    s.grid = _grid(np, group, i, grid, row, leaf_index)
                    s.beyond_inputs = any(row[child] >= self.n_inputs for _, _, child in grid)
                sends.append(s)
            group.sends = sends
            if type(group) is _Chain and group.factors:
                for side in (0, 1):
                    to = sends[1 + side]
                    other = group.factors[1 - side]
                    per_step = isinstance(other[1], slice) or other[1].ndim == 1
                    only_leaves = to.leaves is not None and to.leaves[0] is None
                    if only_leaves and to.grid is None and other[0] and per_step:
                        group.dot.append(side)
        self.c_rows, self.cl_rows = c_rows, cl_rows
        self.leaf_sums = _ranked(np, [(m, sorted(at)) for m, at in leaf_at.items()])
        self.depth_of = [max(depth[n] for n in members) for _, members, _ in plans]

    # -- running --

    def describe(self) -> str:
        """The program, one line per group: depth, op, how many nodes (chains: how long)."""
        lines = [f"# {len(self.groups)} groups over {self.rows} rows (a row per node)"]
        for group, d in zip(self.groups, self.depth_of):
            op: Op = group.op
            name = op.name if OPS.get(op.name) is op else "an op of yours"
            if isinstance(group, _Chain):
                kind = "products" if group.factors else "terms"
                name = f"chain of {group.length} {kind} added in order"
            lines.append(f"# depth {d}: {name} x {group.stop - group.start}")
        return "\n".join(lines) + "\n"

    def _take(self, inputs: Any) -> tuple[Any, tuple[Any, ...]]:
        """The inputs as a 2-D array, and the arrays a call works in: kept from the last call
        of the same batch size (a fresh 100 MB costs page faults), or new when another call
        (another thread) holds them."""
        np = self.np
        table = inputs if isinstance(inputs, np.ndarray) else np.asarray(inputs, float).T
        batch = table.shape[0]
        try:
            buffers = self._spare.pop()
        except IndexError:
            buffers = (0,)
        if buffers[0] != batch:
            rows = self.rows
            buffers = (batch, np.empty((rows, batch)), np.empty((rows, batch)),
                       np.empty((self.c_rows, batch)))  # fmt: skip
        return table, buffers

    def _values(self, table: Any, P: Any, buffers: tuple[Any, ...]) -> tuple[Any, Any]:
        np = self.np
        V = buffers[1]
        V[: self.n_inputs] = table.T
        p = np.fromiter(map(_DATA, P), dtype=np.float64, count=self.n_leaves)
        pc = p[:, None]
        for group in self.groups:
            if type(group) is _Chain:
                self._chain_forward(group, V, p, pc)
                continue
            args = [V[where] if varying else pc[where] for varying, where in group.operands]
            out = V[group.start : group.stop]
            if group.op is ADD:
                np.add(args[0], args[1], out=out)
            elif group.op is MUL:
                np.multiply(args[0], args[1], out=out)
            else:
                assert group.forward is not None
                flat = _flat(np, args, out.shape)
                out[...] = np.broadcast_to(group.forward(*flat), flat[0].shape).reshape(out.shape)
        return V, pc

    def _chain_forward(self, group: _Chain, V: Any, p: Any, pc: Any) -> None:
        """Each chain's sum, one term at a time in order (``s + t_1``, then ``+ t_2``, ...), the
        terms (products) of a block of steps computed by one operation."""
        np = self.np
        out = V[group.start : group.stop]
        varying, where = group.first
        out[...] = V[where] if varying else pc[where]
        n, batch = out.shape
        size = _block_size(group, batch)
        # the weights of every step gathered once (small); the products into one buffer
        whole = [_chain_values(np, f, 0, group.length, V, p) if not f[0] else None
                 for f in group.factors]  # fmt: skip
        buffer = np.empty((size, n, batch)) if group.factors else None
        for j0, j1 in _blocks(group, size):
            if buffer is not None:
                a, b = (
                    _chain_values(np, f, j0, j1, V, p) if w is None else w[j0:j1]
                    for f, w in zip(group.factors, whole)
                )
                terms = np.multiply(a, b, out=buffer[: j1 - j0])
            else:
                assert group.terms is not None
                terms = _chain_values(np, group.terms, j0, j1, V, p)
            for term in terms:  # left to right: the scalar engine's order (not np.sum's)
                np.add(out, term, out=out)

    def _results(self, V: Any, pc: Any) -> tuple[Any, Any]:
        np = self.np
        batch = V.shape[1]
        watched = tuple(
            V[k].copy() if varying else np.full(batch, pc[k, 0]) for varying, k in self.watch
        )
        return V[self.root].copy(), watched

    def forward(self, inputs: Any, P: Any) -> tuple[Any, Any]:
        table, buffers = self._take(inputs)
        with self.np.errstate(all="ignore"):
            V, pc = self._values(table, P, buffers)
            result = self._results(V, pc)
        self._spare = [buffers]
        return result

    def run(self, inputs: Any, P: Any, seed: float, wanted: bool = True) -> tuple[Any, Any, Any]:
        """Forward and backward over a batch: the output, the inputs' gradients (``()`` when
        not ``wanted``: then what only they need is skipped) and the watched values; each
        leaf's gradient is added to."""
        np = self.np
        table, buffers = self._take(inputs)
        with np.errstate(all="ignore"):
            V, pc = self._values(table, P, buffers)
            batch = V.shape[1]
            G, C = buffers[2:]
            CL = np.empty(self.cl_rows)
            G[self.root] = seed
            done_depth = None
            for group, d in zip(reversed(self.groups), reversed(self.depth_of)):
                if d != done_depth:
                    _add_ordered(G, C, self.ordered.get(d, ()))
                    done_depth = d
                if type(group) is _Chain:
                    self._chain_backward(group, V, G, C, CL, pc, wanted)
                else:
                    self._backward(group, V, G, C, CL, pc)
            _add_ordered(G, C, self.ordered.get(0, ()))
            self._leaf_grads(P, CL)
            out, watched = self._results(V, pc)
            grads = (
                tuple(G[k].copy() if k is not None else np.zeros(batch) for k in self.input_rows)
                if wanted
                else ()
            )
        self._spare = [buffers]
        return out, grads, watched

    def _leaf_grads(self, P: Any, CL: Any) -> None:
        """Each leaf's contributions added to its ``grad`` in the walk's order (each summed over
        the batch first): for one example, exactly ``backward()``'s sum."""
        np = self.np
        leaves = [P[m] for m in self.graded_list] if len(P) != len(self.graded_list) else P
        grads = list(map(_GRAD, leaves))
        floats = _FLOAT.issuperset(map(type, grads))  # (a Value grad: create_graph's)
        if not floats:  # a Value grad (create_graph's) stays one: the walk's own accumulation,
            on_nodes = walk.OnNodes()  # each contribution added in turn to the grad itself
            for targets, where in self.leaf_sums:
                for m, total in zip(_index_array(np, targets).tolist(), CL[where].tolist()):
                    on_nodes.accumulate(None, 0, P[m], None, total)
            return
        totals = np.zeros(self.n_leaves)
        totals[self.graded] = grads
        for targets, where in self.leaf_sums:
            totals[targets] += CL[where]
        for leaf, total in zip(leaves, totals[self.graded].tolist()):
            leaf.grad = total

    def _backward(self, group: _Group, V: Any, G: Any, C: Any, CL: Any, pc: Any) -> None:
        np = self.np
        upstream = G[group.start : group.stop]
        op = group.op
        if op is ADD:
            locals_: Sequence[Any] = ()
        else:
            args = [V[where] if varying else pc[where] for varying, where in group.operands]
            if op is MUL:
                locals_ = (args[1], args[0])
            else:
                assert group.grads is not None
                shape = upstream.shape
                flat = _flat(np, [*args, V[group.start : group.stop]], shape)
                size = flat[0].shape
                locals_ = [np.broadcast_to(g, size).reshape(shape) for g in group.grads(*flat)]
        for i, sends in enumerate(group.sends):
            if op is ADD:
                contribution = upstream  # the local derivative is 1: the upstream itself
            else:
                local = locals_[i]
                contribution = upstream * local
                if sends.check is not None:  # *: the local is the other input, check its rows
                    varying, where = sends.check
                    finite = np.isfinite(V[where] if varying else pc[where]).all()
                else:
                    finite = np.isfinite(local).all()
                if not finite:  # the zero-upstream rule: 0 * inf counts 0
                    contribution = np.where(upstream != 0.0, contribution, -0.0)
            _send(sends, contribution, G, C, CL, upstream)

    def _chain_backward(
        self, group: _Chain, V: Any, G: Any, C: Any, CL: Any, pc: Any, wanted: bool
    ) -> None:
        """A chain's ``+`` pass the upstream on unchanged (local derivative 1), so the start and
        every term receive the last node's gradient ``g``; a fused product ``a * b`` passes
        ``g * b`` to ``a`` and ``g * a`` to ``b`` (0 where ``g`` is 0 and the other is not
        finite: the zero-upstream rule). An inner node's gradient is ``0.0 + g``, the same
        contribution as ``g`` (a gradient is never -0.0 but the output's)."""
        np = self.np
        upstream = G[group.start : group.stop]
        n, batch = upstream.shape
        _send(group.sends[0], upstream, G, C, CL, upstream)
        p = pc[:, 0]
        done = [False, False]
        for side in group.dot:  # each leaf's contributions summed over the batch by one product
            other = _chain_values(np, group.factors[1 - side], 0, group.length, V, p)[:, 0, :]
            if np.isfinite(other).all():  # (else the zero-upstream rule: the general way)
                leaves = group.sends[1 + side].leaves
                assert leaves is not None
                sums = other @ upstream.T  # (steps, members): entry j * members + m
                _signed_zeros(
                    sums.reshape(-1),  # (a view)
                    partial(_minus_zero_products, other, upstream),
                )
                CL[leaves[1]] = sums.ravel()
                done[side] = True
        steps = _block_size(group, batch)
        split = _parts(np, group, steps)
        for block, (j0, j1) in enumerate(_blocks(group, steps)):
            size = (j1 - j0, n, batch)
            parts = split[block]
            if group.factors:
                a, b = (_chain_values(np, f, j0, j1, V, p) for f in group.factors)
                for side, local in enumerate((b, a)):
                    if done[side] or parts[side].empty():
                        continue
                    contribution = upstream * local
                    if not np.isfinite(local).all():
                        contribution = np.where(upstream == 0.0, -0.0, contribution)
                    flat = np.broadcast_to(contribution, size).reshape(-1, batch)
                    _send(parts[side], flat, G, C, CL, upstream)
            elif not parts[0].empty():
                flat = np.broadcast_to(upstream, size).reshape(-1, batch)
                _send(parts[0], flat, G, C, CL, upstream)
        for sends in group.sends[1:]:
            if sends.grid is not None and (wanted or sends.beyond_inputs):
                self._grid_sends(sends.grid, upstream, V, G, pc)

    def _grid_sends(self, grid: Any, upstream: Any, V: Any, G: Any, pc: Any) -> None:
        """The contributions of one chain slot to nodes that get all theirs from it (a layer's
        inputs, each read by every neuron), added rank by rank in the walk's order as they are
        made: the first starts the gradient (``c + 0.0``), each next one adds."""
        np = self.np
        buffer = None
        leaves_finite = None
        for rank, (targets, members, local) in enumerate(grid):
            contribution = upstream[members]
            if local is not None:
                varying, where = local
                factor = V[where] if varying else pc[where]
                if not varying and leaves_finite is None:
                    leaves_finite = bool(np.isfinite(pc).all())  # (checked once, not per rank)
                finite = (not varying and leaves_finite) or np.isfinite(factor).all()
                shape = np.broadcast_shapes(contribution.shape, factor.shape)
                if buffer is None or buffer.shape != shape:
                    buffer = np.empty(shape)
                upstream_part = contribution
                contribution = np.multiply(upstream_part, factor, out=buffer)
                if not finite:  # the zero-upstream rule: 0 * inf counts 0
                    contribution = np.where(upstream_part != 0.0, contribution, -0.0)
            if isinstance(targets, slice):  # in place: no temporary of the rows
                view = G[targets]
                if rank == 0:
                    np.add(contribution, 0.0, out=view)
                else:
                    np.add(view, contribution, out=view)
            elif rank == 0:
                G[targets] = contribution + 0.0
            else:
                G[targets] += contribution


def _send(sends: _Sends, contribution: Any, G: Any, C: Any, CL: Any, upstream: Any) -> None:
    """One slot's contributions (a row each) to where ``sends`` says they go. ``upstream``: the
    group's upstream (a row per member), row ``r % members`` that of contribution row ``r``."""
    if sends.first is not None:
        members, rows = sends.first
        G[rows] = (contribution if members is None else contribution[members]) + 0.0
    if sends.direct is not None:
        members, rows = sends.direct
        G[rows] += contribution if members is None else contribution[members]
    if sends.kept is not None:
        members, rows = sends.kept
        C[rows] = contribution if members is None else contribution[members]
    if sends.leaves is not None:
        members, rows = sends.leaves
        part = contribution if members is None else contribution[members]
        sums = part.sum(axis=1)  # over the batch: one row is the number itself
        _signed_zeros(sums, partial(_minus_zero_rows, part, upstream, members))
        CL[rows] = sums


def _signed_zeros(sums: Any, all_minus_zero: Callable[[Any], Any]) -> None:
    """Give the exact sign to the sums over the batch (``sums``, one per leaf's contribution, a
    1-D view written in place) that are 0. ``backward()`` adds nothing to a leaf where the
    upstream is 0 (the zero-upstream rule), so a leaf's gradient of -0.0 stays -0.0, and a
    contribution of -0.0 keeps it; but here such a row holds the upstream itself (``+``) or
    ``0 * x`` (+0.0 for x > 0), and ``numpy.sum`` and a matrix product start from +0.0, so a
    total of zeros came out +0.0 and turned the leaf's -0.0 into +0.0. The walk's sum of zeros
    is -0.0 exactly when every term it adds is -0.0 (any +0.0, or nonzero terms that cancel,
    give +0.0), the rows whose upstream is 0 left out: ``all_minus_zero(at)`` says which of
    the entries ``at`` are so. A total that is not 0 is the same either way (adding a zero
    does not change a sum that is not 0), so only zeros are looked at: a weight whose input is
    0 in every example (a digit's corner pixel) has one each step."""
    zero = sums == 0.0
    if not zero.any():
        return
    import numpy

    at = numpy.flatnonzero(zero)
    sums[at] = numpy.where(all_minus_zero(at), -0.0, 0.0)


def _minus_zero_rows(part: Any, upstream: Any, members: Any, at: Any) -> Any:
    """For the rows ``at`` of a slot's contributions ``part``: whether each is -0.0 in every
    example whose upstream is not 0."""
    import numpy

    terms = part[at]
    counted = _upstream_of(upstream, members, at) != 0.0
    minus_zero = (terms == 0.0) & numpy.signbit(terms)
    return ~(counted & ~minus_zero).any(axis=1)


def _minus_zero_products(other: Any, upstream: Any, at: Any) -> Any:
    """For the entries ``at`` (``j * members + m``) of the matrix product ``other @
    upstream.T`` (finite numbers): whether ``other[j] * upstream[m]`` is -0.0 in every example
    whose upstream is not 0. Such a product is -0.0 only where ``other`` is -0.0 and the
    upstream positive, or +0.0 and the upstream negative: the examples where it is not are
    counted by two matrix products over the few rows ``j`` concerned, not by forming them."""
    import numpy

    n = len(upstream)
    steps, where = numpy.unique(at // n, return_inverse=True)
    rows = other[steps]
    zero = rows == 0.0
    not_minus = (~(zero & numpy.signbit(rows))).astype(numpy.float64)
    not_plus = (~(zero & ~numpy.signbit(rows))).astype(numpy.float64)
    positive = (upstream > 0.0).astype(numpy.float64)
    negative = (upstream < 0.0).astype(numpy.float64)
    others = not_minus @ positive.T + not_plus @ negative.T  # (steps, members): exact counts
    return others[where.ravel(), at % n] == 0.0


def _upstream_of(upstream: Any, members: Any, at: Any) -> Any:
    """The upstreams of a slot's contributions ``at`` (rows of ``contribution[members]``):
    contribution row ``r`` is member ``r % len(upstream)``'s (a chain's steps are step-major)."""
    import numpy

    rows = at if members is None else _index_array(numpy, members)[at]
    return upstream[rows % len(upstream)]


def _grid(
    np: Any,
    group: _Chain,
    slot: int,
    entries: list[tuple[int, int, Any]],
    row: dict[Any, int],
    leaf_index: dict[Any, int],
) -> list[tuple[Any, Any, Any]]:
    """Per rank, ``(targets, members, local)``: the rows of ``G`` that receive their rank-th
    contribution from this chain slot, the chain members (rows of the group's upstream) and
    the local derivatives (the other factor of each product; None for a chain's terms, whose
    local is 1) of those contributions. ``entries``: (walk rank, entry, child), entry
    ``j * members + m`` being step j of member m."""
    n = group.stop - group.start
    by_rank: dict[int, list[tuple[int, int]]] = {}
    for rank, entry, child in entries:
        by_rank.setdefault(rank, []).append((row[child], entry))
    result = []
    for rank in range(len(by_rank)):
        pairs = sorted(by_rank[rank])
        targets = _as_index(np, [r for r, _ in pairs])
        steps = [e // n for _, e in pairs]
        members = [e % n for _, e in pairs]
        local = None
        if group.factors:
            varying, where = group.factors[1 - (slot - 1)]
            if isinstance(where, slice):
                index = [where.start + j for j in steps]
            elif where.ndim == 1:
                index = [int(where[j]) for j in steps]
            else:
                index = [int(where[j, m]) for j, m in zip(steps, members)]
            local = (varying, _as_index(np, index, broadcast=True))
        result.append((targets, _as_index(np, members, broadcast=True), local))
    return result


def _block_size(group: _Chain, batch: int) -> int:
    """How many steps of a chain group run at once: as many as fit ``_BLOCK`` numbers (steps x
    members x batch), at least one. A small batch runs all its steps at once, a large one a
    step at a time, its arrays in cache either way."""
    n = group.stop - group.start
    return max(1, min(group.length, _BLOCK // max(1, n * batch)))


def _blocks(group: _Chain, size: int) -> list[tuple[int, int]]:
    """A chain group's steps in blocks of ``size`` (the last may be shorter)."""
    return [(j, min(j + size, group.length)) for j in range(0, group.length, size)]


def _chain_values(np: Any, operand: tuple[bool, Any], j0: int, j1: int, V: Any, p: Any) -> Any:
    """Steps ``j0:j1`` of a chain group's operand, shaped (steps, members or 1, batch or 1)."""
    varying, where = operand
    if isinstance(where, slice):  # one row per step, read by every member: a view
        return V[where.start + j0 : where.start + j1, None, :]
    part = where[j0:j1]
    if varying:
        return V[part] if part.ndim == 2 else V[part][:, None, :]
    return p[part][..., None] if part.ndim == 2 else p[part][:, None, None]


def _parts(np: Any, group: _Chain, size: int) -> list[list[_Sends]]:
    """The sends of a chain group's term slots split by blocks of ``size`` steps (entries
    ``j * members + m``): each block's own, kept for the next call of that block size. Splitting
    one slot's contributions is safe: within a slot, a node that is not kept apart receives at
    most one of them."""
    known = group.parts
    if size in known:
        return known[size]
    n = group.stop - group.start
    blocks = _blocks(group, size)
    total = n * group.length
    result = []
    for j0, j1 in blocks:
        lo, hi = j0 * n, j1 * n
        per_slot = []
        for sends in group.sends[1:]:
            part = _Sends()
            for attr in ("first", "direct", "kept", "leaves"):
                entry = getattr(sends, attr)
                if entry is None:
                    continue
                members, rows = entry
                ms = np.arange(total) if members is None else _index_array(np, members)
                rs = _index_array(np, rows)
                chosen = (ms >= lo) & (ms < hi)
                if not chosen.any():
                    continue
                local = (ms[chosen] - lo).tolist()
                whole = len(local) == hi - lo
                setattr(part, attr, (None if whole else _as_index(np, local),
                                     _as_index(np, rs[chosen].tolist())))  # fmt: skip
            per_slot.append(part)
        result.append(per_slot)
    known[size] = result
    return result


def _index_array(np: Any, index: Any) -> Any:
    if isinstance(index, slice):
        return np.arange(index.start, index.stop, index.step or 1)
    return np.asarray(index)


class _Order(walk.Gradients):
    """The walk run for its order only: ``rank[id(node) * width + i]`` is the place of node's
    contribution to its input i among all the contributions that input receives (every node
    passes: a zero upstream is a matter of rows, decided when the program runs). ``width``: at
    least the most inputs a node has (an int key, not a tuple: about 60 bytes an edge less)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.rank: dict[int, int] = {}
        self.count: dict[Any, int] = {}

    def upstream(self, node: Any) -> Any:
        return node

    def zero(self, upstream: Any) -> int:
        return walk.UNKNOWN

    def number(self, node: Any) -> Any:
        return None

    def local_grads(self, node: Any, op: Op) -> Sequence[Any]:
        return (None,) * len(node.children)

    def times(self, upstream: Any, local: Any) -> Any:
        return None

    def accumulate(self, node: Any, i: int, child: Any, local: Any, contribution: Any) -> None:
        k = self.count.get(child, 0)
        self.rank[id(node) * self.width + i] = k
        self.count[child] = k + 1


def _rows_of(where: Any) -> list[int]:
    if isinstance(where, slice):
        return list(range(where.start, where.stop, where.step or 1))
    return [int(k) for k in where]


def _flat(np: Any, args: Sequence[Any], shape: tuple[int, ...]) -> list[Any]:
    """A group's operands as the 1-D columns the ops' array forms take: each (node, example)
    pair one row (a form may stack its inputs, as softmax's does, so it never sees 2-D)."""
    return [a.ravel() if a.shape == shape else np.broadcast_to(a, shape).ravel() for a in args]


def _ranked(np: Any, items: list[tuple[Any, list[tuple[int, int]]]]) -> list[tuple[Any, Any]]:
    """``(targets, buffer rows)`` per rank: the first contribution of every target, then the
    second of those that have one, ...: each step one vectorized add, the walk's order kept."""
    steps: list[tuple[Any, Any]] = []
    rank = 0
    while True:
        targets = [t for t, at in items if len(at) > rank]
        if not targets:
            return steps
        rows = [at[rank][1] for _, at in items if len(at) > rank]
        steps.append((np.asarray(targets, dtype=np.intp), np.asarray(rows, dtype=np.intp)))
        rank += 1


def _add_ordered(G: Any, C: Any, steps: Any) -> None:
    """The kept contributions of some nodes, added rank by rank (the first starts from +0.0)."""
    for rank, (targets, rows) in enumerate(steps):
        if rank == 0:
            G[targets] = C[rows] + 0.0
        else:
            G[targets] += C[rows]


_COMPARE = {
    "<": "less",
    "<=": "less_equal",
    ">": "greater",
    ">=": "greater_equal",
    "==": "equal",
    "!=": "not_equal",
}


def column_guards(tape: Any) -> Callable[[Any], Any] | None:
    """The guards as one NumPy test over a batch's inputs (a 2-D array, a row per example),
    returning which rows meet them all; or None when a guard is more than a comparison of an
    input with an input or a constant (then ``replay_python.prepass_source`` checks each row).
    Such guards are what a loss's check of its targets records (``0 <= t <= 1``); a comparison
    of floats is the same in NumPy as in Python, and an int constant is taken only where it is
    a float exactly (|n| <= 2**53)."""
    if not tape.guards or tape.computed:
        return None
    np = _numpy()
    input_index = {node: k for k, node in enumerate(tape.inputs)}
    tests = []
    for guard in tape.guards:
        if guard[0] != "cmp":
            return None
        sides: list[tuple[bool, Any]] = []
        for j in (guard[2], guard[3]):
            entry = tape.exprs[j]
            if entry[0] == "v" and entry[1] in input_index:
                sides.append((True, input_index[entry[1]]))
            elif entry[0] == "c" and (
                type(entry[1]) is float or (type(entry[1]) is int and abs(entry[1]) <= 2**53)
            ):
                sides.append((False, float(entry[1])))
            else:
                return None
        tests.append((getattr(np, _COMPARE[guard[1]]), sides, bool(guard[4])))

    # the guards of one comparison, outcome and kind of sides together: one array test each
    # (a loss's check of ten targets, 0 <= t <= 1, is two tests, not twenty)
    together: dict[tuple[Any, ...], tuple[list[Any], list[Any]]] = {}
    for compare, sides, outcome in tests:
        key = (compare, outcome, sides[0][0], sides[1][0])
        lefts, rights = together.setdefault(key, ([], []))
        lefts.append(sides[0][1])
        rights.append(sides[1][1])
    batched = [
        (compare, outcome, *(np.asarray(k, dtype=np.intp if column else np.float64)
                             for column, k in ((left, lefts), (right, rights))), left, right)
        for (compare, outcome, left, right), (lefts, rights) in together.items()
    ]  # fmt: skip

    def meets(table: Any) -> Any:
        ok = np.ones(len(table), dtype=bool)
        for compare, outcome, lefts, rights, left, right in batched:
            a = table[:, lefts] if left else lefts
            b = table[:, rights] if right else rights
            result = compare(a, b)
            if result.ndim == 1:  # two constants: the same for every row
                result = np.broadcast_to(result, (len(table), len(result)))
            ok &= (result if outcome else ~result).all(axis=1)
        return ok

    return meets
