"""Derivatives of derivatives: nested calls never confuse their perturbations or their leaves.

The classic bug (Siskind and Pearlmutter's "perturbation confusion") is
d/dx [x * d/dy (x + y)] = d/dx [x * 1] = 1, which an untagged implementation computes as 2. Here
forward mode tags each call's perturbation, and reverse mode's ``grad`` family returns gradients
instead of storing them, so every nesting is exact. Random nested compositions are checked against
SymPy's symbolic derivatives.
"""

from __future__ import annotations

import math
import sys
import threading

import pytest
import sympy
from hypothesis import given, settings

from microgradx import Value
from microgradx.autograd import grad as autograd_grad
from microgradx.dual import Dual, derivative, jvp
from microgradx.engine import apply
from microgradx.functional import grad, hessian, hvp, value_and_grad
from microgradx.ops import OPS
from microgradx.testing import Expression, expressions

# ---- the examples of the issue -------------------------------------------------------------------


def test_forward_mode_nested_derivative_is_not_confused():
    assert derivative(lambda x: x * derivative(lambda y: x + y, 1.0), 1.0) == 1.0


def test_reverse_mode_nested_grad_is_not_confused():
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(1.0) == 1.0
    assert grad(lambda xs: xs[0] * grad(lambda ys: xs[0] + ys[0])([1.0])[0])([1.0]) == [1.0]


def test_an_inner_call_never_touches_outer_leaves():
    x = Value(3.0)
    x.grad = 7.0
    assert grad(lambda y: x * y)(2.0) == 3.0
    assert x.grad == 7.0  # neither read nor written
    _, gradient = value_and_grad(lambda y: (x * y).exp())(0.5)
    assert x.grad == 7.0
    assert gradient == pytest.approx(3.0 * math.exp(1.5))


def test_grad_of_grad_is_exact_to_any_order():
    cube = lambda x: x * x * x  # noqa: E731
    assert grad(cube)(2.0) == 12.0
    assert grad(grad(cube))(2.0) == 12.0
    assert grad(grad(grad(cube)))(2.0) == 6.0
    assert grad(grad(grad(grad(cube))))(2.0) == 0.0
    sin = lambda x: x.sin()  # noqa: E731
    fourth = grad(grad(grad(grad(sin))))
    assert fourth(0.7) == pytest.approx(math.sin(0.7), rel=1e-15)


def test_nested_derivative_depends_on_the_outer_variable():
    # d/dx [d/dy sin(x y) at y = 1] = d/dx [x cos x] = cos x - x sin x
    expected = math.cos(0.5) - 0.5 * math.sin(0.5)
    assert derivative(lambda x: derivative(lambda y: (x * y).sin(), 1.0), 0.5) == pytest.approx(
        expected, rel=1e-15
    )
    assert grad(lambda x: grad(lambda y: (x * y).sin())(1.0))(0.5) == pytest.approx(
        expected, rel=1e-15
    )


def test_hessian_and_hvp_nest_inside_grad():
    # g(a) = H(f)(a, 1)[0][0] for f = a^3 b: H00 = 6 a b, so dg/da = 6
    f = lambda a, b: a * a * a * b  # noqa: E731
    assert grad(lambda a: hessian(f, [a, 1.0])[0][0])(2.0) == 6.0
    # hvp's product nests too: d/da of (H v)_0 with v = (1, 0) is 6 b
    assert grad(lambda a: hvp(f, [a, 2.0], [1.0, 0.0])[1][0])(1.0) == 12.0


def test_user_duals_share_tag_zero_and_jvp_tags_are_fresh():
    x, y = Dual(2.0, 1.0), Dual(3.0, 0.0)
    assert (x * y).tangent == 3.0  # made by hand: the same perturbation
    out = jvp(lambda a: a * a, [2.0], [1.0])
    assert out == (4.0, 4.0)
    with pytest.raises(ValueError, match="smaller tags"):
        Dual(Dual(1.0, 1.0, tag=5), 0.0, tag=2)


def test_autograd_grad_returns_without_storing():
    a, b = Value(2.0), Value(-3.0)
    out = a * b + a
    ga, gb = autograd_grad(out, [a, b])
    assert (ga, gb) == (-2.0, 2.0)
    assert a.grad == 0.0 and b.grad == 0.0
    (second,) = autograd_grad(autograd_grad(a * a * a, [a], create_graph=True)[0], [a])
    assert second == 12.0
    c = Value(1.0)
    with pytest.raises(ValueError, match=r"inputs\[0\] is not used"):
        autograd_grad(out, [c])
    assert autograd_grad(out, [c], allow_unused=True) == (None,)
    assert autograd_grad(out, [c], materialize_grads=True) == (0.0,)


def _dead_relu():
    w, b = Value(0.5, label="w"), Value(-2.0, label="b")
    return w, b, (w * 1.0 + b).relu() + w * 0.0 + 1.0  # a dead ReLU unit: w and b are used


@pytest.mark.parametrize(
    "case",
    ["dead relu", "underflowed exp", "zero seed", "zero seed, two outputs"],
)
@pytest.mark.parametrize("create_graph", [False, True])
def test_a_used_input_whose_gradient_is_exactly_zero_is_used(case, create_graph):
    # "used" is reached from an output in the graph, not "received a contribution": an upstream
    # of exactly 0 passes nothing on (the zero-upstream rule), and the gradient is 0, as backward()
    seeds = None
    if case == "dead relu":
        w, b, out = _dead_relu()
        inputs, outputs, expected = [w, b], [out], [0.0, 0.0]
    elif case == "underflowed exp":
        x = Value(40.0)
        inputs, outputs, expected = [x], [(-(x * x)).exp()], [0.0]
    elif case == "zero seed":
        x = Value(3.0)
        inputs, outputs, expected, seeds = [x], [x * 2.0], [0.0], [0.0]
    else:
        x, y = Value(3.0), Value(2.0)
        inputs, outputs, expected, seeds = [x, y], [x * 2.0, x * y], [2.0, 0.0], [1.0, 0.0]
    found = autograd_grad(outputs, inputs, seeds, create_graph=create_graph)
    assert [float(g) if create_graph else g for g in found] == expected
    assert all(isinstance(g, Value) == create_graph for g in found)
    assert autograd_grad(outputs, inputs, seeds, allow_unused=True) == tuple(expected)
    # backward() agrees
    for out, seed in zip(outputs, seeds or [1.0] * len(outputs)):
        out.backward(seed)
    assert [x.grad for x in inputs] == expected


def test_an_input_the_graph_does_not_reach_is_unused_even_next_to_a_zero_gradient():
    w, b, out = _dead_relu()
    stranger = Value(1.0)
    with pytest.raises(ValueError, match=r"inputs\[2\] is not used"):
        autograd_grad(out, [w, b, stranger])
    assert autograd_grad(out, [w, b, stranger], allow_unused=True) == (0.0, 0.0, None)


@pytest.mark.parametrize(
    "name", ["retain_graph", "create_graph", "allow_unused", "materialize_grads"]
)
@pytest.mark.parametrize("bad", ["no", 1, 0.0])
def test_autograd_grad_flags_must_be_true_or_false(name, bad):
    x, stranger = Value(2.0), Value(1.0)
    with pytest.raises(TypeError, match=f"{name} must be True or False"):
        autograd_grad(x * 3.0, [x, stranger], **{name: bad})


def test_allow_unused_false_with_materialize_grads_is_refused_as_torch():
    x, stranger = Value(2.0), Value(1.0)
    with pytest.raises(ValueError, match="allow_unused=False with materialize_grads=True"):
        autograd_grad(x * 3.0, [x, stranger], allow_unused=False, materialize_grads=True)
    both = autograd_grad(x * 3.0, [x, stranger], allow_unused=True, materialize_grads=True)
    assert both == (3.0, 0.0)


# ---- threads -------------------------------------------------------------------------------------


def test_backward_from_two_threads_adds_each_gradient_exactly_once():
    x = Value(0.5)
    y = x
    for _ in range(20_000):
        y = (y * 1.0001).tanh() + x * 0.001
    barrier = threading.Barrier(4)

    def run() -> None:
        barrier.wait()  # start together, so the passes would overlap without the lock
        y.backward()

    threads = [threading.Thread(target=run) for _ in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads very often: unguarded passes interleave
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    alone = Value(0.5)
    z = alone
    for _ in range(20_000):
        z = (z * 1.0001).tanh() + alone * 0.001
    z.backward()
    assert x.grad == pytest.approx(4 * alone.grad, rel=1e-12)


# ---- random nested compositions against SymPy ----------------------------------------------------

SMOOTH = [
    OPS[name]
    for name in (
        "add",
        "sub",
        "mul",
        "div",
        "pow_scalar",
        "neg",
        "exp",
        "log",
        "sqrt",
        "tanh",
        "sigmoid",
        "softplus",
        "sin",
        "cos",
    )
]

SYMPY = {
    "add": lambda op, a, b: a + b,
    "sub": lambda op, a, b: a - b,
    "mul": lambda op, a, b: a * b,
    "div": lambda op, a, b: a / b,
    "pow_scalar": lambda op, x: x ** sympy.nsimplify(op.param),
    "neg": lambda op, x: -x,
    "exp": lambda op, x: sympy.exp(x),
    "log": lambda op, x: sympy.log(x),
    "sqrt": lambda op, x: sympy.sqrt(x),
    "tanh": lambda op, x: sympy.tanh(x),
    "sigmoid": lambda op, x: 1 / (1 + sympy.exp(-x)),
    "softplus": lambda op, x: sympy.log(1 + sympy.exp(x)),
    "sin": lambda op, x: sympy.sin(x),
    "cos": lambda op, x: sympy.cos(x),
}

X, Y = sympy.symbols("x y", real=True)


def _symbolic(expr: Expression) -> sympy.Expr:
    return expr.evaluate([X, Y], lambda op, args: SYMPY[op.name](op, *args))


def _number(e: sympy.Expr, x: float, y: float) -> float:
    return float(e.subs({X: sympy.Float(x, 40), Y: sympy.Float(y, 40)}).evalf(40))


def _close(ours: float, exact: float) -> bool:
    return math.isclose(ours, exact, rel_tol=1e-9, abs_tol=1e-9 * max(1.0, abs(exact)))


two_inputs = expressions(ops=SMOOTH, min_inputs=2, max_inputs=2, max_steps=6, input_range=2.0)


@settings(max_examples=40)
@given(two_inputs)
def test_nested_derivatives_match_sympy(expr: Expression):
    x0, y0 = expr.inputs
    f = _symbolic(expr)
    # d/dx [x * d/dy f(x, y) at y0], at x0: the inner call closes over the outer variable
    h = X * sympy.diff(f, Y).subs(Y, sympy.Float(y0, 40))
    exact = _number(sympy.diff(h, X), x0, y0)
    forward = derivative(lambda x: x * derivative(lambda y: expr(x, y), y0), x0)
    reverse = grad(lambda x: x * grad(lambda y: expr(x, y))(y0))(x0)
    assert _close(forward, exact), (forward, exact)
    assert _close(reverse, exact), (reverse, exact)


@settings(max_examples=40)
@given(two_inputs)
def test_second_and_third_derivatives_match_sympy(expr: Expression):
    x0, y0 = expr.inputs
    f = _symbolic(expr)
    g = lambda x: expr(x, Value(y0))  # noqa: E731
    assert _close(grad(grad(g))(x0), _number(sympy.diff(f, X, 2), x0, y0))
    assert _close(grad(grad(grad(g)))(x0), _number(sympy.diff(f, X, 3), x0, y0))
    mixed = _number(sympy.diff(f, X, Y), x0, y0)
    assert _close(derivative(lambda x: derivative(lambda y: expr(x, y), y0), x0), mixed)
    H = hessian(expr, [x0, y0])
    assert _close(H[0][1], mixed) and _close(H[1][0], mixed)


def test_second_derivatives_of_a_power_at_exponent_zero():
    # d/da of a^b is b a^(b-1): at b = 0 it is 0, but its derivative in b, a^-1, is not; a
    # constant 0 there dropped that graph and made the Hessian lopsided (H[0][1] != H[1][0]).
    f = lambda a, b: (b * b * 2) ** a  # noqa: E731
    H = hessian(f, [0.0, 1.5])
    base = 2 * 1.5 * 1.5
    # f = base^a: d/da = base^a ln(base); d/db = a base^(a-1) 4b; d2/da db = 4b base^(a-1) at a = 0
    assert H[0][1] == pytest.approx(4 * 1.5 / base, rel=1e-15)
    assert H[1][0] == H[0][1]
    assert H[0][0] == pytest.approx(math.log(base) ** 2, rel=1e-15)
    # and the sibling in one variable: x^y with y = 0, d2/dx dy = 1/x
    H = hessian(lambda x, y: x**y, [3.0, 0.0])
    assert H[0][1] == H[1][0] == pytest.approx(1 / 3, rel=1e-15)


def test_create_graph_gradients_have_the_numbers_of_backward():
    # softmax on Values rounds three more times than the float formula: gradients made with
    # create_graph=True must still be backward()'s numbers, bit for bit, and differentiable
    def f(b: Value) -> Value:
        c = -b
        return apply(OPS["logsumexp"], c + c, c + c, c)

    plain, with_graph = Value(2.0), Value(2.0)
    f(plain).backward()
    f(with_graph).backward(create_graph=True)
    first = with_graph.grad
    assert isinstance(first, Value)
    assert first.data == plain.grad == -1.2130139578384016  # mpmath: -1.2130139578384015...
    with_graph.grad = 0.0
    first.backward()  # the graph is still there: d2/db2, mpmath 0.16763901160442120874...
    assert with_graph.grad == pytest.approx(0.16763901160442121, rel=1e-14)


@pytest.mark.parametrize(
    "x0", [8.0, 8.3, 9.0, 12.0, 17.5, 25.0, 30.0, 0.5, 0.75, 3.0, -0.5, -0.75, -3.0, -9.0, -30.0]
)
def test_gelu_second_and_third_derivatives_are_accurate_in_the_tails(x0):
    """gelu's rule on Values wrote Phi(x) as gelu(x) / x, whose derivative cancels for large x
    (gelu'' was off by 1e-2 relative at x = 9): compared with mpmath at 50 digits."""
    import mpmath

    x = Value(x0)
    (first,) = autograd_grad(x.gelu(), [x], create_graph=True)
    (second,) = autograd_grad(first, [x], create_graph=True)
    (third,) = autograd_grad(second, [x])
    with mpmath.workdps(50):
        m = mpmath.mpf(x0)
        phi = mpmath.exp(-m * m / 2) / mpmath.sqrt(2 * mpmath.pi)
    for ours, exact in [(second.data, phi * (2 - m * m)), (third, phi * (m**3 - 4 * m))]:
        assert abs(ours - exact) <= 1e-13 * abs(exact), (x0, ours, exact)
