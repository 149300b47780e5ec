"""Cross-checks against PyTorch in float64: values and gradients of every op and random graphs.

Skipped without torch, except in CI (MICROGRADX_REQUIRE_TORCH=1), where torch==2.13.0 is installed.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given

from microgradx import Value, apply
from microgradx.ops import OPS, Op, all_members
from microgradx.testing import Expression, expressions
from tests.conftest import require_torch

# How PyTorch spells each op of the table (a test below fails if one is missing).
TORCH_OPS = {
    "add": lambda t, op, a, b: a + b,
    "sub": lambda t, op, a, b: a - b,
    "mul": lambda t, op, a, b: a * b,
    "div": lambda t, op, a, b: a / b,
    "pow": lambda t, op, a, b: t.pow(a, b),
    "pow_scalar": lambda t, op, x: t.pow(x, op.param),
    "rpow_scalar": lambda t, op, x: t.pow(op.param, x),
    "neg": lambda t, op, x: -x,
    "abs": lambda t, op, x: t.abs(x),
    "exp": lambda t, op, x: t.exp(x),
    "log": lambda t, op, x: t.log(x),
    "sqrt": lambda t, op, x: t.sqrt(x),
    "tanh": lambda t, op, x: t.tanh(x),
    "sigmoid": lambda t, op, x: t.sigmoid(x),
    "relu": lambda t, op, x: t.relu(x),
    "leaky_relu": lambda t, op, x: t.nn.functional.leaky_relu(x, op.param),
    # torch's softplus switches to x above a threshold; logaddexp(x, 0) is the exact function.
    "softplus": lambda t, op, x: t.logaddexp(x, t.zeros_like(x)),
    "sin": lambda t, op, x: t.sin(x),
    "cos": lambda t, op, x: t.cos(x),
    "maximum": lambda t, op, a, b: t.maximum(a, b),
    "minimum": lambda t, op, a, b: t.minimum(a, b),
}


def torch_apply(torch, op: Op, args):
    return TORCH_OPS[op.name](torch, op, *args)


def test_every_op_has_a_torch_counterpart():
    assert set(TORCH_OPS) == set(OPS)


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


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_special_values_agree_with_torch(op):
    """Values and gradients at 0, +-inf, nan, huge and tiny inputs: the IEEE-754 behaviour and the
    subgradient choices (relu'(0), abs'(0), max at a tie, ...) are PyTorch's."""
    torch = require_torch()
    mismatches = []
    for args in itertools.product(SPECIAL, repeat=op.arity):
        leaves = [Value(x) for x in args]
        out = apply(op, *leaves)
        out.backward()
        tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in args]
        reference = torch_apply(torch, op, tensors)
        reference.backward()
        theirs_grads = [0.0 if t.grad is None else t.grad.item() for t in tensors]
        if not _close(out.data, reference.item()) and (op.label, args) not in TORCH_QUIRKS:
            mismatches.append(f"{op.label}{args} = {out.data} vs torch {reference.item()}")
        for k, (leaf, theirs) in enumerate(zip(leaves, theirs_grads)):
            if not _close(leaf.grad, theirs) and (op.label, args) not in TORCH_QUIRKS:
                mismatches.append(f"d/d{k} {op.label}{args} = {leaf.grad} vs torch {theirs}")
    assert not mismatches, "\n".join(mismatches[:20])


# The only gradients where microgradx and PyTorch differ, and why. torch computes x ** 0.5 as
# sqrt(x) and its gradient as 0.5 / sqrt(x); microgradx uses C's pow() like NumPy, which gives
# (-inf) ** 0.5 = inf and (-0.0) ** -0.5 = +inf. Both are at inputs outside the real domain.
TORCH_QUIRKS = {
    ("**0.5", (-math.inf,)): "torch: sqrt(-inf) = nan; C pow(-inf, 0.5) = inf",
    ("**0.5", (-0.0,)): "torch: 0.5 / sqrt(-0.0) = -inf; C pow(-0.0, -0.5) = +inf",
    ("**1.5", (-math.inf,)): "torch: 1.5 * sqrt(-inf) = nan; C pow gives inf",
}
