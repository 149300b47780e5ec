"""The exercises of notebook 07_diagnostics.ipynb: diagnostics.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

from microgradx.engine import Value, grad_number
from microgradx.exercises.core import Exercise, _m

EXERCISES: list[Exercise] = []


def _sigmoid_stack(layers: int) -> float:
    z = Value(0.0)
    out = z
    for _ in range(layers):
        out = out.sigmoid()
    out.backward()
    return grad_number(z)


def _best_slope(layers: int) -> float:
    # each sigmoid's slope is at most σ'(0) = 1/4; a chain of them at most (1/4)^layers
    v = Value(0.0)
    v.sigmoid().backward()
    return float(grad_number(v) ** layers)


EXERCISES.append(
    Exercise(
        "07.sigmoid_stack_bound",
        "The largest factor five sigmoid layers can multiply a gradient by (σ' at its largest, "
        "weights of 1).",
        lambda: _best_slope(5),
        lambda: [
            _m("σ for σ'", "σ(0) = 0.5 is the value; its slope σ'(0) = 0.25", 0.5**5),
            _m(
                "one layer", "one layer's factor: five layers multiply five of them", _best_slope(1)
            ),
            _m("added", "the factors multiply (chain rule), they do not add", 5 * _best_slope(1)),
        ],
    )
)


def _dead07(leak: float = 0.0) -> float:
    w, x = Value(-0.5), Value(1.5)
    z = w * x + Value(0.05)
    a = z.relu() if leak == 0 else z.leaky_relu(leak)
    (2.0 * a).backward()
    return grad_number(w)


EXERCISES.append(
    Exercise(
        "07.dead_relu_grad",
        "A ReLU unit a = relu(w x + b), w = -0.5, x = 1.5, b = 0.05, upstream ∂L/∂a = 2: ∂L/∂w.",
        _dead07,
        lambda: [
            _m(
                "gradient through a dead unit",
                "z = -0.7 < 0: relu'(z) = 0, so nothing passes back",
                2.0 * 1.5,
            ),
            _m(
                "leaky",
                "that is a leaky ReLU (slope 0.01 below 0); this one is a plain ReLU",
                _dead07(0.01),
            ),
        ],
    )
)

EXERCISES.append(
    Exercise(
        "07.bump_units",
        "The staircase of 12 sigmoid bumps σ(k(x - a)) - σ(k(x - b)): how many sigmoid units?",
        lambda: 24,
        lambda: [_m("one per bump", "each bump is the difference of two sigmoids", 12)],
        shape="a count",
    )
)
