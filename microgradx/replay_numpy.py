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

from collections.abc import Callable
from functools import partial
from typing import Any

from microgradx.ops import ADD, MUL, TINY, Op
from microgradx.ops import float_rule_rows as _rows


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

        def forward(*inputs: Any) -> Any:
            out = own_forward(np, *param, *inputs)
            return _rows(np, op.forward, (out,), _special(np, out, inputs), inputs, True)[0]

        def local_grads(*args: Any) -> tuple[Any, ...]:
            grads = tuple(own_grads(np, *param, *args))
            return _rows(np, op.local_grads, grads, _special(np, *grads, args[:-1]), args)

        return forward, local_grads

    def each_forward(*inputs: Any) -> Any:
        shape = np.broadcast(*inputs).shape
        return _rows(np, op.forward, (np.zeros(shape),), np.ones(shape, bool), inputs, True)[0]

    def each_grads(*args: Any) -> tuple[Any, ...]:
        shape = np.broadcast(*args).shape
        zeros = tuple(np.zeros(shape) for _ in args[:-1])
        return _rows(np, op.local_grads, zeros, np.ones(shape, bool), args)

    return each_forward, each_grads


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


def numpy_program(tape: Any) -> tuple[str, Callable[..., Any], Callable[..., Any]]:
    """``(source, run, forward)`` for a ``replay.Tape``, as ``replay.python_source`` makes them,
    but each variable holds a whole batch: ``run(I, P, seed)`` and ``forward(I, P)`` with ``I``
    the input columns. The guards are not here: the caller checks them example by example in
    plain Python (``replay._prepass_source``) and passes only the rows that meet them. A leaf
    computed from numbers read from the graph (``x.detach()``, ``Value(x.data * 2)``) is
    computed here from this program's own columns, so ``x - x.detach()`` is exactly 0 as in the
    scalar engine. Names in the generated code never come from user text (an op's name is not
    used); every op runs, a user's own by its NumPy form or row by row (``array_forms``)."""
    np = _numpy()
    values = tape.values
    position = {node: k for k, node in enumerate(values)}
    in_order = set(tape.order)
    input_index = {node: k for k, node in enumerate(tape.inputs)}
    leaf_index = {node: k for k, node in enumerate(tape.leaves)}
    names: dict[str, Any] = {"np": np, "_round_each": _round_each}
    rules: dict[int, str] = {}

    def rule(op: Op, kind: int) -> str:  # kind 0: forward, 1: local derivatives
        key = id(op) * 2 + kind
        if key not in rules:
            name = f"{'fd'[kind]}_op_{len(rules)}"  # never the op's name: that is user text
            names[name], rules[key] = array_forms(np, op)[kind], name
        return rules[key]

    def value(node: Any) -> str:
        return f"P[{leaf_index[node]}].data" if node in leaf_index else f"v{position[node]}"

    forward: list[str] = []
    exprs = tape.exprs
    emitted: dict[int, str] = {}

    def expression(j: int) -> str:
        """Entry j of the expressions, on columns (the prepass has checked that no row raises
        where Python would, so NumPy's IEEE results are Python's)."""
        stack, order = [j], []
        while stack:  # the entries j needs, each before its users
            i = stack.pop()
            if i in emitted or i in order:
                continue
            order.append(i)
            entry = exprs[i]
            if entry[0] == "apply":
                stack.extend(entry[2])
            elif entry[0] in ("neg", "abs", "round"):
                stack.append(entry[1])
            elif entry[0] not in ("v", "c"):
                stack.extend(entry[1:3])
        for i in sorted(order):
            entry = exprs[i]
            kind = entry[0]
            if kind == "v":
                emitted[i] = value(entry[1])
                continue
            if kind == "c":
                emitted[i] = f"k{len(names)}"
                names[emitted[i]] = entry[1]
                continue
            if kind == "apply":
                text = f"{rule(entry[1], 0)}({', '.join(emitted[a] for a in entry[2])})"
            elif kind == "neg":
                text = f"-{emitted[entry[1]]}"
            elif kind == "abs":
                text = f"np.abs({emitted[entry[1]]})"
            elif kind == "round":
                text = f"_round_each({emitted[entry[1]]}, {int(entry[2])})"
            else:
                a, b = emitted[entry[1]], emitted[entry[2]]
                numpy_form = {"//": "np.floor_divide", "%": "np.remainder", "**": "np.power"}
                text = f"{numpy_form[kind]}({a}, {b})" if kind in numpy_form else f"{a} {kind} {b}"
            forward.append(f"e{i} = {text}")
            emitted[i] = f"e{i}"
        return emitted[j]

    for node in values:
        k = position[node]
        if node.op is None:
            if node in input_index:
                forward.append(f"v{k} = np.asarray(I[{input_index[node]}], dtype=np.float64)")
            elif node in tape.computed:
                forward.append(f"v{k} = {expression(tape.computed[node])}")
            else:
                forward.append(f"v{k} = P[{leaf_index[node]}].data")
            continue
        args = [value(c) for c in node.children]
        if node.op is ADD:
            forward.append(f"v{k} = {args[0]} + {args[1]}")
        elif node.op is MUL:
            forward.append(f"v{k} = {args[0]} * {args[1]}")
        else:
            forward.append(f"v{k} = {rule(node.op, 0)}({', '.join(args)})")
    root = position[tape.root]
    size = "len(I[0])"
    backward = [f"g{root} = np.full({size}, seed, dtype=np.float64)"]
    backward += [f"g{position[n]} = 0.0" for n in tape.order[:-1]]
    for node in reversed(tape.order):
        if node.op is None:
            continue
        k = position[node]
        kids = [position[c] for c in node.children]
        if node.op is ADD:
            backward += [f"g{kids[0]} = g{kids[0]} + g{k}", f"g{kids[1]} = g{kids[1]} + g{k}"]
        elif node.op is MUL:
            # the zero rule here too: data computed from finite inputs can be infinite (log 0)
            backward += [
                f"g{kids[0]} = g{kids[0]} + np.where(g{k} != 0.0, g{k} * v{kids[1]}, 0.0)",
                f"g{kids[1]} = g{kids[1]} + np.where(g{k} != 0.0, g{k} * v{kids[0]}, 0.0)",
            ]
        else:
            locals_ = ", ".join(f"l{j}" for j in range(len(kids))) + ","
            backward.append(
                f"{locals_} = {rule(node.op, 1)}({', '.join(f'v{c}' for c in kids)}, v{k})"
            )
            for j, c in enumerate(kids):  # a zero upstream contributes exactly 0
                backward.append(f"g{c} = g{c} + np.where(g{k} != 0.0, g{k} * l{j}, 0.0)")
    for node, m in leaf_index.items():
        if node in in_order:  # (a leaf only a guard or a computed leaf reads has no gradient)
            backward.append(f"P[{m}].grad = P[{m}].grad + float(np.sum(g{position[node]}))")
    n = size
    inputs = _tuple(
        f"np.broadcast_to(g{position[x]}, ({n},))" if x in in_order else f"np.zeros({n})"
        for x in tape.inputs
    )
    watched = _tuple(f"np.broadcast_to(v{position[w]}, ({n},))" for w in tape.watch)
    out = f"np.broadcast_to(v{root}, ({n},))"
    lines = ["def run(I, P, seed):", "    with np.errstate(all='ignore'):"]
    lines += ["        " + line for line in forward + backward]
    lines.append(f"        return {out}, {inputs}, {watched}")
    lines += ["", "def forward(I, P):", "    with np.errstate(all='ignore'):"]
    lines += ["        " + line for line in forward]
    lines.append(f"        return {out}, {watched}")
    source = "\n".join(lines) + "\n"
    code = compile(source, "<microgradx compiled graph, NumPy>", "exec")
    exec(code, names)
    return source, names["run"], names["forward"]


def _round_each(column: Any, ndigits: int) -> Any:
    """Python's ``round(x, ndigits)`` on every number (NumPy's rounds differently)."""
    import numpy

    return numpy.asarray([round(float(x), ndigits) for x in numpy.atleast_1d(column)])
