"""The NumPy back-end of compiled replay: one example's graph run over a whole batch at once.

Every scalar op of the recorded graph becomes the same op on an array of examples: inputs are
columns (one number per example), parameters stay single numbers and broadcast, and a parameter's
gradient is the sum of its gradients over the batch. Each op's declaration gives its array form
(``Op.numpy``: forward rule and local derivatives); an op without one runs its float rule row by
row, and tests check that the two agree.

Agreement is to about 1e-12 relative on well-conditioned graphs, not bit for bit (a graph that
magnifies its last bits, such as cos(exp(40)), magnifies the difference as much): NumPy's
``exp``, ``log``, ``tanh``, ``sin``, ``cos`` and ``log1p`` are its own implementations
(vectorised, sometimes one unit in the last place away from the C library's), and a
parameter's gradient is summed over the batch by ``numpy.sum`` (pairwise) rather than one example
after another. At special values (signed zeros,
infinities, NaN, subnormal results), and where an array formula would cancel (a loss near its
optimum) or over/underflow on the way, the rows concerned are computed by the scalar rule itself,
so they agree exactly: NumPy's ``power`` takes ``x ** 0.5`` as ``sqrt(x)``, which is -0.0 at -0.0
where C's ``pow`` gives +0.0. The zero-gradient rule (a zero
upstream contributes exactly 0, even where a local derivative is infinite: ``log(0) * x``) is
applied to every op but ``+``, whose local derivatives are 1.

Needs NumPy: ``pip install 'microgradx[fast]'``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from microgradx import walk
from microgradx.checks import describe
from microgradx.ops import ADD, MUL, TINY, Op, is_table_form
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
        self.names: dict[str, Any] = {"np": np, "_round_each": _round_each}
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
            return f"P[{self.leaf_index[node]}].data"
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
                text = f"P[{self.leaf_index[node]}].data"
            self.lines.append(f"v{k} = {text}")
        return self.lines


class _Backward(walk.Source):
    """The backward pass on columns: the engine's walk (``microgradx.walk``), with each gradient
    a column ``g<k>`` started at 0, the zero-upstream rule applied row by row (data computed
    from finite inputs can be infinite: log 0), and a leaf's gradient summed over the batch at
    the end. A computed leaf (``x.detach()``) receives nothing."""

    def __init__(self, tape: Any, rules: _Rules, forward: _Forward) -> None:
        self.tape = tape
        self.rules = rules
        self.position = forward.position
        self.sinks = set(tape.computed)
        root = self.position[tape.root]
        self.lines = [f"g{root} = np.full({_SIZE}, seed, dtype=np.float64)"]
        self.lines += [f"g{self.position[n]} = 0.0" for n in tape.order[:-1]]

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
        return f"np.where({upstream} != 0.0, {upstream} * {local}, 0.0)"

    def accumulate(self, node: Any, i: int, child: Any, local: Any, contribution: Any) -> None:
        self.lines.append(self.adds(f"g{self.position[child]}", contribution, in_place=False))

    def leaves(self) -> list[str]:
        """Each leaf's gradient, summed over the batch, added to its ``grad``."""
        in_order = set(self.tape.order)
        for m, node in enumerate(self.tape.leaves):
            if node in in_order:  # (a leaf only a guard or a computed leaf reads has no gradient)
                total = f"float(np.sum(g{self.position[node]}))"
                self.lines.append(self.adds(f"P[{m}].grad", total, in_place=False))
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
    lines = ["def run(I, P, seed):", "    with np.errstate(all='ignore'):"]
    lines += ["        " + line for line in forward.lines + backward.lines]
    lines.append(f"        return {out}, {inputs}, {watched}")
    lines += ["", "def forward(I, P):", "    with np.errstate(all='ignore'):"]
    lines += ["        " + line for line in forward.lines]
    lines.append(f"        return {out}, {watched}")
    source = "\n".join(lines) + "\n"
    code = compile(source, "<microgradx compiled graph, NumPy>", "exec")
    exec(code, rules.names)
    return source, rules.names.pop("run"), rules.names.pop("forward")


def _round_each(column: Any, ndigits: int) -> Any:
    """Python's ``round(x, ndigits)`` on every number (NumPy's rounds differently)."""
    import numpy

    return numpy.asarray([round(float(x), ndigits) for x in numpy.atleast_1d(column)])
