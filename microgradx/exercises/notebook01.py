"""The exercises of notebook 01_backprop_by_hand.ipynb: the lecture's neuron y = tanh(w x + b),
w = 2, b = 6, x = -2.79.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

import math
from typing import Any

from microgradx.engine import Value
from microgradx.exercises.core import Exercise, _m
from microgradx.functional import chain_rule_paths

EXERCISES: list[Exercise] = []


def _neuron01() -> tuple[Any, ...]:
    x, w, b = Value(-2.79), Value(2.0), Value(6.0)
    z = w * x + b
    y = z.tanh()
    y.backward()
    return x, w, b, z, y


def _n01(i: int) -> float:
    return float(_neuron01()[i].data)


EXERCISES.append(
    Exercise(
        "01.tanh_neuron_dw",
        "y = tanh(w·x + b), w = 2, b = 6, x = -2.79: dy/dw = (1 - y²)·x, by hand.",
        lambda: _neuron01()[1].grad,
        lambda: [
            _m("wrong sign", "right size, wrong sign: check the sign of x", -_neuron01()[1].grad),
            _m(
                "missing factor f'(z)",
                "that is dz/dw = x alone: multiply by tanh'(z) = 1 - y²",
                _n01(0),
            ),
            _m(
                "a and z swapped",
                "1 - z² is not tanh'(z): tanh'(z) = 1 - tanh(z)² = 1 - y² (the output, not z)",
                (1 - _n01(3) ** 2) * _n01(0),
            ),
            _m(
                "missing factor x",
                "that is dy/dz = 1 - y²: multiply by dz/dw = x",
                1 - _n01(4) ** 2,
            ),
            _m(
                "w in place of x",
                "that is dy/dx = (1 - y²)·w: for w the factor is x",
                _neuron01()[0].grad,
            ),
        ],
    )
)


def _logistic() -> tuple[Any, ...]:
    x, w, b = Value(1.5), Value(0.8), Value(-0.5)
    z = w * x + b
    p = z.sigmoid()
    L = -p.log()
    L.backward()
    return x, w, b, p, L


EXERCISES.append(
    Exercise(
        "01.logistic_dw",
        "z = w x + b, p = σ(z), L = -log p with x = 1.5, w = 0.8, b = -0.5: dL/dw as the product "
        "of the local derivatives.",
        lambda: _logistic()[1].grad,
        lambda: [
            _m("wrong sign", "right size, wrong sign: dL/dp = -1/p", -_logistic()[1].grad),
            _m(
                "missing factor f'(z)",
                "missing dp/dz = p(1 - p): the sigmoid's local derivative",
                -1 / _logistic()[3].data * _logistic()[0].data,
            ),
            _m(
                "missing factor x",
                "that is dL/dz = p - 1: multiply by dz/dw = x",
                _logistic()[3].data - 1,
            ),
            _m(
                "gave dL/dx",
                "that is dL/dx (factor w): for w the last factor is x",
                _logistic()[0].grad,
            ),
        ],
    )
)


def _order01() -> tuple[Any, ...]:
    a = Value(3.0)
    b = a * 2.0
    c = b * a
    L = c + b
    L.backward()
    return a, L


def _distinct(products: list[float]) -> list[float]:
    """Path products, each value once (two paths that bring the same amount are one mistake)."""
    out: list[float] = []
    for p in products:
        if not any(math.isclose(p, q, rel_tol=1e-9) for q in out):
            out.append(p)
    return out


def _order_paths() -> list[float]:
    a, L = _order01()
    return _distinct([p.product for p in chain_rule_paths(L, a)])


EXERCISES.append(
    Exercise(
        "01.reused_dL_da",
        "b = 2a, c = b·a, L = c + b at a = 3: dL/da, summing what every path brings back.",
        lambda: _order01()[0].grad,
        lambda: [
            _m(
                f"missed a path ({i + 1})",
                f"one path is missing (it brings {p:g}): a reaches L through c directly, through "
                "b into c, and through b straight to L",
                sum(_order_paths()) - p,
            )
            for i, p in enumerate(_order_paths())
        ],
    )
)
