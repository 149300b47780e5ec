"""The backward walk (microgradx.walk): the float fast path is the general walk, bit for bit, and
its ``+`` and ``*`` forms are the op table's rules."""

from __future__ import annotations

import gc
import math
import random
import struct
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import Value, apply, walk
from microgradx.engine import topological_order
from microgradx.ops import ADD, LOGSUMEXP, MUL
from microgradx.testing import Expression, expressions

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 3.0, 1e-310, -1e308, 1e308, math.inf, -math.inf, math.nan]


def _bits(x: float) -> bytes:
    return b"nan" if x != x else struct.pack("<d", x)


def _both_walks(out: Value, seed: float, leaf_starts: dict[Value, float]) -> None:
    """Run walk_floats and walk(OnNodes()) from the same start; they must leave the same bits."""
    order = topological_order(out)
    for leaf, grad in leaf_starts.items():
        leaf.grad = grad
    starts = [(n, n.grad) for n in order if n.op is None]  # constants' too
    results = []
    for run in (walk.walk_floats, lambda o: walk.walk(o, walk.OnNodes())):
        walk.start(order, out, starts, seed)
        run(order)
        results.append([_bits(float(n.grad)) for n in order])
    assert results[0] == results[1]


@given(expressions(), st.sampled_from([1.0, -0.0, 0.0, 2.5, -1e-300]))
def test_the_float_walk_is_the_general_walk_on_random_graphs(expr: Expression, seed: float):
    xs = [Value(x) for x in expr.inputs]
    out = expr(*xs)
    if out.op is not None:
        _both_walks(out, seed, {x: 0.25 * k for k, x in enumerate(xs)})


@settings(max_examples=300)
@given(st.randoms(use_true_random=False))
def test_the_float_walk_is_the_general_walk_at_special_values(rng: random.Random):
    # + and * (the inlined forms), reuse (a * a), zero upstreams, infinities and NaN
    xs = [Value(rng.choice(SPECIAL)) for _ in range(3)]
    values = list(xs)
    for _ in range(rng.randrange(1, 10)):
        a, b = rng.choice(values), rng.choice(values)
        kind = rng.randrange(4)
        if kind == 0:
            values.append(a + b)
        elif kind == 1:
            values.append(a * b)
        elif kind == 2:
            values.append(a.log() if a.data > 0 else a.tanh())
        else:
            values.append(a * rng.choice(SPECIAL))
    out = values[-1]
    if out.op is not None:
        _both_walks(out, rng.choice(SPECIAL), {x: rng.choice(SPECIAL) for x in xs})


@given(st.sampled_from(SPECIAL), st.sampled_from(SPECIAL), st.sampled_from(SPECIAL))
def test_the_add_and_mul_forms_are_the_tables_rules(a: float, b: float, upstream: float):
    # ADD's local derivatives are (1, 1), and upstream * 1.0 is upstream, bit for bit
    assert ADD.local_grads(a, b, a + b) == (1.0, 1.0)
    assert _bits(upstream * 1.0) == _bits(upstream)
    assert ADD in walk.PASS_THROUGH
    # MUL's are (b, a): the other input, on floats and on Values (for create_graph)
    grads = MUL.local_grads(a, b, a * b)
    assert _bits(grads[0]) == _bits(b) and _bits(grads[1]) == _bits(a)
    va, vb = Value(a), Value(b)
    assert MUL.local_grads(va, vb, va * vb) == (vb, va)
    assert MUL in walk.SWAPPED


def test_the_walk_visits_each_node_after_every_node_that_used_it():
    class Visits(walk.OnNodes):
        def __init__(self) -> None:
            self.visited: list[Value] = []

        def opened(self, node, upstream, zero):
            self.visited.append(node)

    x = Value(2.0)
    y = x * x
    z = y.tanh() + y
    out = z * x
    order = topological_order(out)
    walk.start(order, out, [], 1.0)
    visits = Visits()
    walk.walk(order, visits)
    assert visits.visited[:2] == [out, z] and visits.visited[-1] is y
    for k, node in enumerate(visits.visited):  # nobody visited later uses it
        assert all(node not in later.children for later in visits.visited[k + 1 :])


def test_a_zero_upstream_passes_nothing_even_through_an_infinite_derivative():
    x = Value(0.0)
    y = x.log() * 0.0  # d/dx log at 0 is inf; its upstream is 0
    for run in (walk.walk_floats, lambda o: walk.walk(o, walk.OnNodes())):
        x.grad = 0.0
        order = topological_order(y)
        walk.start(order, y, [(x, 0.0)], 1.0)
        run(order)
        assert x.grad == 0.0 and math.copysign(1.0, x.grad) == 1.0


def _reference_order(root: Value) -> list[Value]:
    """The plain depth-first search topological_order must agree with: each node pushed with a
    flag, its first input pushed before its second (so the second is expanded first)."""
    order: list[Value] = []
    visited: set[int] = set()
    stack: list[tuple[Value, bool]] = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in node.children if id(c) not in visited)
    return order


@st.composite
def random_dags(draw: st.DrawFn) -> Value:
    """A random DAG over one-, two- and three-input ops, with shared nodes, repeated inputs
    (``a + a``) and leaves used many times; the last node made is the root."""
    nodes = [Value(draw(st.floats(-2, 2)), label=f"x{i}") for i in range(draw(st.integers(1, 4)))]
    for _ in range(draw(st.integers(0, 40))):
        pick = st.integers(0, len(nodes) - 1)
        arity = draw(st.sampled_from([1, 2, 2, 3]))
        inputs = [nodes[draw(pick)] for _ in range(arity)]
        if arity == 1:
            nodes.append(inputs[0].tanh())
        elif arity == 2:
            nodes.append(inputs[0] * inputs[1] if draw(st.booleans()) else inputs[0] + inputs[1])
        else:
            nodes.append(apply(LOGSUMEXP, *inputs))
    return nodes[draw(st.integers(0, len(nodes) - 1))]


@st.composite
def chained_dags(draw: st.DrawFn) -> Value:
    """Layers of neuron-like sums ``((b + w1*x1) + w2*x2) + ...`` over shared weights and
    inputs (the chains the walk places through ``run``), where some chain nodes and products
    have a second user, some terms are not products of placed leaves (a tanh of an earlier
    node, a constant), a few ops take three inputs and an input may be a sum of its own."""
    leaves = [Value(draw(st.floats(-2, 2)), label=f"w{i}") for i in range(draw(st.integers(1, 5)))]
    nodes = list(leaves)
    layer = list(leaves[: draw(st.integers(1, len(leaves)))])
    for _ in range(draw(st.integers(1, 3))):
        outs = []
        for _ in range(draw(st.integers(1, 3))):
            z = nodes[draw(st.integers(0, len(nodes) - 1))]
            for x in layer:
                kind = draw(st.integers(0, 9))
                w = nodes[draw(st.integers(0, len(nodes) - 1))]
                if kind < 6:
                    term = w * x
                elif kind == 6:
                    term = x.tanh()
                elif kind == 7:
                    term = w * 0.5
                elif kind == 8:
                    term = apply(LOGSUMEXP, w, x, z)
                else:
                    term = x
                z = z + term
                nodes += [term, z]
            outs.append(z.tanh() if draw(st.booleans()) else z)
            nodes.append(outs[-1])
        layer = outs
    root = layer[0]
    for out in layer[1:]:
        root = root + out
    if draw(st.booleans()):  # a chain node or product used a second time, at the top
        root = root * nodes[draw(st.integers(0, len(nodes) - 1))]
    return root


@settings(max_examples=300, deadline=None)
@given(st.one_of(random_dags(), chained_dags()))
def test_topological_order_keeps_its_guarantees_on_random_dags(root: Value):
    """Inputs before users, root last, each node it depends on exactly once, and the order of
    the plain depth-first search (the drawings, the step-through and the compilers list nodes
    in it), also when walked twice (each walk's stamps are its own)."""
    order = topological_order(root)
    assert order[-1] is root
    assert len({id(n) for n in order}) == len(order)
    position = {id(n): i for i, n in enumerate(order)}
    for node in order:
        for child in node.children:
            assert position[id(child)] < position[id(node)]
    reachable, stack = {id(root)}, [root]
    while stack:
        for child in stack.pop().children:
            if id(child) not in reachable:
                reachable.add(id(child))
                stack.append(child)
    assert set(position) == reachable
    assert [id(n) for n in order] == [id(n) for n in _reference_order(root)]
    assert [id(n) for n in topological_order(root)] == [id(n) for n in order]


def test_topological_order_of_a_subgraph_after_a_walk_of_the_whole():
    """A walk's stamps do not hide nodes from the next walk, of the whole or of a part."""
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    assert len(topological_order(e)) == 5
    assert len(topological_order(d)) == 4
    assert [id(n) for n in topological_order(d)] == [id(n) for n in _reference_order(d)]


def test_topological_order_leaves_no_reference_cycle():
    """The stamps refer to nothing: a walked graph is still freed by reference counting."""
    x = Value(0.5)
    y = x
    for _ in range(50):
        y = (y * x + 1.0).tanh()
    topological_order(y)
    refs = [weakref.ref(n) for n in topological_order(y) if n is not x]
    was = gc.isenabled()
    gc.disable()
    try:
        del y
        assert all(r() is None for r in refs)
    finally:
        if was:
            gc.enable()


def _reference_grads(root: Value) -> list[bytes]:
    """Every node's gradient by the general walk over ``_reference_order`` (the plain search,
    written separately here), from the starts backward() documents."""
    order = _reference_order(root)
    starts = [(n, walk.starting_grad(n)) for n in order if n.op is None]
    walk.start(order, root, starts, 1.0)
    walk.walk(order, walk.OnNodes())
    return [_bits(float(n.grad)) for n in order]


@settings(max_examples=200, deadline=None)
@given(st.one_of(random_dags(), chained_dags()))
def test_backward_is_the_reference_walk_bit_for_bit_on_random_dags(root: Value):
    """backward() (its walk, its bookkeeping, the fast pass) leaves on every node the bits of
    the general walk over the plain search's order, on a fresh graph and on one walked before
    (whose grads are then other floats than the 0.0 a Value starts with)."""
    if root.op is None:
        return
    order = _reference_order(root)
    for _ in range(2):
        for leaf in order:
            if leaf.op is None:
                leaf.grad = None  # zero_grad's way: each pass starts the leaves at 0
        root.backward()
        got = [_bits(float(n.grad)) for n in order]
        for leaf in order:
            if leaf.op is None:
                leaf.grad = None
        assert got == _reference_grads(root)


def test_training_by_backward_gives_the_weights_of_the_reference_walk():
    """Ten SGD steps of a tanh MLP on moons: the weights backward() trains are, bit for bit,
    those of steps whose gradients come from the reference walk."""
    from microgradx import losses
    from microgradx.data import make_moons
    from microgradx.nn import MLP

    X, y = make_moons(40, noise=0.1, seed=2)
    models = [MLP(2, [8, 8, 1], "tanh", seed=4) for _ in range(2)]
    for k, model in enumerate(models):
        params = model.parameters()
        for _ in range(10):
            for p in params:
                p.grad = None
            loss = losses.bce_with_logits([model(x) for x in X], y)
            if k == 0:
                loss.backward()
            else:
                _reference_grads(loss)
            for p in params:
                p.data -= 0.1 * float(p.grad)
    assert [p.data.hex() for p in models[0].parameters()] == [
        p.data.hex() for p in models[1].parameters()
    ]


def test_a_first_pass_that_raises_leaves_every_grad_as_it_was():
    """On a graph just built (whose grads backward() neither keeps nor resets, being the 0.0
    each Value starts with), a pass that raises midway puts back every grad: the intermediate
    ones it had written, and a leaf's None."""
    from microgradx.ops import Op

    boom = Op(
        name="boom",
        symbol="boom",
        arity=1,
        forward=lambda x: x,
        local_grads=lambda x, out: (1 / 0,),
        math="boom(x) = x",
        derivative="1",
    )
    a, b = Value(2.0), Value(3.0)
    a.grad = None
    mid = apply(boom, a * b + b)
    out = (mid * b).tanh() + mid
    order = topological_order(out)
    before = [(n, n.grad) for n in order]
    try:
        out.backward()
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("the op's derivative raises")
    assert all(n.grad is g for n, g in before)


def test_topological_order_of_a_graph_walked_by_backward_keeps_nothing_a_node():
    """Found: topological_order kept a (node, grad) pair for every node whose grad was not the
    0.0 a Value starts with, for nothing (only backward() reads them): after a pass that is
    every node, 64 bytes more for each and its walk 2.5 times as long. What it allocates is its
    order and the nodes waiting for their inputs: about 12 bytes a node here (42 with a pair
    kept at either of the two places the walk meets a node)."""
    import tracemalloc

    a, b = Value(0.5), Value(1.0)
    y = a
    for _ in range(20_000):
        y = y + a * b  # each product placed where its user meets it, each sum walked into
    y.backward()  # no gradient is 0: none stays the 0.0 a Value starts with
    nodes = len(topological_order(y))
    tracemalloc.start()
    try:
        order = topological_order(y)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(order) == nodes == 40_002
    assert peak < 24 * nodes
