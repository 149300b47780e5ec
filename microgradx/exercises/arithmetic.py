"""The plain arithmetic a learner writes (a matrix times a vector, a transpose, the sigmoid):
the exercises' mistakes reuse it, so their shapes are the learner's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _matvec(W: Sequence[Sequence[float]], v: Sequence[float]) -> list[float]:
    return [sum(w * x for w, x in zip(row, v)) for row in W]


def _transpose(W: Sequence[Sequence[float]]) -> list[list[float]]:
    return [list(col) for col in zip(*W)]


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))
