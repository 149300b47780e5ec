"""An op is one declaration: an ``Op`` of one's own, declared here and in no table, reaches every
path the table's ops reach (reverse mode, higher order, forward mode, both compile back-ends,
gradcheck, the random-graph strategies, the step-through, graph labels, the docs table), and so
does every op of the table (the architecture test at the end). The old names of this release's
renames each give a one-line error naming the new one."""

from __future__ import annotations

import html
import importlib
import math
import sys

import pytest
from hypothesis import given, settings

import microgradx
from microgradx import Op, Value, apply, gradcheck
from microgradx.autograd import grad
from microgradx.dual import Dual, jvp
from microgradx.ops import OPS, all_members, cos, markdown_table, sin
from microgradx.testing import expressions, well_conditioned
from microgradx.viz import draw_graph, trace_backward
from tests.conftest import require_numpy, require_torch

# A user's op, declared here only: its name is not an identifier (compile must not write it).
X2_SIN = Op(
    name="x²sin",
    symbol="x²·sin",
    arity=1,
    forward=lambda x: x * x * math.sin(x) if math.isfinite(x) else math.nan,
    local_grads=lambda x, out: (2 * x * sin(x) + x * x * cos(x),),
    math="x^2 sin(x)",
    derivative="d/dx = 2x sin(x) + x^2 cos(x)",
    torch="x * x * torch.sin(x)",
    exact=lambda m, x: (x * x * m.sin(x), (2 * x * m.sin(x) + x * x * m.cos(x),)),
)

POINTS = (0.5, -0.75, 1.25, 2.0, 0.2)


def _point(op: Op) -> tuple[float, ...]:
    """A few inputs where ``op`` is well conditioned (inside its domain, away from kinks)."""
    n = op.arity or 3
    for start in range(len(POINTS)):
        inputs = tuple(POINTS[(start + k) % len(POINTS)] for k in range(n))
        if well_conditioned(op, inputs, min_kink_distance=0.1, max_magnitude=1e3):
            return inputs
    raise AssertionError(f"{op.label}: no well-conditioned point among {POINTS}")


def _close(a: float, b: float, rel: float = 1e-12) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


def reaches_every_path(op: Op) -> None:
    """``op`` through every path of the library, each checked against the op's own rules."""
    inputs = _point(op)
    value = op.forward(*inputs)
    local = [float(g) for g in op.local_grads(*inputs, value)]
    f = lambda *xs: apply(op, *xs)  # noqa: E731

    # reverse mode: the node's value and each input's gradient are the op's rules
    leaves = [Value(x) for x in inputs]
    out = f(*leaves)
    out.backward()
    assert out.data == value and [leaf.grad for leaf in leaves] == local, op.label

    # higher order: d/dx0 of the create_graph gradient, against a central difference of the rule
    leaves = [Value(x) for x in inputs]
    (first, *_) = grad(f(*leaves), leaves, create_graph=True)
    assert isinstance(first, Value) and _close(first.data, local[0])
    (second, *_) = grad(first, leaves, allow_unused=True)
    h = 1e-5
    up, down = list(inputs), list(inputs)
    up[0] += h
    down[0] -= h
    slope = (
        float(op.local_grads(*up, op.forward(*up))[0])
        - float(op.local_grads(*down, op.forward(*down))[0])
    ) / (2 * h)
    assert abs((second or 0.0) - slope) <= 1e-5 * max(1.0, abs(slope)), (op.label, second, slope)

    # forward mode: microgradx.apply on Duals; each direction's tangent is a local derivative
    for k in range(len(inputs)):
        direction = [1.0 if j == k else 0.0 for j in range(len(inputs))]
        primal, tangent = jvp(f, list(inputs), direction)
        assert _close(primal, value) and _close(tangent, local[k]), (op.label, k)
    assert isinstance(apply(op, *[Dual(x, 1.0) for x in inputs]), Dual)

    # compile: both back-ends agree with the engine (the NumPy one to 1e-12)
    for backend in ("python", "numpy"):
        if backend == "numpy":
            require_numpy()
        program = microgradx.compile(f, list(inputs), backend=backend)
        assert _close(program(*inputs), value), (op.label, backend)
        grads = program.run(*inputs).input_grads
        assert all(_close(g, e) for g, e in zip(grads, local)), (op.label, backend)

    # gradcheck
    assert gradcheck(f, list(inputs))

    # the step-through: same gradients as backward(), the op named in its steps
    leaves = [Value(x) for x in inputs]
    trace = trace_backward(f(*leaves))
    assert [leaf.grad for leaf in leaves] == local
    assert op.label in str(trace)

    # graph labels and the docs table
    assert html.escape(op.label) in draw_graph(f(*[Value(x) for x in inputs])).source
    docs = markdown_table([op])
    assert f"| `{op.name}` |" in docs and op.math.replace("|", "\\|") in docs


def reaches_the_strategies(op: Op) -> None:
    """The hypothesis strategies build graphs over ``op`` that backward() differentiates."""

    used = []

    @settings(max_examples=10, deadline=None, database=None)
    @given(expressions(ops=[op], max_steps=4))
    def check(expr):
        used.append(op.name in expr.ops)  # (a step may bridge to it with another op)
        leaves = [Value(x) for x in expr.inputs]
        expr(*leaves).backward()
        assert all(math.isfinite(leaf.grad) for leaf in leaves)

    check()
    assert sum(used) >= len(used) // 2, f"{op.label}: used in {sum(used)} of {len(used)} graphs"


def test_a_users_op_reaches_every_path():
    assert X2_SIN.name not in OPS
    reaches_every_path(X2_SIN)
    reaches_the_strategies(X2_SIN)


def test_a_users_op_compiles_under_a_name_that_is_no_identifier():
    program = microgradx.compile(lambda x: apply(X2_SIN, x).exp(), [0.5])
    assert "x²" not in program.source
    assert _close(program(1.5), math.exp(X2_SIN.forward(1.5)))


def test_a_users_op_agrees_with_its_torch_counterpart_and_its_exact_reference():
    from tests.reference import reference, within
    from tests.test_vs_torch import torch_apply

    for x in (0.5, -2.0, 3.0, 1e-8):
        value = X2_SIN.forward(x)
        exact_value, (exact_slope,) = reference(X2_SIN, [x])
        assert within(value, exact_value)
        assert within(float(X2_SIN.local_grads(x, value)[0]), exact_slope)
    torch = require_torch()
    t = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    torch_apply(torch, X2_SIN, [t]).backward()
    assert _close(t.grad.item(), X2_SIN.local_grads(0.5, X2_SIN.forward(0.5))[0])


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_every_op_of_the_table_reaches_every_path(op):
    """The architecture test: what a user's op gets, every op of the table gets."""
    reaches_every_path(op)


@pytest.mark.parametrize("op", list(OPS.values()), ids=lambda op: op.name)
def test_every_op_of_the_table_reaches_the_strategies(op):
    reaches_the_strategies(op.members()[0])


# ---- renamed in this release: the old name says the new one ------------------------------------


def test_old_names_say_the_new_ones():
    with pytest.raises(AttributeError, match=r"Op\.bind is now Op\.member"):
        OPS["leaky_relu"].bind(0.2)
    with pytest.raises(AttributeError, match=r"Dual\.apply_op is now microgradx\.apply"):
        Dual.apply_op(OPS["tanh"], Dual(0.5, 1.0))
    sys.modules.pop("microgradx.forward", None)
    with pytest.raises(ImportError, match=r"microgradx\.forward is now microgradx\.dual"):
        importlib.import_module("microgradx.forward")


def test_a_users_rule_gives_python_floats_never_numpy_scalars():
    """A rule computed in NumPy float32 passed the "real number" check, and the np.float32 in
    x.grad rounded every later float64 contribution to float32; forward's result leaked into
    the compiled back-end's output the same way. Both come back as Python floats."""
    np = require_numpy()
    op = Op(name="npsin", symbol="npsin", arity=1, forward=lambda x: np.float32(math.sin(x)),
            local_grads=lambda x, out: (np.float32(np.cos(float(x))),), math="sin",
            derivative="cos")  # fmt: skip
    x = Value(0.5)
    y = x * (1 / 3) + apply(op, x)
    y.backward()
    assert type(x.grad) is float and type(y.data) is float
    assert x.grad == 1 / 3 + float(np.float32(np.cos(0.5)))
    program = microgradx.compile(lambda x: apply(op, x) * 1.0, [0.5])
    result = program.run(0.5)
    assert type(result.output) is float and type(result.input_grads[0]) is float


@pytest.mark.parametrize("bad", ["0.5", True, 1j, None])
def test_a_users_forward_returning_no_real_number_is_refused_naming_the_op(bad):
    op = Op(name="odd", symbol="odd", arity=1, forward=lambda x: bad,
            local_grads=lambda x, out: (1.0,), math="odd", derivative="1")  # fmt: skip
    with pytest.raises(TypeError, match="op 'odd': forward must be a real number"):
        apply(op, Value(0.5))
    with pytest.raises(TypeError, match="op 'odd': forward must be a real number"):
        microgradx.compile(lambda x: apply(op, x), [0.5]).run(0.5)


@pytest.mark.parametrize(
    "field, bad",
    [("name", 3), ("symbol", None), ("math", b"sin"), ("derivative", None), ("note", None),
     ("param_name", 1.0), ("method", b"sin")],
)  # fmt: skip
def test_an_op_field_of_the_wrong_type_is_refused_at_construction(field, bad):
    """A symbol, math or note of None (or bytes) was accepted and failed much later, in the
    step-through text or markdown_table."""
    fields = dict(name="mysin", symbol="s", arity=1, forward=math.sin, math="sin(x)",
                  local_grads=lambda x, out: (cos(x),), derivative="cos(x)")  # fmt: skip
    fields[field] = bad
    with pytest.raises(TypeError, match=f"{field} .*must be a str"):
        Op(**fields)
