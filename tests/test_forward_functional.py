"""Forward mode (dual numbers), higher-order derivatives, and the chain rule as a path sum."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradx import Value, apply, maximum
from microgradx.dual import Dual, count_ops, derivative, jvp
from microgradx.engine import Value as EngineValue
from microgradx.functional import chain_rule_paths, count_paths, grad, hessian, hvp, value_and_grad
from microgradx.ops import all_members
from microgradx.testing import Expression, expressions
from tests.conftest import require_torch
from tests.test_vs_torch import torch_apply


def _as_dual_function(expr: Expression):
    return lambda *xs: expr.evaluate(list(xs), lambda op, args: apply(op, *args))


@given(expressions())
def test_forward_mode_equals_reverse_mode_on_random_graphs(expr: Expression):
    gradient = grad(lambda xs: expr(*xs))(list(expr.inputs))
    f = _as_dual_function(expr)
    n = len(expr.inputs)
    for i in range(n):
        _, tangent = jvp(f, expr.inputs, [1.0 if j == i else 0.0 for j in range(n)])
        assert tangent == pytest.approx(gradient[i], rel=1e-9, abs=1e-12)
    v = [0.5 - 0.3 * j for j in range(n)]  # any direction: J v = grad . v
    _, directional = jvp(f, expr.inputs, v)
    assert directional == pytest.approx(
        sum(g * vj for g, vj in zip(gradient, v)), rel=1e-9, abs=1e-9
    )


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_every_op_carries_its_local_derivative_forward(op):
    x = [0.7, 1.3, -0.4, 0.9, 0.2, -1.1][: op.arity or 3]  # arity None: any number; three
    for k in range(len(x)):
        out = apply(op, *[Dual(v, 1.0 if j == k else 0.0) for j, v in enumerate(x)])
        expected = op.local_grads(*x, op.forward(*x))[k]
        assert out.primal == op.forward(*x)
        assert out.tangent == pytest.approx(expected, rel=1e-15)


def test_dual_has_every_method_and_operator_of_value():
    public = {n for n in dir(EngineValue) if not n.startswith("_")} - {
        "backward", "children", "data", "detach", "grad", "label", "op", "local_grads"
    }  # fmt: skip
    operators = {"__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
                 "__truediv__", "__rtruediv__", "__pow__", "__rpow__",
                 "__neg__", "__abs__"}  # fmt: skip
    for name in public | operators:
        assert hasattr(Dual, name), f"Dual lacks {name}"


def test_jvp_of_a_function_written_for_values():
    def f(x, y):
        return maximum(x * y, y).tanh() + x**2  # microgradx.maximum accepts Duals too

    value, tangent = jvp(f, [1.5, 2.0], [1.0, 0.0])
    assert value == pytest.approx(math.tanh(3.0) + 2.25)
    assert tangent == pytest.approx((1 - math.tanh(3.0) ** 2) * 2.0 + 3.0)
    assert derivative(lambda x: x.sin() * x, 0.3) == pytest.approx(
        math.cos(0.3) * 0.3 + math.sin(0.3)
    )


def test_forward_mode_needs_one_pass_per_input():
    def f(*xs):
        total = xs[0] * 0.0
        for x in xs:
            total = total + x.tanh()
        return total

    xs = [0.1 * i for i in range(5)]
    with count_ops() as counter:
        for i in range(5):
            jvp(f, xs, [1.0 if j == i else 0.0 for j in range(5)])
    assert counter[0] == 5 * (1 + 2 * 5)  # five passes of the whole function


def test_dual_errors():
    with pytest.raises(TypeError, match="primal must be a real number, got str"):
        Dual("1")
    with pytest.raises(ValueError, match="2 primals but 1 tangents"):
        jvp(lambda a, b: a + b, [1.0, 2.0], [1.0])
    with pytest.raises(TypeError, match="func must return a number computed from its inputs"):
        jvp(lambda a: "3", [1.0], [1.0])
    assert jvp(lambda a: 3.0, [1.0], [1.0]) == (3.0, 0.0)  # a constant: tangent 0, as in JAX


# ---- higher order --------------------------------------------------------------------------------


def test_value_and_grad_and_grad():
    f = lambda a, b: a * b + a.exp()  # noqa: E731
    value, gradient = value_and_grad(f, argnums=(0, 1))(1.0, 2.0)
    assert value == pytest.approx(2.0 + math.e)
    assert gradient == pytest.approx((2.0 + math.e, 1.0))
    assert grad(f)(1.0, 2.0) == pytest.approx(2.0 + math.e)  # argnums=0, as torch.func.grad
    assert grad(lambda xs: xs[0] * xs[1] + xs[0].exp())([1.0, 2.0]) == pytest.approx(
        [2.0 + math.e, 1.0]
    )  # a list argument gives a list


def test_grad_explains_the_old_calling_convention():
    with pytest.raises(TypeError, match=r"like torch.func.grad.*argnums=tuple\(range\(2\)\)"):
        grad(lambda a, b: a * b)([1.0, 2.0])


def test_hessian_and_hvp_by_hand():
    f = lambda a, b: a * a * b + b.sin()  # noqa: E731
    H = hessian(f, [1.0, 2.0])
    assert H[0] == pytest.approx([4.0, 2.0])
    assert H[1] == pytest.approx([2.0, -math.sin(2.0)])
    value, product = hvp(f, [1.0, 2.0], [1.0, 0.5])  # (f(x), H v), as torch's hvp
    assert value == pytest.approx(2.0 + math.sin(2.0))
    assert product == pytest.approx([5.0, 2.0 - 0.5 * math.sin(2.0)])


@given(expressions(max_inputs=3, max_steps=8))
def test_hessian_matches_central_differences_of_gradients(expr: Expression):
    xs = list(expr.inputs)
    H = hessian(expr, xs)
    g = grad(lambda values: expr(*values))
    for j in range(len(xs)):
        h = 1e-5 * max(1.0, abs(xs[j]))
        plus, minus = xs[:], xs[:]
        plus[j] += h
        minus[j] -= h
        if _kink_between(expr, plus, minus):
            continue  # a difference of gradients across a kink measures the jump, not H
        column = [(a - b) / (2 * h) for a, b in zip(g(plus), g(minus))]
        for i in range(len(xs)):
            assert H[i][j] == pytest.approx(column[i], rel=1e-4, abs=1e-4 * max(1, abs(column[i])))


def _kink_between(expr: Expression, a: list[float], b: list[float]) -> bool:
    def sides(xs):
        values, signs = list(xs), []
        for step in expr.steps:
            args = [values[k] for k in step.args]
            if step.op.kink is not None:
                signs.append(step.op.kink(*args) > 0)
            values.append(step.op.forward(*args))
        return signs

    return sides(a) != sides(b)


@given(expressions(max_inputs=2, max_steps=6))
def test_hessian_agrees_with_torch_float64(expr: Expression):
    torch = require_torch()
    xs = list(expr.inputs)

    def f(t):
        return expr.evaluate(
            [t[i] for i in range(len(xs))], lambda op, args: torch_apply(torch, op, args)
        )

    theirs = torch.autograd.functional.hessian(f, torch.tensor(xs, dtype=torch.float64))
    ours = hessian(expr, xs)
    for i in range(len(xs)):
        for j in range(len(xs)):
            t = theirs[i][j].item()
            assert ours[i][j] == pytest.approx(t, rel=1e-9, abs=1e-9)


@given(st.floats(-2, 2), st.floats(-2, 2))
def test_hvp_equals_hessian_times_v(a, b):
    f = lambda x, y: (x * y).tanh() + x**3 * y  # noqa: E731
    H = hessian(f, [a, b])
    v = [0.3, -1.2]
    expected = [H[0][0] * v[0] + H[0][1] * v[1], H[1][0] * v[0] + H[1][1] * v[1]]
    assert hvp(f, [a, b], v)[1] == pytest.approx(expected, rel=1e-12, abs=1e-12)


# ---- paths ---------------------------------------------------------------------------------------


@given(expressions(max_inputs=2, max_steps=8))
def test_path_sums_equal_gradients(expr: Expression):
    leaves = [Value(x, label=f"x{i}") for i, x in enumerate(expr.inputs)]
    out = expr(*leaves)
    out.backward()
    for leaf in leaves:
        paths = chain_rule_paths(out, leaf)
        assert len(paths) == count_paths(out, leaf)
        assert sum(p.product for p in paths) == pytest.approx(leaf.grad, rel=1e-9, abs=1e-12)


def test_reuse_gives_several_paths_and_blow_up_is_refused():
    x = Value(0.9, label="x")
    y = x
    for _ in range(20):
        y = y * y
    assert count_paths(y, x) == 2**20
    with pytest.raises(ValueError, match="grows exponentially"):
        chain_rule_paths(y, x)
    a = Value(3.0, label="a")
    f = a * a + a
    paths = chain_rule_paths(f, a)
    assert sorted(p.product for p in paths) == [1.0, 3.0, 3.0]
    assert "a -> +: 1 = 1" in [str(p) for p in paths]


def test_paths_of_a_deep_chain_take_memory_of_the_counts_still_needed():
    """A chain of k steps y = y * y has 2^k paths. count_paths kept every node's exact count (k
    numbers of up to k bits: 675 MB at 100,000 steps, 60 GB at a million), and
    chain_rule_paths built the same counts to compare one with its limit, then failed inside
    its own message with Python's int-to-str digit limit. Now count_paths drops each count once
    used, chain_rule_paths counts up to limit + 1, and neither grows beyond a few MB."""
    import tracemalloc

    x = Value(1.0, label="x")
    y = x
    for _ in range(30_000):
        y = y * y
    tracemalloc.start()
    try:
        assert count_paths(y, x) == 2**30_000
        _, counted = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        with pytest.raises(ValueError, match=r"^more than limit=10000 paths lead") as refused:
            chain_rule_paths(y, x)
        _, refusing = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "grows exponentially" in str(refused.value)
    # exact counts of every node would be 30,000 ints averaging 15,000 bits: 56 MB
    assert counted < 10e6 and refusing < 10e6, (counted, refusing)


def test_chain_rule_paths_limit_is_an_int_checked_by_kind():
    import numpy as np

    x = Value(2.0)
    f = x * x + x
    assert len(chain_rule_paths(f, x, limit=np.int64(3))) == 3
    with pytest.raises(ValueError, match="more than limit=2 paths"):
        chain_rule_paths(f, x, limit=2)
    for bad in (True, 3.0, "3"):
        with pytest.raises(TypeError, match="limit must be an int"):
            chain_rule_paths(f, x, limit=bad)
    with pytest.raises(ValueError, match="limit must be an int >= 1"):
        chain_rule_paths(f, x, limit=0)


def test_hessian_hvp_and_grad_take_what_every_list_argument_takes():
    """hessian and hvp refused a NumPy array (every other list argument of the package takes
    one) and took bytes as a list of ints (b"ab" was the point [97, 98]); grad's argnums
    refused NumPy's ints; a bad entry of v was named "v", not its place."""
    import numpy as np

    def f(a, b):
        return a * a * b

    assert hessian(f, np.array([1.0, 2.0])) == hessian(f, [1.0, 2.0]) == [[4.0, 2.0], [2.0, 0.0]]
    assert hvp(f, np.array([1.0, 2.0]), np.array([1.0, 0.0])) == (2.0, [4.0, 2.0])
    for bad in (b"ab", "ab", {0: 1.0}, 3.0):
        with pytest.raises(TypeError, match="inputs must be a list"):
            hessian(f, bad)
        with pytest.raises(TypeError, match="v must be a list"):
            hvp(f, [1.0, 2.0], bad)
    with pytest.raises(TypeError, match=r"v\[1\] must be a real number, got str"):
        hvp(f, [1.0, 2.0], [1.0, "x"])
    with pytest.raises(ValueError, match="v can be left out only for one input"):
        hvp(f, np.array([1.0, 2.0]))
    assert grad(f, argnums=np.int64(1))(3.0, 2.0) == 9.0
    assert grad(f, argnums=(np.int64(0), -1))(3.0, 2.0) == (12.0, 9.0)
    with pytest.raises(TypeError, match="argnums must be an int"):
        grad(f, argnums=np.float64(1.0))(3.0, 2.0)


def test_an_int_of_more_digits_than_str_converts_is_named_not_printed():
    """A message that printed a huge int raised Python's own ValueError ("Exceeds the limit
    (4300 digits) for integer string conversion") instead of the library's TypeError/ValueError
    naming the argument."""
    from microgradx import autograd, losses, nn

    huge = 10**5000
    with pytest.raises(TypeError, match=r"sizes must be a list of layer sizes.*about 5001 digits"):
        nn.MLP(2, huge)
    with pytest.raises(TypeError, match="inputs must be a Value or a non-empty list"):
        autograd.grad(Value(1.0) * 2, huge)
    for logits, targets in (([[Value(1.0)]], [huge]), ([Value(1.0)], huge)):
        with pytest.raises(ValueError, match="class an int of about 5001 digits out of range"):
            losses.cross_entropy(logits, targets)


def test_jvp_and_derivative_take_numpy_arrays_and_name_their_arguments():
    import numpy as np

    from microgradx.dual import derivative, jvp

    f = lambda a, b: a * b  # noqa: E731
    assert jvp(f, np.array([2.0, 3.0]), np.array([1.0, 0.0])) == jvp(f, [2.0, 3.0], [1.0, 0.0])
    with pytest.raises(TypeError, match=r"primals\[1\] must be a real number, got str"):
        jvp(f, [2.0, "3"], [1.0, 0.0])
    with pytest.raises(TypeError, match="tangents must be a list, got float"):
        jvp(f, [2.0, 3.0], 1.0)
    with pytest.raises(TypeError, match="func must be a function, got int"):
        jvp(3, [2.0], [1.0])
    with pytest.raises(TypeError, match="x must be a real number, got list"):
        derivative(lambda a: a * a, [1.0])  # was "Dual primal must be ...": not what was given
    with pytest.raises(ValueError, match="x is too large for a float"):
        derivative(lambda a: a * a, 10**400)
    # as many primals as func takes, said by name (not Python's "missing 1 required argument")
    with pytest.raises(TypeError, match="func cannot take 3 input"):
        jvp(f, [1.0, 2.0, 3.0], [1.0, 0.0, 0.0])
    with pytest.raises(TypeError, match="func cannot take 0 input"):
        jvp(f, [], [])
