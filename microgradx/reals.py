"""What counts as a number here: one check for the whole package.

Every ``numbers.Real`` is accepted where a real number is expected (``int``, ``float``,
``fractions.Fraction``, NumPy's scalars such as ``np.float32(0.5)``), and becomes a Python float.
A count (a layer size, a number of epochs) must be an integer and not a ``bool``: ``True`` as a
layer size is a mistake, not 1.
"""

from __future__ import annotations

import numbers
from typing import Any


def real(x: Any, what: str) -> float:
    """``x`` as a float, or a TypeError that names ``what`` was given."""
    if type(x) is float:
        return x
    if isinstance(x, numbers.Real):
        return float(x)
    raise TypeError(f"{what} must be a real number, got {type(x).__name__}")


def is_real(x: Any) -> bool:
    """True for a real number (not a Value, a string or a sequence)."""
    return isinstance(x, numbers.Real)


def count(x: Any, what: str, minimum: int = 1) -> int:
    """``x`` as an int >= ``minimum``, refusing bool and non-integral numbers."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"{what} must be an int, got {type(x).__name__} {x!r}")
    if x < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {x!r}")
    return int(x)
