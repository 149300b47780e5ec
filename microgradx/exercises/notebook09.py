"""The exercises of notebook 09_digits.ipynb: digits.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

from microgradx.exercises.core import Exercise, _m
from microgradx.exercises.notebook04 import _ce_grad
from microgradx.losses import cross_entropy, softmax
from microgradx.nn import MLP

EXERCISES: list[Exercise] = []


Z09 = [1.0, 2.0, 0.5, -1.0]
T09 = 1


EXERCISES.append(
    Exercise(
        "09.softmax_grad",
        "Logits z = [1, 2, 0.5, -1], true class 1: ∂L/∂z = p - t for the negative log-likelihood.",
        lambda: _ce_grad(Z09, T09),
        lambda: [
            _m("wrong sign", "t - p in place of p - t", [-v for v in _ce_grad(Z09, T09)]),
            _m("missing - t", "that is p: subtract the one-hot t", [v.data for v in softmax(Z09)]),
            _m(
                "off by one class",
                "the one-hot 1 is at index 1 (classes count from 0)",
                _ce_grad(Z09, 2),
            ),
        ],
        shape="a list of four numbers",
    )
)


def _nll09(t: int) -> float:
    return float(cross_entropy(Z09, t).data)


EXERCISES.append(
    Exercise(
        "09.nll",
        "Same logits, true class 3: the loss L = -log p_3.",
        lambda: _nll09(3),
        lambda: [
            _m(
                "predicted class",
                "that is -log p of the largest logit: use the true class 3",
                _nll09(1),
            ),
            _m("dropped minus", "log p < 0: the loss is -log p", -_nll09(3)),
            _m("missing logsumexp", "-z_3 alone: L = log Σ e^z - z_3", -Z09[3]),
        ],
    )
)


def _count09(bias: bool = True) -> int:
    net = MLP(64, [32, 10], seed=0)
    return sum(1 for name, _ in net.named_parameters() if bias or not name.endswith(".b"))


EXERCISES.append(
    Exercise(
        "09.parameter_count",
        "How many parameters (weights and biases) has a 64-32-10 network?",
        _count09,
        lambda: [
            _m(
                "no biases",
                "the weights alone: each of the 42 neurons has a bias too",
                _count09(False),
            ),
            _m(
                "one matrix",
                "64·32·10 multiplies the layers: count each layer's matrix",
                64 * 32 * 10,
            ),
        ],
        shape="a count",
    )
)
