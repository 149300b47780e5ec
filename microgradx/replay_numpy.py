"""The NumPy back-end of compiled replay: one example's graph run over a whole batch at once.

Every scalar op of the recorded graph becomes the same op on an array of examples: inputs are
columns (one number per example), parameters stay single numbers and broadcast, and a parameter's
gradient is the sum of its gradients over the batch. ``NUMPY_OPS`` gives each op of the table its
array form (forward rule and local derivatives); a test checks that every op has one and that it
agrees with the scalar rule.

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

from microgradx.ops import ADD, MUL, OPS, TINY, Op


def _numpy() -> Any:
    try:
        import numpy
    except ImportError:
        raise ImportError(
            "the NumPy back-end needs NumPy: pip install 'microgradx[fast]'"
            " (or use backend='python', which needs nothing)"
        ) from None
    return numpy


Forms = dict[str, tuple[Callable[..., Any], Callable[..., Any]]]


def numpy_ops(np: Any) -> Forms:
    """name -> (forward(param, *inputs), local_grads(param, *inputs, out)) on arrays.

    An op of n inputs takes them as n arrays. Each form is the scalar rule's formula on arrays;
    rows where the scalar rule takes another branch (special values, a cancellation, a power that
    over/underflows on the way) are handed to the scalar rule itself (``_rows``).
    """
    tiny = TINY

    def rule(name: str, param: Any) -> Op:
        return OPS[name] if param is None else OPS[name].member(param)

    def forward_rows(name: str, param: Any, value: Any, mask: Any, *inputs: Any) -> Any:
        return _rows(np, rule(name, param).forward, (value,), mask, inputs, single=True)[0]

    def grad_rows(name: str, param: Any, grads: Any, mask: Any, *inputs: Any) -> tuple[Any, ...]:
        return _rows(np, rule(name, param).local_grads, grads, mask, inputs)

    def unusual(*arrays: Any) -> Any:
        """Rows with a zero, an infinity, a NaN or a subnormal in any of ``arrays``."""
        mask = np.zeros(np.broadcast(*arrays).shape, dtype=bool)
        for a in arrays:
            mask = mask | ~(np.abs(a) >= tiny) | ~np.isfinite(a)
        return mask

    def sigmoid(x: Any) -> Any:
        e = np.exp(-np.abs(x))  # never overflows; as the scalar rule, by the sign of x
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def sigmoid_slope(x: Any) -> Any:
        e = np.exp(-np.abs(x))
        return e / ((1.0 + e) * (1.0 + e))

    def tanh_slope(x: Any, out: Any) -> Any:
        ax = np.abs(x)
        t = np.exp(-2.0 * ax)
        e = 2.0 * np.exp(-ax)
        sech2 = np.where((t > 0) & (t < tiny), e * e, 4.0 * t / ((1.0 + t) * (1.0 + t)))
        return np.where(np.abs(out) < 0.5, 1.0 - out * out, sech2)

    def div_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        d_b = -(out / b)
        # a / b below the normal range (1e-310 / 0.5): the scalar rule rescales
        lost = np.isfinite(a) & np.isfinite(b) & (b != 0) & (np.abs(out) < tiny)
        lost &= (out != 0) | (a != 0)
        return grad_rows("div", None, (1.0 / b, d_b), lost, a, b, out)

    def power_slope(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        """b a^(b-1) as the scalar rule's fast branches; the mask of rows they do not cover."""
        e = b - 1.0
        back = e - b
        exact = ((b - (e - back)) + (-1.0 - back)) == 0  # two_sum(b, -1) has no error
        q = np.power(a, e)
        first = exact & (np.abs(q) >= tiny) & np.isfinite(q)
        r = out / a
        second = (np.abs(out) >= tiny) & np.isfinite(out) & (np.abs(r) >= tiny) & np.isfinite(r)
        square = exact & (e == 1)
        value = np.where(square, b * a, np.where(first, b * q, b * r))
        value = np.where(b == 0, 0.0, value)
        covered = (b == 0) | square | first | second
        covered &= ~unusual(a, b, out) | (b == 0)
        return value, ~covered

    def power_log_slope(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        """a^b ln a as the scalar rule's fast branch; the mask of rows it does not cover."""
        ln_a = np.log(np.where(a > 0, a, 1.0))
        ok = (a > 0) & np.isfinite(a) & np.isfinite(b)
        ok &= ((np.abs(out) >= tiny) & np.isfinite(out)) | (ln_a == 0)
        zero = (a == 0) & (b >= 0)
        return np.where(zero, 0.0, out * ln_a), ~(ok | zero)

    def pow_forward(a: Any, b: Any) -> Any:
        out = np.power(a, b)
        return forward_rows("pow", None, out, unusual(a, b, out), a, b)

    def pow_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        d_a, bad_a = power_slope(a, b, out)
        d_b, bad_b = power_log_slope(a, b, out)
        return grad_rows("pow", None, (d_a, d_b), bad_a | bad_b, a, b, out)

    def pow_scalar_forward(p: float, x: Any) -> Any:
        if p == 2.0:
            return x * x  # as the scalar rule: exact, and IEEE at every special value
        out = np.power(x, p)  # NumPy takes x ** 0.5 as sqrt(x): -0.0 at -0.0, C's pow +0.0
        return forward_rows("pow_scalar", p, out, unusual(x, out), x)

    def pow_scalar_grads(p: float, x: Any, out: Any) -> tuple[Any]:
        d, bad = power_slope(x, np.float64(p), out)
        return grad_rows("pow_scalar", p, (d,), bad, x, out)

    def rpow_forward(c: float, x: Any) -> Any:
        out = np.power(c, x)
        return forward_rows("rpow_scalar", c, out, unusual(x, out) | (c == 0), x)

    def rpow_grads(c: float, x: Any, out: Any) -> tuple[Any]:
        d, bad = power_log_slope(np.float64(c), x, out)
        return grad_rows("rpow_scalar", c, (d,), bad | unusual(x), x, out)

    def maximum(a: Any, b: Any) -> Any:
        # max(-0.0, 0.0) is +0.0: -0 + 0 = +0 (np.maximum gives its first argument)
        return np.where((a == b) & (a == 0), a + b, np.maximum(a, b))

    def minimum(a: Any, b: Any) -> Any:
        return np.where((a == b) & (a == 0), -(-a - b), np.minimum(a, b))

    def max_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        tie = a == b
        return np.where(tie, 0.5, np.where(a < b, 0.0, 1.0)), np.where(
            tie, 0.5, np.where(b < a, 0.0, 1.0)
        )

    def min_grads(a: Any, b: Any, out: Any) -> tuple[Any, Any]:
        return max_grads(-a, -b, out)

    # ---- softmax and cross-entropy of n logits (each an array over the batch) ------------------

    class Pieces:
        """z_i - z_m, e_i = exp(z_i - z_m), s = sum_{i != m} e_i, S = 1 + s over the rows, with m
        each row's first largest logit; ``bad``: rows with a logit that is not finite."""

        def __init__(self, zs: tuple[Any, ...]) -> None:
            z = np.stack(np.broadcast_arrays(*[np.asarray(v, dtype=np.float64) for v in zs]))
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
            return np.where(self.is_top[k], self.s, 1.0 + (self.s - self.e[k]))

        def nll(self, k: int) -> Any:
            return self.tail - self.d[k]  # two terms >= 0

    def logsumexp(p: Any, *zs: Any) -> Any:
        x = Pieces(zs)
        out = x.biggest + x.tail
        cancel = (x.biggest < 0) & (np.abs(out) < 2.0 * x.tail)
        return forward_rows("logsumexp", None, out, x.bad | cancel, *zs)

    def logsumexp_grads(p: Any, *args: Any) -> tuple[Any, ...]:
        zs = args[:-1]
        x = Pieces(zs)
        return grad_rows("logsumexp", None, tuple(x.p()), x.bad, *args)

    def log_softmax(k: float, *zs: Any) -> Any:
        x = Pieces(zs)
        return forward_rows("log_softmax", k, -x.nll(int(k)), x.bad, *zs)

    def cross_entropy(k: float, *zs: Any) -> Any:
        x = Pieces(zs)
        return forward_rows("cross_entropy", k, x.nll(int(k)), x.bad, *zs)

    def cross_entropy_grads(k: float, *args: Any) -> tuple[Any, ...]:
        zs, j = args[:-1], int(k)
        x = Pieces(zs)
        grads = list(x.p())
        grads[j] = -x.others(j) / x.total
        return grad_rows("cross_entropy", k, tuple(grads), x.bad, *args)

    def log_softmax_grads(k: float, *args: Any) -> tuple[Any, ...]:
        zs, j = args[:-1], int(k)
        x = Pieces(zs)
        grads = [-v for v in x.p()]
        grads[j] = x.others(j) / x.total
        return grad_rows("log_softmax", k, tuple(grads), x.bad, *args)

    def softmax(k: float, *zs: Any) -> Any:
        x = Pieces(zs)
        return forward_rows("softmax", k, x.e[int(k)] / x.total, x.bad, *zs)

    def softmax_grads(k: float, *args: Any) -> tuple[Any, ...]:
        zs, j = args[:-1], int(k)
        x = Pieces(zs)
        probabilities = x.p()
        pk = probabilities[j]
        grads = [-pk * v for v in probabilities]
        grads[j] = pk * (x.others(j) / x.total)
        return grad_rows("softmax", k, tuple(grads), x.bad, *args)

    def soft_cross_entropy(n: float, *args: Any) -> Any:
        classes = int(n)
        zs, ts = args[:classes], args[classes:]
        x = Pieces(zs)
        nlls = [x.nll(k) for k in range(classes)]
        loss = sum(np.where(t != 0, t * v, 0.0) for t, v in zip(ts, nlls)) + 0.0
        bad = x.bad | ~np.isfinite(loss)
        for t in ts:
            bad = bad | ~np.isfinite(t) | (t < 0)  # a negative target: the terms cancel
        return forward_rows("soft_cross_entropy", n, loss, bad, *args)

    def soft_cross_entropy_grads(n: float, *args: Any) -> tuple[Any, ...]:
        classes = int(n)
        zs, ts = args[:classes], args[classes : 2 * classes]
        x = Pieces(zs)
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
        return grad_rows("soft_cross_entropy", n, (*dz, *nlls), bad, *args)

    def bce_with_logits(p: Any, z: Any, t: Any) -> Any:
        tail = np.log1p(np.exp(-np.abs(z)))
        out = np.where(z >= 0, (1.0 - t) * z, -t * z) + tail
        bad = ~np.isfinite(z) | ~np.isfinite(t) | (t < 0) | (t > 1)  # outside [0, 1]: cancels
        return forward_rows("bce_with_logits", None, out, bad, z, t)

    def bce_with_logits_grads(p: Any, z: Any, t: Any, out: Any) -> tuple[Any, Any]:
        e = np.exp(-np.abs(z))
        small = e / (1.0 + e)
        slope = np.where(z >= 0, (1.0 - t) - small, small - t)
        bad = ~np.isfinite(z) | ~np.isfinite(t) | (np.abs(slope) < 1e-3 * small)
        return grad_rows("bce_with_logits", None, (slope, -z), bad, z, t, out)

    def bce_logs(q: Any) -> tuple[Any, Any, Any, Any]:
        log_p = np.log(q)
        log_q = np.log1p(-q)
        live_p, live_q = log_p >= -100.0, log_q >= -100.0
        return np.where(live_p, log_p, -100.0), np.where(live_q, log_q, -100.0), live_p, live_q

    def bce(p: Any, q: Any, t: Any) -> Any:
        log_p, log_q, _, _ = bce_logs(q)
        out = -(t * log_p + (1.0 - t) * log_q) + 0.0  # a loss of 0 is +0.0, as the scalar rule
        bad = ~((q >= 0) & (q <= 1)) | ~np.isfinite(t)
        return forward_rows("binary_cross_entropy", None, out, bad, q, t)

    def bce_grads(p: Any, q: Any, t: Any, out: Any) -> tuple[Any, Any]:
        log_p, log_q, live_p, live_q = bce_logs(q)
        both = live_p & live_q
        d_p = np.where(
            both,
            (q - t) / (q * (1.0 - q)),
            np.where(live_p, -t / q, np.where(live_q, (1.0 - t) / (1.0 - q), 0.0)),
        )
        middle = both & (q >= 0.25) & (q <= 0.75)
        d_t = np.where(middle, np.log1p((1.0 - 2.0 * q) / q), log_q - log_p)
        bad = ~((q >= 0) & (q <= 1)) | ~np.isfinite(t)
        return grad_rows("binary_cross_entropy", None, (d_p, d_t), bad, q, t, out)

    return {
        "add": (lambda p, a, b: a + b, lambda p, a, b, out: (1.0, 1.0)),
        "sub": (lambda p, a, b: a - b, lambda p, a, b, out: (1.0, -1.0)),
        "mul": (lambda p, a, b: a * b, lambda p, a, b, out: (b, a)),
        "div": (lambda p, a, b: a / b, lambda p, a, b, out: div_grads(a, b, out)),
        "pow": (lambda p, a, b: pow_forward(a, b), lambda p, a, b, out: pow_grads(a, b, out)),
        "pow_scalar": (pow_scalar_forward, pow_scalar_grads),
        "rpow_scalar": (rpow_forward, rpow_grads),
        "neg": (lambda p, x: -x, lambda p, x, out: (-1.0,)),
        "abs": (
            lambda p, x: np.abs(x),
            lambda p, x, out: (np.where(x > 0, 1.0, np.where(x < 0, -1.0, 0.0)),),  # NaN: 0
        ),
        "exp": (lambda p, x: np.exp(x), lambda p, x, out: (out,)),
        "log": (lambda p, x: np.log(x), lambda p, x, out: (1.0 / x,)),
        "sqrt": (lambda p, x: np.sqrt(x), lambda p, x, out: (0.5 / out,)),
        "tanh": (lambda p, x: np.tanh(x), lambda p, x, out: (tanh_slope(x, out),)),
        "sigmoid": (lambda p, x: sigmoid(x), lambda p, x, out: (sigmoid_slope(x),)),
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
        "maximum": (lambda p, a, b: maximum(a, b), lambda p, a, b, out: max_grads(a, b, out)),
        "minimum": (lambda p, a, b: minimum(a, b), lambda p, a, b, out: min_grads(a, b, out)),
        "logsumexp": (logsumexp, logsumexp_grads),
        "log_softmax": (log_softmax, log_softmax_grads),
        "softmax": (softmax, softmax_grads),
        "cross_entropy": (cross_entropy, cross_entropy_grads),
        "soft_cross_entropy": (soft_cross_entropy, soft_cross_entropy_grads),
        "bce_with_logits": (bce_with_logits, bce_with_logits_grads),
        "binary_cross_entropy": (bce, bce_grads),
    }


def _rows(
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


def _tuple(items: Any) -> str:
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def array_forms(np: Any, op: Op, table: Forms | None = None) -> tuple[Callable[..., Any], ...]:
    """``(forward(*inputs), local_grads(*inputs, out))`` of ``op`` on arrays, the parameter of a
    family's member fixed: the op's own NumPy form (``Op.numpy``), else the table's form in
    ``numpy_ops``, else the float rule row by row. Every op has one, a user's too."""
    table = numpy_ops(np) if table is None else table
    param = () if op.param is None else (op.param,)
    if op.numpy is not None:
        own_forward, own_grads = op.numpy

        def forward(*inputs: Any) -> Any:
            out = own_forward(np, *param, *inputs)
            return _rows(np, op.forward, (out,), _special(np, out, inputs), inputs, True)[0]

        def local_grads(*args: Any) -> tuple[Any, ...]:
            grads = tuple(own_grads(np, *param, *args))
            return _rows(np, op.local_grads, grads, _special(np, *grads, args[:-1]), args)

        return forward, local_grads
    family = _table_op(op)
    if family is not None and family.name in table:
        own = table[family.name]
        return partial(own[0], op.param), partial(own[1], op.param)

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
    scalar engine. Names in the generated code never come from user text (an op's name is not
    used); every op runs, a user's own by its NumPy form or row by row (``array_forms``)."""
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
            name = f"{'fd'[kind]}_op_{len(rules)}"  # never the op's name: that is user text
            names[name], rules[key] = array_forms(np, op, table)[kind], name
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
