"""compile()'s memory and the Python back-end's compact form: a sum of products (``w0*x0 + w1*x1
+ ...``, a neuron) runs as one straight-line function per length, shared by every chain of that
length, and the rest is compiled in pieces that share their variables through cells. Its memory
per node is bounded, its work is linear in the graph, and it stays bit for bit the interpreted
engine (``backward()``)."""

from __future__ import annotations

import builtins
import gc
import math
import random
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradx
from microgradx import Value, losses, replay_python
from microgradx.data import load_digits
from microgradx.nn import MLP
from microgradx.optim import Adam
from microgradx.replay import compile_graph

KB = 1024


def _bits(x: float) -> tuple[bool, float, float]:
    """A float's identity: NaN equals NaN, -0.0 differs from 0.0."""
    x = float(x)
    return (x != x, 0.0 if x != x else x, math.copysign(1.0, x))


def _squared_error(model, n_in):
    def fn(*values):
        out = model(list(values[:n_in]))
        total = Value(0.0)
        for o, t in zip(out if isinstance(out, list) else [out], values[n_in:]):
            d = o - t
            total = total + d * d
        return total

    return fn


def _peak_per_node(compile_it):
    """compile()'s peak memory (tracemalloc) over the nodes of the graph it compiled."""
    gc.collect()
    tracemalloc.start()
    try:
        program = compile_it()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / program.nodes, program


def _mlp_program(hidden, n_in=64, classes=10):
    model = MLP(n_in, [hidden, classes], seed=0)
    example = [0.5] * n_in + [0.0] * classes
    return microgradx.compile(_squared_error(model, n_in), example, model=model)


def _dag(n_ops, seed=0):
    """A graph with no sums of products: +, -, * and tanh of values drawn near each other."""

    def fn(*xs):
        rng = random.Random(seed)
        pool = list(xs)
        for _ in range(n_ops):
            a = pool[rng.randrange(max(0, len(pool) - 50), len(pool))]
            b = pool[rng.randrange(len(pool))]
            r = rng.random()
            pool.append(
                a * b if r < 0.3 else a + b if r < 0.6 else (a * 0.5).tanh() if r < 0.8 else a - b
            )
        return pool[-1] + pool[-2]

    return fn


def test_compiling_the_digits_network_takes_at_most_1_5_kb_a_node():
    """64-32-10 (7,283 nodes): 9.5 KB a node when each node was a line of source compiled at
    once (CPython's compiler needs ~3 KB a line), about 0.7 KB now."""
    _mlp_program(4, n_in=4, classes=2)  # imports and caches, once
    per_node, program = _peak_per_node(lambda: _mlp_program(32))
    assert program.nodes > 7000
    assert per_node <= 1.5 * KB, f"{per_node:.0f} B a node"
    assert "_dot" in program.source  # (the neurons' sums run as loops)


def test_a_graph_without_sums_of_products_compiles_in_pieces_of_bounded_memory():
    """A graph with no chain to loop over is one line per node: compiled in pieces of at most
    ``CHUNK`` lines, its peak per node stays far below the 9-10 KB of one piece."""
    compile_graph_of = lambda n: microgradx.compile(_dag(n), [0.5] * 8, check=False)  # noqa: E731
    compile_graph_of(200)
    per_node, program = _peak_per_node(lambda: compile_graph_of(8000))
    assert program.nodes > 4000
    assert per_node <= 3 * KB, f"{per_node:.0f} B a node"


def _compiled_lines(monkeypatch, make):
    """The lines of source each call of the compiler got while ``make()`` ran."""
    sizes: list[int] = []
    real_compile = builtins.compile

    def counting(source, *args, **kwargs):
        if isinstance(source, str) and "microgradx" in str(args[0] if args else ""):
            sizes.append(source.count("\n") + 1)
        return real_compile(source, *args, **kwargs)

    monkeypatch.setattr(builtins, "compile", counting)
    try:
        program = make()
    finally:
        monkeypatch.setattr(builtins, "compile", real_compile)
    return program, sizes


def test_the_compilers_work_is_linear_in_the_graph_and_bounded_at_once(monkeypatch):
    """Counted, not timed: the lines compiled per node do not grow with the graph, and no call
    of CPython's compiler gets more than a piece (``CHUNK`` lines) or one chain's function."""
    per_node = []
    for hidden in (16, 32, 64):
        program, sizes = _compiled_lines(monkeypatch, lambda h=hidden: _mlp_program(h))
        assert max(sizes) <= max(replay_python.CHUNK, replay_python.MAX_KERNEL) + 10
        per_node.append(sum(sizes) / program.nodes)
    assert per_node[2] <= per_node[1] <= per_node[0] < 0.5  # a neuron is a few lines
    for n in (1000, 4000):
        program, sizes = _compiled_lines(
            monkeypatch, lambda n=n: microgradx.compile(_dag(n), [0.5] * 8, check=False)
        )
        assert max(sizes) <= replay_python.CHUNK + 10
        per_node.append(sum(sizes) / program.nodes)
    assert per_node[-1] <= 1.1 * per_node[-2]


# ---- bit for bit: random graphs made of sums of products and other ops ---------------------------

SPECIAL = [0.0, -0.0, 1.0, -2.5, 1e308, -1e-310, math.inf, -math.inf, math.nan]
numbers = st.one_of(st.sampled_from(SPECIAL), st.floats(-3, 3, allow_nan=False))
finite = st.one_of(st.sampled_from([0.0, -0.0, 1.0, -2.5, 1e300]), st.floats(-3, 3))  # (inputs)


@st.composite
def networks(draw):
    """A random graph over a few inputs and weights: sums of products of every kind (a weight
    times a value, either way round, a weight or a value twice, the start one of the values),
    with tanh, relu and products of values between them, and several outputs summed."""
    n_in = draw(st.integers(1, 6))
    n_w = draw(st.integers(1, 10))
    steps = []
    for _ in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            first, spread = draw(st.integers(0, 63)), draw(st.sampled_from([1, 1, 0, 2]))
            terms = [  # values in a row (a layer), or the same value again
                (draw(st.integers(0, n_w - 1)), first + spread * k, draw(st.booleans()))
                for k in range(draw(st.integers(1, 9)))
            ]
            steps.append(("chain", draw(st.integers(-1, 63)), terms, draw(st.booleans())))
        else:
            kind = draw(st.sampled_from(["tanh", "relu", "mul", "add"]))
            steps.append((kind, draw(st.integers(0, 63)), draw(st.integers(0, 63))))
    outputs = draw(st.lists(st.integers(0, 63), min_size=1, max_size=3))
    weights = draw(st.lists(numbers, min_size=n_w, max_size=n_w))
    grads = draw(st.lists(st.sampled_from([0.0, -0.0, 0.5]), min_size=n_w, max_size=n_w))
    inputs = draw(st.lists(finite, min_size=n_in, max_size=n_in))
    return steps, outputs, weights, grads, inputs


def _build(steps, outputs, xs, ws):
    pool = list(xs)
    for step in steps:
        if step[0] == "chain":
            _, start, terms, swapped = step
            z = ws[0] if start < 0 else pool[start % len(pool)]
            for w, x, flipped in terms:
                w_, x_ = ws[w], pool[x % len(pool)]
                product = x_ * w_ if flipped else w_ * x_
                z = product + z if swapped and flipped else z + product
            pool.append(z)
        else:
            kind, a, b = step
            a_, b_ = pool[a % len(pool)], pool[b % len(pool)]
            pool.append(
                a_.tanh() if kind == "tanh" else a_.relu() if kind == "relu"
                else a_ * b_ if kind == "mul" else a_ + b_
            )  # fmt: skip
    out = pool[outputs[0] % len(pool)]
    for k in outputs[1:]:
        out = out + pool[k % len(pool)]
    return out


def _agree(steps, outputs, weights, grads, inputs):
    """The compiled program and backward() on the same graph: output, inputs' gradients and
    every weight's gradient (started at ``grads``), bit for bit; forward() too."""
    ws = [Value(w) for w in weights]
    xs = [Value(x) for x in inputs]
    out = _build(steps, outputs, xs, ws)
    if out.op is None:
        return
    program = compile_graph(out, xs)
    for w, g in zip(ws, grads):
        w.grad = g
    for x in xs:
        x.grad = 0.0
    out.backward()
    want = [_bits(out.data), *(_bits(x.grad) for x in xs), *(_bits(w.grad) for w in ws)]
    for w, g in zip(ws, grads):
        w.grad = g
    replayed = program.run(*inputs)
    got = [_bits(replayed.output), *map(_bits, replayed.input_grads), *(_bits(w.grad) for w in ws)]
    assert got == want
    assert _bits(program.forward(*inputs)) == want[0]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(networks())
def test_sums_of_products_replay_bit_for_bit_on_random_graphs(network):
    _agree(*network)


def test_random_networks_have_chains_the_replay_runs_as_loops():
    """(The strategy above makes graphs the compact form applies to.)"""
    xs = [Value(0.5 - k) for k in range(5)]
    ws = [Value(0.25 * k) for k in range(6)]
    steps = [("chain", -1, [(k, k - 1, False) for k in range(1, 6)], False)]
    assert "_dot" in compile_graph(_build(steps, [5], xs, ws), xs).source


def _interleaved(x3, weights):
    """A chain whose operand x0 = tanh(x3) is made inside it (after the product of x3), and x3
    also used outside: the walk adds to x3's gradient from outside, then from tanh, then from
    the chain's product; a loop run at the chain's root would add the product's first."""
    ws = [Value(w) for w in weights]
    x0 = x3.tanh()
    z = ws[4]
    for w, x in zip(ws, [x0, x3 * 1.5, x3 * 0.25, x3]):
        z = z + w * x
    return z * 0.3 + x3 * x3, ws


@pytest.mark.parametrize("value", [-0.187, 0.113, 0.913])  # where the other order rounds apart
def test_a_chain_with_a_value_made_inside_it_keeps_the_walks_order(value):
    weights = [0.7, -1.3e5, 0.11, 2.3e-3, 0.5]
    x = Value(value)
    out, ws = _interleaved(x, weights)
    out.backward()
    want = [_bits(out.data), _bits(x.grad), *(_bits(w.grad) for w in ws)]
    x = Value(value)
    out, ws = _interleaved(x, weights)
    program = compile_graph(out, [x])
    replayed = program.run(value)
    got = [_bits(replayed.output), _bits(replayed.input_grads[0]), *(_bits(w.grad) for w in ws)]
    assert got == want


def test_a_zero_upstream_passes_nothing_through_a_chain_even_to_an_infinite_weight():
    """relu cuts the chain's upstream to 0: backward() skips every product (0 * inf would be
    NaN), and a weight's gradient of -0.0 stays -0.0."""
    values = (1.0, -2.0, 0.5, 3.0, -1.5)
    xs = [Value(v) for v in values]
    ws = [Value(w) for w in (math.inf, 1.0, -1.0, 2.0, 3.0)]
    z = Value(0.25)  # a start, weights and values all different: the chain is compiled as one
    for w, x in zip(ws, xs):
        z = z + w * x
    out = (z * 0.0 - 1.0).relu() + xs[0]
    program = compile_graph(out, xs)
    assert "_dot_back" in program.source  # the path this test is about
    for w in ws:
        w.grad = -0.0
    replayed = program.run(*values)
    assert [_bits(w.grad) for w in ws] == [_bits(-0.0)] * 5
    assert [_bits(g) for g in replayed.input_grads[1:]] == [_bits(0.0)] * 4


def test_a_leafs_gradient_of_minus_zero_stays_when_an_add_passes_it_a_zero_upstream():
    """backward() skips an upstream of 0 for + too; -0.0 + 0.0 would be +0.0."""
    x, b = Value(-1.0), Value(2.0)
    program = compile_graph((x + b) * 0.0, [x])
    b.grad = -0.0
    program.run(-1.0)
    assert _bits(b.grad) == _bits(-0.0)


# ---- the digits network, a few training steps --------------------------------------------------


def test_digits_training_steps_compiled_are_backwards_numbers_bit_for_bit():
    """64-32-10 with cross-entropy, three Adam steps on batches of 8: the compiled batch (one
    example's graph replayed per row, gradient 1/8) and backward() on each example's graph
    with the same seed give the same gradients and so the same weights, bit for bit."""
    X, y = load_digits()
    compiled_model, model = MLP(64, [32, 10], seed=0), MLP(64, [32, 10], seed=0)

    def loss_of(net):
        def fn(*values):
            return losses.cross_entropy(net(list(values[:64])), list(values[64:]))

        return fn

    def one_hot(t):
        return [1.0 if k == t else 0.0 for k in range(10)]

    rows = [[*X[i], *one_hot(y[i])] for i in range(24)]
    program = microgradx.compile(loss_of(compiled_model), rows[0], model=compiled_model)
    assert "_dot" in program.source
    fn = loss_of(model)
    optimizers = Adam(compiled_model.parameters(), lr=0.01), Adam(model.parameters(), lr=0.01)
    for step in range(3):
        batch = rows[8 * step : 8 * step + 8]
        for optimizer in optimizers:
            optimizer.zero_grad()
        got = program.run_batch(batch, gradient=1 / 8)
        for r, row in enumerate(batch):
            xs = [Value(v) for v in row]
            out = fn(*xs)
            out.backward(1 / 8)
            assert _bits(got.output[r]) == _bits(out.data)
            assert [_bits(g[r]) for g in got.input_grads] == [_bits(x.grad) for x in xs]
        params = model.parameters()
        assert [_bits(p.grad) for p in compiled_model.parameters()] == [
            _bits(p.grad) for p in params
        ]
        for optimizer in optimizers:
            optimizer.step()
    assert [p.data for p in compiled_model.parameters()] == [p.data for p in model.parameters()]


def test_a_call_made_while_another_runs_gets_cells_of_its_own(monkeypatch):
    """The pieces share their variables through cells; a call made while a call runs (here by
    an op's rule, as another thread could) must not overwrite the first call's variables."""
    from microgradx import Op, apply

    monkeypatch.setattr(replay_python, "CHUNK", 5)
    program = []
    nest = [False]

    def forward(x):
        if nest[0]:
            nest[0] = False
            program[0].run(5.0, -7.0, 11.0)  # the same program, other numbers, mid-call
        return x

    op = Op(name="nest", symbol="nest", arity=1, forward=forward,
            local_grads=lambda x, out: (1.0,), math="x", derivative="1")  # fmt: skip
    xs = [Value(1.0), Value(2.0), Value(3.0)]
    early = xs[0] * xs[1] + xs[2]
    t = early
    for k in range(12):
        t = t * 0.75 + xs[k % 3]
    t = apply(op, t)
    for k in range(12):
        t = t * 0.5 + early * xs[k % 3]  # values made before the nested call, read after it
    program.append(compile_graph(t, xs))
    assert program[0].source.count("def r") > 5  # in pieces
    alone = program[0].run(1.0, 2.0, 3.0)
    nest[0] = True
    nested = program[0].run(1.0, 2.0, 3.0)
    assert not nest[0]  # (the nested call happened)
    assert _bits(nested.output) == _bits(alone.output)
    assert list(map(_bits, nested.input_grads)) == list(map(_bits, alone.input_grads))


@pytest.mark.parametrize("longest", [3, 512])
def test_chains_longer_than_the_written_out_functions_run_the_plain_loop(monkeypatch, longest):
    """A chain of more than ``MAX_KERNEL`` products runs ``_dot``'s loop: the same numbers."""
    monkeypatch.setattr(replay_python, "MAX_KERNEL", longest)
    model = MLP(6, [5, 3], seed=4)
    fn = _squared_error(model, 6)
    rng = random.Random(2)
    rows = [[rng.uniform(-2, 2) for _ in range(9)] for _ in range(3)]
    program = microgradx.compile(fn, rows[0], model=model)
    assert ("_dot(" in program.source) == (longest == 3)
    params = model.parameters()
    for row in rows:
        model.zero_grad()
        xs = [Value(v) for v in row]
        out = fn(*xs)
        out.backward()
        want = [_bits(out.data), *(_bits(x.grad) for x in xs), *(_bits(p.grad) for p in params)]
        model.zero_grad()
        got = program.run(*row)
        assert [
            _bits(got.output),
            *map(_bits, got.input_grads),
            *(_bits(p.grad) for p in params),
        ] == want


def test_a_value_inside_a_sum_that_only_a_guard_reads_is_still_computed():
    """A recorded function's guard may read a value made from a node inside a chain (not part
    of the output's graph): that node is then used twice and the chain stops there."""
    ws = [Value(0.1 * (k + 1)) for k in range(11)]

    def fn(*xs):
        z, partial = ws[10], None
        for k, (w, x) in enumerate(zip(ws, xs)):
            z = z + w * x
            if k == 2:
                partial = z
        if (partial * 2.0).data > 0:  # a guard on a value only the guard reads
            return z.tanh()
        return z * 3.0

    first = [0.5, -0.25, 1.0, 2.0, -1.5, 0.75, 0.1, 0.2, 0.3, 0.4]
    program = microgradx.compile(fn, first)  # (with the guard's value unseen: a KeyError here)
    for row in (first, [-5.0, -5.0, -5.0, *first[3:]]):
        for w in ws:
            w.grad = 0.0
        xs = [Value(v) for v in row]
        out = fn(*xs)
        out.backward()
        want = [_bits(out.data), *(_bits(x.grad) for x in xs), *(_bits(w.grad) for w in ws)]
        for w in ws:
            w.grad = 0.0
        got = program.run(*row)
        assert [
            _bits(got.output),
            *map(_bits, got.input_grads),
            *(_bits(w.grad) for w in ws),
        ] == want
    assert program.recordings == 2  # (the second row took the guard's other side)
