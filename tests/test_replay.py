"""Compiled replay: the same graph run as a program, bit for bit; its guards; fit(compile=True)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradx
from microgradx import Value, losses
from microgradx.data import load_digits, make_moons, train_test_split
from microgradx.nn import MLP, Dropout, Linear, ReLU, Sequential
from microgradx.ops import OPS
from microgradx.optim import Adam
from microgradx.replay import CompileError, compile_graph
from microgradx.testing import Expression, expressions
from microgradx.train import evaluate, fit


def _interpreted(fn, inputs, leaves=()):
    """fn's output, its inputs' gradients and the given leaves' gradients, by backward()."""
    xs = [Value(x) for x in inputs]
    out = fn(*xs)
    before = [leaf.grad for leaf in leaves]
    out.backward()
    grads = [leaf.grad for leaf in leaves]
    for leaf, value in zip(leaves, before):
        leaf.grad = value
    return out.data, [x.grad for x in xs], grads


def _same(a: float, b: float) -> bool:
    """Bit for bit (NaN counts as equal to NaN; 0.0 and -0.0 do not)."""
    return math.copysign(1.0, a) == math.copysign(1.0, b) and (a == b or (a != a and b != b))


@given(expressions())
def test_replay_is_bit_for_bit_backward_on_random_graphs(expr: Expression):
    program = microgradx.compile(expr, expr.inputs, check=False)
    data, input_grads, _ = _interpreted(expr, expr.inputs)
    assert _same(program(*expr.inputs), data)
    assert all(_same(a, b) for a, b in zip(program.input_grads, input_grads))
    # and on other numbers: the graph of these ops does not depend on them
    shifted = [x * 0.75 + 0.125 for x in expr.inputs]
    data, input_grads, _ = _interpreted(expr, shifted)
    assert _same(program(*shifted), data)
    assert all(_same(a, b) for a, b in zip(program.input_grads, input_grads))


def test_every_op_of_the_table_is_replayed():
    seen: set[str] = set()

    @settings(max_examples=300)
    @given(expressions())
    def collect(expr: Expression) -> None:
        program = microgradx.compile(expr, expr.inputs, check=False)
        seen.update(op.name for op in (s.op for s in expr.steps))
        assert program.nodes >= 2  # at least an input and the output

    collect()
    # expressions() draws at most two operands per step (see test_properties): soft
    # cross-entropy's members take 4 and 6 inputs; tests/test_accuracy.py replays those.
    assert seen == {name for name, op in OPS.items() if op.inputs_per_param is None}


@pytest.mark.parametrize(
    ("sizes", "loss"),
    [([16, 16, 1], "bce_with_logits"), ([8, 3], "cross_entropy"), ([4, 1], "mse")],
)
def test_replay_of_an_mlp_loss_gives_every_parameter_gradient_of_backward(sizes, loss):
    model = MLP(2, sizes, seed=1)
    target = 1 if loss != "cross_entropy" else 2

    def f(x0, x1):
        return getattr(losses, loss)(model([x0, x1]), target)

    program = microgradx.compile(f, [0.3, -0.7], model=model)
    params = model.parameters()
    for x in ([0.3, -0.7], [1.5, 0.25], [-2.0, 3.0]):
        data, _, grads = _interpreted(f, x, params)
        before = [p.grad for p in params]
        assert _same(program(*x), data)
        after = [p.grad for p in params]
        # the leaves accumulate, as after backward(): the difference is this call's gradient
        assert all(_same(a - b, g) or a - b == g for a, b, g in zip(after, before, grads))
        model.zero_grad()
        program(*x)
        assert all(_same(p.grad, g) for p, g in zip(params, grads))
        model.zero_grad()


def test_the_generated_program_is_plain_python_one_line_per_operation():
    a, b = Value(2.0), Value(-3.0)
    out = (a * b + a).tanh()
    program = compile_graph(out, [a, b])
    assert "def run(I, P, seed):" in program.source
    assert re.search(r"= x\d+ \* x\d+", program.source)  # a * b, inline
    assert "f_tanh" in program.source  # tanh by the op table's own float rule
    assert "if x" in program.source and "!= 0.0:" in program.source  # the zero-gradient rule


def test_a_graph_that_depends_on_the_data_is_refused():
    def branchy(x):
        return x * 2 if x.data > 0 else x.exp()  # a Python `if` on .data decides the graph

    with pytest.raises(CompileError, match="different graph for different input values"):
        microgradx.compile(lambda x: branchy(x).tanh(), [1.0])
    microgradx.compile(lambda x: (x * 2).relu(), [1.0])  # a choice made by an op is fine


def test_a_number_that_changes_between_calls_is_refused():
    model = Sequential(Linear(2, 4), ReLU(), Dropout(0.5), Linear(4, 1))

    def f(x0, x1):
        return losses.mse(model([x0, x1])[0], 0.0)

    with pytest.raises(CompileError, match="dropout mask"):
        microgradx.compile(f, [0.5, 0.5], model=model)
    model.eval()  # no dropout: the same graph every call
    microgradx.compile(f, [0.5, 0.5], model=model)


def test_changing_the_model_after_compiling_is_refused():
    model = MLP(2, [3, 1], seed=0)
    program = microgradx.compile(lambda a, b: model([a, b]).tanh(), [0.1, 0.2], model=model)
    program(0.1, 0.2)
    model.layers.append(Linear(1, 1))  # a layer added
    with pytest.raises(CompileError, match="structure changed after it was compiled"):
        program(0.1, 0.2)
    model.layers.pop()
    program(0.1, 0.2)
    model.layers[0].neurons[1] = model.layers[0].neurons[2]  # a neuron replaced
    with pytest.raises(CompileError, match="structure changed"):
        program.batch([[0.1, 0.2]])


def test_bad_input_is_refused_with_what_went_wrong():
    program = microgradx.compile(lambda a, b: (a * b).tanh(), [1.0, 2.0])
    with pytest.raises(ValueError, match="takes 2 inputs, got 3"):
        program(1.0, 2.0, 3.0)
    with pytest.raises(ValueError, match="input 1 is nan: the data must be finite"):
        program(1.0, math.nan)
    with pytest.raises(ValueError, match="input 0 of row 1 is inf"):
        program.batch([[1.0, 2.0], [math.inf, 1.0]])
    with pytest.raises(TypeError, match=r"must return one Value .* got list of 2"):
        microgradx.compile(lambda a, b: [a * b, a + b], [1.0, 2.0])
    with pytest.raises(CompileError, match="returned a leaf"):
        microgradx.compile(lambda a: a, [1.0])
    unused = microgradx.compile(lambda a, b: a.tanh(), [1.0, 2.0])  # b is ignored: gradient 0
    unused(1.0, 2.0)
    assert unused.input_grads[1] == 0.0
    with pytest.raises(TypeError, match="example_inputs must be a sequence"):
        microgradx.compile(lambda a: a.tanh(), 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend must be 'python' or 'numpy'"):
        microgradx.compile(lambda a: a.tanh(), [1.0], backend="cuda")


def test_a_large_graph_uses_few_local_names():
    # One local per node would make every call allocate a frame of that size; names are reused.
    model = MLP(8, [32, 32, 1], seed=0)
    program = microgradx.compile(lambda *x: model(list(x)).tanh(), [0.1] * 8, model=model)
    names = set(re.findall(r"\bx\d+\b", program.source))
    assert program.nodes > 2000 and len(names) < program.nodes / 4


# ---- the NumPy back-end -------------------------------------------------------------------------


def _numpy():
    try:
        import numpy
    except ImportError:
        if __import__("os").environ.get("MICROGRADX_REQUIRE_TORCH") == "1":  # CI has numpy
            pytest.fail("numpy is not installed, but CI installs it with torch")
        pytest.skip("the NumPy back-end needs numpy (pip install 'microgradx[fast]')")
    return numpy


@given(expressions(), st.integers(1, 5))
def test_numpy_backend_matches_the_scalar_engine_on_random_graphs(expr: Expression, rows: int):
    _numpy()
    program = microgradx.compile(expr, expr.inputs, check=False, backend="numpy")
    batch = [[x * (1 + 0.01 * r) for x in expr.inputs] for r in range(rows)]
    outputs = program.batch(batch)
    for r, row in enumerate(batch):
        data, input_grads, _ = _interpreted(expr, row)
        assert outputs[r] == pytest.approx(data, rel=1e-12, abs=1e-300)
        for k, g in enumerate(input_grads):
            assert float(program.input_grads[k][r]) == pytest.approx(g, rel=1e-12, abs=1e-12)


def test_numpy_backend_sums_parameter_gradients_over_the_batch():
    _numpy()
    model = MLP(3, [5, 2], seed=0)

    def f(a, b, c):
        return losses.cross_entropy(model([a, b, c]), 1)

    rows = [[0.1, 0.2, 0.3], [-1.0, 0.5, 2.0], [0.0, 0.0, 1.0]]
    scalar = microgradx.compile(f, rows[0], model=model)
    vector = microgradx.compile(f, rows[0], model=model, backend="numpy")
    model.zero_grad()
    expected = scalar.batch(rows, gradient=1 / 3)
    grads = [p.grad for p in model.parameters()]
    model.zero_grad()
    assert vector.batch(rows, gradient=1 / 3) == pytest.approx(expected, rel=1e-12)
    assert [p.grad for p in model.parameters()] == pytest.approx(grads, rel=1e-12, abs=1e-15)


def test_every_op_has_a_numpy_form():
    np = _numpy()
    from microgradx.replay_numpy import numpy_ops

    assert set(numpy_ops(np)) == set(OPS)


# ---- fit(compile=True) --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["python", "numpy"])
@pytest.mark.parametrize("loss", ["bce_with_logits", "hinge", "mse"])
def test_fit_compiled_trains_like_fit(backend, loss):
    if backend == "numpy":
        _numpy()
    X, y = make_moons(40, seed=1)
    if loss == "hinge":
        y = [2 * t - 1 for t in y]
    weights, histories = [], []
    for compile in (False, True):
        model = MLP(2, [6, 1], seed=2)
        history = fit(model, X, y, loss=loss, optimizer=Adam(model.parameters(), lr=0.05),
                      epochs=4, batch_size=10, progress=False, compile=compile,
                      backend=backend)  # fmt: skip
        assert history.compiled == compile
        weights.append([p.data for p in model.parameters()])
        histories.append(history)
    # the same steps; only the order in which a batch's gradients are added differs
    assert weights[1] == pytest.approx(weights[0], rel=1e-9, abs=1e-12)
    assert histories[1].loss == pytest.approx(histories[0].loss, rel=1e-12)
    assert histories[1].accuracy == histories[0].accuracy


def test_fit_compiled_refuses_what_it_cannot_replay_and_says_why():
    X, y = make_moons(20, seed=0)
    model = Sequential(Linear(2, 4), ReLU(), Dropout(0.3), Linear(4, 1))
    with pytest.warns(UserWarning, match="trains without compiling: a number inside"):
        history = fit(model, X, y, loss="bce_with_logits", epochs=1, progress=False, compile=True)
    assert not history.compiled

    def mine(outputs, targets):
        return losses.mse(outputs, targets)

    with pytest.warns(UserWarning, match="needs a named loss"):
        history = fit(MLP(2, [3, 1]), X, y, loss=mine, epochs=1, progress=False, compile=True)
    assert not history.compiled


def test_digits_linear_and_one_hidden_layer_reach_the_lectures_accuracies():
    """The settings notebook 08 uses (seeds fixed): linear >= 0.90, 64-32-10 >= 0.95 held out."""
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    for sizes, epochs, needed in (([10], 20, 0.90), ([32, 10], 30, 0.95)):
        model = MLP(64, sizes, seed=0)
        fit(model, X_train, y_train, loss="cross_entropy", epochs=epochs, batch_size=32,
            optimizer=Adam(model.parameters(), lr=0.01), progress=False,
            compile=True)  # fmt: skip
        accuracy = evaluate(model, X_test, y_test, "cross_entropy")[1]
        assert accuracy >= needed, (sizes, accuracy)
