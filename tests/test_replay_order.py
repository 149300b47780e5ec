"""Compiled replay adds every gradient in backward()'s order: bit for bit, zeros' signs too.

Float addition is not associative: ``(g + 1.0) + 1e-17`` and ``g + (1.0 + 1e-17)`` differ in the
last bit. ``backward()`` adds a leaf's contributions one at a time to the gradient it had before
the pass, in the walk's order; the compiled back-ends must add the same numbers in the same
order. Random graphs of ``+ - * /`` with detached parts (which make the NumPy back-end run node
by node), leaves shared by several nodes with non-zero starting gradients, and numbers of very
different magnitudes, run interpreted, on the Python back-end and on the NumPy back-end.
"""

from __future__ import annotations

import struct
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradx
from microgradx import Value
from tests.conftest import require_numpy

# magnitudes whose sums depend on the order they are added in (1 + 1e-17 - 1 is 0, 1 - 1 + 1e-17
# is 1e-17), signed zeros, and numbers that make infinities and NaN through / and *
_NUMBERS = [1.0, -1.0, 1e-17, -1e-17, 1e16, 3.0, 0.5, -0.0, 0.0, 2.0**-30, 0.1, -7.0]
_STARTS = [None, 0.0, -0.0, 3e-16, -1e-16, 1.0, 0.1, -2.5e-17]
_OPS = "+-*/d"  # d: a.detach() * b (a computed leaf: the NumPy back-end runs node by node)


def bits(x: float | None) -> str:
    """A float's identity: its IEEE-754 bytes (so -0.0 is not 0.0); any NaN is one NaN (the
    payload of a NaN made by inf - inf is not something either engine promises); a grad left
    None (a leaf the graph does not read) is None."""
    if x is None:
        return "None"
    x = float(x)
    return "nan" if x != x else struct.pack("<d", x).hex()


def build(x: Value, y: Value, ps: list[Value], steps: list[tuple[str, int, int, int]]) -> Value:
    """The graph of ``steps``: each ``(op, i, j, k)`` combines nodes i and j (inputs, leaves,
    nodes made so far, counted modulo their number) and scales the result by number k, so a
    leaf read by several steps gets contributions of very different sizes; the output is the
    sum of every node made, in order."""
    nodes: list[Value] = [x, y, *ps]
    made: list[Value] = []
    for op, i, j, k in steps:
        a, b = nodes[i % len(nodes)], nodes[j % len(nodes)]
        if op == "+":
            node = a + b
        elif op == "-":
            node = a - b
        elif op == "*":
            node = a * b
        elif op == "/":
            node = a / b
        else:
            node = a.detach() * b
        node = node * _NUMBERS[k % len(_NUMBERS)]
        nodes.append(node)
        made.append(node)
    out = made[0]
    for node in made[1:]:
        out = out + node
    return out


def _leaves(weights: list[float], starts: list[float | None]) -> list[Value]:
    ps = [Value(w, label=f"p{m}") for m, w in enumerate(weights)]
    for p, start in zip(ps, starts):
        p.grad = start
    return ps


def _interpreted(weights, starts, steps, rows):
    """backward() on each row in turn: each row's output and input gradients, and every leaf's
    gradient after the last row."""
    ps = _leaves(weights, starts)
    per_row = []
    for row in rows:
        x, y = Value(row[0]), Value(row[1])
        out = build(x, y, ps, steps)
        out.backward()
        per_row.append([bits(out.data), bits(x.grad), bits(y.grad)])
    return per_row, [bits(p.grad) for p in ps]


def _compiled(backend, weights, starts, steps, rows, whole):
    """The same on a compiled program: row by row (``run``: one example a call), or the rows as
    one batch (``whole``)."""
    ps = _leaves(weights, [0.0] * len(weights))
    program = microgradx.compile(
        lambda x, y: build(x, y, ps, steps), rows[0], backend=backend, check=False
    )
    for p, start in zip(ps, starts):
        p.grad = start
    return _rows_of(program, rows, whole), [bits(p.grad) for p in ps], program


def _rows_of(program, rows, whole):
    """Each row's output and inputs' gradients (as bits) from ``program``: a call a row
    (``run``), or the rows as one batch (``whole``)."""
    if not whole:
        return [
            [bits(result.output), *map(bits, result.input_grads)]
            for result in (program.run(*row) for row in rows)
        ]
    result = program.run_batch(rows)
    return [
        [bits(result.output[r]), *(bits(g[r]) for g in result.input_grads)]
        for r in range(len(rows))
    ]


_steps = st.lists(
    st.tuples(st.sampled_from(_OPS), st.integers(0, 40), st.integers(0, 40), st.integers(0, 40)),
    min_size=1,
    max_size=12,
)
_weights = st.lists(st.sampled_from(_NUMBERS), min_size=3, max_size=3)
_starts = st.lists(st.sampled_from(_STARTS), min_size=3, max_size=3)
_rows = st.lists(st.lists(st.sampled_from(_NUMBERS), min_size=2, max_size=2), min_size=1,
                 max_size=3)  # fmt: skip


@settings(max_examples=120, deadline=None)
@given(_steps, _weights, _starts, _rows)
def test_compiled_gradients_are_backwards_bit_for_bit_on_order_sensitive_graphs(
    steps, weights, starts, rows
):
    """Both back-ends against backward(): outputs, inputs' gradients and every leaf's gradient
    (started at non-zero numbers, None and signed zeros), bit for bit. The Python back-end
    runs a batch row after row, and so does the NumPy back-end's node-by-node program (a graph
    with a detached part); the NumPy level program sums a weight's gradient over a batch by
    numpy.sum or a matrix product (to 1e-12, as documented), so it is compared one row a call."""
    require_numpy()
    want = _interpreted(weights, starts, steps, rows)
    for backend in ("python", "numpy"):
        got = _compiled(backend, weights, starts, steps, rows, whole=False)
        assert got[:2] == want, backend
        per_node = got[2]._programs[0].per_node
        if backend == "python" or per_node:
            assert _compiled(backend, weights, starts, steps, rows, whole=True)[:2] == want


def _three_uses(x: Value, w: Value) -> Value:
    """w read by three nodes whose contributions are 1.0, 1e-17 and -1.0 in the walk's order,
    and a detached part (the NumPy back-end then runs node by node)."""
    return ((w * 1.0 + w * 1e-17) + w * -1.0) + x.detach() * x


@pytest.mark.parametrize("backend", ["python", "numpy"])
@pytest.mark.parametrize("start", [3e-16, 1.0, -0.0, None])
def test_a_shared_leafs_contributions_add_to_its_grad_one_at_a_time(backend, start):
    """The case found: the NumPy back-end's node-by-node program added ``grad + (c1 + c2 +
    c3)`` where backward() adds ``((grad + c1) + c2) + c3``, which differs in the last bit
    (with grad 3e-16: 0x1.59e05f1e2674dp-52 instead of 0x1.0000000000000p-52)."""
    if backend == "numpy":
        require_numpy()
    w = Value(0.5)
    w.grad = start
    _three_uses(Value(2.0), w).backward()
    want = bits(w.grad)
    v = Value(0.5)
    program = microgradx.compile(lambda x: _three_uses(x, v), [2.0], backend=backend)
    v.grad = start
    program.run(2.0)
    assert bits(v.grad) == want
    if start == 3e-16:
        assert want == bits(float.fromhex("0x1.0000000000000p-52"))  # (what the graph shows)


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_node_of_weights_alone_gives_ieee_results_as_backward_does(backend):
    """Found by the differential test above: in the NumPy back-end's node-by-node program (a
    graph with ``detach()``) a node whose inputs are all weights was Python float arithmetic,
    and ``one / zero`` raised ZeroDivisionError where ``backward()`` (and a column) gives inf;
    its local derivative ``1 / b`` raised too."""
    if backend == "numpy":
        require_numpy()

    def fn(x, y, one, zero):
        return x * y.detach() + one / zero

    weights = [Value(1.0), Value(0.0)]
    x, y = Value(2.0), Value(3.0)
    out = fn(x, y, *weights)
    out.backward()
    want = [bits(out.data), bits(x.grad), *(bits(w.grad) for w in weights)]
    assert want[0] == bits(float("inf")) and want[3] == bits(-float("inf"))  # (what it shows)
    ws = [Value(1.0), Value(0.0)]
    program = microgradx.compile(lambda x, y: fn(x, y, *ws), [2.0, 3.0], backend=backend)
    result = program.run(2.0, 3.0)
    got = [bits(result.output), bits(result.input_grads[0]), *(bits(w.grad) for w in ws)]
    assert got == want


@pytest.mark.parametrize("detached", [True, False])
def test_a_value_grad_gets_each_contribution_in_turn(detached):
    """A leaf's grad that is a Value (from ``create_graph``) stays one, and gets each
    contribution added in the walk's order, as backward() adds them (both NumPy programs)."""
    require_numpy()

    def fn(x, w):
        out = (w * 1.0 + w * 1e-17) + w * -1.0
        return out + (x.detach() * x if detached else x * x)

    w = Value(0.5)
    w.grad = Value(3e-16)
    fn(Value(2.0), w).backward()
    v = Value(0.5)
    program = microgradx.compile(lambda x: fn(x, v), [2.0], backend="numpy")
    v.grad = Value(3e-16)
    program.run(2.0)
    assert type(v.grad) is Value
    assert bits(v.grad.data) == bits(w.grad.data)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(_NUMBERS), min_size=5, max_size=5),
    st.lists(st.sampled_from(_STARTS), min_size=5, max_size=5),
    st.lists(st.sampled_from(_NUMBERS), min_size=3, max_size=3),
    st.lists(st.lists(st.sampled_from(_NUMBERS), min_size=4, max_size=4), min_size=1, max_size=3),
)
def test_tied_weights_in_sums_of_products_add_in_backwards_order(weights, starts, scales, rows):
    """Three neurons ``b + w0*x0 + ... + w3*x3`` sharing their weights (tied), each scaled by
    a number of another magnitude: each weight gets three contributions, which both back-ends
    add where their sums of products run as one loop or one array operation (a chain), to a
    non-zero starting gradient. Bit for bit against backward(), one row a call, and the
    Python back-end's batch row after row."""
    require_numpy()

    def tied(x0, x1, x2, x3, ps):
        out = None
        for scale in scales:
            z = ps[4] + ps[0] * x0 + ps[1] * x1 + ps[2] * x2 + ps[3] * x3
            out = z * scale if out is None else out + z * scale
        return out

    want_rows, want = [], None
    ps = _leaves(weights, starts)
    for row in rows:
        xs = [Value(x) for x in row]
        out = tied(*xs, ps)
        out.backward()
        want_rows.append([bits(out.data), *(bits(x.grad) for x in xs)])
    want = [bits(p.grad) for p in ps]
    for backend in ("python", "numpy"):
        for whole in (False, True) if backend == "python" else (False,):
            qs = _leaves(weights, [0.0] * 5)
            program = microgradx.compile(
                partial(tied, ps=qs), rows[0], backend=backend, check=False
            )
            for q, start in zip(qs, starts):
                q.grad = start
            got_rows = _rows_of(program, rows, whole)
            assert (got_rows, [bits(q.grad) for q in qs]) == (want_rows, want), backend
