"""gradcheck: passes right gradients, catches wrong ones, names the culprit, respects kinks."""

from __future__ import annotations

import math

import pytest

from microgradx import GradcheckError, Op, Value, apply, gradcheck, maximum


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
        ({"eps": 0.0}, ValueError, "eps"),
        ({"eps": math.inf}, ValueError, "eps"),
        ({"atol": -1.0}, ValueError, "atol"),
    ],
)
def test_bad_settings_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        gradcheck(lambda x: x, [1.0], **kwargs)


def test_bad_arguments_are_rejected():
    with pytest.raises(TypeError, match="callable"):
        gradcheck(3, [1.0])
    with pytest.raises(TypeError, match="return a Value"):
        gradcheck(lambda x: 3.0, [1.0])
    with pytest.raises(TypeError, match="str"):
        gradcheck(lambda x: x, ["1"])
    with pytest.raises(ValueError, match="empty"):
        gradcheck(lambda: Value(1.0), [])


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
