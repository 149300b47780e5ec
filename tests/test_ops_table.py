"""Every op in the table: value and derivatives at known points, and coverage of the table."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given

from microgradx import Value, apply, gradcheck, losses
from microgradx.dual import Dual
from microgradx.engine import Value as EngineValue
from microgradx.ops import OPS, all_members, markdown_table, readme_with_op_list
from microgradx.testing import op_inputs, well_conditioned
from tests.reference import has_reference, reference

E = math.e
LN2 = math.log(2)
LN3 = math.log(3)
LOGITS = (0.0, LN2, 0.0)  # softmax [1/4, 1/2, 1/4], logsumexp ln 4

# label -> (inputs, value, local derivatives), computed by hand.
KNOWN_POINTS: dict[str, tuple[tuple[float, ...], float, tuple[float, ...]]] = {
    "+": ((2.0, 3.0), 5.0, (1.0, 1.0)),
    "-": ((2.0, 3.0), -1.0, (1.0, -1.0)),  # sub
    "*": ((2.0, 3.0), 6.0, (3.0, 2.0)),
    "/": ((3.0, 2.0), 1.5, (0.5, -0.75)),
    "**": ((2.0, 3.0), 8.0, (12.0, 8.0 * LN2)),
    "**2": ((3.0,), 9.0, (6.0,)),
    "**3": ((2.0,), 8.0, (12.0,)),
    "**0.5": ((4.0,), 2.0, (0.25,)),
    "**-1": ((2.0,), 0.5, (-0.25,)),
    "**1.5": ((4.0,), 8.0, (3.0,)),
    "2**": ((3.0,), 8.0, (8.0 * LN2,)),
    "0.5**": ((1.0,), 0.5, (0.5 * math.log(0.5),)),
    f"{E:g}**": ((1.0,), E, (E,)),
    "neg": ((2.0,), -2.0, (-1.0,)),
    "abs": ((-2.0,), 2.0, (-1.0,)),
    "exp": ((1.0,), E, (E,)),
    "log": ((E,), 1.0, (1 / E,)),
    "sqrt": ((4.0,), 2.0, (0.25,)),
    "tanh": ((0.5,), math.tanh(0.5), (1 - math.tanh(0.5) ** 2,)),
    "σ": ((0.0,), 0.5, (0.25,)),
    "ReLU": ((2.0,), 2.0, (1.0,)),
    "LeakyReLU(0.01)": ((-2.0,), -0.02, (0.01,)),
    "LeakyReLU(0.2)": ((3.0,), 3.0, (1.0,)),
    "softplus": ((0.0,), LN2, (0.5,)),
    "sin": ((math.pi / 6,), 0.5, (math.cos(math.pi / 6),)),
    "cos": ((math.pi / 3,), 0.5, (-math.sin(math.pi / 3),)),
    "max": ((1.0, 2.0), 2.0, (0.0, 1.0)),
    "min": ((1.0, 2.0), 1.0, (1.0, 0.0)),
    "logsumexp": (LOGITS, 2 * LN2, (0.25, 0.5, 0.25)),
    "log_softmax[0]": (LOGITS, -2 * LN2, (0.75, -0.5, -0.25)),
    "log_softmax[1]": (LOGITS, -LN2, (-0.25, 0.5, -0.25)),
    "softmax[0]": (LOGITS, 0.25, (0.25 * 0.75, -0.25 * 0.5, -0.25 * 0.25)),
    "softmax[1]": (LOGITS, 0.5, (-0.5 * 0.25, 0.5 * 0.5, -0.5 * 0.25)),
    "CE[0]": (LOGITS, 2 * LN2, (-0.75, 0.5, 0.25)),
    "CE[1]": (LOGITS, LN2, (0.25, -0.5, 0.25)),
    # logits (0, ln 2): p = (1/3, 2/3); targets (1/4, 3/4): dz = p - t, dt = -log p
    "soft_CE[2]": (
        (0.0, LN2, 0.25, 0.75),
        0.25 * LN3 + 0.75 * (LN3 - LN2),
        (1 / 12, -1 / 12, LN3, LN3 - LN2),
    ),
    "soft_CE[3]": ((*LOGITS, 0.0, 1.0, 0.0), LN2, (0.25, -0.5, 0.25, 2 * LN2, LN2, 2 * LN2)),
    # log(1 + 3) - t ln 3; sigmoid(ln 3) - t = 3/4 - 1/4
    "BCE_logits": ((LN3, 0.25), 2 * LN2 - 0.25 * LN3, (0.5, -LN3)),
    # -log(1/4); (p - t) / (p (1 - p)) = -0.75 / 0.1875; log(3/4) - log(1/4)
    "BCE": ((0.25, 1.0), 2 * LN2, (-4.0, LN3)),
}


def _key(op_label: str, name: str) -> str:
    return "neg" if name == "neg" else op_label


CANDIDATES = (0.5, -0.75, 1.25, 2.0, 0.2)


def known_point(op) -> tuple[tuple[float, ...], float, tuple[float, ...]]:
    """(inputs, value, local derivatives): computed by hand (KNOWN_POINTS) for the table's first
    ops, else the exact ones (the declaration's ``exact``, in mpmath) at the first of a few
    points where the op is well conditioned (inside its domain, away from its kinks)."""
    key = _key(op.label, op.name)
    if key in KNOWN_POINTS:
        return KNOWN_POINTS[key]
    n = op.arity or 3
    for start in range(len(CANDIDATES)):
        inputs = tuple(CANDIDATES[(start + k) % len(CANDIDATES)] for k in range(n))
        if well_conditioned(op, inputs, min_kink_distance=0.1, max_magnitude=1e3):
            value, grads = reference(op, inputs)
            return inputs, float(value), tuple(float(g) for g in grads)
    raise AssertionError(f"op {op.label}: no well-conditioned point among {CANDIDATES}")


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_value_and_local_derivatives_at_a_known_point(op):
    inputs, value, grads = known_point(op)
    leaves = [Value(x) for x in inputs]
    out = apply(op, *leaves)
    assert out.data == pytest.approx(value, rel=1e-15, abs=1e-15)
    out.backward()
    assert [leaf.grad for leaf in leaves] == pytest.approx(grads, rel=1e-15, abs=1e-15)


def test_every_known_point_belongs_to_an_op():
    labels = {_key(op.label, op.name) for op in all_members()}
    assert set(KNOWN_POINTS) <= labels


@pytest.mark.parametrize("op", list(OPS.values()), ids=lambda op: op.name)
def test_every_op_has_one_exact_reference(op):
    assert has_reference(op), f"{op.name}: give it an exact reference (Op.exact)"


def test_readme_op_list_is_current():
    readme = Path(__file__).resolve().parent.parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    assert readme_with_op_list(text) == text, (
        "README.md's op list is stale: run `python docs/make_op_lists.py`"
    )


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_local_derivative_matches_central_difference_on_random_inputs(op):
    @given(op_inputs(op))
    def check(inputs):
        gradcheck(lambda *xs: apply(op, *xs), inputs, rtol=1e-6, atol=1e-8)

    check()


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_local_derivative_rule_also_runs_on_values(op):
    """The same rule on Values gives the same numbers (this is what higher order relies on)."""
    inputs, _, grads = known_point(op)
    leaves = [Value(x) for x in inputs]
    out = apply(op, *leaves)
    symbolic = op.local_grads(*leaves, out)
    assert [float(g) for g in symbolic] == pytest.approx(grads, rel=1e-15, abs=1e-15)


# Ops applied by a loss function of microgradx.losses, not a Value method.
LOSS_FUNCTIONS = {
    "logsumexp": lambda op, *z: losses.logsumexp(z),
    "log_softmax": lambda op, *z: losses.log_softmax(z)[int(op.param)],
    "softmax": lambda op, *z: losses.softmax(z)[int(op.param)],
    "cross_entropy": lambda op, *z: losses.cross_entropy(list(z), int(op.param), reduction="sum"),
    "soft_cross_entropy": lambda op, *zt: losses.cross_entropy(
        list(zt[: len(zt) // 2]), list(zt[len(zt) // 2 :]), reduction="sum"
    ),
    "bce_with_logits": lambda op, z, t: losses.bce_with_logits(z, t, reduction="sum"),
    "binary_cross_entropy": lambda op, p, t: losses.binary_cross_entropy(p, t, reduction="sum"),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_named_op_has_a_value_method_or_operator_documented_by_the_table(name):
    op = OPS[name]
    if name in LOSS_FUNCTIONS:
        return  # applied by microgradx.losses (the test below goes through it)
    if op.method is None:  # applied by a function: microgradx.maximum, microgradx.minimum
        import microgradx

        assert callable(getattr(microgradx, name))
        return
    method = getattr(EngineValue, op.method)
    if not op.method.startswith("__"):  # named ops carry the table's math line as docstring
        assert method.__doc__.strip() == op.math


def _apply_by_method(op, *args):
    """``op`` applied the way a user writes it: ``x.sqrt()``, ``x ** 2``, ``a / b``, ...
    (a loss through ``microgradx.losses`` on Values; on Duals, which the losses do not take, by
    ``microgradx.apply``)."""
    if op.name in LOSS_FUNCTIONS:
        if isinstance(args[0], Dual):
            return apply(op, *args)
        return LOSS_FUNCTIONS[op.name](op, *args)
    if op.method is None:
        import microgradx

        return getattr(microgradx, op.name)(*args)
    if op.name == "pow_scalar":
        return args[0] ** op.param
    if op.name == "rpow_scalar":
        return op.param ** args[0]
    if op.param is not None:
        return getattr(args[0], op.method)(op.param)
    return getattr(args[0], op.method)(*args[1:])


@pytest.mark.parametrize("op", all_members(), ids=lambda op: op.label)
def test_forward_mode_applies_each_op_by_its_own_rule(op):
    """Every op through Dual's own method or operator (generated from the table): the primal is
    the table's value and each tangent direction its local derivative, at the known point."""
    inputs, value, grads = known_point(op)
    for k in range(len(inputs)):
        duals = [Dual(x, 1.0 if j == k else 0.0) for j, x in enumerate(inputs)]
        out = _apply_by_method(op, *duals)
        assert isinstance(out, Dual)
        assert out.primal == pytest.approx(value, rel=1e-15, abs=1e-15)
        assert out.tangent == pytest.approx(grads[k], rel=1e-15, abs=1e-15), f"d/d input {k}"
    # and the reverse mode through the same Value method agrees
    leaves = [Value(x) for x in inputs]
    _apply_by_method(op, *leaves).backward()
    assert [leaf.grad for leaf in leaves] == pytest.approx(grads, rel=1e-15, abs=1e-15)


def test_docs_op_table_is_current():
    docs = Path(__file__).resolve().parent.parent / "docs" / "ops.md"
    assert docs.read_text(encoding="utf-8") == markdown_table(), (
        "docs/ops.md is stale: run `python docs/make_op_lists.py`"
    )


def test_every_op_has_math_derivative_and_a_symbol():
    for op in OPS.values():
        assert op.math and op.derivative and op.symbol, op.name
        assert op.arity in (1, 2, None)  # None: any number of inputs (the softmax family)
        if op.param_name is not None:
            assert op.param_examples, f"family {op.name} needs param_examples for its tests"


def test_member_is_cached_and_shared_between_nodes():
    x = Value(3.0)
    assert (x**2).op is (x**2).op
    assert (x**2).op is not (x**3).op


@pytest.mark.parametrize("bad", [1.5, -1.0, math.inf, math.nan])
def test_a_class_index_or_count_must_be_an_integer(bad):
    for name in ("log_softmax", "softmax", "cross_entropy", "soft_cross_entropy"):
        with pytest.raises(ValueError, match="must be an integer >= 0"):
            OPS[name].member(bad)
    with pytest.raises(ValueError, match="classes must be at least 1"):
        OPS["soft_cross_entropy"].member(0)
    with pytest.raises(ValueError, match="class index 3 is out of range for 3 logits"):
        apply(OPS["cross_entropy"].member(3), 0.0, 1.0, 2.0)
    assert OPS["cross_entropy"].member(0) is OPS["cross_entropy"].member(-0.0)  # cached: one op


def test_member_rejects_misuse():
    with pytest.raises(TypeError, match="takes no parameter"):
        OPS["tanh"].member(1.0)
    with pytest.raises(TypeError, match="already has"):
        OPS["pow_scalar"].member(2).member(3)
    with pytest.raises(TypeError, match="needs a parameter"):
        apply(OPS["pow_scalar"], Value(1.0))
    with pytest.raises(TypeError, match="takes 1 input"):
        apply(OPS["tanh"], Value(1.0), Value(2.0))


def test_markdown_table_shows_a_users_text_as_text():
    """markdown_table wrote user op text raw: an <img onerror> rendered live, a newline broke the
    row, backticks broke the code spans, and a non-family symbol's {p} vanished."""
    from microgradx.ops import Op, cos

    op = Op(name="my\nop`x", symbol="``s{p}|", arity=1, forward=math.sin,
            local_grads=lambda x, out: (cos(x),), math="sin(x) <img src=x onerror=alert(1)>",
            derivative="d/dx = `cos` ``x [a](javascript:alert(1))",
            note="line1\n\n# Heading & <b>bold</b>")  # fmt: skip
    table = markdown_table([op]).split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(rows) == 3 and rows[2].count(" | ") == 4  # the header and one row of 5 cells
    assert "<img" not in table and "<b>" not in table and "\\[a\\](javascript" in table
    assert "``` ``s{p}\\| ```" in rows[2] and "``my op`x``" in rows[2]
    try:
        import mistune
    except ImportError:
        return  # the text checks above stand alone; rendering is a second look where installed
    html = mistune.html(table)
    assert "<img" not in html and "<b>" not in html and "<a " not in html
    assert "<code>``s{p}" in html and "<code>my op`x</code>" in html  # (GFM unescapes \\|)
    assert "sin(x) &lt;img src=x onerror=alert(1)&gt;" in html
