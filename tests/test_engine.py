"""Value and backward: the chain rule, accumulation, modes, numerics, errors, big graphs."""

from __future__ import annotations

import gc
import importlib
import math
import pkgutil
import re
import threading
import tracemalloc
import weakref
from fractions import Fraction

import pytest

import microgradx as mg
from microgradx import (
    AnomalyError,
    Op,
    Value,
    apply,
    maximum,
    minimum,
    no_grad,
    topological_order,
    zero_grad,
)

# ---- the chain rule -----------------------------------------------------------------------------


def test_lecture_neuron_gradients():
    # o = tanh(x1*w1 + x2*w2 + b), the classic example: n = 0.8814, o = 0.7071.
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    n = x1 * w1 + x2 * w2 + b
    o = n.tanh()
    o.backward()
    assert o.data == pytest.approx(math.sqrt(0.5), rel=1e-12)
    dn = 1 - o.data**2  # 0.5
    assert n.grad == pytest.approx(dn)
    assert (x1.grad, w1.grad) == pytest.approx((dn * -3.0, dn * 2.0))
    assert (x2.grad, w2.grad) == pytest.approx((dn * 1.0, 0.0))
    assert b.grad == pytest.approx(dn)


def test_reused_node_accumulates_gradient():
    a = Value(3.0)
    b = a + a  # two edges to the same node, not one
    assert b.children == (a, a)
    b.backward()
    assert a.grad == 2.0


def test_reuse_through_different_paths_sums_contributions():
    a = Value(-2.0)
    b = Value(3.0)
    d = a * b
    e = a + b
    f = d * e
    f.backward()
    # df/da = b*e + d = 3*1 + (-6) = -3;  df/db = a*e + d = -2*1 - 6 = -8
    assert (a.grad, b.grad) == (-3.0, -8.0)


def test_backward_twice_accumulates_into_leaves_like_pytorch():
    x = Value(2.0)
    y = (x * x).tanh() * 3.0
    y.backward()
    once = x.grad
    y.backward()
    assert x.grad == pytest.approx(2 * once, rel=1e-15)  # leaves accumulate
    assert y.grad == 1.0  # non-leaf nodes hold the latest pass, not a sum


def test_zero_grad_resets_a_collection():
    xs = [Value(1.0), Value(2.0)]
    (xs[0] * xs[1]).backward()
    zero_grad(xs)
    assert [x.grad for x in xs] == [0.0, 0.0]


def test_backward_with_an_upstream_gradient():
    x = Value(3.0)
    (x * 2).backward(gradient=0.5)
    assert x.grad == 1.0


def test_backward_of_a_leaf():
    x = Value(3.0)
    x.backward()
    assert x.grad == 1.0


def test_numbers_on_either_side_of_every_operator():
    x = Value(2.0)
    cases = {
        "x + 1": (x + 1, 3.0),
        "1 + x": (1 + x, 3.0),
        "x - 1": (x - 1, 1.0),
        "1 - x": (1 - x, -1.0),
        "x * 3": (x * 3, 6.0),
        "3 * x": (3 * x, 6.0),
        "x / 4": (x / 4, 0.5),
        "4 / x": (4 / x, 2.0),
        "x ** 3": (x**3, 8.0),
        "3 ** x": (3**x, 9.0),
        "x ** x": (x**x, 4.0),
        "-x": (-x, -2.0),
        "abs(-x)": (abs(-x), 2.0),
        "max": (maximum(x, 5), 5.0),
        "min": (minimum(1, x), 1.0),
    }
    for name, (out, expected) in cases.items():
        assert out.data == expected, name
        assert isinstance(out, Value), name


def test_numbers_of_other_real_types_are_accepted():
    assert Value(Fraction(1, 4)).data == 0.25
    assert Value(True).data == 1.0
    assert (Value(1.0) + Fraction(1, 2)).data == 1.5


def test_power_with_a_value_exponent_has_both_gradients():
    a, b = Value(2.0), Value(3.0)
    (a**b).backward()
    assert a.grad == 12.0
    assert b.grad == pytest.approx(8 * math.log(2))


def test_two_to_the_x():
    x = Value(3.0)
    y = 2**x
    y.backward()
    assert y.data == 8.0
    assert x.grad == pytest.approx(8 * math.log(2))


def test_subgradient_choices_are_documented_and_hold():
    for op, expected in [("relu", 0.0), ("__abs__", 0.0)]:
        x = Value(0.0)
        getattr(x, op)().backward()
        assert x.grad == expected
    x = Value(0.0)
    x.leaky_relu(0.2).backward()
    assert x.grad == 0.2
    a, b = Value(1.0), Value(1.0)
    maximum(a, b).backward()
    assert (a.grad, b.grad) == (0.5, 0.5)


# ---- IEEE-754: no op raises ---------------------------------------------------------------------

INF, NAN = math.inf, math.nan


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (lambda: Value(1000).exp(), INF),
        (lambda: 1 / Value(0), INF),
        (lambda: -1 / Value(0), -INF),
        (lambda: 1 / Value(-0.0), -INF),
        (lambda: Value(0) / Value(0), NAN),
        (lambda: Value(0).log(), -INF),
        (lambda: Value(-1).log(), NAN),
        (lambda: Value(-1).sqrt(), NAN),
        (lambda: Value(10) ** 400, INF),
        (lambda: Value(-10) ** 401, -INF),
        (lambda: Value(-8) ** (1 / 3), NAN),
        (lambda: Value(0) ** -1, INF),
        (lambda: Value(-0.0) ** -1, -INF),
        (lambda: 2 ** Value(5000), INF),
        (lambda: Value(INF).sin(), NAN),
        (lambda: Value(INF).cos(), NAN),
        (lambda: Value(-1000).sigmoid(), 0.0),
        (lambda: Value(1000).sigmoid(), 1.0),
        (lambda: Value(800).tanh(), 1.0),
        (lambda: Value(-1000).softplus(), 0.0),
        (lambda: Value(1000).softplus(), 1000.0),
        (lambda: Value(1e308) * 10, INF),
        (lambda: Value(INF) - Value(INF), NAN),
        (lambda: Value(NAN).relu(), NAN),
        (lambda: maximum(Value(NAN), 1.0), NAN),
    ],
)
def test_ops_follow_ieee_754_instead_of_raising(expression, expected):
    out = expression()
    if math.isnan(expected):
        assert math.isnan(out.data)
    else:
        assert out.data == expected
        assert math.copysign(1, out.data) == math.copysign(1, expected)
    out.backward()  # the backward pass must not raise either


def test_saturated_sigmoid_has_zero_gradient():
    x = Value(-1000.0)
    x.sigmoid().backward()
    assert x.grad == 0.0


def test_softplus_gradient_at_extremes():
    for x0, expected in [(1000.0, 1.0), (-1000.0, 0.0)]:
        x = Value(x0)
        x.softplus().backward()
        assert x.grad == expected


def test_gradients_at_poles_are_infinite_not_errors():
    x = Value(0.0)
    x.log().backward()
    assert x.grad == INF
    y = Value(0.0)
    y.sqrt().backward()
    assert y.grad == INF


# ---- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["3", None, 1j, [1.0], object()])
def test_value_rejects_non_real_data(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)


@pytest.mark.parametrize("bad", ["a", None, 1j])
@pytest.mark.parametrize("op", ["+", "-", "*", "/", "**"])
def test_operators_reject_non_real_operands(bad, op):
    x = Value(1.0)
    with pytest.raises(TypeError, match=type(bad).__name__):
        eval(f"x {op} bad", {"x": x, "bad": bad})
    with pytest.raises(TypeError, match=type(bad).__name__):
        eval(f"bad {op} x", {"x": x, "bad": bad})


def test_bad_label_and_gradient_are_rejected():
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)
    with pytest.raises(TypeError, match="gradient"):
        Value(1.0).backward(gradient="1")


def test_bad_method_arguments_are_rejected():
    with pytest.raises(TypeError, match="negative_slope"):
        Value(1.0).leaky_relu("0.1")
    with pytest.raises(TypeError, match="str"):
        maximum(Value(1.0), "2")


# ---- modes --------------------------------------------------------------------------------------


def test_no_grad_records_no_graph():
    x = Value(2.0)
    with no_grad():
        y = x * x + 1
        assert not mg.is_grad_enabled()
    assert y.data == 5.0
    assert y.children == () and y.op is None
    assert mg.is_grad_enabled()
    z = x * x
    assert z.children == (x, x)


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(RuntimeError), no_grad():
        raise RuntimeError
    assert mg.is_grad_enabled()


def test_no_grad_is_per_thread():
    seen = []
    with no_grad():
        thread = threading.Thread(target=lambda: seen.append(mg.is_grad_enabled()))
        thread.start()
        thread.join()
    assert seen == [True]


def test_enable_grad_inside_no_grad():
    x = Value(1.0)
    with no_grad(), mg.enable_grad():
        y = x + 1
    assert y.children == (x, y.children[1])


def test_detach_cuts_the_graph():
    x = Value(3.0, label="x")
    y = (x * x).detach()
    z = y * x
    z.backward()
    assert y.op is None and y.children == ()
    assert x.grad == 9.0  # only through the second factor


def test_anomaly_mode_names_the_op_in_the_forward_pass():
    with mg.detect_anomaly(), pytest.raises(AnomalyError) as info:
        Value(2.0) * Value(3.0)  # fine
        Value(-1.0).log()
    error = info.value
    assert (error.op, error.inputs, error.direction) == ("log", (-1.0,), "forward")
    assert "log(-1.0) produced nan in the forward pass" in str(error)


def test_anomaly_mode_names_the_op_in_the_backward_pass():
    x = Value(0.0)
    y = x.sqrt() * 2.0  # finite forward (0 * 2), but d sqrt/dx at 0 is inf
    with mg.detect_anomaly(), pytest.raises(AnomalyError) as info:
        y.backward()
    assert info.value.op == "sqrt"
    assert info.value.direction == "backward"


def test_anomaly_mode_is_off_by_default_and_restored():
    with mg.detect_anomaly():
        pass
    assert math.isinf(Value(1000).exp().data)


def test_anomaly_mode_gives_the_same_gradients_when_nothing_is_wrong():
    def run():
        x = Value(0.3)
        y = (x.sin() * x.exp() / (1 + x * x)).tanh()
        y.backward()
        return x.grad

    plain = run()
    with mg.detect_anomaly():
        assert run() == plain


# ---- big graphs: no recursion, no cycles, modest memory -----------------------------------------


def test_million_op_chain_builds_runs_backward_and_prints():
    x = Value(1.0, label="x")
    y = x
    for _ in range(1_000_000):
        y = y + 1e-6
    y.backward()
    assert x.grad == 1.0
    assert y.data == pytest.approx(2.0)
    assert repr(y).startswith("Value(data=")
    assert len(topological_order(y)) == 2_000_001  # a constant leaf for each + 1e-6
    del y  # freeing a deep chain must not overflow the C stack either


def test_dropped_graph_is_freed_by_reference_counting_alone():
    gc.collect()
    gc.disable()
    try:
        x = Value(0.5)
        y = x
        for _ in range(2000):
            y = (y * 1.001 + x).tanh() + maximum(y, 0.1) ** 2
        y.backward()
        refs = [weakref.ref(node) for node in topological_order(y) if node is not x]
        del y
        alive = sum(1 for ref in refs if ref() is not None)
        assert alive == 0, f"{alive} nodes survived: the graph holds a reference cycle"
        assert gc.collect() == 0  # and the cycle collector finds nothing left to do
    finally:
        gc.enable()


def test_create_graph_cycle_is_broken_by_zero_grad():
    # Documented: with create_graph=True, x.grad's graph refers back to x (as in PyTorch).
    gc.collect()
    gc.disable()
    try:
        x = Value(3.0)
        (x**3).backward(create_graph=True)
        ref = weakref.ref(x.grad)
        zero_grad([x])
        assert ref() is None
    finally:
        gc.enable()


def test_recorded_node_memory_is_small():
    tracemalloc.start()
    try:
        x = Value(0.5)
        before = tracemalloc.get_traced_memory()[0]
        y = x
        for _ in range(10_000):
            y = (y * x).tanh()
        per_node = (tracemalloc.get_traced_memory()[0] - before) / 20_000
    finally:
        tracemalloc.stop()
    assert per_node < 200, f"{per_node:.0f} bytes per node"


def test_topological_order_lists_inputs_before_outputs_once_each():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = topological_order(e)
    assert len(order) == len(set(map(id, order))) == 5
    position = {id(node): i for i, node in enumerate(order)}
    for node in order:
        for child in node.children:
            assert position[id(child)] < position[id(node)]
    assert order[-1] is e


def test_repr_shows_data_grad_op_and_label():
    x = Value(2.0, label="x")
    y = x.tanh()
    y.label = "y"
    assert repr(x) == "Value(data=2.0, grad=0.0, label='x')"
    assert repr(y) == f"Value(data={math.tanh(2.0)!r}, grad=0.0, op='tanh', label='y')"


# ---- higher order through create_graph ----------------------------------------------------------


def test_second_derivative_by_create_graph():
    x = Value(0.7)
    y = x.sin() * x.exp()
    y.backward(create_graph=True)
    first = x.grad
    assert isinstance(first, Value)
    assert first.data == pytest.approx(math.exp(0.7) * (math.sin(0.7) + math.cos(0.7)))
    zero_grad([x])
    first.backward()
    assert x.grad == pytest.approx(2 * math.exp(0.7) * math.cos(0.7))


def test_create_graph_gives_value_gradients_even_for_constant_derivatives():
    x = Value(1.0)
    (x + 2).backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == 1.0


def test_value_method_float():
    assert float(Value(2.5)) == 2.5


# ---- a zero gradient stays zero -----------------------------------------------------------------

# Points where an op's local derivative is infinite or undefined: 0 * inf would be NaN.
SINGULAR = [
    (mg.OPS["log"], (0.0,)),
    (mg.OPS["sqrt"], (0.0,)),
    (mg.OPS["div"], (1.0, 0.0)),
    (mg.OPS["pow"], (0.0, 0.5)),
    (mg.OPS["pow_scalar"].member(0.5), (0.0,)),
    (mg.OPS["pow_scalar"].member(-1.0), (0.0,)),
    (mg.OPS["exp"], (1000.0,)),
]


@pytest.mark.parametrize(("op", "inputs"), SINGULAR, ids=lambda x: getattr(x, "label", ""))
def test_a_zero_upstream_gradient_contributes_exactly_zero(op, inputs):
    leaves = [Value(x) for x in inputs]
    y = mg.apply(op, *leaves) * 0.0  # this op's upstream gradient is exactly 0
    y.backward()
    assert [leaf.grad for leaf in leaves] == [0.0] * len(leaves)


def test_anomaly_mode_follows_the_same_rule():
    x = Value(0.0)
    y = x.sqrt() * 0.0  # finite forward; d sqrt/dx = inf meets an upstream of exactly 0
    with mg.detect_anomaly():
        y.backward()  # nothing non-finite is contributed, so nothing to report
    assert x.grad == 0.0


def test_a_nonzero_upstream_still_meets_an_infinite_local_derivative():
    x = Value(0.0)
    (x.sqrt() * 2.0).backward()
    assert x.grad == math.inf  # IEEE-754: the rule only spares zeros
    y = Value(0.0)
    (y.log() * math.nan).backward()
    assert math.isnan(y.grad)  # NaN upstream is not zero: it propagates


def test_fast_paths_for_add_and_mul_follow_the_table_rule():
    for upstream in (1.0, -2.5, 1e-300, 3.0e200):
        for a_data, b_data in ((2.0, -3.0), (0.5, 1e-8), (-7.0, 0.0)):
            for op in (mg.OPS["add"], mg.OPS["mul"]):
                a, b = Value(a_data), Value(b_data)
                out = mg.apply(op, a, b)
                out.backward(upstream)  # walk_floats, with its inlined + and * rules
                rule = op.local_grads(a_data, b_data, out.data)
                assert (a.grad, b.grad) == (upstream * rule[0], upstream * rule[1]), op.name
                with mg.detect_anomaly():  # the general loop reads the table itself
                    a2, b2 = Value(a_data), Value(b_data)
                    mg.apply(op, a2, b2).backward(upstream)
                assert (a2.grad, b2.grad) == (a.grad, b.grad)


# ---- numbers and truth --------------------------------------------------------------------------


def test_a_value_in_an_if_is_an_error_that_says_to_compare_data():
    with pytest.raises(TypeError, match=r"compare its number, e.g. `if v.data > 0:`"):
        bool(Value(1.0))


def test_every_real_number_type_is_accepted():
    assert Value(Fraction(1, 4)).data == 0.25
    assert (Value(2.0) ** Fraction(1, 2)).data == math.sqrt(2)
    assert Value(True).data == 1.0  # a bool is a number (but not a count: see nn)
    with pytest.raises(TypeError, match="Value data must be a real number, got str"):
        Value("1.0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="gradient must be a real number, got complex"):
        Value(1.0).backward(1j)  # type: ignore[arg-type]


# ---- ops of three or more inputs, signed zeros, set-to-None --------------------------------------


def _weighted_sum_op():
    from microgradx.ops import Op

    return Op(
        name="weighted_sum3",
        symbol="ws3",
        arity=3,
        forward=lambda a, b, c: a + 2 * b + 3 * c * c,
        local_grads=lambda a, b, c, out: (1.0, 2.0, 6 * c),
        math="a + 2b + 3c^2",
        derivative="d/da = 1, d/db = 2, d/dc = 6c",
    )


def test_an_op_of_three_inputs_runs_backward_forward_and_second_order():
    from microgradx import apply
    from microgradx.dual import jvp
    from microgradx.functional import grad

    op = _weighted_sum_op()
    a, b, c = Value(1.0), Value(2.0), Value(3.0)
    out = apply(op, a, b, c)
    assert out.children == (a, b, c)
    assert out.data == 1 + 4 + 27
    (out * out).backward()
    assert (a.grad, b.grad, c.grad) == (2 * 32 * 1.0, 2 * 32 * 2.0, 2 * 32 * 18.0)
    assert jvp(lambda x, y, z: apply(op, x, y, z), [1.0, 2.0, 3.0], [0.0, 0.0, 1.0]) == (32, 18.0)
    assert grad(grad(lambda z: apply(op, 1.0, 2.0, z)))(3.0) == 6.0
    shared = Value(1.5)
    reused = apply(op, shared, shared, shared)  # one input three times: three edges
    reused.backward()
    assert shared.grad == 1.0 + 2.0 + 9.0


def test_apply_checks_the_input_count():
    from microgradx import apply

    with pytest.raises(TypeError, match="takes 3 input"):
        apply(_weighted_sum_op(), 1.0, 2.0)


def test_signed_zero_parameters_are_not_conflated_by_any_cache():
    # -0.0 == 0.0 with the same hash: a cache keyed by the number would answer for both
    assert ((-0.0) ** Value(-1.0)).data == -math.inf
    assert (0.0 ** Value(-1.0)).data == math.inf
    assert ((-0.0) ** Value(-1.0)).data == -math.inf
    x = Value(-0.0)
    assert math.copysign(1.0, (x**1.0).data) == -1.0
    assert math.copysign(1.0, Value(-2.0).leaky_relu(-0.0).data) == 1.0  # -2 * -0.0 = +0.0
    assert math.copysign(1.0, Value(-2.0).leaky_relu(0.0).data) == -1.0  # -2 * 0.0 = -0.0


def test_grad_set_to_none_counts_as_zero():
    x = Value(2.0)
    y = x * x
    x.grad = None  # PyTorch's optimizer.zero_grad(set_to_none=True) leaves this
    y.backward()
    assert x.grad == 4.0
    x.grad = None
    (x * x).backward(create_graph=True)
    assert x.grad.data == 4.0


def test_create_graph_gives_the_same_zero_as_backward_where_a_local_derivative_is_infinite():
    # sqrt'(0) is inf and the upstream is 0: backward() contributes exactly 0, not 0 * inf = nan
    for make in (lambda x: (x * 0.0).sqrt() * 0.0, lambda x: (x - x).sqrt() * 0.0):
        x = Value(0.0)
        make(x).backward()
        plain = x.grad
        y = Value(0.0)
        make(y).backward(create_graph=True)
        assert plain == 0.0 and y.grad.data == 0.0
    # ...while a zero upstream that still depends on x keeps its second derivative:
    # f = (x^2)^2 / 4 has f'(0) = 0 through the upstream 2 * (x^2) ... and f''(x) = 3x^2
    x = Value(0.5)
    ((x * x) * (x * x) * 0.25).backward(create_graph=True)
    first = x.grad
    x.grad = 0.0
    first.backward()
    assert x.grad == pytest.approx(3 * 0.25)


def _grads(*nodes: Value) -> list[object]:
    return [n.grad for n in nodes]


def test_a_backward_pass_that_raises_leaves_every_grad_as_it_was():
    from microgradx import detect_anomaly

    x = Value(0.0, label="x")
    h = x.sqrt()  # d/dx = inf at 0, which detect_anomaly refuses in backward
    y = h * 3.0
    L = y + x
    L.backward()
    seen = _grads(x, h, y, L)
    assert seen == [math.inf, 3.0, 1.0, 1.0]
    with detect_anomaly(), pytest.raises(AnomalyError):
        L.backward()
    assert _grads(x, h, y, L) == pytest.approx(seen, nan_ok=True)


def test_a_bad_leaf_grad_is_refused_before_any_grad_changes():
    a, b = Value(2.0), Value(3.0)
    mid = a * b
    out = mid.tanh()
    out.backward()
    seen = _grads(a, b, mid, out)
    b.grad = "oops"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="set before backward"):
        out.backward()
    assert _grads(a, mid, out) == seen[:1] + seen[2:] and b.grad == "oops"


def test_an_op_of_the_users_that_raises_in_backward_changes_no_grad():
    boom = Op(
        name="boom",
        symbol="boom",
        arity=1,
        forward=lambda x: x,
        local_grads=lambda x, out: (1 / 0,),  # raises ZeroDivisionError in the fast pass
        math="boom(x) = x",
        derivative="1",
    )
    a = Value(2.0)
    b = a * a
    out = apply(boom, b) + a
    a.grad = 5.0
    with pytest.raises(ZeroDivisionError):
        out.backward()
    assert a.grad == 5.0 and b.grad == 0.0 and out.grad == 0.0


def _user_op(rule):
    return Op(
        name="u",
        symbol="u",
        arity=2,
        forward=lambda a, b: a * b,
        local_grads=rule,
        math="u(a, b) = a b",
        derivative="(b, a)",
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (lambda a, b, out: (b,), r"returned 1 derivative\(s\) for 2 input"),  # y's was dropped
        (lambda a, b, out: (b, a, 1.0), r"returned 3 derivative\(s\) for 2 input"),
        (lambda a, b, out: (1j, 1.0), "derivative 0 must be a real number, got complex"),
        (lambda a, b, out: (True, 1.0), "derivative 0 must be a real number, got bool"),
        (lambda a, b, out: ("s", "t"), "derivative 0 must be a real number, got str"),
        (lambda a, b, out: None, "must return a tuple with one derivative per input"),
    ],
)
def test_a_users_op_whose_rule_returns_the_wrong_things_is_refused_by_name(rule, message):
    x, y = Value(1.5), Value(2.0)
    out = apply(_user_op(rule), x * y, y) + x
    with pytest.raises(TypeError, match=f"op 'u': local_grads.*{message}"):
        out.backward()
    assert (x.grad, y.grad) == (0.0, 0.0)  # and nothing was half added


def test_a_users_op_with_a_right_rule_runs_in_every_mode_and_the_tables_ops_run_unchecked():
    from microgradx.dual import derivative
    from microgradx.functional import hessian
    from microgradx.ops import OPS, all_members

    op = _user_op(lambda a, b, out: (b, a))
    x, y = Value(1.5), Value(2.0)
    (apply(op, x * y, y) + x).backward()
    assert (x.grad, y.grad) == (5.0, 6.0)
    assert derivative(lambda v: apply(op, v, v), 3.0) == 6.0
    assert hessian(lambda a, b: apply(op, a, b), [1.0, 2.0]) == [[0.0, 1.0], [1.0, 0.0]]
    # the table's rules (and its families' members, made later) are not wrapped: they are hot
    assert not any(hasattr(m.local_grads, "checked") for m in all_members())
    assert not hasattr(OPS["pow_scalar"].member(7.25).local_grads, "checked")


def test_a_users_rule_copied_from_a_table_op_or_returning_other_types_is_checked():
    import dataclasses

    import numpy as np

    from microgradx.ops import OPS

    bad = dataclasses.replace(OPS["tanh"], name="mytanh", local_grads=lambda x, out: ())
    with pytest.raises(TypeError, match=r"op 'mytanh': local_grads returned 0 derivative"):
        apply(bad, Value(0.3)).backward()
    for result, shown in [
        ((np.array([2.0, 3.0]), 1.0), "ndarray"),
        ((Value(2.0), 1.0), "Value"),  # a Value on floats: the gradient would become a Value
        ({5.0: "x", 6.0: "y"}, "dict"),
    ]:
        op = _user_op(lambda a, b, out, result=result: result)
        with pytest.raises(TypeError, match=f"op 'u': local_grads.*{shown}"):
            apply(op, Value(1.0), Value(2.0)).backward()


@pytest.mark.parametrize(
    ("module", "name", "new"),
    [
        ("microgradx.engine", "grad", "microgradx.autograd.grad"),
        ("microgradx.engine", "chain_rule", "microgradx.walk.walk"),
        ("microgradx.replay", "record", "microgradx.replay.tape_of"),
        ("microgradx.optim", "clip_grad_norm", "clip_grad_norm_"),
    ],
)
def test_a_renamed_name_fails_on_import_with_one_line_naming_the_new_one(module, name, new):
    with pytest.raises(ImportError, match=re.escape(new)) as caught:
        exec(f"from {module} import {name}", {})
    assert "\n" not in str(caught.value)
    with pytest.raises(ImportError, match=re.escape(new)):
        getattr(importlib.import_module(module), name)
    assert not hasattr(importlib.import_module(module), "no_such_name")


def test_every_module_level_getattr_of_the_package_is_checks_gone():
    # one mechanism for renamed names: an AttributeError from a module's __getattr__ is turned
    # by ``from m import old`` into import's generic message, which names nothing
    found = []
    for info in pkgutil.walk_packages(mg.__path__, "microgradx."):
        if info.name == "microgradx.forward" or info.name.endswith("__main__"):
            continue  # the renamed module itself (its import raises); the command line
        module = importlib.import_module(info.name)
        hook = vars(module).get("__getattr__")
        if hook is not None:
            found.append(info.name)
            assert hook.__qualname__ == "gone.<locals>.__getattr__", info.name
    assert {"microgradx.engine", "microgradx.replay", "microgradx.optim"} <= set(found)
