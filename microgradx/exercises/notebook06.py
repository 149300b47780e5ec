"""The exercises of notebook 06_forward_vs_reverse.ipynb: forward vs reverse.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

import math

from microgradx.dual import Dual
from microgradx.engine import Value, grad_number
from microgradx.exercises.core import Exercise, _m
from microgradx.exercises.notebook01 import _distinct
from microgradx.functional import chain_rule_paths

EXERCISES: list[Exercise] = []


def _paths06() -> tuple[float, list[float]]:
    x = Value(0.5)
    u = x * x
    v = (u + x).tanh()
    y = v * x
    y.backward()
    return grad_number(x), _distinct([p.product for p in chain_rule_paths(y, x)])


EXERCISES.append(
    Exercise(
        "06.path_sum",
        "u = x², v = tanh(u + x), y = v·x at x = 0.5: dy/dx as the sum over every path.",
        lambda: _paths06()[0],
        lambda: [
            _m(
                f"missed a path ({i + 1})",
                f"a path is missing (it brings {p:.6g}): x reaches y through u (twice: x·x), "
                "through u + x, and directly",
                _paths06()[0] - p,
            )
            for i, p in enumerate(_paths06()[1])
        ],
    )
)

EXERCISES.append(
    Exercise(
        "06.passes_for_gradient",
        "A loss of n = 1000 inputs and one output: [forward-mode passes, reverse-mode backward "
        "passes] for the whole gradient.",
        lambda: [1000, 1],
        lambda: [
            _m(
                "swapped",
                "forward mode needs one pass per input; reverse one per output",
                [1, 1000],
            ),
        ],
        shape="a list of two counts",
    )
)


def _dual06() -> float:
    x = Dual(0.7, 1.0)
    return float((x * x).sin().tangent)  # type: ignore[operator]


EXERCISES.append(
    Exercise(
        "06.dual_tangent",
        "Forward mode: push x = 0.7 with tangent 1 through sin(x²): the tangent that comes out.",
        _dual06,
        lambda: [
            _m("missing inner factor", "the chain rule: cos(x²) times (x²)' = 2x", math.cos(0.49)),
            _m("sin for cos", "sin' is cos", 2 * 0.7 * math.sin(0.49)),
            _m("wrong sign", "sin' = +cos", -_dual06()),
        ],
    )
)
