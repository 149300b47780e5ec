"""The exercises of notebook 03_from_neuron_to_mlp.ipynb: a perceptron, one layer's activation, the
activations' slopes.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

import random
from typing import Any

from microgradx.engine import Value, grad_number
from microgradx.exercises.arithmetic import _sigmoid, _transpose
from microgradx.exercises.core import Exercise, _m
from microgradx.nn import MLP, Neuron

EXERCISES: list[Exercise] = []


_POINTS03 = [[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0], [0.5, 1.5], [0.0, 0.0]]


def _perceptron(w1: float, w2: float, b: float) -> list[int]:
    neuron = Neuron(2, activation=None, rng=random.Random(0))  # (its own: weights set below)
    neuron.w[0].data, neuron.w[1].data, neuron.b.data = w1, w2, b
    return [int(neuron(p).data > 0) for p in _POINTS03]


EXERCISES.append(
    Exercise(
        "03.perceptron_classes",
        "The perceptron 1 + 3x₁ - 2x₂ > 0 → class 1: the classes of (0, 1), (1, 0), (-1, -1), "
        "(0.5, 1.5), (0, 0), as a list.",
        lambda: _perceptron(3.0, -2.0, 1.0),
        lambda: [
            _m(
                "flipped",
                "every class flipped: class 1 is where 1 + 3x₁ - 2x₂ is > 0",
                [1 - c for c in _perceptron(3.0, -2.0, 1.0)],
            ),
            _m(
                "x₁ and x₂ swapped",
                "x₁ and x₂ swapped: 3 multiplies x₁",
                _perceptron(-2.0, 3.0, 1.0),
            ),
            _m("no bias", "the bias 1 is missing", _perceptron(3.0, -2.0, 0.0)),
        ],
        shape="a list of five 0s and 1s",
    )
)

W03 = [[0.5, -1.0], [2.0, 0.3]]
B03 = [0.1, -0.2]
X03 = [1.0, 2.0]


def _layer03(W: list[list[float]], b: list[float], act: bool = True) -> list[float]:
    layer: Any = MLP(
        2,
        [2],
        activation="sigmoid",
        output_activation="sigmoid" if act else None,
        seed=0,  # its own generator, not manual_seed's: the weights are set below
    )
    for neuron, row, bias in zip(layer.layers[0].neurons, W, b):
        for w, v in zip(neuron.w, row):
            w.data = v
        neuron.b.data = bias
    out = layer(X03)
    return [v.data for v in out] if isinstance(out, list) else [out.data]


EXERCISES.append(
    Exercise(
        "03.hidden_a2_1",
        "W = [[0.5, -1], [2, 0.3]], b = [0.1, -0.2], x = [1, 2], f = σ: a^(2)_1 = "
        "f(Σ_k W_1k x_k + b_1), the first hidden unit's activation.",
        lambda: _layer03(W03, B03)[0],
        lambda: [
            _m(
                "transposed W",
                "that uses W's first column: a^(2)_1 uses row 1, W_1k",
                _layer03(_transpose(W03), B03)[0],
            ),
            _m("no activation", "that is z^(2)_1: apply f = σ", _layer03(W03, B03, act=False)[0]),
            _m("no bias", "the bias b_1 is missing", _layer03(W03, [0.0, 0.0])[0]),
            _m(
                "the second unit",
                "that is a^(2)_2: the first unit uses row 1",
                _layer03(W03, B03)[1],
            ),
        ],
    )
)


def _slopes_at_zero() -> list[float]:
    out = []
    for name in ("sigmoid", "tanh", "relu"):
        v = Value(0.0)
        getattr(v, name)().backward()
        out.append(grad_number(v))
    return out


EXERCISES.append(
    Exercise(
        "03.slopes_at_zero",
        "The local derivatives at z = 0 of sigmoid, tanh and relu (microgradx's relu'(0)), as a "
        "list.",
        _slopes_at_zero,
        lambda: [
            _m(
                "values, not slopes",
                "those are the functions' values at 0; give their derivatives",
                [_sigmoid(0.0), 0.0, 0.0],
            ),
            _m("relu'(0) = 1", "microgradx (as PyTorch) takes relu'(0) = 0", [0.25, 1.0, 1.0]),
            _m("σ'(0) = 0.5", "σ'(z) = σ(z)(1 - σ(z)): at 0 that is 1/2 · 1/2", [0.5, 1.0, 0.0]),
        ],
        shape="a list of three numbers",
    )
)
