"""The NumPy back-end of compiled replay: one example's graph run over a whole batch at once.

Every scalar op of the recorded graph becomes the same op on an array of examples: inputs are
columns (one number per example), parameters stay single numbers and broadcast, and a parameter's
gradient is the sum of its gradients over the batch. ``NUMPY_OPS`` gives each op of the table its
array form (forward rule and local derivatives); a test checks that every op has one and that it
agrees with the scalar rule.

Agreement is to about 1e-12 relative, not bit for bit: NumPy's ``exp``, ``log``, ``tanh``,
``sin``, ``cos`` and ``log1p`` are its own implementations (vectorised, sometimes one unit in the
last place away from the C library's), and a parameter's gradient is summed over the batch by
``numpy.sum`` (pairwise) rather than one example after another. The zero-gradient rule (a zero
upstream contributes exactly 0) is applied to every op but ``+`` and ``*``, whose local derivatives
are finite for finite data.

Needs NumPy: ``pip install 'microgradx[fast]'``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from microgradx.ops import ADD, MUL, OPS, Op, safe_log


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise ImportError(
            "the NumPy back-end needs NumPy: pip install 'microgradx[fast]'"
            " (or use backend='python', which needs nothing)"
        ) from None
    return numpy


def numpy_ops(np: Any) -> dict[str, tuple[Callable[..., Any], Callable[..., Any]]]:
    """name -> (forward(param, *inputs), local_grads(param, *inputs, out)) on arrays."""

    def sigmoid(x: Any) -> Any:
        e = np.exp(-np.abs(x))  # never overflows; as the scalar rule, by the sign of x
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def pow_forward(a: Any, b: Any) -> Any:
        return np.power(a, b)

    def pow_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        d_base = np.where(b == 0, 0.0, b * np.power(a, b - 1))
        d_exponent = np.where((a == 0) & (b >= 0), 0.0, out * np.log(a))
        return d_base, d_exponent

    def max_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        tie = a == b
        return np.where(tie, 0.5, np.where(a < b, 0.0, 1.0)), np.where(
            tie, 0.5, np.where(b < a, 0.0, 1.0)
        )

    def min_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        return max_grads(-a, -b, out)

    return {
        "add": (lambda p, a, b: a + b, lambda p, a, b, out: (1.0, 1.0)),
        "sub": (lambda p, a, b: a - b, lambda p, a, b, out: (1.0, -1.0)),
        "mul": (lambda p, a, b: a * b, lambda p, a, b, out: (b, a)),
        "div": (lambda p, a, b: a / b, lambda p, a, b, out: (1.0 / b, -(out / b))),
        "pow": (lambda p, a, b: pow_forward(a, b), lambda p, a, b, out: pow_grads(a, b, out)),
        "pow_scalar": (
            lambda p, x: x * x if p == 2.0 else np.power(x, p),
            lambda p, x, out: (0.0 if p == 0 else p * np.power(x, p - 1),),
        ),
        "rpow_scalar": (
            lambda c, x: np.power(c, x),
            lambda c, x, out: (np.where((c == 0) & (x >= 0), 0.0, out * safe_log(c)),),
        ),
        "neg": (lambda p, x: -x, lambda p, x, out: (-1.0,)),
        "abs": (
            lambda p, x: np.abs(x),
            lambda p, x, out: (np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0)),),  # NaN: 0
        ),
        "exp": (lambda p, x: np.exp(x), lambda p, x, out: (out,)),
        "log": (lambda p, x: np.log(x), lambda p, x, out: (1.0 / x,)),
        "sqrt": (lambda p, x: np.sqrt(x), lambda p, x, out: (0.5 / out,)),
        "tanh": (lambda p, x: np.tanh(x), lambda p, x, out: (1 - out * out,)),
        "sigmoid": (lambda p, x: sigmoid(x), lambda p, x, out: (out * (1 - out),)),
        "relu": (
            lambda p, x: np.where((x > 0) | np.isnan(x), x, 0.0),
            lambda p, x, out: (np.where(x <= 0, 0.0, 1.0),),
        ),
        "leaky_relu": (
            lambda s, x: np.where((x > 0) | np.isnan(x), x, s * x),
            lambda s, x, out: (np.where(x > 0, 1.0, s),),
        ),
        "softplus": (
            lambda p, x: np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x))),
            lambda p, x, out: (sigmoid(x),),
        ),
        "sin": (lambda p, x: np.sin(x), lambda p, x, out: (np.cos(x),)),
        "cos": (lambda p, x: np.cos(x), lambda p, x, out: (-np.sin(x),)),
        "maximum": (lambda p, a, b: np.maximum(a, b), lambda p, a, b, out: max_grads(a, b, out)),
        "minimum": (lambda p, a, b: np.minimum(a, b), lambda p, a, b, out: min_grads(a, b, out)),
    }


def _tuple(items: Any) -> str:
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def _table_op(op: Op) -> Op | None:
    """The op of the table that ``op`` is (or a member of, for a family), or None: an op of
    one's own that happens to share a table name must not get that op's NumPy form."""
    family = OPS.get(op.name)
    if family is None:
        return None
    if op is family:
        return family
    if op.param is not None and getattr(op.forward, "func", None) is family.forward:
        return family
    return None


def numpy_program(tape: Any) -> tuple[str, Callable[..., Any], Callable[..., Any]]:
    """``(source, run, forward)`` for a ``replay.Tape``, as ``replay.python_source`` makes them,
    but each variable holds a whole batch: ``run(I, P, seed)`` and ``forward(I, P)`` with ``I``
    the input columns. The guards are not here: the caller checks them example by example in
    plain Python (``replay._prepass_source``) and passes only the rows that meet them. A leaf
    computed from numbers read from the graph (``x.detach()``, ``Value(x.data * 2)``) is
    computed here from this program's own columns, so ``x - x.detach()`` is exactly 0 as in the
    scalar engine. Names in the generated code never come from user text (an op of one's own,
    whatever its name, has no NumPy form and is refused)."""
    np = _numpy()
    table = numpy_ops(np)
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
            family = _table_op(op)
            if family is None or family.name not in table:
                raise NotImplementedError(
                    f"op {op.name!r} is not an op of the table: it has no NumPy form"
                    " (use backend='python', which runs any op's own rules)"
                )
            name = f"{'fd'[kind]}_{family.name}_{len(rules)}"  # the table's name: our own text
            function = table[family.name][kind]
            param = op.param

            def bound(*args: Any, _f: Callable[..., Any] = function, _p: Any = param) -> Any:
                return _f(_p, *args)

            names[name], rules[key] = bound, name
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
            backward += [
                f"g{kids[0]} = g{kids[0]} + g{k} * v{kids[1]}",
                f"g{kids[1]} = g{kids[1]} + g{k} * v{kids[0]}",
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
