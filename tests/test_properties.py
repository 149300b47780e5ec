"""Property tests over random expression graphs drawn from the whole op table."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import AnomalyError, Value, apply, detect_anomaly, gradcheck, zero_grad
from microgradx.ops import all_members
from microgradx.testing import Expression, expressions


@given(expressions())
def test_gradients_match_central_differences(expr: Expression):
    report = gradcheck(expr, expr.inputs, rtol=1e-4, atol=1e-6, raise_exception=False)
    assert report.passed, f"{expr}\n{report}"


@given(expressions(max_steps=25, max_inputs=2))
def test_deeper_graphs_match_central_differences(expr: Expression):
    report = gradcheck(expr, expr.inputs, rtol=1e-4, atol=1e-6, raise_exception=False)
    assert report.passed, f"{expr}\n{report}"


def test_the_strategy_generates_every_op():
    """A test fails if an op is in the table but the random graphs never use it."""
    seen = set()

    @settings(max_examples=400)
    @given(expressions())
    def collect(expr: Expression):
        seen.update(step.op for step in expr.steps)

    collect()
    # expressions() draws at most two operands per step: an op of a fixed larger arity (soft
    # cross-entropy over 2 classes takes 4 inputs) cannot appear until it draws op.arity of them.
    drawable = [op for op in all_members() if op.arity is None or op.arity <= 2]
    missing = [op.label for op in drawable if op not in seen]
    assert not missing, f"random graphs never use {missing}"


@given(expressions(max_inputs=2, max_steps=8))
def test_second_derivatives_match_differences_of_gradients(expr: Expression):
    n = len(expr.inputs)

    def gradient_at(xs):
        leaves = [Value(x) for x in xs]
        expr(*leaves).backward()
        return [leaf.grad for leaf in leaves]

    leaves = [Value(x) for x in expr.inputs]
    expr(*leaves).backward(create_graph=True)
    first = [leaf.grad for leaf in leaves]
    for i in range(n):
        zero_grad(leaves)
        if not isinstance(first[i], Value):
            continue  # an input the output does not depend on: every second derivative is 0
        first[i].backward()
        row = [float(leaf.grad) for leaf in leaves]
        for j in range(n):
            h = 1e-5 * max(1.0, abs(expr.inputs[j]))
            plus = list(expr.inputs)
            minus = list(expr.inputs)
            plus[j] += h
            minus[j] -= h
            numeric = (gradient_at(plus)[i] - gradient_at(minus)[i]) / (2 * h)
            scale = max(1.0, abs(numeric))
            # Near a kink a difference of gradients straddles it: only compare smooth points.
            if _kink_within(expr, j, 100 * h):
                continue
            assert abs(row[j] - numeric) <= 1e-4 * scale, f"{expr}: H[{i}][{j}]"


def _kink_within(expr: Expression, j: int, radius: float) -> bool:
    """Does moving input j by up to ``radius`` change which side of a kink any node is on?"""
    sides = set()
    for t in (-radius, 0.0, radius):
        xs = list(expr.inputs)
        xs[j] += t
        values = list(xs)
        signs = []
        for step in expr.steps:
            args = [values[k] for k in step.args]
            if step.op.kink is not None:
                signs.append(step.op.kink(*args) > 0)
            values.append(step.op.forward(*args))
        sides.add(tuple(signs))
    return len(sides) > 1


@given(expressions())
def test_backward_twice_doubles_leaf_gradients(expr: Expression):
    leaves = [Value(x) for x in expr.inputs]
    out = expr(*leaves)
    out.backward()
    once = [leaf.grad for leaf in leaves]
    out.backward()
    # Not bit-exact: the second pass adds its contributions one by one to the first pass's sum.
    assert [leaf.grad for leaf in leaves] == pytest.approx([2 * g for g in once], rel=1e-14)


any_float = st.floats(allow_nan=True, allow_infinity=True)


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
@settings(max_examples=60)
@given(data=st.data())
def test_no_op_ever_raises_an_arithmetic_error(op, data):
    inputs = [data.draw(any_float) for _ in range(op.arity or 3)]  # arity None: three
    leaves = [Value(x) for x in inputs]
    out = apply(op, *leaves)
    out.backward()
    out.backward(create_graph=True)
    # Anomaly mode raises its own error, and only when something is not finite.
    with detect_anomaly():
        try:
            checked = apply(op, *[Value(x) for x in inputs])
            checked.backward()
        except AnomalyError:
            assert not all(math.isfinite(v) for v in [*inputs, out.data, *_grads(leaves)])


def _grads(leaves):
    return [float(leaf.grad) for leaf in leaves]
