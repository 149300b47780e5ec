"""The exercises of notebook 02_seeing_the_graph.ipynb: the graphs of notebook 02.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

from microgradx.exercises.core import Exercise, _m
from microgradx.exercises.notebook01 import _logistic, _neuron01
from microgradx.functional import chain_rule_paths

EXERCISES: list[Exercise] = []


def _path_factors() -> list[float]:
    """The local derivatives on the edges from L back to w, as the graph draws them."""
    _, w, _, _, L = _logistic()
    (path,) = chain_rule_paths(L, w)
    return list(reversed(path.factors))


EXERCISES.append(
    Exercise(
        "02.path_factors",
        "The logistic-regression graph (L = -log σ(w x + b), x = 1.5, w = 0.8, b = -0.5): the "
        "local derivatives on the edges from L back to w, in that order (one per edge).",
        _path_factors,
        lambda: [
            _m(
                "reversed",
                "the right factors in the opposite order: start at L",
                _path_factors()[::-1],
            ),
            _m(
                "three factors",
                "the graph has an edge for each op: negation, log, sigmoid, + and *; give all five",
                [-1 / _logistic()[3].data, _logistic()[3].data * (1 - _logistic()[3].data), 1.5],
            ),
            _m(
                "σ(z) for σ'(z)",
                "the sigmoid edge carries σ'(z) = p(1 - p), not p",
                [f if i != 2 else _logistic()[3].data for i, f in enumerate(_path_factors())],
            ),
        ],
        shape="a list of five numbers",
    )
)

EXERCISES.append(
    Exercise(
        "02.tanh_neuron_dx",
        "y = tanh(w·x + b), w = 2, b = 6, x = -2.79: dy/dx, read off the graph.",
        lambda: _neuron01()[0].grad,
        lambda: [
            _m(
                "gave dy/dw",
                "that is dy/dw = (1 - y²)·x: for x the factor is w",
                _neuron01()[1].grad,
            ),
            _m("missing factor f'(z)", "that is dz/dx = w alone: multiply by 1 - y²", 2.0),
            _m("wrong sign", "right size, wrong sign", -_neuron01()[0].grad),
        ],
    )
)
