"""gradcheck: passes right gradients, catches wrong ones, names the culprit, respects kinks."""

from __future__ import annotations

import importlib
import inspect
import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings

from microgradx import GradcheckError, Op, Value, apply, gradcheck, maximum, no_grad
from microgradx.ops import safe_sqrt
from microgradx.strategies import expressions

CHECK = importlib.import_module(
    "microgradx.gradcheck"
)  # the module (the package's is the function)


@pytest.fixture(autouse=True, params=["interpreted", "compiled"])
def evaluation(request, monkeypatch):
    """Every test here runs twice: with f evaluated by the interpreted engine at each probe and
    step, and by the compiled replay (from one input on, where by default it is from
    COMPILE_INPUTS): the two must give the same reports."""
    monkeypatch.setattr(CHECK, "COMPILE_INPUTS", 1 if request.param == "compiled" else 10**9)
    return request.param


def test_passes_a_correct_gradient_and_reports_every_input():
    report = gradcheck(lambda a, b: (a * b).tanh() + a**2 / b, [0.5, 1.3])
    assert report.passed
    assert [row.name for row in report.rows] == ["x0", "x1"]
    for row in report.rows:
        assert row.status == "ok"
        assert row.rel_error < 1e-8
    text = str(report)
    assert "gradcheck passed" in text and "analytic" in text and "numeric" in text


def test_uses_the_labels_of_value_inputs_and_leaves_them_untouched():
    w = Value(2.0, label="w")
    w.grad = 7.0
    report = gradcheck(lambda w: w * w, [w])
    assert report.rows[0].name == "w"
    assert w.grad == 7.0


# A deliberately wrong op: d/dx x^2 written as x (should be 2x).
BAD_SQUARE = Op(
    name="bad_square",
    symbol="sq",
    arity=1,
    forward=lambda x: x * x,
    local_grads=lambda x, out: (x,),
    math="x^2",
    derivative="d/dx = x (wrong on purpose)",
)


def test_a_wrong_derivative_rule_is_found_and_named():
    def f(a, b):
        hidden = (a * b).tanh() + 1.0
        return apply(BAD_SQUARE, hidden).log() * b

    with pytest.raises(GradcheckError) as info:
        gradcheck(f, [0.3, -0.8])
    report = info.value.report
    assert not report.passed
    assert report.suspect is not None and report.suspect.startswith("bad_square")
    message = str(info.value)
    assert "FAILED" in message
    assert "first op whose own local derivative disagrees: bad_square" in message
    assert f"worst input: {report.worst.name}" in message


def test_report_without_raising():
    report = gradcheck(lambda x: apply(BAD_SQUARE, x), [3.0], raise_exception=False)
    assert not report.passed
    row = report.rows[0]
    assert (row.analytic, row.status) == (3.0, "FAIL")
    assert row.numeric == pytest.approx(6.0)


def test_relu_at_zero_is_reported_as_a_kink_not_a_failure():
    report = gradcheck(lambda x, y: x.relu() + y * y, [0.0, 1.5])
    assert report.passed
    assert report.rows[0].status == "kink"
    assert "ReLU" in report.rows[0].detail
    assert report.rows[1].status == "ok"


def test_a_kink_reached_through_other_nodes_is_detected():
    # maximum(a*2, b+1) has a kink where 2a = b + 1: here exactly.
    report = gradcheck(lambda a, b: maximum(a * 2, b + 1), [1.0, 1.0], raise_exception=False)
    assert [row.status for row in report.rows] == ["kink", "kink"]
    assert not report.passed and report.verdict == "compared nothing"  # nothing was shown


def test_step_shrinks_near_a_kink_and_the_check_still_passes():
    # 1e-8 from relu's kink: a naive step of 1e-6 would straddle it and give 0.5.
    report = gradcheck(lambda x: (x - 1e-8).relu() * 3.0, [2e-8])
    assert report.rows[0].status == "ok"
    assert report.rows[0].numeric == pytest.approx(3.0)
    assert report.rows[0].step < 1e-8


def test_step_stays_inside_the_domain_of_log_near_zero():
    # With x = 1e-7 a step of 1e-6 would ask for log of a negative number.
    report = gradcheck(lambda x: x.log(), [1e-7])
    assert report.rows[0].status == "ok"
    assert report.rows[0].numeric == pytest.approx(1e7, rel=1e-4)


def test_step_scales_with_the_input():
    report = gradcheck(lambda x: x * x, [1e6])
    assert report.rows[0].step == pytest.approx(1e-6 * 1e6)
    assert report.passed


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"eps": 0.0}, ValueError, r"eps must be in \(0, inf\), got 0\.0"),
        ({"eps": math.inf}, ValueError, "eps must be in"),
        ({"eps": math.nan}, ValueError, "eps must be in"),
        ({"eps": "1e-6"}, TypeError, "eps must be a real number, got str"),
        ({"eps": 10**400}, ValueError, "eps is too large for a float"),
        ({"atol": -1.0}, ValueError, r"atol must be in \[0, inf\)"),
        ({"atol": math.inf}, ValueError, "atol must be in"),
        ({"rtol": math.nan}, ValueError, "rtol must be in"),
        ({"rtol": 1j}, TypeError, "rtol must be a real number, got complex"),
        ({"raise_exception": "no"}, TypeError, "raise_exception must be True or False"),
    ],
)
def test_bad_settings_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        gradcheck(lambda x: x, [1.0], **kwargs)


@pytest.mark.parametrize(
    ("func", "inputs", "error", "match"),
    [
        (3, [1.0], TypeError, "func must be a function, got int 3"),
        (lambda x: 3.0, [1.0], TypeError, "func must return a Value, got float"),
        (lambda x: x, ["1"], TypeError, r"inputs\[0\] must be a real number, got str"),
        (lambda x: x, "1", TypeError, "inputs must be a list, got str"),
        (lambda x: x, {"x": 1.0}, TypeError, "inputs must be a list, got dict"),
        (lambda x: x, [10**400], ValueError, r"inputs\[0\] is too large for a float"),
        (lambda x: x, [math.nan], ValueError, r"inputs\[0\] must be a finite number, got nan"),
        (lambda x, y: x, [1.0, -math.inf], ValueError, r"inputs\[1\] must be a finite number"),
        (lambda: Value(1.0), [], ValueError, "inputs must not be empty"),
        (lambda a, b: a * b, [1.0], TypeError, r"func cannot take the 1 value\(s\) in inputs"),
        (lambda a: a, [1.0, 2.0], TypeError, r"func cannot take the 2 value\(s\) in inputs"),
    ],
)
def test_bad_arguments_are_rejected(func, inputs, error, match):
    with pytest.raises(error, match=match):
        gradcheck(func, inputs)


def test_arguments_are_those_of_torch_autograd_gradcheck(torch):
    ours = inspect.signature(gradcheck).parameters
    theirs = inspect.signature(torch.autograd.gradcheck).parameters
    assert list(ours) == list(theirs)[: len(ours)]  # same names, same order
    for name, parameter in ours.items():
        assert parameter.kind == theirs[name].kind, name
        assert parameter.default == theirs[name].default, name


def test_one_number_or_value_is_one_input_as_torch_takes_one_tensor():
    assert gradcheck(lambda x: x * x, 2.0).rows[0].numeric == pytest.approx(4.0)
    assert gradcheck(lambda w: w * w, Value(2.0, label="w")).rows[0].name == "w"


def test_a_check_inside_no_grad_still_builds_its_graph():
    with no_grad():
        assert gradcheck(lambda x: x.tanh(), [0.3]).passed


# ---- numbers that are not finite are never compared by equality ----------------------------------


def test_nan_against_nan_is_not_a_pass():
    # sqrt(-4) is NaN, and so is its gradient and its finite difference: nothing was compared
    with pytest.raises(GradcheckError, match="no input could be checked"):
        gradcheck(lambda x: x.sqrt(), [-4.0])
    report = gradcheck(lambda x: x.sqrt(), [-4.0], raise_exception=False)
    assert not report.passed and report.checked == 0
    assert report.rows[0].status == "not compared"
    assert "outside the domain of sqrt: sqrt(-4) is nan" in report.rows[0].detail
    assert str(report).startswith("gradcheck compared nothing: f = nan")


@pytest.mark.parametrize(
    ("func", "x", "reason"),
    [
        (lambda x: x.log(), 0.0, "at a pole of log: log(0) is -inf"),
        (lambda x: 1.0 / x, 0.0, "at a pole of div: div(1, 0) is inf"),
        (lambda x: x.exp(), 1000.0, "overflow: exp(1000) is inf"),
        (lambda x: (x * 1e300) * (x * 1e300), 1.0, "overflow: mul(1e+300, 1e+300) is inf"),
        (lambda x: x ** Value(0.5), -8.0, "outside the domain of pow: pow(-8, 0.5) is nan"),
    ],
)
def test_where_f_is_not_finite_the_row_says_why_and_nothing_passes(func, x, reason):
    report = gradcheck(func, [x], raise_exception=False)
    assert [row.status for row in report.rows] == ["not compared"]
    assert reason in report.rows[0].detail
    assert not report and report.verdict == "compared nothing"


# An op that knows nothing of its domain's edge (no kink): gradcheck cannot keep its step inside.
BLIND_SQRT = Op(
    name="blind_sqrt",
    symbol="bsqrt",
    arity=1,
    forward=safe_sqrt,
    local_grads=lambda x, out: (0.5 / out,),
    math="sqrt(x)",
    derivative="1 / (2 sqrt(x))",
)


def test_a_step_that_would_leave_the_domain_shrinks_instead():
    # no kink declared: f(x - h) is NaN for h = 1e-6, so the step shrinks until it stays inside
    report = gradcheck(lambda x: apply(BLIND_SQRT, x), [1e-7])
    (row,) = report.rows
    assert row.status == "ok" and row.step < 1e-9
    assert "f leaves a domain" in row.detail and "outside the domain of blind_sqrt" in row.detail
    assert row.numeric == pytest.approx(0.5 / math.sqrt(1e-7), rel=1e-4)


def test_a_gradient_that_is_nan_where_f_has_a_finite_slope_fails():
    # sqrt(max(x, 0)) is 0 near x = -1: slope 0. Reverse mode multiplies sqrt's infinite local
    # derivative at 0 by max's 0 and gets NaN (as PyTorch does): a wrong gradient.
    report = gradcheck(lambda x: maximum(x, 0.0).sqrt(), [-1.0], raise_exception=False)
    row = report.rows[0]
    assert row.status == "FAIL" and math.isnan(row.analytic) and row.numeric == 0.0
    assert "the gradient is nan where f has a finite slope" in row.detail
    assert "sqrt(0) has local derivative inf" in report.suspect
    assert not report and report.worst is row


INFINITE_RULE = Op(
    name="infinite_rule",
    symbol="ir",
    arity=1,
    forward=lambda x: 2.0 * x,
    local_grads=lambda x, out: (math.inf,),
    math="2x",
    derivative="inf (wrong on purpose)",
)


def test_an_infinite_gradient_of_a_smooth_function_fails_and_blames_its_op():
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x: apply(INFINITE_RULE, x).tanh(), [0.5])
    report = info.value.report
    assert report.rows[0].status == "FAIL" and report.rows[0].analytic == math.inf
    assert report.suspect.startswith("infinite_rule")


# cbrt(x) has a vertical tangent at 0 (its derivative 1 / (3 x^(2/3)) is infinite there)
BLIND_CBRT = Op(
    name="blind_cbrt",
    symbol="cbrt",
    arity=1,
    forward=lambda x: math.copysign(abs(x) ** (1 / 3), x),
    local_grads=lambda x, out: (1 / (3 * out * out) if out else math.inf,),
    math="cbrt(x)",
    derivative="1 / (3 cbrt(x)^2)",
)


def test_an_infinite_gradient_where_the_slope_grows_is_unresolved_never_passed():
    # a vertical tangent (cbrt at 0, no kink declared) and a function that oscillates faster
    # than the steps look the same from outside; the second one's infinite gradient is wrong
    report = gradcheck(lambda x: apply(BLIND_CBRT, x), [0.0], raise_exception=False)
    row = report.rows[0]
    assert row.status == "unresolved" and row.analytic == math.inf and not report
    assert row.detail.startswith("the slope grows as the step shrinks")
    fast = Op(
        name="fastsin",
        symbol="fs",
        arity=1,
        forward=lambda x: math.sin(1e7 * x),
        local_grads=lambda x, out: (math.inf,),  # wrong: 1e7 cos(1e7 x) is finite
        math="sin(1e7 x)",
        derivative="inf",
    )
    report = gradcheck(lambda a, b: apply(fast, a) + b * 2, [0.3, 1.0], raise_exception=False)
    assert not report and report.verdict != "passed"  # it passed, the inf read as a pole


def test_an_unshrunk_step_too_small_for_f_is_unresolved_not_failed():
    report = gradcheck(lambda a: a * a * 1e300, [1e-300], raise_exception=False)
    assert report.rows[0].status == "unresolved"  # was FAILED: 2.0 (right) against 0.0
    assert "too small to resolve f's rounding" in report.rows[0].detail


def test_a_difference_that_overflows_is_not_compared():
    report = gradcheck(lambda x: (x * 1e10).tanh() * 1.7e308, [0.0], raise_exception=False)
    assert report.rows[0].status == "not compared"
    assert report.rows[0].detail == "overflow: f(x + h) - f(x - h) is not finite"


def test_a_comparable_input_beside_one_that_is_not_decides_the_verdict():
    # at y = 0 blind_sqrt's gradient is infinite: f has no finite derivative there
    report = gradcheck(lambda x, y: x * x + y.sqrt(), [1.0, 0.0])  # sqrt: an edge at 0
    assert [row.status for row in report.rows] == ["ok", "kink"]
    assert report.passed and report.checked == 1
    # a pass that left an input out says so
    assert "passed on 1 of 2 inputs; not compared, as f has no finite derivative there: x1" in (
        str(report)
    )


def test_a_power_of_infinity_is_checked_without_a_raw_error():
    report = gradcheck(lambda x: x**math.inf, [0.5], raise_exception=False)
    assert not report.passed  # 0.5 ** inf = 0; its gradient inf * 0 is nan: not a pass


# ---- a report's truth value is its verdict -------------------------------------------------------


def test_a_report_is_true_only_when_it_passed():
    assert gradcheck(lambda x: x * x, [3.0])
    failed = gradcheck(lambda x: apply(BAD_SQUARE, x), [3.0], raise_exception=False)
    assert not failed and bool(failed) is False
    nothing = gradcheck(lambda x: x.relu(), [0.0], raise_exception=False)
    assert not nothing
    with pytest.raises(AssertionError):  # PyTorch's habit now catches a wrong gradient
        assert gradcheck(lambda x: apply(BAD_SQUARE, x), [3.0], raise_exception=False)


def test_a_check_that_compared_nothing_has_not_passed():
    with pytest.raises(GradcheckError, match="no input could be checked"):
        gradcheck(lambda x: x.relu(), [0.0])  # relu's kink: no derivative to compare
    report = gradcheck(lambda x: x.relu(), [0.0], raise_exception=False)
    assert report.checked == 0 and not report.passed
    assert str(report).startswith("gradcheck compared nothing")
    assert gradcheck(lambda x: x.relu(), [0.5]).passed  # one side of the kink: compared


def test_no_nan_enters_the_step_size_whatever_the_order():
    from microgradx.gradcheck import _shrink

    assert _shrink(1e-6, math.nan) == 1e-6
    assert _shrink(1e-6, 1e-9) == 1e-9
    assert _shrink(1e-6, math.inf) == 1e-6
    assert _shrink(1e-6, -1.0) == 1e-6
    # the blame step: an op whose kink distance is NaN (a NaN input) keeps the normal step
    op = Op("t", "t", 1, lambda x: x, lambda x, out: (2.0,), "t", "t", kink=lambda x: x)
    from microgradx.gradcheck import _check_op

    assert _check_op(op, [math.nan], [1.0], 1e-6) is None  # NaN input: nothing to blame
    assert _check_op(op, [1.0], [2.0], 1e-6) == 0  # the wrong rule (2 for x) is still found


@pytest.mark.parametrize("op", ["relu", "log"])
def test_an_input_near_but_not_on_a_kink_is_compared_with_a_smaller_step(op):
    """1e-11 is not on relu's kink or log's edge (both at 0): the step shrinks to 1% of the
    distance, the derivatives are compared, and the row says which step was used."""
    report = gradcheck(lambda x: getattr(x, op)(), [1e-11])
    (row,) = report.rows
    assert report.passed and row.status == "ok" and row.step == pytest.approx(1e-13)
    assert "step 1e-13" in row.detail and "1e-11 away" in row.detail
    assert row.numeric == pytest.approx(1.0 if op == "relu" else 1e11, rel=1e-4)


def test_on_a_kink_is_a_kink_and_within_rounding_of_one_is_unresolved():
    (row,) = gradcheck(lambda x: x.relu(), [0.0], raise_exception=False).rows
    assert row.status == "kink" and row.detail == "x is at a kink or domain edge of ReLU"
    # relu(x - c) with c one ULP above x: f is differentiable at x (slope 0), but no step fits
    # between x and the kink: not checked, so not a pass either
    c = math.nextafter(1.0, 2.0)
    report = gradcheck(lambda x: (x - c).relu(), [1.0], raise_exception=False)
    (row,) = report.rows
    assert row.status == "unresolved" and "within rounding of a kink" in row.detail
    assert report.verdict == "incomplete" and not report


def test_a_step_too_small_to_resolve_f_is_unresolved_rather_than_failed():
    report = gradcheck(lambda x: x.relu() + 1000.0, [1e-11], raise_exception=False)
    (row,) = report.rows
    assert row.status == "unresolved" and "too small to resolve" in row.detail
    assert report.verdict == "incomplete" and not report


# ---- a row that could not be checked for numerical reasons is never part of a pass ------------

# relu with a wrong local derivative: 2 for x > 0 (right: 1)
WRONG_RELU = Op(
    name="myrelu",
    symbol="myrelu",
    arity=1,
    forward=lambda x: max(x, 0.0),
    local_grads=lambda x, out: (2.0 if x > 0 else 0.0,),
    math="relu(x)",
    derivative="2 for x > 0 (wrong on purpose)",
    kink=lambda x: x,
)


def test_a_wrong_gradient_that_cannot_be_resolved_is_not_a_pass():
    report = gradcheck(lambda x, y: apply(WRONG_RELU, x) + y, [1e-11, 1.0], raise_exception=False)
    assert [row.status for row in report.rows] == ["unresolved", "ok"]
    assert report.verdict == "incomplete" and not report and not report.passed
    text = str(report)
    assert text.startswith("gradcheck incomplete")
    assert "not passed: f is differentiable at x0 but a finite difference could not" in text
    with pytest.raises(GradcheckError, match="gradcheck incomplete"):
        gradcheck(lambda x, y: apply(WRONG_RELU, x) + y, [1e-11, 1.0])
    # where the step resolves it, the wrong derivative fails
    report = gradcheck(lambda x: apply(WRONG_RELU, x), [0.5], raise_exception=False)
    assert report.verdict == "FAILED" and report.suspect.startswith("myrelu")


# ---- domain edges no kink declares, on either side, and kinks at a constant -------------------

# log(x) + log(1 - x): its domain (0, 1) has two edges, and only the one at 0 is declared
TWO_EDGES = Op(
    name="two_edges",
    symbol="te",
    arity=1,
    forward=lambda x: math.log(x) + math.log(1 - x) if 0 < x < 1 else math.nan,
    local_grads=lambda x, out: (1 / x - 1 / (1 - x),),
    math="log(x) + log(1 - x)",
    derivative="1/x - 1/(1 - x)",
    domain=lambda x: 0 < x < 1,
    kink=lambda x: x,
)


@pytest.mark.parametrize("x", [1e-7, 1 - 1e-7])
def test_the_step_shrinks_toward_a_domain_edge_on_either_side(x):
    report = gradcheck(lambda v: apply(TWO_EDGES, v), [x])
    (row,) = report.rows
    assert report.passed and row.status == "ok" and row.step < 1e-8
    assert row.numeric == pytest.approx(1 / x - 1 / (1 - x), rel=1e-4)


def test_binary_cross_entropy_next_to_p_1_is_compared():
    from microgradx import losses

    report = gradcheck(lambda p: losses.binary_cross_entropy(p, 0.3), [1 - 1e-7])
    assert report.passed and report.rows[0].status == "ok"


def _clamped_log_op(kink):
    # max(log x, -100) as one op, as binary_cross_entropy clamps: a kink at x = e^-100
    floor = math.exp(-100.0)
    return Op(
        name="clamped_log",
        symbol="clog",
        arity=1,
        forward=lambda x: max(math.log(x), -100.0) if x > 0 else math.nan,
        local_grads=lambda x, out: (1 / x if x >= floor else 0.0,),
        math="max(log x, -100)",
        derivative="1/x above e^-100, 0 below",
        domain=lambda x: x > 0,
        kink=kink,
    )


def test_a_kink_at_a_constant_is_declared_by_an_affine_kink_function():
    x = math.exp(-100.0) * 1.005
    declared = _clamped_log_op(lambda x: x - math.exp(-100.0))
    report = gradcheck(lambda v: -apply(declared, v), [x])
    (row,) = report.rows
    assert row.status == "ok" and row.step < 0.01 * 0.005 * math.exp(-100.0)
    # the same op declaring only its domain edge: the step straddles the clamp, and fails
    undeclared = _clamped_log_op(lambda x: x)
    report = gradcheck(lambda v: -apply(undeclared, v), [x], raise_exception=False)
    assert report.verdict == "FAILED"


def test_a_kink_at_a_large_constant_is_not_lost_to_rounding():
    # kink x - 1e20 along a slow direction: k(d) - k(0) must not round to 0
    op = Op(
        "late_relu",
        "lr",
        1,
        lambda x: max(x - 1e20, 0.0),
        lambda x, out: (1.0 if x > 1e20 else 0.0,),
        "relu(x - 1e20)",
        "step",
        kink=lambda x: x - 1e20,
    )
    from microgradx.gradcheck import _kink_rate

    assert _kink_rate(op, [1e-3]) == pytest.approx(1e-3)
    x = 1e20 * (1 + 2**-40)
    report = gradcheck(lambda v: apply(op, v * 1e-3) * 1e-3, [x * 1e3], raise_exception=False)
    assert report.rows[0].status != "FAIL"


# ---- an op's kink and domain must answer with the right types ---------------------------------


def _relu_with(**rules):
    return Op(
        "junk_relu",
        "jr",
        1,
        lambda x: max(x, 0.0),
        lambda x, out: (1.0 if x > 0 else 0.0,),
        "relu(x)",
        "step",
        **rules,
    )


@pytest.mark.parametrize(
    ("rules", "match"),
    [
        ({"kink": lambda x: None}, "op 'junk_relu': kink must return a real number, got NoneType"),
        ({"kink": lambda x: "a"}, "op 'junk_relu': kink must return a real number, got str"),
        ({"kink": lambda x: 1j}, "op 'junk_relu': kink must return a real number, got complex"),
        ({"domain": lambda x: 1.0}, "op 'junk_relu': domain must return True or False, got float"),
        ({"domain": lambda x: None}, "op 'junk_relu': domain must return True or False, got None"),
    ],
)
def test_a_kink_or_domain_that_returns_junk_is_refused_by_name(rules, match):
    with pytest.raises(TypeError, match=match):
        gradcheck(lambda x: apply(_relu_with(**rules), x), [0.5])
    from microgradx.testing import well_conditioned

    with pytest.raises(TypeError, match=match):
        well_conditioned(_relu_with(**rules), [0.5], min_kink_distance=0.1, max_magnitude=10.0)


def test_binary_cross_entropy_beside_its_clamp_passes():
    from microgradx import losses

    report = gradcheck(
        lambda p: losses.binary_cross_entropy(p, 1.0),
        [math.exp(-100) * 1.005],
        raise_exception=False,
    )
    assert report.verdict == "passed", str(report)


def test_a_numpy_bool_from_domain_is_a_bool_and_a_probe_that_divides_by_zero_is_an_edge():
    import numpy as np

    op = Op(
        name="np_domain",
        symbol="nd",
        arity=1,
        forward=lambda x: x * x,
        local_grads=lambda x, out: (2 * x,),
        math="x^2",
        derivative="2x",
        domain=lambda x: np.bool_(True),
    )
    assert gradcheck(lambda x: apply(op, x), [0.5])

    def f(x):  # 1 / (1 - x) in plain floats past x = 1: ZeroDivisionError at a probe point
        if x.data >= 1:
            raise ZeroDivisionError("past the edge")
        return x * x

    report = gradcheck(f, [1 - 1e-9], raise_exception=False)
    assert report.rows[0].status in ("ok", "unresolved")


def test_a_kink_function_that_is_not_affine_is_refused_naming_the_op():
    # a * b changes at rate 0 at the origin: the step 1e-8 from the kink at a = 0 crossed it
    relu_prod = Op(
        name="relu_prod",
        symbol="rp",
        arity=2,
        forward=lambda a, b: max(a * b, 0.0),
        local_grads=lambda a, b, out: (b, a) if a * b > 0 else (0.0, 0.0),
        math="max(a b, 0)",
        derivative="(b, a) where a b > 0",
        kink=lambda a, b: a * b,
    )
    with pytest.raises(TypeError, match="op 'relu_prod': kink must be an affine function"):
        gradcheck(lambda a, b: apply(relu_prod, a, b), [1e-8, 1.0], raise_exception=False)


@pytest.mark.parametrize("scale", [1e-308, 1e-320, 5e-324])
def test_a_tiny_direction_beside_a_kink_constant_gives_a_report_not_an_overflow(scale):
    """The kink check scaled the direction by a power of two to the kink's constant: a direction
    of 1e-308 beside log1p's constant 1 overflowed math.ldexp, and gradcheck raised."""
    report = gradcheck(lambda x: (x * scale).log1p(), [Value(0.5)], raise_exception=False)
    assert "gradcheck passed" in str(report)


# ---- the compiled replay for the finite differences ----------------------------------------------


def _reports(f, xs):
    """f checked with the interpreted engine and with the compiled replay at every probe and step:
    (repr of the report: every number of every row, bit for bit; the table; calls of f) each."""
    found = {}
    for mode, inputs in (("interpreted", 10**9), ("compiled", 1)):
        calls = [0]

        def counted(*args, calls=calls):
            calls[0] += 1
            return f(*args)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(CHECK, "COMPILE_INPUTS", inputs)
            report = gradcheck(counted, xs, raise_exception=False)
        found[mode] = (repr(report), str(report), calls[0])
    return found


def _mlp(sizes, batch, hidden_op=None, seed=0):
    """A tanh MLP's cross-entropy over a batch as a function of its weights (one input each),
    and the weights; ``hidden_op`` in place of tanh in the hidden layers."""
    import random

    from microgradx.losses import cross_entropy

    rng = random.Random(seed)
    rows = [[rng.uniform(-1, 1) for _ in range(sizes[0])] for _ in range(batch)]
    targets = [rng.randrange(sizes[-1]) for _ in range(batch)]
    shapes = list(itertools.pairwise(sizes))
    weights = [rng.uniform(-0.5, 0.5) for nin, nout in shapes for _ in range(nout * (nin + 1))]

    def loss(*ws):
        logits = []
        for row in rows:
            h, k = row, 0
            for layer, (nin, nout) in enumerate(shapes):
                out = []
                for _ in range(nout):
                    z = ws[k + nin]
                    for w, x in zip(ws[k : k + nin], h):
                        z = z + w * x
                    k += nin + 1
                    if layer < len(shapes) - 1:
                        z = z.tanh() if hidden_op is None else apply(hidden_op, z)
                    out.append(z)
                h = out
            logits.append(h)
        return cross_entropy(logits, targets)

    return loss, weights


def test_the_compiled_differences_give_the_same_report_on_an_mlp():
    loss, weights = _mlp([3, 4, 3], batch=2)
    found = _reports(loss, weights)
    assert found["compiled"][:2] == found["interpreted"][:2]
    assert "gradcheck passed" in found["compiled"][1]
    # the compiled check evaluated f by its replay: a few recordings, not four calls per input
    assert found["compiled"][2] < 10 < len(weights) < found["interpreted"][2]


BAD_TANH = Op(
    name="bad_tanh",
    symbol="btanh",
    arity=1,
    forward=math.tanh,
    local_grads=lambda x, out: (1 - out,),  # should be 1 - out**2
    math="tanh x",
    derivative="1 - tanh x (wrong on purpose)",
)


def test_a_wrong_rule_planted_in_an_mlp_is_found_and_named_by_the_compiled_check():
    loss, weights = _mlp([3, 4, 3], batch=2, hidden_op=BAD_TANH)
    found = _reports(loss, weights)
    assert found["compiled"][:2] == found["interpreted"][:2]
    text = found["compiled"][1]
    assert "gradcheck FAILED" in text
    assert "first op whose own local derivative disagrees: bad_tanh" in text
    assert found["compiled"][2] < found["interpreted"][2]


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(expr=expressions(max_inputs=4))
def test_the_compiled_differences_give_the_same_report_on_random_graphs(expr):
    found = _reports(expr, list(expr.inputs))
    assert found["compiled"][:2] == found["interpreted"][:2]


# finite everywhere, defined only below 1: f does not turn NaN past this edge, only the domain says
BELOW_ONE = Op(
    name="below_one",
    symbol="b1",
    arity=1,
    forward=lambda x: x * x,
    local_grads=lambda x, out: (2 * x,),
    math="x^2 for x < 1",
    derivative="2x",
    domain=lambda x: x < 1,
)


def test_the_compiled_check_sees_a_probe_leave_a_domain_where_f_stays_finite():
    def f(*xs):
        return apply(BELOW_ONE, xs[0]) + sum((x * x for x in xs[1:]), Value(0.0))

    found = _reports(f, [1 - 1e-5, *[0.1 * k for k in range(1, 20)]])
    assert found["compiled"][:2] == found["interpreted"][:2]
    assert "f leaves a domain" in found["compiled"][1]  # the step was shrunk toward the edge
    assert found["compiled"][2] < found["interpreted"][2]


def test_the_compiled_check_falls_back_where_the_graph_depends_on_the_numbers():
    # The probes of a move it across 0, where f builds another graph (with no op that has a
    # domain): the recording no longer stands for f, and the check goes on interpreted.
    def f(*xs):
        a, b, *rest = xs
        base = sum((x * x for x in rest), Value(0.0))
        return base + ((b - 0.5).log() if a.data > 0 else b * a)

    xs = [1e-5, 2.0, *[0.1 * k for k in range(1, 20)]]
    found = _reports(f, xs)
    assert found["compiled"][:2] == found["interpreted"][:2]
    assert "gradcheck passed" in found["compiled"][1]
    # the first input was checked compiled until its probe crossed 0, the rest interpreted
    assert found["compiled"][2] > 4 * (len(xs) - 1)


def test_a_function_compile_refuses_is_checked_interpreted(monkeypatch):
    from microgradx import CompileError

    def refuse(*args, **kwargs):
        raise CompileError("a random draw in training mode (as compile refuses dropout)")

    def f(*xs):
        return sum((x * x for x in xs), Value(0.0)).tanh()

    xs = [0.1 * k for k in range(1, 20)]
    expected = _reports(f, xs)
    monkeypatch.setattr(CHECK, "compile_function", refuse)
    found = _reports(f, xs)
    assert found["compiled"][:2] == expected["interpreted"][:2]
    assert found["compiled"][2] == expected["interpreted"][2]  # every probe and step interpreted
