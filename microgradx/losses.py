"""Loss functions, written with Values so their gradients come from ``backward()``.

Each loss takes one prediction or a batch (a list), and ``reduction="mean"`` (default) or
``"sum"`` over the batch, by keyword (torch's third argument of ``binary_cross_entropy`` and
``cross_entropy`` is ``weight``, so a positional third argument is refused). The docstrings
give the formula and the gradient a learner should expect.

The cross-entropies, ``logsumexp``, ``log_softmax`` and ``softmax`` are ops of the table
(``microgradx.ops``): one node per example, whose value and local derivatives are accurate to a few
units in the last place for every input (see the op table's notes). Written with ``exp`` and
``log`` nodes they would lose everything in the tails: 1 - sigmoid(40) is 0 in floats, and
logsumexp([1e16, 1e16]) - 1e16 is 0, not ln 2.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

from microgradx import ops
from microgradx.checks import (
    changed_call,
    choice,
    describe,
    in_range,
    instances,
    is_real,
    number,
    real,
    sequence,
)
from microgradx.dual import Dual
from microgradx.engine import Operand, Value, apply

_REDUCTIONS = ("mean", "sum")


def _reduce(terms: list[Value], reduction: str) -> Value:
    choice(reduction, "reduction", _REDUCTIONS)
    if not terms:
        raise ValueError("the batch is empty")
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    # / n, one rounding (* (1 / n) would round twice); its gradient 1 / n is the same number
    return total / len(terms) if reduction == "mean" else total


Target = Value | float


# The name of each loss's first argument, for messages.
_FIRST = {
    "mse": "predictions",
    "binary_cross_entropy": "probabilities",
    "bce_with_logits": "logits",
    "hinge": "scores",
}


def _traced(x: Any) -> bool:
    """A Value, or a number type that applies the table's ops itself (forward mode's Dual): it
    goes into the loss as it is, so the loss is differentiated in either mode."""
    return isinstance(x, Value) or hasattr(type(x), "__microgradx_apply__")


def _is_number(x: Any) -> bool:
    return _traced(x) or is_real(x)


def _pairs(predictions: Any, targets: Any, name: str) -> list[tuple[Value, Target]]:
    """Predictions and targets as a list of pairs; one prediction may come with one target.

    A number target is data (a constant); a Value target stays a leaf of the graph, which is how
    a compiled replay takes each example's target as an input. Anything else is a TypeError or
    ValueError naming the argument (``mse: targets[1] must be a real number, got str``)."""
    first = f"{name}: {_FIRST[name]}"
    if _is_number(predictions):
        if not _is_number(targets):
            raise TypeError(
                f"{first} is one prediction, so targets must be one number, got {describe(targets)}"
            )
        predictions, targets = [predictions], [targets]
    predictions = sequence(predictions, first)
    if _is_number(targets):
        raise TypeError(
            f"{name}: targets must be a list like {_FIRST[name]}, got {describe(targets)}"
        )
    targets = sequence(targets, f"{name}: targets")
    if len(predictions) != len(targets):
        raise ValueError(
            f"{name}: {len(predictions)} predictions but {len(targets)} targets"
            f" ({_FIRST[name]} and targets must have the same length)"
        )
    pairs: list[tuple[Value, Target]] = []
    for i, (p, t) in enumerate(zip(predictions, targets)):
        if isinstance(p, (list, tuple)) and len(p) == 1:
            p = p[0]  # the output of a 1-unit layer counts as its one Value
        if not _traced(p):
            p = number(p, f"{first}[{i}]")
            # a constant prediction: a Value, so that the loss is one (a Dual target keeps it a
            # number, which the Dual's ops take)
            p = p if _traced(t) and not isinstance(t, Value) else Value(p)
        if not _traced(t):
            if isinstance(t, bool) or not is_real(t):
                raise TypeError(f"{name}: targets[{i}] must be a number, got {describe(t)}")
            t = real(t, f"{name}: targets[{i}]")
        if name in _PROBABILITY_TARGETS:
            _check_probability(t, f"{name}: targets[{i}]")
        pairs.append((p, t))
    return pairs


# Losses whose targets are probabilities: a target outside [0, 1] has no meaning there, and the
# op table's accuracy is promised only inside it (PyTorch documents the same range).
_PROBABILITY_TARGETS = ("binary_cross_entropy", "bce_with_logits")


def _check_probability(t: Value | float, name: str) -> None:
    """A target probability (a number, or a Value's number) must be in [0, 1]."""
    x = t.data if isinstance(t, Value) else float(t)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1], got {x!r}")


def _values(xs: Any, name: str) -> list[Operand]:
    """``xs`` (a list of numbers, Values or Duals) checked: Values and Duals as they are, numbers
    as floats (``apply`` makes them constants); a clear error naming ``name`` otherwise."""
    items = sequence(xs, name)
    return [x if _traced(x) else number(x, f"{name}[{i}]") for i, x in enumerate(items)]


@changed_call("mse(predictions, targets, reduction=...)")
def mse(predictions: Any, targets: Any, *, reduction: str = "mean") -> Value:
    """Mean squared error: L = mean_i (p_i - t_i)^2;  dL/dp_i = 2 (p_i - t_i) / n."""
    return _reduce([(p - t) ** 2 for p, t in _pairs(predictions, targets, "mse")], reduction)


@changed_call("binary_cross_entropy(probabilities, targets, reduction=...)")
def binary_cross_entropy(probabilities: Any, targets: Any, *, reduction: str = "mean") -> Value:
    """L = -[t log p + (1 - t) log(1 - p)], for probabilities p in [0, 1] and targets in [0, 1].

    dL/dp = (p - t) / (p (1 - p)), dL/dt = log(1 - p) - log p. Each log is clamped at -100 (as
    PyTorch does), so p = 0 or 1 gives a large finite loss instead of inf; a clamped log is a
    constant, so it adds nothing to dL/dp. For raw scores use ``bce_with_logits``, which is exact
    where this one saturates. One ``binary_cross_entropy`` node per example (the op table's).
    """
    pairs = _pairs(probabilities, targets, "binary_cross_entropy")
    for i, (p, _) in enumerate(pairs):
        x = p.data if isinstance(p, Value) else float(p)
        if x == x and not 0.0 <= x <= 1.0:  # (NaN passes: a diverged model's loss is NaN)
            raise ValueError(
                f"binary_cross_entropy: probabilities[{i}] must be in [0, 1], got {x!r}"
                " (for raw scores use bce_with_logits)"
            )
    return _reduce([apply(ops.BINARY_CROSS_ENTROPY, p, t) for p, t in pairs], reduction)


@changed_call("bce_with_logits(logits, targets, reduction=...)")
def bce_with_logits(logits: Any, targets: Any, *, reduction: str = "mean") -> Value:
    """Binary cross-entropy on a logit z (p = sigmoid(z)):

        L = softplus(z) - t z = log(1 + e^z) - t z;   dL/dz = sigmoid(z) - t,  dL/dt = -z.

    Finite and accurate for any logit: z = 1000 with t = 0 gives L = 1000, not inf, and z = 20
    with t = 1 gives 2.06e-9 to the last digit (softplus(20) - 20 would keep 7 digits). One
    ``bce_with_logits`` node per example (the op table's).
    """
    pairs = _pairs(logits, targets, "bce_with_logits")
    return _reduce([apply(ops.BCE_WITH_LOGITS, z, t) for z, t in pairs], reduction)


@changed_call("hinge(scores, targets, reduction=...)")
def hinge(scores: Any, targets: Any, *, reduction: str = "mean") -> Value:
    """Max-margin loss for targets t in {-1, +1}: L = max(0, 1 - t s);  dL/ds = -t where t s < 1."""
    pairs = _pairs(scores, targets, "hinge")
    for _, t in pairs:
        if float(t) not in (-1.0, 1.0):
            raise ValueError(f"hinge: targets must be -1 or +1, got {float(t):g}")
    return _reduce([(1 - t * s).relu() for s, t in pairs], reduction)


def logsumexp(values: Sequence[Operand]) -> Value:
    """log(sum_i e^(x_i)), as one ``logsumexp`` node of all the inputs;  d/dx_i = softmax(x)_i.

    Computed as m + log1p(sum_{i != m} e^(x_i - m)) with m the largest input, so nothing
    overflows; in decimal where m and the log cancel (the result near 0). Its graph is the same
    whatever the numbers (a compiled replay needs that). An input of +inf gives inf.
    """
    xs = _values(values, "logsumexp: values")
    if not xs:
        raise ValueError("logsumexp: values must not be empty")
    return apply(ops.LOGSUMEXP, *xs)


def log_softmax(logits: Sequence[Operand]) -> list[Value]:
    """log softmax(x)_i = x_i - logsumexp(x), one ``log_softmax`` node per class.

    Finite for logits like [1000, 0, -1000], and exact in the tails: log_softmax([1e16, 1e16])
    is [-ln 2, -ln 2] (x_i - logsumexp(x) would give 0). d/dx_j = [i = j] - softmax(x)_j.
    """
    xs = _values(logits, "log_softmax: logits")
    if not xs:
        raise ValueError("log_softmax: logits must not be empty")
    return [apply(ops.LOG_SOFTMAX.member(i), *xs) for i in range(len(xs))]


def softmax(logits: Sequence[Operand]) -> list[Value]:
    """softmax(x)_i = e^(x_i - m) / sum_j e^(x_j - m) with m = max(x), one node per class.

    d s_i / d x_j = s_i (delta_ij - s_j).
    """
    xs = _values(logits, "softmax: logits")
    if not xs:
        raise ValueError("softmax: logits must not be empty")
    return [apply(ops.SOFTMAX.member(i), *xs) for i in range(len(xs))]


@changed_call("cross_entropy(logits, targets, reduction=...)")
def cross_entropy(logits: Any, targets: Any, *, reduction: str = "mean") -> Value:
    """Softmax + negative log-likelihood, fused: L = -log softmax(z)_t = logsumexp(z) - z_t.

    dL/dz_i = softmax(z)_i - [i = t]: the predicted probabilities minus the one-hot target.

    ``logits`` is one sample's list of class scores with an integer class ``targets``, or a batch
    (a list of lists) with a list of classes. A target may also be a list of class probabilities
    t (a one-hot vector, as the lectures write it, or soft labels): L = sum_k t_k (-log
    softmax(z)_k), the same number for a one-hot t; dL/dt_k = -log softmax(z)_k. Each sample is
    one node (the op table's ``cross_entropy``, or ``soft_cross_entropy`` for probabilities),
    which never takes the log of a rounded-to-0 probability and never cancels: finite for logits
    like [1000, 0, -1000], and ln 2 for [1e16, 1e16].
    """
    logits, targets = _cross_entropy_batch(logits, targets)
    terms = []
    for z, t in zip(logits, targets):
        zs = list(z)
        if isinstance(t, Sequence) and not isinstance(t, str):
            if len(t) != len(zs):
                raise ValueError(
                    f"cross_entropy: {len(t)} target probabilities for {len(zs)} classes"
                )
            terms.append(apply(ops.SOFT_CROSS_ENTROPY.member(len(zs)), *zs, *t))
            continue
        if isinstance(t, bool) or not isinstance(t, int):
            raise TypeError(
                f"cross_entropy: a target must be a class index or probabilities, got {describe(t)}"
            )
        if not 0 <= t < len(z):
            shown = t if abs(t).bit_length() <= 64 else describe(t)  # str() refuses 4,300 digits
            raise ValueError(f"cross_entropy: class {shown} out of range for {len(z)} classes")
        terms.append(apply(ops.CROSS_ENTROPY.member(t), *zs))
    return _reduce(terms, reduction)


def l2_penalty(parameters: Sequence[Value], weight_decay: float) -> Value:
    """Weight decay as a loss term: (weight_decay / 2) * sum_i w_i^2;  d/dw_i = weight_decay * w_i.

    Adding it to the loss moves the weights exactly as an optimizer's ``weight_decay`` does.
    ``parameters`` are Values (``model.parameters()``); ``weight_decay`` a finite number >= 0.
    """
    weight_decay = in_range(weight_decay, "weight_decay", 0.0, math.inf, high_open=True)
    # Values, or forward mode's Duals (the penalty then has a jvp like every loss)
    params: list[Value] = instances(parameters, "parameters", (Value, Dual), "Value")
    if not params:
        return Value(0.0)
    total = params[0] ** 2
    for p in params[1:]:
        total = total + p**2
    return total * (0.5 * weight_decay)


def _cross_entropy_batch(logits: Any, targets: Any) -> tuple[list[list[Operand]], list[Any]]:
    """``cross_entropy``'s arguments as a batch: a list of logit lists (Values) and a list of
    targets (a class index as an int, or a list of class probabilities as floats). One sample
    (a list of numbers and one target) becomes a batch of one. Errors name the argument."""
    if _is_number(logits):
        raise TypeError(
            "cross_entropy: logits must be a list of class scores (one sample) or a list of such"
            f" lists (a batch), got {describe(logits)}"
        )
    rows = sequence(logits, "cross_entropy: logits")
    if len(rows) == 0:
        raise ValueError("cross_entropy: logits must not be empty")
    one = _is_number(rows[0])
    if one:
        rows, targets = [rows], [targets]
    elif _is_number(targets):
        raise TypeError(
            "cross_entropy: logits is a batch, so targets must be a list with one class index"
            f" per sample, got {describe(targets)}"
        )
    targets = sequence(targets, "cross_entropy: targets")
    if len(rows) != len(targets):
        raise ValueError(
            f"cross_entropy: logits has {len(rows)} samples but targets has {len(targets)}"
        )
    batch: list[list[Operand]] = []
    classes: list[Any] = []
    for i, (z, t) in enumerate(zip(rows, targets)):
        where = "" if one else f"[{i}]"
        zs = _values(z, f"cross_entropy: logits{where}")
        if not zs:
            raise ValueError(f"cross_entropy: logits{where} must hold at least one class score")
        batch.append(zs)
        classes.append(_cross_entropy_target(t, len(zs), where, one))
    return batch, classes


def _cross_entropy_target(t: Any, n: int, where: str, one: bool) -> int | list[Value | float]:
    """One sample's target for ``n`` classes: a class index, or its class probabilities
    (numbers, or Values: a compiled replay's inputs), each checked to be in [0, 1]."""
    index = _class_index(t)
    if index is not None:
        return index
    if isinstance(t, (str, bytes, dict)) or not hasattr(t, "__len__"):
        raise TypeError(
            f"cross_entropy: targets{where} must be a class index or a list of class"
            f" probabilities, got {describe(t)}"
        )
    # one sample: its targets are read as class probabilities (a list of classes would need
    # logits to be a batch), which the message says
    name = (
        "cross_entropy: logits is one sample, so targets"
        if one
        else f"cross_entropy: targets{where}"
    )
    if len(t) != n:
        raise ValueError(
            f"{name} has {len(t)} class probabilities but logits{where} has {n} classes"
        )
    probabilities: list[Value | float] = []
    for k, tk in enumerate(sequence(t, name)):
        tk = tk if _traced(tk) else real(tk, f"{name}[{k}]")
        _check_probability(tk, f"{name}[{k}]")
        probabilities.append(tk)
    return probabilities


def _class_index(t: Any) -> int | None:
    """``t`` as a class index if it is an integer (Python's, NumPy's, a 0-d integer array), else
    None. A bool is not a class."""
    if isinstance(t, bool):
        return None
    try:
        return operator.index(t)
    except TypeError:
        return None
