"""The exercises of notebook 00_build_a_value.ipynb: L = a b + c with a = 2, b = -3, c = 10.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from microgradx.engine import Value, grad_number
from microgradx.exercises.core import Exercise, _m

EXERCISES: list[Exercise] = []


def _abc() -> tuple[Any, ...]:
    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    (a * b + c).backward()
    return a, b, c


EXERCISES.append(
    Exercise(
        "00.dL_db",
        "L = a·b + c with a = 2, b = -3, c = 10: what is ∂L/∂b?",
        lambda: _abc()[1].grad,
        lambda: [
            _m(
                "gave ∂L/∂a",
                "that is ∂L/∂a (= b); for b the other factor of the product",
                _abc()[0].grad,
            ),
            _m(
                "wrong sign",
                "right size, wrong sign: ∂(a·b)/∂b = a, and a is positive",
                -_abc()[1].grad,
            ),
            _m("gave ∂L/∂c", "that is ∂L/∂c: c is added, but b is multiplied by a", _abc()[2].grad),
        ],
    )
)


def _neuron00() -> tuple[Any, ...]:
    x1, x2, w1, w2 = Value(2.0), Value(0.0), Value(-3.0), Value(1.0)
    b = Value(6 + math.atanh(1 / math.sqrt(2)))
    o = (x1 * w1 + x2 * w2 + b).tanh()
    o.backward()
    return x1, x2, w1, w2, b, o


EXERCISES.append(
    Exercise(
        "00.do_dw2",
        "o = tanh(x1 w1 + x2 w2 + b) with x = (2, 0), w = (-3, 1): what is ∂o/∂w2?",
        lambda: _neuron00()[3].grad,
        lambda: [
            _m(
                "missing factor x2",
                "that is 1 - o² (alone, or times w2): multiply the local derivative by ∂n/∂w2 = x2",
                1 - _neuron00()[5].data ** 2,
            ),
            _m(
                "gave ∂o/∂w1",
                "that is ∂o/∂w1 = (1 - o²)·x1; w2 is multiplied by x2",
                _neuron00()[2].grad,
            ),
        ],
    )
)


def _reused00() -> Value:
    a = Value(3.0)
    (a * a + a).backward()
    return a


EXERCISES.append(
    Exercise(
        "00.df_da",
        "f = a·a + a at a = 3 (gradients added with +=): what is ∂f/∂a?",
        lambda: _reused00().grad,
        lambda: [
            _m(
                "one use of a in a·a",
                "a·a uses a twice and each use sends back a: 2a, not a",
                _reused00().data + 1,
            ),
            _m("forgot the + a", "the last + a sends back 1 more", 2 * _reused00().data),
            _m("set, not added", "that is what = in place of += gives: the last write wins", 1.0),
        ],
    )
)


# each case: a function of floats, the same function of Values (for the engine), x, h
_SLOPE_CASES: list[tuple[Callable[[Any], Any], Callable[[Value], Value], float, float]] = [
    (lambda x: x * x * x, lambda v: v * v * v, 2.0, 1e-4),
    (math.tanh, lambda v: v.tanh(), 0.3, 1e-4),
    (lambda x: math.exp(-x) + x, lambda v: (-v).exp() + v, -1.0, 1e-4),
]


def _engine_slope(f: Callable[[Any], Any], x: float, h: float) -> float:
    """The reference: the engine's gradient of the case's function written for Values."""
    (value_f,) = [vf for ff, vf, _, _ in _SLOPE_CASES if ff is f]
    leaf = Value(x)
    value_f(leaf).backward()
    return grad_number(leaf)


EXERCISES.append(
    Exercise(
        "00.numerical_slope",
        "Write numerical_slope(f, x, h): the central difference (f(x + h) - f(x - h)) / 2h.",
        lambda: _engine_slope,
        lambda: [
            _m(
                "one-sided difference",
                "(f(x + h) - f(x)) / h is one-sided: its error is of order h; use x + h and x - h",
                lambda f, x, h: (f(x + h) - f(x)) / h,
            ),
            _m(
                "divided by h",
                "twice the slope: the two points are 2h apart, divide by 2h",
                lambda f, x, h: (f(x + h) - f(x - h)) / h,
            ),
            _m(
                "wrong sign",
                "right size, wrong sign: f(x + h) comes first",
                lambda f, x, h: (f(x - h) - f(x + h)) / (2 * h),
            ),
        ],
        function=True,
        cases=lambda: [(f, x, h) for f, _, x, h in _SLOPE_CASES],
        tolerance=1e-6,
        shape="a function of (f, x, h) returning a number",
    )
)
