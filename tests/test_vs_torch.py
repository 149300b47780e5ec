"""Cross-checks against PyTorch in float64: values and gradients of every op and random graphs.

Skipped without torch, except in CI (MICROGRADX_REQUIRE_TORCH=1), where torch==2.13.0 is installed.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given

from microgradx import Value, apply
from microgradx.ops import Op, all_members
from microgradx.testing import Expression, expressions
from tests.conftest import require_torch


def torch_expression(op: Op) -> str:
    """How PyTorch computes ``op``: its declaration's ``torch``, else ``torch.<name>(*xs)``."""
    return op.torch if op.torch is not None else f"torch.{op.name}(*xs)"


def torch_apply(torch, op: Op, args):
    """``op`` on tensors, by the expression its declaration gives (see ``Op.torch``)."""
    xs = tuple(args)
    names = {"torch": torch, "xs": xs, "p": op.param, "x": xs[0]}
    if len(xs) == 2:
        names.update(a=xs[0], b=xs[1])
    return eval(torch_expression(op), names)


def test_every_op_has_a_torch_counterpart():
    """Each declaration's expression names a function torch has, and runs on tensors."""
    torch = require_torch()
    for op in all_members():
        n = op.arity or 2
        xs = [torch.tensor(0.25, dtype=torch.float64) for _ in range(n)]
        assert torch_apply(torch, op, xs).dtype == torch.float64, op.label


def _close(ours: float, theirs: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    if math.isnan(ours) or math.isnan(theirs):
        return math.isnan(ours) and math.isnan(theirs)
    if math.isinf(ours) or math.isinf(theirs):
        return ours == theirs
    return abs(ours - theirs) <= abs_ + rel * abs(theirs)


@given(expressions())
def test_random_graphs_agree_with_torch_float64(expr: Expression):
    torch = require_torch()
    leaves = [Value(x) for x in expr.inputs]
    out = expr(*leaves)
    out.backward()

    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in expr.inputs]
    reference = expr.evaluate(tensors, lambda op, args: torch_apply(torch, op, args))
    reference.backward()
    assert _close(out.data, reference.item()), f"{expr}: {out.data} vs {reference.item()}"
    for i, (leaf, tensor) in enumerate(zip(leaves, tensors)):
        theirs = 0.0 if tensor.grad is None else tensor.grad.item()
        assert _close(leaf.grad, theirs), f"{expr}: d/dx{i} {leaf.grad} vs {theirs}"


SPECIAL = [
    -math.inf,
    -1000.0,
    -2.5,
    -1.0,
    -0.0,
    0.0,
    1e-300,
    0.5,
    1.0,
    3.0,
    800.0,
    math.inf,
    math.nan,
]


def _special_inputs(op: Op) -> list[tuple[float, ...]]:
    """Every combination of SPECIAL for one and two inputs; ops of n inputs get two and three
    (logits), and the soft cross-entropy a seeded sample of its 4 or 6."""
    if op.arity in (1, 2):
        return list(itertools.product(SPECIAL, repeat=op.arity))
    if op.arity is None:
        return [*itertools.product(SPECIAL, repeat=2), *itertools.product(SPECIAL, repeat=3)]
    rng = random.Random(op.label)
    return [tuple(rng.choice(SPECIAL) for _ in range(op.arity)) for _ in range(1500)]


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_special_values_agree_with_torch(op):
    """Values and gradients at 0, +-inf, nan, huge and tiny inputs: the IEEE-754 behaviour and the
    subgradient choices (relu'(0), abs'(0), max at a tie, ...) are PyTorch's, except where PyTorch
    is wrong (TORCH_QUIRKS)."""
    torch = require_torch()
    mismatches = []
    for args in _special_inputs(op):
        if op.param is not None and op.name in INDEXED and op.param >= len(args):
            continue
        leaves = [Value(x) for x in args]
        out = apply(op, *leaves)
        out.backward()
        tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in args]
        reference = torch_apply(torch, op, tensors)
        reference.backward()
        theirs_grads = [0.0 if t.grad is None else t.grad.item() for t in tensors]
        if _quirk(op, args):
            continue
        if not _close(out.data, reference.item()):
            mismatches.append(f"{op.label}{args} = {out.data} vs torch {reference.item()}")
        for k, (leaf, theirs) in enumerate(zip(leaves, theirs_grads)):
            if not _close(leaf.grad, theirs):
                mismatches.append(f"d/d{k} {op.label}{args} = {leaf.grad} vs torch {theirs}")
    assert not mismatches, "\n".join(mismatches[:20])


INDEXED = ("log_softmax", "softmax", "cross_entropy")


def _quirk(op: Op, args: tuple[float, ...]) -> str | None:
    """Why PyTorch's answer differs at these special inputs, or None."""
    reason = TORCH_QUIRKS.get((op.label, args))
    if reason is not None:
        return reason
    for name, applies, why in TORCH_QUIRK_RULES:
        if name == op.name and applies(op, args):
            return why
    return None


# Where microgradx and PyTorch differ, and why. torch computes x ** 0.5 as sqrt(x) and its
# gradient as 0.5 / sqrt(x); microgradx uses C's pow() like NumPy, which gives (-inf) ** 0.5 = inf
# and (-0.0) ** -0.5 = +inf. Both are at inputs outside the real domain.
TORCH_QUIRKS = {
    ("**0.5", (-math.inf,)): "torch: sqrt(-inf) = nan; C pow(-inf, 0.5) = inf",
    ("**0.5", (-0.0,)): "torch: 0.5 / sqrt(-0.0) = -inf; C pow(-0.0, -0.5) = +inf",
    ("**1.5", (-math.inf,)): "torch: 1.5 * sqrt(-inf) = nan; C pow gives inf",
}


def _infinite(args: tuple[float, ...]) -> bool:
    return any(math.isinf(x) for x in args)


def _rounds_to_integer(b: float) -> bool:
    return b != int(b) and (b - 1) == int(b - 1) if math.isfinite(b) else False


# Kinds of input where PyTorch is wrong and microgradx right (tests/test_accuracy.py checks ours).
TORCH_QUIRK_RULES = [
    (
        "pow",
        lambda op, a: math.copysign(1.0, a[0]) < 0 and _rounds_to_integer(a[1]),
        "b a^(b-1) for a < 0 and b = 1e-300: torch rounds b - 1 to -1 and gets a number; the"
        " exponent is not an integer, so a^(b-1) has no real value (NaN), and (-0)^(b-1) is +inf",
    ),
    (
        "bce_with_logits",
        lambda op, a: _infinite(a),
        "at an infinite logit torch multiplies 0 * inf (NaN); ours is the limit, (1 - t) z",
    ),
    (
        "binary_cross_entropy",
        lambda op, a: not 0 <= a[0] <= 1,
        "torch refuses p outside [0, 1] (its formula stands in); the loss has no value there: NaN",
    ),
    (
        "binary_cross_entropy",
        lambda op, a: a[0] == 1 or 0 <= a[0] < math.exp(-100),
        "where a log is clamped at -100 (p = 0 or 1) torch's gradients are (p - t) /"
        " max(p (1 - p), 1e-12) and log(1 - p) - log(p) unclamped (1e12, inf); ours differentiate"
        " the clamped loss: a clamped log is a constant, adding 0 to d/dp, and -100 to d/dt",
    ),
    *[
        (
            name,
            lambda op, a: _infinite(a),
            "torch subtracts inf - inf at an infinite logit (NaN); ours is the limit: a -inf"
            " logit has probability 0, one +inf logit probability 1",
        )
        for name in ("logsumexp", "log_softmax", "softmax", "cross_entropy", "soft_cross_entropy")
    ],
]
