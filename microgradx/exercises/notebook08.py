"""The exercises of notebook 08_titanic.ipynb: Titanic.

In the notebook's order (``microgradx.exercises.course`` gathers every notebook's).
"""

from __future__ import annotations

import math

from microgradx.data import load_titanic
from microgradx.engine import Value
from microgradx.exercises.core import Exercise, _m
from microgradx.losses import binary_cross_entropy

EXERCISES: list[Exercise] = []


def _bce08(p: float, t: int) -> float:
    return float(binary_cross_entropy(Value(p), t).data)


EXERCISES.append(
    Exercise(
        "08.bce_predicted_02",
        "The lectures' example: predicted 0.2, actual 1.0. Its binary cross-entropy loss.",
        lambda: _bce08(0.2, 1),
        lambda: [
            _m("dropped minus", "log 0.2 is negative: the loss is -log p", -_bce08(0.2, 1)),
            _m("1 - p", "for t = 1 the loss is -log p, not -log(1 - p)", _bce08(0.2, 0)),
            _m("squared error", "that is (1 - 0.2)², the squared error", 0.64),
            _m("log10", "natural log, not base 10", -math.log10(0.2)),
        ],
    )
)


def _all_passengers_died() -> float:
    y_train, y_test = _titanic_split()
    return 1 - (sum(y_train) + sum(y_test)) / (len(y_train) + len(y_test))


def _titanic_split() -> tuple[list[int], list[int]]:
    _, _, y_train, y_test = load_titanic(features=("fare", "age"), seed=0)
    return y_train, y_test


EXERCISES.append(
    Exercise(
        "08.baseline",
        "load_titanic(features=('fare', 'age'), seed=0): the accuracy on y_test of always "
        "predicting the training split's majority class.",
        lambda: (lambda y: sum(t == 0 for t in y) / len(y))(_titanic_split()[1]),
        lambda: [
            _m(
                "survivors",
                "that is the fraction who survived; the majority class is 'died'",
                (lambda y: sum(y) / len(y))(_titanic_split()[1]),
            ),
            _m(
                "all passengers",
                "that is over all 891 passengers: use the test split",
                _all_passengers_died(),
            ),
        ],
    )
)
