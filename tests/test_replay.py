"""Compiled replay: the same graph run as a program, bit for bit; its guards; fit(compile=True)."""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import warnings
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import microgradx
from microgradx import Op, Value, apply, checks, losses
from microgradx.data import load_digits, make_moons, train_test_split
from microgradx.nn import MLP, Dropout, LeakyReLU, Linear, ReLU, Sequential
from microgradx.ops import OPS
from microgradx.optim import Adam
from microgradx.replay import CACHE_SIZE, CompileError, Replayed, compile_graph
from microgradx.testing import Expression, expressions
from microgradx.train import evaluate, fit
from tests.conftest import require_numpy


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
    replayed = program.run(*expr.inputs)
    assert _same(replayed.output, data)
    assert all(_same(a, b) for a, b in zip(replayed.input_grads, input_grads))
    # and on other numbers: the graph of these ops does not depend on them
    shifted = [x * 0.75 + 0.125 for x in expr.inputs]
    data, input_grads, _ = _interpreted(expr, shifted)
    replayed = program.run(*shifted)
    assert _same(replayed.output, data)
    assert all(_same(a, b) for a, b in zip(replayed.input_grads, input_grads))


def test_every_op_of_the_table_is_replayed():
    seen: set[str] = set()

    @settings(max_examples=300)
    @given(expressions())
    def collect(expr: Expression) -> None:
        program = microgradx.compile(expr, expr.inputs, check=False)
        seen.update(op.name for op in (s.op for s in expr.steps))
        assert program.nodes >= 2  # at least an input and the output

    collect()
    assert seen == set(OPS)


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
        model.zero_grad(set_to_none=False)  # numbers: the next round subtracts them


def test_the_generated_program_is_plain_python_one_line_per_operation():
    a, b = Value(2.0), Value(-3.0)
    out = (a * b + a).tanh()
    program = compile_graph(out, [a, b])
    assert "def run(I, P, seed):" in program.source
    assert re.search(r"= x\d+ \* x\d+", program.source)  # a * b, inline
    assert "f_tanh_" in program.source  # tanh by the op table's own float rule
    assert "if x" in program.source and "!= 0.0:" in program.source  # the zero-gradient rule


def _agrees(program, fn, inputs, leaves=()):
    """The program's output, inputs' gradients and leaves' gradients (this call's) are bit for
    bit the interpreted engine's."""
    for leaf in leaves:
        leaf.grad = 0.0
    data, input_grads, grads = _interpreted(fn, inputs, leaves)
    replayed = program.run(*inputs)
    return (
        _same(replayed.output, data)
        and all(_same(a, b) for a, b in zip(replayed.input_grads, input_grads))
        and all(_same(leaf.grad, g) for leaf, g in zip(leaves, grads))
    )


def test_the_issues_branch_on_data_becomes_a_guard():
    # compile(lambda x: x.relu() if x.data > 5 else x.tanh(), [1.0]) then (10.0) gave 0.99999
    fn = lambda x: x.relu() if x.data > 5 else x.tanh()  # noqa: E731
    program = microgradx.compile(fn, [1.0])
    assert program.run(10.0) == Replayed(10.0, (1.0,), ())
    assert program.recordings == 2  # the guard x > 5 failed: recorded again on 10.0
    assert _agrees(program, fn, [1.0]) and _agrees(program, fn, [10.0])
    assert program.recordings == 2  # both recordings kept, each chosen by its guard
    assert "return None" in program.source  # the guard, in the generated code


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_forward_and_batch_follow_the_guards_too(backend):
    if backend == "numpy":
        _numpy()
    fn = lambda x, y: (x * y).relu() if x.data > y.data else (x - y).tanh()  # noqa: E731
    program = microgradx.compile(fn, [1.0, 2.0], backend=backend)
    rows = [[1.0, 2.0], [3.0, -1.0], [0.5, 0.25], [-2.0, 0.0]]
    expected = [_interpreted(fn, row)[0] for row in rows]
    assert [program.forward(*row) for row in rows] == pytest.approx(expected, rel=1e-12)
    assert program.batch(rows) == pytest.approx(expected, rel=1e-12)  # rows split by guard
    assert program.recordings == 2


def _steering(x, y):
    """Every way a function can read its numbers to decide its graph."""
    a = x * y
    s = x.tanh() if a.data > 0.25 else x.sin()  # a node's number
    s = s + (y if (x * 3 + y).data <= 1 else x)  # a number not in the output's graph
    s = s * (2 if x.data == y.data else 3)  # ==
    s = s + (x if x.data != 0 else y)  # !=, and on -0.0 alike
    s = s + (x.exp() if y.data else y)  # bool
    for _ in range(min(int(abs(y.data)) + 1, 4)):  # a loop as long as int() says
        s = s + x
    s = s * math.floor(abs(x.data) + 1)  # floor, then an int constant
    s = s + x * {1.0: 2.0}.get(y.data, 3.0)  # hash and a dict lookup
    s = s + (x.relu() if y.data.is_integer() else -x)  # is_integer
    s = s + x * (2 if f"{y.data:.0f}" == "1" else 3)  # formatting shows the number
    s = s + y * max(x.data, y.data)  # max compares
    s = s + (x if round(y.data) > 0 else y)  # round
    s = s + (x.log() if math.isfinite(math.exp(x.data)) and x.data > 0 else x)  # math on it
    return s


def _constants(x, y):
    """Numbers read from the graph that become part of it: computed at each call, no gradient."""
    with microgradx.no_grad():
        c = x * 3 + y  # inside no_grad: a leaf whose number still depends on x and y
    s = x * x.detach() + y * c
    s = s + x * Value(x.data * 2 - y.data)  # a Value made from numbers read from the graph
    s = s + x + x.data * y  # a number read from the graph as an operand
    s = s + x * round(y.data, 1) + x * divmod(y.data, 0.7)[0] + y * abs(-x.data) ** 2
    return s


GRID = [-2.0, -1.0, -0.0, 0.0, 0.3, 1.0, 1.5, 6.0]


@pytest.mark.parametrize("fn", [_steering, _constants], ids=["steering", "constants"])
def test_every_read_that_steers_or_feeds_the_graph_is_replayed_right(fn):
    """On a grid of inputs on both sides of every test the functions make, each call of the
    program is bit for bit the interpreted engine (re-recording where a guard fails)."""
    program = microgradx.compile(fn, [1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the cache may fill: then interpreted
        for x in GRID:
            for y in GRID:
                assert _agrees(program, fn, [x, y]), (x, y)


def _numpy_ufunc(x):
    """The report: NumPy's exp on a number read from the graph (it raised NumPy's TypeError)."""
    import numpy as np

    return x.relu() if np.exp(x.data) > 1.5 else x.tanh()


def _numpy_array(x):
    """An array made from a number read from the graph, then a ufunc of two into the graph."""
    import numpy as np

    s = x.relu() if np.asarray(x.data) > 0.4054651081081644 else x.tanh()
    return s * float(np.maximum(np.asarray(x.data), 0.25))


def _math_steering(x):
    """The same with math: its behaviour must stay as it was."""
    s = x.relu() if math.exp(x.data) > 1.5 else x.tanh()
    return s * max(x.data, 0.25)


@pytest.mark.parametrize(
    "fn", [_numpy_ufunc, _numpy_array, _math_steering], ids=["ufunc", "array", "math"]
)
def test_numpy_and_math_on_a_recorded_number_are_guarded_and_replayed_right(fn):
    _numpy()  # a skip without numpy; a failure in CI, which installs it
    program = microgradx.compile(fn, [0.5])
    for x in (0.5, 0.1, -0.3, 0.4054651081081644, 0.4054651081081645, 2.0, 0.5):
        assert _agrees(program, fn, [x]), x
    # either side of ln(1.5) takes the other branch: a guard saw the number NumPy read
    assert program.recordings >= 2


def test_numbers_that_feed_the_graph_are_computed_not_frozen():
    program = microgradx.compile(_constants, [1.0, 1.0])
    for x, y in ((2.0, -1.0), (0.5, 3.0), (-4.0, 0.25)):
        assert _agrees(program, _constants, [x, y])
    assert program.recordings == 1  # no guard needed: those numbers are computed from x and y


def test_a_read_that_raises_is_guarded_on_the_exact_number():
    def reciprocal(x, y):
        try:
            return x * (1 / y.data)
        except ZeroDivisionError:
            return x * 5

    program = microgradx.compile(reciprocal, [1.0, 2.0])
    for y in (2.0, 0.0, -0.0, 4.0, 0.0):
        assert _agrees(program, reciprocal, [1.5, y])
    with pytest.raises(ZeroDivisionError):
        microgradx.compile(lambda x: x * (1 / x.data), [1.0])(0.0)  # as the function itself


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_complex_power_of_read_numbers_fails_as_the_function_does(backend):
    if backend == "numpy":
        _numpy()
    fn = lambda x: x * Value(x.data**0.5)  # noqa: E731  (complex for x < 0: Value refuses it)
    program = microgradx.compile(fn, [4.0], backend=backend)
    assert program(9.0) == 27.0
    with pytest.raises(TypeError, match="must be a real number, got complex"):
        program(-4.0)  # once returned a complex number: Python's * accepts one


def test_a_detached_copy_is_the_same_number_in_the_numpy_backend():
    _numpy()
    fn = lambda x: (x.cos() - x.cos().detach()) * x + x  # noqa: E731  (straight-through style)
    program = microgradx.compile(fn, [1.2], backend="numpy")
    rows = [[2.8381668594672806], [1.2267366743407946], [-0.3]]
    assert program.batch(rows) == [row[0] for row in rows]  # exactly: cos(x) - cos(x) is 0


def test_numbers_look_like_floats_while_recording_and_are_floats_after():
    model = MLP(2, [3, 1], seed=0)
    seen = []

    def fn(a, b):
        out = model([a, b])
        seen.append((isinstance(a.data, float), isinstance(out.data, float), float(out)))
        return out.tanh()

    program = microgradx.compile(fn, [0.1, 0.2], model=model)
    assert all(kind == (True, True, float(model([0.1, 0.2]))) for kind in seen[:1])
    assert all(type(p.data) is float and type(p.grad) is float for p in model.parameters())
    program(0.1, 0.2)
    assert all(type(p.grad) is float for p in model.parameters())


def test_another_thread_is_neither_recorded_nor_given_recording_numbers():
    model = MLP(2, [3, 1], seed=0)
    weight = model.layers[0].neurons[0].w[0]
    recording, read = threading.Event(), threading.Event()
    seen = {}

    def fn(a, b):
        recording.set()
        assert read.wait(timeout=60), "the other thread never read the weight"
        return model([a, b]).tanh()

    def other():
        assert recording.wait(timeout=60)
        made = Value(weight.data) * 2  # the weight holds a recording number right now
        seen["type"] = type(made.data)
        seen["big"] = weight.data > 100  # a comparison on this thread is no guard
        read.set()

    thread = threading.Thread(target=other)
    thread.start()
    program = microgradx.compile(lambda a, b: fn(a, b), [0.1, 0.2], model=model)
    thread.join()
    assert seen == {"type": float, "big": False}
    weight.data = 200.0  # a guard "weight <= 100" (wrongly recorded) would now fail
    fn_now = lambda a, b: model([a, b]).tanh()  # noqa: E731
    assert _agrees(program, fn_now, [0.3, -0.4]) and program.recordings == 1


def test_beyond_the_cache_the_interpreted_engine_answers_with_one_warning():
    fn = lambda x: x * math.floor(x.data)  # noqa: E731  (a new int for every unit of x)
    program = microgradx.compile(fn, [0.5])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x in range(12):
            assert _agrees(program, fn, [x + 0.5])
    assert program.recordings == CACHE_SIZE
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "interpreted engine" in messages[0]


def test_a_random_or_counting_function_is_refused_with_the_reason():
    calls = [0]

    def counting(x):
        calls[0] += 1
        return x.tanh() if calls[0] % 2 else x.exp()  # a different graph on every other call

    with pytest.raises(CompileError, match="different graph each time it runs on the same"):
        microgradx.compile(counting, [1.0])
    sign = [1.0]

    def flipping(x):
        sign[0] = -sign[0]
        return x * (sign[0] * 0.0)  # 0.0, then -0.0: equal by ==, not bit for bit

    with pytest.raises(CompileError, match="changes from call to call"):
        microgradx.compile(flipping, [1.0])
    microgradx.compile(lambda x: x * math.nan, [1.0])  # NaN is the same NaN every call


def test_a_number_kept_from_an_earlier_call_is_refused():
    kept: list[float] = []

    def memo(x):
        if not kept:
            kept.append(x.data)  # the first call's number, used by every later call
        return x * kept[0]

    with pytest.raises(CompileError, match="in a way a recording cannot follow"):
        microgradx.compile(memo, [2.0])
    kept.clear()
    with pytest.raises(CompileError, match="different graph each time it runs on the same"):
        microgradx.compile(memo, [2.0], check=False)


def test_a_number_that_changes_between_calls_is_refused():
    model = Sequential(Linear(2, 4), ReLU(), Dropout(0.5), Linear(4, 1))

    def f(x0, x1):
        return losses.mse(model([x0, x1])[0], 0.0)

    with pytest.raises(CompileError, match="dropout mask"):
        microgradx.compile(f, [0.5, 0.5], model=model)
    model.eval()  # no dropout: the same graph every call
    microgradx.compile(f, [0.5, 0.5], model=model)


def _leaky_model():
    return Sequential(Linear(2, 3), LeakyReLU(0.01), Dropout(0.5), Linear(3, 1))


def test_the_model_guard_sees_every_parameter_setting_and_mode():
    model = _leaky_model().eval()
    params = model.parameters
    fn = lambda a, b: model([a, b])[0].tanh()  # noqa: E731
    program = microgradx.compile(fn, [0.5, -0.3], model=model)
    inputs = [[0.5, -0.3], [-1.0, 2.0]]

    def agrees():
        return all(_agrees(program, fn, x, params()) for x in inputs)

    assert agrees()
    model.layers[1].negative_slope = 0.2  # a setting
    assert agrees() and program.recordings == 2
    model.layers[1].negative_slope = 0.0
    assert agrees() and program.recordings == 3
    model.layers[1].negative_slope = -0.0  # == 0.0, but -0.0 * x has the other sign
    assert agrees() and program.recordings == 4
    model.layers[0].neurons[0].w[1] = Value(0.7)  # a parameter replaced in its list
    assert agrees() and program.recordings == 5
    model.layers[0].neurons[2].b = Value(-0.1)  # and as an attribute
    assert agrees() and program.recordings == 6
    model.layers.append(Linear(1, 1))  # a layer added (fn now sees two outputs... of one)
    fn2 = lambda a, b: model([a, b])[0].tanh()  # noqa: E731
    assert all(_agrees(program, fn2, x, params()) for x in inputs)
    model.layers.pop()
    assert agrees() and program.recordings == 7  # back to a state recorded before
    model.train()  # training mode: dropout draws, which cannot be recorded
    with pytest.warns(RuntimeWarning, match=r"model.training changed from False to True.*dropout"):
        program(0.5, -0.3)
    model.eval()
    assert agrees() and program.recordings == 8


def test_a_setting_of_a_private_module_is_guarded_and_named():
    model = MLP(2, [3, 1], activation=LeakyReLU(0.01), seed=0)
    program = microgradx.compile(lambda a, b: model([a, b]), [0.5, -3.0], model=model)
    model.layers[0].neurons[0]._activation.negative_slope = 0.2  # shared by the layer's neurons
    assert _agrees(program, lambda a, b: model([a, b]), [0.5, -3.0], model.parameters())
    from microgradx.replay_model import ModelState

    state = ModelState(model)
    model.layers[0].neurons[1]._activation.negative_slope = 0.3
    assert not state.holds()
    assert state.change() == (
        "model.layers.0.neurons.0._activation.negative_slope changed from 0.2 to 0.3"
    )


def test_compile_graph_refuses_a_changed_model_it_cannot_record_again():
    model = MLP(2, [3, 1], seed=0)
    a, b = Value(0.1), Value(0.2)
    program = compile_graph(model([a, b]).tanh(), [a, b], model=model)
    program(0.1, 0.2)
    model.layers[0].neurons[1] = model.layers[0].neurons[2]  # a neuron replaced
    with pytest.raises(CompileError, match=r"model.layers.0.neurons.1 was replaced"):
        program.batch([[0.1, 0.2]])


def test_user_text_never_reaches_the_generated_code():
    squared = Op(
        name="x²",  # not an identifier: once made the program a SyntaxError
        symbol="²",
        arity=1,
        forward=lambda x: x * x,
        local_grads=lambda x, out: (2 * x,),
        math="x²",
        derivative="2x",
    )
    fn = lambda x: apply(squared, x).tanh()  # noqa: E731
    program = microgradx.compile(fn, [1.5])
    assert "x²" not in program.source and _agrees(program, fn, [-0.5])
    x = Value(2.0, label="\nimport os\n")  # a label is never written into the program
    assert "import os" not in compile_graph((x * x).exp(), [x]).source


def test_an_op_of_ones_own_named_like_a_table_op_keeps_its_own_rule():
    _numpy()
    mine = Op(
        name="tanh",  # the name of a table op, not its rule
        symbol="t",
        arity=1,
        forward=lambda x: 2 * x,
        local_grads=lambda x, out: (2.0,),
        math="2x",
        derivative="2",
    )
    fn = lambda x: apply(mine, x) * x  # noqa: E731
    assert microgradx.compile(fn, [1.5])(1.5) == 4.5  # the Python back-end runs its own rule
    program = microgradx.compile(fn, [1.5], backend="numpy")
    result = program.run(1.5)
    assert result.output == 4.5 and result.input_grads[0] == 6.0  # so does the NumPy one


@pytest.mark.parametrize("name", ["tanh", "exp", "maximum"])
def test_a_copy_of_a_table_op_with_rules_of_its_own_runs_them_in_the_numpy_backend(name):
    """``dataclasses.replace`` keeps the table op's NumPy forms, which compute the table's
    rules: a copy with its own rules must not run them (it runs its own row by row)."""
    _numpy()
    table_op = OPS[name]
    n = table_op.arity
    mine = dataclasses.replace(
        table_op,
        forward=lambda *xs: 2.0 * sum(xs),
        local_grads=lambda *args: (2.0,) * (len(args) - 1),
    )
    assert mine.numpy is None and table_op.numpy is not None
    fn = lambda *xs: apply(mine, *xs) * xs[0]  # noqa: E731
    rows = [[0.25 * (r + 1) + k for k in range(n)] for r in range(3)]
    program = microgradx.compile(fn, rows[0], backend="numpy")
    result = program.run_batch(rows)
    for r, row in enumerate(rows):
        assert result.output[r] == 2.0 * sum(row) * row[0]
        assert result.input_grads[0][r] == 2.0 * row[0] + 2.0 * sum(row)
    kept = dataclasses.replace(table_op, name="renamed")  # the same rules: the forms stay
    assert kept.numpy is table_op.numpy


def _unusual_numbers() -> dict[str, Any]:
    import numpy as np

    return {
        "0-d float array": np.array(0.25),
        "0-d int array": np.array(3),
        "0-d bool array": np.array(True),
        "0-d float32 array": np.array(0.25, dtype=np.float32),
        "np.float32": np.float32(0.1),
        "np.int64": np.int64(3),
        "np.uint8": np.uint8(2),
        "bool": True,
        "np.bool_": np.False_,
        "Fraction": Fraction(1, 3),
        "Decimal": Decimal("0.25"),
        "1-d array": np.array([0.25]),
        "0-d str array": np.array("0.25"),
        "0-d complex array": np.array(1 + 0j),
        "0-d object array": np.array(Fraction(1, 3), dtype=object),
        "complex": 1 + 0j,
        "str": "0.25",
        "None": None,
        "10**400": 10**400,
        "nan": math.nan,
        "np.float64 inf": np.float64(math.inf),
        "0-d nan array": np.array(math.nan),
    }


def _verdict(call: Any) -> Any:
    """What a call gives: its numbers, or the kind of error it raised."""
    try:
        result = call()
    except (TypeError, ValueError) as error:
        return type(error).__name__
    return [float(v) for v in (result if isinstance(result, list) else [result])]


@pytest.mark.parametrize("label", list(_unusual_numbers()))
def test_both_backends_take_the_same_numbers_as_inputs(label):
    # The issue's example: np.array(0.5) was refused by the Python back-end and taken by the
    # NumPy one. One rule (replay_record.input_number) for both, for every way in.
    require_numpy()
    x = _unusual_numbers()[label]
    fn = lambda a, b: (a * b).tanh() + a.relu()  # noqa: E731
    verdicts = {}
    for backend in ("python", "numpy"):
        program = microgradx.compile(fn, [0.5, -1.0], backend=backend)
        verdicts[backend] = {
            "call": _verdict(lambda p=program: p(x, 0.5)),
            "forward": _verdict(lambda p=program: p.forward(0.5, x)),
            "run": _verdict(lambda p=program: p.run(x, x).output),
            "batch": _verdict(lambda p=program: p.batch([[0.5, 0.5], [x, 0.5]])),
            "compile": _verdict(
                lambda b=backend: microgradx.compile(fn, [x, 0.5], backend=b)(1, 2)
            ),
            "check": _verdict(
                lambda b=backend: microgradx.compile(fn, [0.5, 1.0], backend=b, check=[x, 0.5])(
                    1, 2
                )
            ),
        }
    python, numpy = verdicts["python"], verdicts["numpy"]
    for way, seen in python.items():  # NumPy's tanh may differ from math's in the last bit
        assert numpy[way] == (pytest.approx(seen, rel=1e-15) if isinstance(seen, list) else seen)
    try:
        number: float | None = checks.number(x, "x")  # the data rule, as Value(x) takes it
    except (TypeError, ValueError):
        number = None
    if number is not None and math.isfinite(number):  # taken, as that number, by every way in
        expected = float(fn(Value(number), Value(0.5)))
        assert python["call"] == [expected] and python["batch"][1] == expected
        assert all(isinstance(v, list) for v in python.values())
    else:  # refused by every way in, as Value refuses it or as a compiled call refuses NaN
        special = number is not None  # compile may record at NaN: a call at (1, 2) records again
        assert isinstance(python.pop("compile"), list if special else str)
        assert all(isinstance(v, str) for v in python.values())


def test_both_backends_refuse_a_batch_with_the_same_words():
    # The NumPy back-end converts a batch whole (Compiled._table), its errors "that check's,
    # word for word": a longdouble beyond a float became inf there ("input 1 of row 0 is inf",
    # with NumPy's overflow warning) where the Python back-end said it was too large.
    require_numpy()
    import numpy as np

    huge = np.longdouble(10) ** 400
    fn = lambda a, b: a * b  # noqa: E731
    for rows in (
        [[1.0, huge]],
        np.array([[1.0, huge]], dtype=np.longdouble),
        [[1.0, 2.0], [np.timedelta64(5), 1.0]],
        [[1.0, math.nan]],
    ):
        said = {}
        for backend in ("python", "numpy"):
            program = microgradx.compile(fn, [0.5, 2.0], backend=backend)
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # no overflow warning on the way either
                with pytest.raises((TypeError, ValueError)) as info:
                    program.batch(rows)
            said[backend] = (type(info.value), str(info.value))
        assert said["numpy"] == said["python"], rows
    fine = np.array([[1.0, 2.0], [0.5, 3.0]], dtype=np.longdouble)
    for backend in ("python", "numpy"):
        program = microgradx.compile(fn, [0.5, 2.0], backend=backend)
        assert [float(v) for v in program.batch(fine)] == [2.0, 1.5]


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ([math.nan, 1.0], r"^check\[0\] is nan: the check runs on finite numbers only"),
        ([1.0, -math.inf], r"^check\[1\] is -inf: the check runs on finite numbers only"),
        ([1.0, "2"], r"^check\[1\] must be a real number, got str"),
    ],
)
def test_a_check_on_numbers_that_are_not_finite_is_refused_by_position(check, message):
    # compile(..., check=[nan, ...]) used to be taken: every guard on NaN comes out False, so the
    # check compared the recording with nothing it could say anything about.
    error = TypeError if "real number" in message else ValueError
    with pytest.raises(error, match=message):
        microgradx.compile(lambda a, b: (a * b).relu(), [0.5, 2.0], check=check)
    program = microgradx.compile(lambda a, b: (a * b).relu(), [0.5, 2.0], check=[True, 3])
    assert program(2.0, 3.0) == 6.0  # a bool is a data number here, as in every input


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
    assert unused.run(1.0, 2.0).input_grads[1] == 0.0
    with pytest.raises(TypeError, match="example_inputs must be a list"):
        microgradx.compile(lambda a: a.tanh(), 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend must be one of 'python', 'numpy'"):
        microgradx.compile(lambda a: a.tanh(), [1.0], backend="cuda")


def test_a_large_graph_uses_few_local_names():
    # One local per node would make every call allocate a frame of that size; names are reused.
    model = MLP(8, [32, 32, 1], seed=0)
    program = microgradx.compile(lambda *x: model(list(x)).tanh(), [0.1] * 8, model=model)
    names = set(re.findall(r"\bx\d+\b", program.source))
    assert program.nodes > 2000 and len(names) < program.nodes / 4


# ---- the NumPy back-end -------------------------------------------------------------------------


def _numpy():
    return require_numpy()


@given(expressions(), st.integers(1, 5))
def test_numpy_backend_matches_the_scalar_engine_on_random_graphs(expr: Expression, rows: int):
    _numpy()
    program = microgradx.compile(expr, expr.inputs, check=False, backend="numpy")
    batch = [[x * (1 + 0.01 * r) for x in expr.inputs] for r in range(rows)]
    replayed = program.run_batch(batch)
    for r, row in enumerate(batch):
        data, input_grads, _ = _interpreted(expr, row)
        assert replayed.output[r] == pytest.approx(data, rel=1e-12, abs=1e-300)
        for k, g in enumerate(input_grads):
            assert float(replayed.input_grads[k][r]) == pytest.approx(g, rel=1e-12, abs=1e-12)


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


def test_every_numpy_form_is_in_its_op_declaration():
    """The NumPy back-end has no table of its own: an op's array form is its declaration's
    (``Op.numpy``); the only op without one (gelu: NumPy has no erfc) runs its float rule row
    by row."""
    import microgradx.replay_numpy as replay_numpy

    assert [op.name for op in OPS.values() if op.numpy is None] == ["gelu"]
    assert not hasattr(replay_numpy, "numpy_ops")


@pytest.mark.parametrize("own_rows", [False, True])
def test_numpy_forms_that_choose_their_rows_get_none_added(own_rows):
    """By default a row with a special input (here 0) is computed by the float rule; forms that
    pick those rows themselves (``numpy_own_rows``, as the table's: a zero after a relu stays on
    the fast path) keep their own answer there."""
    _numpy()
    twice = Op(
        name="twice",
        symbol="2x",
        arity=1,
        forward=lambda x: 2 * x,
        local_grads=lambda x, out: (2.0,),
        math="2x",
        derivative="2",
        # 7 at 0 marks the form's row: a true form never differs from its rule
        numpy=(lambda np, x: np.where(x == 0, 7.0, 2 * x), lambda np, x, out: (2.0 + 0 * x,)),
        numpy_own_rows=own_rows,
    )
    program = microgradx.compile(lambda x: apply(twice, x), [1.0], backend="numpy")
    assert program(0.0) == (7.0 if own_rows else 0.0) and program(3.0) == 6.0
    with pytest.raises(TypeError, match="numpy_own_rows must be True or False, got int"):
        replace(twice, numpy_own_rows=1)
    with pytest.raises(ValueError, match="numpy_own_rows is for an op with numpy forms"):
        replace(twice, numpy=None, numpy_own_rows=True)


def _sine_with_forms(forward, grads):
    return Op(name="mysin", symbol="s", arity=1, forward=math.sin,
              local_grads=lambda x, out: (math.cos(x),), math="sin", derivative="cos",
              numpy=(forward, grads))  # fmt: skip


def test_a_users_numpy_form_that_disagrees_with_its_rule_is_a_compile_error():
    """A typo in a user's NumPy form (here +1 and *3) gave wrong numbers silently, even at the
    recorded example: the forms are checked against the float rule there when compiling."""
    _numpy()
    for forward, grads, what in [
        (lambda np, x: np.sin(x) + 1.0, lambda np, x, out: (np.cos(x),), "forward"),
        (lambda np, x: np.sin(x), lambda np, x, out: (3 * np.cos(x),), "derivative 0"),
    ]:
        op = _sine_with_forms(forward, grads)
        with pytest.raises(CompileError, match=f"op 'mysin': its NumPy form's {what}"):
            microgradx.compile(lambda x, op=op: apply(op, x), [0.5], backend="numpy")
    good = _sine_with_forms(lambda np, x: np.sin(x), lambda np, x, out: (np.cos(x),))
    program = microgradx.compile(lambda x: apply(good, x), [0.5], backend="numpy")
    rows = program.run_batch([[0.5], [0.25]])
    assert rows.output.tolist() == pytest.approx([math.sin(0.5), math.sin(0.25)], rel=1e-15)


@pytest.mark.parametrize(
    "forward, grads, message",
    [
        (lambda np, x: np.sin(x)[:1], lambda np, x, out: (np.cos(x)[:1],), r"shape \(3,\)"),
        (lambda np, x: np.sin(x), lambda np, x, out: (np.cos(x), np.cos(x)), "tuple of 1"),
        (lambda np, x: np.sin(x) + 0j, lambda np, x, out: (np.cos(x),), "complex128"),
        (lambda np, x: "s", lambda np, x, out: (np.cos(x),), "got str"),
        (lambda np, x: np.sin(x), lambda np, x, out: (1,), "got int"),
        (lambda np, x: np.sin(x).astype(int), lambda np, x, out: (np.cos(x),), "int64"),
    ],
)
def test_what_a_users_numpy_form_returns_is_checked(forward, grads, message):
    """A wrong-shaped form broadcast row 0 over the batch; an int, complex or string result, or
    a wrong count of derivatives, failed (if at all) with a raw NumPy error naming no op."""
    _numpy()
    op = _sine_with_forms(forward, grads)
    with pytest.raises((TypeError, CompileError), match=f"op 'mysin': .*{message}"):
        program = microgradx.compile(lambda x: apply(op, x), [0.5], backend="numpy")
        program.run_batch([[0.5], [0.25], [0.125]])


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


@pytest.mark.parametrize("backend", ["numpy", "python"])
def test_fit_compiled_asks_for_no_inputs_gradients_and_trains_the_same_weights(
    backend, monkeypatch
):
    """A training step needs only the weights' gradients: fit's batches run with
    ``input_grads=False``, and the weights after training are those of steps that also compute
    the inputs' gradients, bit for bit (digits, 64-16-10, relu, cross-entropy)."""
    if backend == "numpy":
        _numpy()
    from microgradx.replay import Compiled

    X, y = load_digits()
    X, y = X[:60], y[:60]
    original = Compiled.run_batch
    asked = []

    def full(self, rows, gradient=1.0, *, input_grads=True):
        if gradient is not None:
            asked.append(input_grads)
        return original(self, rows, gradient, input_grads=True)

    weights = []
    for patched in (False, True):
        if patched:
            monkeypatch.setattr(Compiled, "run_batch", full)
        model = MLP(64, [16, 10], "relu", seed=3)
        fit(model, X, y, loss="cross_entropy", optimizer=Adam(model.parameters(), lr=0.01),
            epochs=2, batch_size=16, progress=False, compile=True, backend=backend)  # fmt: skip
        weights.append([_bits(p.data) for p in model.parameters()])
    assert asked and not any(asked)  # fit asked for none
    assert weights[1] == weights[0]


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
    """The settings notebook 09 uses (seeds fixed): linear >= 0.90, 64-32-10 >= 0.95 held out."""
    X, y = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    for sizes, epochs, needed in (([10], 20, 0.90), ([32, 10], 30, 0.95)):
        model = MLP(64, sizes, seed=0)
        fit(model, X_train, y_train, loss="cross_entropy", epochs=epochs, batch_size=32,
            optimizer=Adam(model.parameters(), lr=0.01), progress=False,
            compile=True)  # fmt: skip
        accuracy = evaluate(model, X_test, y_test, "cross_entropy")[1]
        assert accuracy >= needed, (sizes, accuracy)


def test_record_refuses_inputs_that_would_replay_wrongly():
    from microgradx.replay import tape_of

    x, w = Value(0.5), Value(-1.5)
    m = x * w
    y = m.tanh()
    # A computed input cut the graph for the output but not for the gradients (tanh(2.0) with
    # x's gradient through m); a Value given twice took the last number for both.
    with pytest.raises(ValueError, match=r"inputs\[1\] is computed \(by \*\), not a leaf"):
        compile_graph(y, [x, m])
    with pytest.raises(ValueError, match=r"inputs\[1\] is the same Value as inputs\[0\]"):
        compile_graph(y, [x, x])
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a Value, got float"):
        tape_of(y, [x, 2.0])
    with pytest.raises(TypeError, match="root must be a Value"):
        tape_of([y], [x, w])
    with pytest.raises(CompileError, match="root is a leaf"):
        tape_of(x, [x])
    with pytest.raises(CompileError, match=r"watch\[0\] is not part of the output's graph"):
        tape_of(y, [x, w], watch=[Value(1.0)])
    with pytest.raises(TypeError, match="watch must be a list of Values, got Value"):
        tape_of(y, [x, w], watch=m)
    assert compile_graph(y, [x, w], watch=[m]).nodes == 4


def test_replay_arguments_take_numpy_arrays_and_are_named():
    from microgradx.replay import Compiled, python_source, same_graph, tape_of

    np = _numpy()
    program = microgradx.compile(lambda a, b: (a * b).tanh(), [1.0, 2.0], backend="numpy")
    rows = [[0.5, 2.0], [1.0, -1.0]]
    assert program.batch(np.array(rows)) == program.batch(rows)
    with pytest.raises(TypeError, match=r"rows\[0\] must be a list, got float64"):
        program.batch(np.array([0.5, 2.0]))
    with pytest.raises(ValueError, match="rows is empty"):
        program.batch(np.zeros((0, 2)))
    x = Value(1.0)
    tape = tape_of(x.tanh(), [x])
    with pytest.raises(TypeError, match="backend must be one of 'python', 'numpy', got ndarray"):
        Compiled(tape, np.array(["python"]))
    for call, name in (
        (lambda: Compiled("tape"), "tape"),
        (lambda: python_source(None), "tape"),
        (lambda: same_graph(tape, [tape]), "second"),
    ):
        with pytest.raises(TypeError, match=rf"{name} must be a Tape \(from tape_of\(\)\)"):
            call()


def test_a_zero_upstream_contributes_zero_through_an_infinite_product():
    # finite inputs can make infinite data (log 0 = -inf): y * y then has the local derivative
    # -inf, and its upstream here is 0 (z - z), so x gets 0.0, as from backward(), not NaN
    def f(x):
        y = x.log() + x.log()
        z = y * y
        return z - z

    leaf = Value(0.0)
    f(leaf).backward()
    assert leaf.grad == 0.0
    program = microgradx.compile(f, [0.0])
    assert program.run(0.0).input_grads == (0.0,)
    _numpy()
    program = microgradx.compile(f, [0.0], backend="numpy")
    replayed = program.run_batch([[0.0], [0.0]])
    assert [float(g) for g in replayed.input_grads[0]] == [0.0, 0.0]


def test_a_function_that_fails_only_while_recorded_is_a_compile_error_saying_why():
    import decimal

    def fn(x):
        return x * float(decimal.Decimal(x.data))

    assert fn(Value(0.7)).data == 0.7 * 0.7  # interpreted, it works
    with pytest.raises(CompileError, match="fn fails only while compile records it") as info:
        microgradx.compile(fn, [0.7])
    message = str(info.value)
    assert "conversion from RecordedFloat to Decimal is not supported" in message
    assert "float(x.data) first" in message
    assert isinstance(info.value.__cause__, TypeError)
    # what fails interpreted too is the function's own error, unchanged
    with pytest.raises(ZeroDivisionError, match="float division by zero"):
        microgradx.compile(lambda x: x * (1.0 / (x.data - x.data)), [0.7])
    # read as float first, it compiles and replays right
    compiled = microgradx.compile(lambda x: x * float(decimal.Decimal(float(x.data))), [0.7])
    assert compiled(0.5) == 0.25


def test_a_function_that_fails_differently_interpreted_raises_its_own_error():
    import decimal

    calls = [0]

    def f(x):
        calls[0] += 1
        if calls[0] == 1:
            decimal.Decimal(x.data)  # fails while recorded only
        raise KeyError("own")

    with pytest.raises(KeyError, match="own"):
        microgradx.compile(f, [1.0])


# ---- a compiled call is all-or-nothing on the leaves' gradients, as backward() ------------------


def _failing_sin(fail_at: int) -> tuple[Op, list[int]]:
    """A user op whose derivative rule raises on its ``fail_at``-th call."""
    calls = [0]

    def rule(x, out):
        calls[0] += 1
        if calls[0] == fail_at:
            raise RuntimeError("the rule failed")
        return (microgradx.ops.cos(x),)

    op = Op(
        name="mysin",
        symbol="mysin",
        arity=1,
        forward=math.sin,
        local_grads=rule,
        math="sin",
        derivative="cos",
    )
    return op, calls


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_compiled_pass_that_raises_leaves_every_leaf_grad_as_it_was(backend):
    if backend == "numpy":
        _numpy()
    op, calls = _failing_sin(fail_at=2)
    a, b = Value(0.3, label="a"), Value(0.7, label="b")
    program = microgradx.compile(
        lambda x: apply(op, apply(op, x * a) + b) * a, [0.5], backend=backend
    )
    a.grad, b.grad = 1.0, 2.0
    calls[0] = 0  # the second rule call is in the middle of the pass (a's first term is in)
    with pytest.raises(RuntimeError, match="the rule failed"):
        program.run(0.5)
    assert (a.grad, b.grad) == (1.0, 2.0)


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_batch_that_raises_on_a_later_row_leaves_every_leaf_grad_as_it_was(backend):
    # row 0 runs the first recording (its gradients added), row 1 fails its guard and recording
    # again raises: the whole call is undone, as one backward() that raised
    if backend == "numpy":
        _numpy()
    a, b = Value(0.3, label="a"), Value(0.7, label="b")

    def fn(x):
        if x.data > 0:
            return x * a + b
        raise RuntimeError("no graph for x <= 0")

    program = microgradx.compile(fn, [0.5], backend=backend)
    a.grad, b.grad = 1.0, None
    with pytest.raises(RuntimeError, match="no graph"):
        program.run_batch([[0.5], [-1.0]])
    assert a.grad == 1.0 and b.grad is None


@pytest.mark.parametrize("call", ["run", "run_batch", "__call__"])
@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_compiled_run_starts_a_leaf_grad_as_backward_does(backend, call):
    if backend == "numpy":
        _numpy()
    w, unread = Value(0.3, label="w"), Value(2.0, label="unread")
    program = microgradx.compile(lambda x: x * w + unread * 0.0, [0.5], backend=backend)
    run = {
        "run": lambda: program.run(0.5),
        "run_batch": lambda: program.run_batch([[0.5]]),
        "__call__": lambda: program(0.5),
    }[call]
    expected = []
    for grad in (None, 1, True, 0.25, Value(1.0)):
        w.grad = unread.grad = grad
        out = Value(0.5) * w + unread * 0.0
        out.backward()
        expected.append((w.grad, unread.grad))
    found = []
    for grad in (None, 1, True, 0.25, Value(1.0)):
        w.grad = unread.grad = grad
        run()
        found.append((w.grad, unread.grad))
    assert [(float(g), float(u)) for g, u in found] == [(float(g), float(u)) for g, u in expected]
    assert [tuple(type(g) for g in pair) for pair in found] == [
        tuple(type(g) for g in pair) for pair in expected
    ]
    for junk in ("junk", 1j, [1.0]):
        w.grad, unread.grad = junk, 5.0
        with pytest.raises((TypeError, ValueError), match="grad of 'w'"):
            run()
        assert w.grad is junk and unread.grad == 5.0  # refused before anything changed


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_dropping_a_compiled_model_function_frees_its_graph_without_the_cyclic_collector(backend):
    # a recording's kept numbers pointed back at it, and each generated function sat in its own
    # globals: reference cycles that kept every recorded node alive until gc.collect()
    if backend == "numpy":
        _numpy()
    import gc
    import weakref

    model = MLP(2, [4, 1], seed=0)

    def fn(x):
        out = model([x, x])
        return (out - 1) ** 2 if x.data > 0 else out.tanh()  # a guard: two recordings

    gc.collect()
    gc.disable()
    try:
        program = microgradx.compile(fn, [0.5], model=model, backend=backend)
        program.run(0.3)
        program.run(-0.3)
        assert program.recordings == 2
        runs = [p.run for p in program._programs] + [p.prepass for p in program._programs]
        nodes = [n for p in program._programs for n in p.tape.order if n.op is not None]
        alive = [weakref.ref(x) for x in [program, *runs, *nodes] if x is not None]
        assert len(alive) > 30
        del program, runs, nodes
        assert [r for r in alive if r() is not None] == []
    finally:
        gc.enable()
    assert all(p.grad != 0.0 for p in model.parameters()[:2])  # the model itself lives on


# ---- the NumPy back-end level by level: bit for bit, in the walk's order of addition ------------


def _bits(x: float) -> tuple[bool, float, float]:
    """A float's identity: NaN equals NaN, -0.0 differs from 0.0."""
    x = float(x)
    return (x != x, 0.0 if x != x else x, math.copysign(1.0, x))


def _per_row(fn, rows, params):
    """For each row, by backward() on a fresh graph: output, input gradients, parameter
    gradients (each started at 0.0)."""
    results = []
    for row in rows:
        for p in params:
            p.grad = 0.0
        xs = [Value(x) for x in row]
        out = fn(*xs)
        out.backward()
        results.append((out.data, [x.grad for x in xs], [p.grad for p in params]))
    for p in params:
        p.grad = 0.0
    return results


def _squared_error(model, n_in):
    """An arithmetic-only loss (+, -, *): the NumPy back-end is bit for bit there."""

    def fn(*values):
        out = model(list(values[:n_in]))
        outs = out if isinstance(out, list) else [out]
        total = Value(0.0)
        for o, t in zip(outs, values[n_in:]):
            d = o - t
            total = total + d * d
        return total

    return fn


@pytest.mark.parametrize(
    ("sizes", "n_rows"), [((2, [16, 16, 1]), 12), ((64, [32, 10]), 3)], ids=["moons", "digits"]
)
def test_numpy_backend_is_bit_for_bit_on_arithmetic_mlps(sizes, n_rows):
    """A ReLU MLP with a squared error is + - * and relu only: every row's output and input
    gradients are backward()'s bit for bit, and for one row so is every parameter's gradient
    (over a batch those are summed by NumPy: to 1e-12)."""
    import random

    _numpy()
    n_in, layers = sizes
    model = MLP(n_in, layers, "relu", seed=1)
    fn = _squared_error(model, n_in)
    rng = random.Random(0)
    rows = [[rng.uniform(-2, 2) for _ in range(n_in + layers[-1])] for _ in range(n_rows)]
    params = model.parameters()
    want = _per_row(fn, rows, params)
    program = microgradx.compile(fn, rows[0], backend="numpy", model=model)
    replayed = program.run_batch(rows)
    for r, (out, input_grads, _) in enumerate(want):
        assert _bits(replayed.output[r]) == _bits(out)
        for k, g in enumerate(input_grads):
            assert _bits(replayed.input_grads[k][r]) == _bits(g), f"row {r}, input {k}"
    batch_grads = [p.grad for p in params]
    summed = [math.fsum(w[2][j] for w in want) for j in range(len(params))]
    assert batch_grads == pytest.approx(summed, rel=1e-12, abs=1e-15)
    for r in (0, n_rows - 1):  # one row: each parameter's gradient too
        model.zero_grad()
        one = program.run(*rows[r])
        assert _bits(one.output) == _bits(want[r][0])
        assert [_bits(p.grad) for p in params] == [_bits(g) for g in want[r][2]]


def _order_sensitive(x, y):
    """x reaches the output through parents at several depths and in one group twice, with
    contributions 1e16, 1, -1e16, ...: a sum whose value depends on the order of its terms."""
    a = x * 1e16  # depth 1
    b = x * 1.0  # depth 1, the same group as a
    c = (y * y + x) * -1e16  # x's parent at depth 2
    d = ((y + 1.0) * (y + 2.0) + x) * 3.0  # x's parent at depth 3
    e = x * -1e16 + x  # depth 1 and depth 2
    return a + b + c + d + e + x * y


def _deepest_first(x, y):
    """x's three parents at depths 3, 1 and 2, in three groups, reached by the walk in the
    order depth 2, 1, 3 with contributions 1e16, 1 and -1e16: the walk's sum is 0.0, adding
    them level by level (deepest first) gives 1.0."""
    deep = ((y * y) * y) + x  # depth 3
    middle = (y * y) + x  # depth 2
    return (deep * -1e16 + x * 1.0) + middle * 1e16


def _three_groups_out_of_order(x, y):
    """Inner nodes (``hy`` and ``yxx``) that get three or more contributions from different
    groups of the level program, which would deliver them in another order than the walk's
    (not only the first two swapped, which addition would not notice), with terms of 1e16 and
    3: a leaf's contributions are added by their own rule, an inner node's by the plan, which
    must keep to the walk's order. (Found by a random search over such graphs.)"""
    hy = (x * 1.0 + 0.0) * y
    yx = y * x
    yxx = yx * x
    first, second = yxx - hy, yxx - hy
    last = hy + x
    return hy + yx + yxx + first + second + last + last * 1e16


@pytest.mark.parametrize("fn", [_order_sensitive, _deepest_first, _three_groups_out_of_order])
@pytest.mark.parametrize("y", [0.5, 1.0, -3.0])
def test_numpy_backend_adds_a_nodes_contributions_in_the_walks_order(fn, y):
    """Float addition is not associative: a node's gradient must add its contributions in
    backward()'s order (outputs first), not level by level."""
    _numpy()
    rows = [[x, y] for x in (0.25, -1.5, 3.0)]
    want = _per_row(fn, rows, [])
    if fn is _deepest_first:
        assert all(w[1][0] == 0.0 for w in want)  # (what the graph is built to show)
    program = microgradx.compile(fn, rows[0], backend="numpy")
    replayed = program.run_batch(rows)
    for r, (out, grads, _) in enumerate(want):
        assert _bits(replayed.output[r]) == _bits(out)
        assert [_bits(replayed.input_grads[k][r]) for k in range(2)] == [_bits(g) for g in grads]


def test_numpy_backend_checks_a_table_of_rows_with_the_same_errors():
    """Rows given as a NumPy array or lists of numbers are checked by NumPy; the errors are
    those of the row-by-row check (which still names what is not a number)."""
    np = _numpy()
    program = microgradx.compile(lambda a, b: a * b + a, [1.0, 2.0], backend="numpy")
    table = np.array([[1.0, 2.0], [3.0, np.nan], [np.inf, 1.0]])
    with pytest.raises(ValueError, match=r"^input 1 of row 1 is nan: the data must be finite"):
        program.run_batch(table)
    with pytest.raises(ValueError, match=r"^input 0 of row 1 is inf: the data must be finite"):
        program.run_batch([[1.0, 2.0], [math.inf, 1.0]])
    with pytest.raises(TypeError, match=r"input 1 of row 1 must be a real number, got str"):
        program.run_batch([[1.0, 2.0], [3.0, "4"]])
    with pytest.raises(ValueError, match="the compiled function takes 2 inputs, got 3 of row 0"):
        program.run_batch([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    got = program.run_batch(np.array([[1, 2], [3, 4]], dtype=np.int64)).output
    assert list(got) == [3.0, 15.0]
    assert list(program.run_batch([[True, 2.0]]).output) == [3.0]  # bool is a number, as before


def test_guards_on_inputs_are_checked_over_the_whole_batch():
    """A loss that checks its targets (0 <= t <= 1) records comparisons of inputs with
    constants: NumPy checks them for a whole batch; a row that fails them records again."""
    np = _numpy()

    def fn(x, t):
        if t.data > 0.5:
            return (x - 1.0) * (x - 1.0)
        return x * x

    program = microgradx.compile(fn, [2.0, 1.0], backend="numpy")
    rows = np.array([[2.0, 1.0], [3.0, 0.0], [0.5, 0.9]])
    assert list(program.run_batch(rows).output) == [1.0, 9.0, 0.25]
    assert program.recordings == 2


def _compile_peak(model, n_in, backend):
    import gc
    import tracemalloc

    example = [0.5] * n_in + [0.0] * model.layers[-1].nout
    fn = _squared_error(model, n_in)
    gc.collect()
    tracemalloc.start()
    try:
        program = microgradx.compile(fn, example, backend=backend, model=model)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / program.nodes


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_compile_memory_per_node_stays_bounded(backend, monkeypatch):
    """compile()'s peak memory (tracemalloc) per graph node stays within
    ``replay.BYTES_PER_NODE`` (what the CLI's refusal counts on) at two sizes: the Python
    back-end compiles its source in pieces (here small ones, so that graphs this size have
    many), the NumPy back-end makes no source per node."""
    from microgradx import replay_python
    from microgradx.replay import BYTES_PER_NODE

    if backend == "numpy":
        _numpy()
    monkeypatch.setattr(replay_python, "CHUNK", 200)
    _compile_peak(MLP(4, [3, 2], seed=0), 4, backend)  # imports and caches, once
    for hidden in (16, 32):  # (a small graph adds a constant: a piece's compile, ~0.6 MB)
        per_node = _compile_peak(MLP(64, [hidden, 10], seed=0), 64, backend)
        assert per_node <= BYTES_PER_NODE[backend], f"{per_node:.0f} B a node, hidden {hidden}"


def test_compile_memory_estimate_and_the_cli_refusal(capsys):
    """The estimate is arithmetic on the node count (nothing built); the CLI refuses a network
    it cannot compile in the memory available, in one line, before any work."""
    from microgradx import cli
    from microgradx.replay import BYTES_PER_NODE, compile_memory
    from microgradx.replay_python import CHUNK, COMPILER_BYTES_PER_LINE, MAX_KERNEL

    piece = max(CHUNK, MAX_KERNEL + 4) * COMPILER_BYTES_PER_LINE  # the compiler's work, at most
    assert compile_memory(100) == 100 * BYTES_PER_NODE["python"] + 300 * COMPILER_BYTES_PER_LINE
    assert compile_memory(10**6) == 10**6 * BYTES_PER_NODE["python"] + piece
    assert compile_memory(1000, "numpy", 50) == 1000 * (BYTES_PER_NODE["numpy"] + 50 * 24)
    with pytest.raises(ValueError, match="backend must be one of"):
        compile_memory(10, "fortran")
    with pytest.raises(TypeError, match="nodes must be an int"):
        compile_memory(1.5)
    model = MLP(64, [32, 10], seed=0)
    program = microgradx.compile(_squared_error(model, 64), [0.5] * 74, model=model)
    assert abs(cli._mlp_nodes([64, 32, 10]) - program.nodes) < 0.02 * program.nodes
    available = cli._available_memory()
    assert available is not None and available > 0
    with pytest.raises(SystemExit) as stopped:
        cli.main(["train", "--dataset", "moons", "--hidden", "4096,4096", "--quiet"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(r"--hidden 4096,4096: compiling this network needs about [\d.]+ GB", err)
    assert re.search(r"and [\d.]+ GB is available", err)


@pytest.mark.parametrize("guarded", [False, True])
def test_the_python_backend_compiled_in_pieces_is_bit_for_bit(monkeypatch, guarded):
    """A graph of more lines than ``CHUNK`` is compiled in pieces that share the variables
    that outlive a piece through cells: outputs, input and parameter gradients stay
    backward()'s bit for bit, a failed guard in a later piece still records again, and
    forward() agrees."""
    import random

    from microgradx import replay_python

    monkeypatch.setattr(replay_python, "CHUNK", 7)
    model = MLP(3, [5, 4, 2], seed=2)
    base = _squared_error(model, 3)

    def fn(*values):
        out = base(*values)
        if guarded and values[4].data > 0.0:  # a guard on an input late in the program
            return out * 2.0
        return out

    rng = random.Random(1)
    rows = [[rng.uniform(-2, 2) for _ in range(5)] for _ in range(4)]
    rows[1][4], rows[2][4] = 1.0, -1.0
    params = model.parameters()
    want = _per_row(fn, rows, params)
    program = microgradx.compile(fn, rows[0], model=model)
    assert program.source.count("def r") > 3  # pieces
    for r, row in enumerate(rows):
        model.zero_grad()
        got = program.run(*row)
        assert _bits(got.output) == _bits(want[r][0])
        assert [_bits(g) for g in got.input_grads] == [_bits(g) for g in want[r][1]]
        assert [_bits(p.grad) for p in params] == [_bits(g) for g in want[r][2]]
        assert _bits(program.forward(*row)) == _bits(want[r][0])


# ---- add chains run as one (a neuron's sum): bit for bit, in the scalar engine's order --------


class _Weights(microgradx.nn.Module):
    """Leaves a random graph reads (parameters: a compiled call adds to their ``grad``)."""

    def __init__(self, values):
        self.w = [Value(v) for v in values]


def _chain_graph(seed: int, n_in: int, weights: _Weights):
    """A random graph of add chains over ``n_in`` inputs and ``weights``, the same at every call
    (its own seeded Random): layers of chains of one length whose terms are products of a weight
    and a node (a neuron), of two nodes, nodes alone, weights alone, or a mix; terms shared by
    several chains and read again later; some inner nodes of a chain given a second use (they
    must not be fused); starts from a weight, a node or a constant. Magnitudes from 1e-3 to 1e16,
    so that an order of addition other than the engine's changes the bits."""
    import random

    def fn(*xs):
        rng = random.Random(seed)
        w = weights.w
        pool = list(xs)
        scale = [1.0, 1e-3, 1e8, -1e16, 1e16, 3.0]

        def node():
            return rng.choice(pool[-8:] if rng.random() < 0.7 else pool)

        extra = []
        for _ in range(rng.randint(1, 3)):
            width, length = rng.randint(1, 4), rng.randint(2, 7)
            kind = rng.choice(["neuron", "neuron", "products", "nodes", "weights", "mixed"])
            shared = [node() for _ in range(length)]  # a layer's inputs: read by every member
            made = []
            for _ in range(width):
                start = rng.choice([rng.choice(w), node(), rng.choice(scale)])
                z = start if isinstance(start, Value) else Value(start)
                for j in range(length):
                    pick = kind if kind != "mixed" else rng.choice(["neuron", "nodes", "weights"])
                    if pick == "neuron":
                        term = rng.choice(w) * (shared[j] if rng.random() < 0.8 else node())
                    elif pick == "products":
                        term = node() * node()
                    elif pick == "nodes":
                        term = shared[j] if rng.random() < 0.5 else node()
                    else:
                        term = rng.choice(w)
                    if rng.random() < 0.1:
                        term = term * rng.choice(scale)
                    z = z + term
                    if rng.random() < 0.08:
                        extra.append(z)  # an inner node with a second use
                made.append(z.relu() if rng.random() < 0.5 else z)
            pool.extend(made)
        out = pool[-1]
        for value in [*pool[len(xs) : -1], *extra]:  # everything reaches the output
            out = out + value * rng.choice([1.0, -0.5, 2.0])
        return out

    return fn


def _chain_groups(program) -> int:
    return program._current()[0].source.count("chain of")


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 10**6),
    st.integers(1, 5),
    st.sampled_from([1, 2, 3, 7]),
    st.lists(st.sampled_from([0.5, -0.25, 1.5, 1e-3, 1e8, -3.0, 2.0]), min_size=3, max_size=6),
)
def test_chains_are_bit_for_bit_on_random_graphs(seed, n_in, n_rows, values):
    """Random graphs of add chains (shared terms, reused nodes, inner nodes with a second use,
    odd batch sizes): every row's output and input gradients are backward()'s bit for bit, and
    for one row every weight's gradient too."""
    import random

    _numpy()
    weights = _Weights(values)
    fn = _chain_graph(seed, n_in, weights)
    rng = random.Random(seed)
    rows = [[rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 3) for _ in range(n_in)]]
    rows += [[rng.uniform(-3, 3) for _ in range(n_in)] for _ in range(n_rows - 1)]
    params = weights.w
    want = _per_row(fn, rows, params)
    program = microgradx.compile(fn, rows[0], backend="numpy", model=weights, check=False)
    replayed = program.run_batch(rows)
    for r, (out, input_grads, _) in enumerate(want):
        assert _bits(replayed.output[r]) == _bits(out), f"row {r}"
        for k, g in enumerate(input_grads):
            assert _bits(replayed.input_grads[k][r]) == _bits(g), f"row {r}, input {k}"
    for r in (0, n_rows - 1):
        for p in weights.w:
            p.grad = 0.0
        one = program.run(*rows[r])
        assert _bits(one.output) == _bits(want[r][0])
        assert [_bits(p.grad) for p in params] == [_bits(g) for g in want[r][2]]


def test_random_chain_graphs_do_run_as_chains():
    """(The random graphs above are made of chains the program runs as chains.)"""
    _numpy()
    found = 0
    for seed in range(20):
        weights = _Weights([0.5, -0.25, 1.5])
        fn = _chain_graph(seed, 3, weights)
        program = microgradx.compile(fn, [0.5, 1.0, -2.0], backend="numpy", model=weights)
        found += _chain_groups(program) > 0
    assert found >= 15


def _order_matters(w, x):
    """One chain, b + w1 x1 + ... whose sum depends on the order of its terms: b = 1e16, then
    1.0 four times (each lost to rounding when added to 1e16, kept when added together first),
    then -1e16."""
    terms = [w[1] * x[1], w[1] * x[2], w[1] * x[3], w[1] * x[4], w[2] * x[0]]
    z = w[0]
    for t in terms:
        z = z + t
    return z * z


def test_a_chain_adds_its_terms_left_to_right():
    """The engine's sum is ((b + t1) + t2) + ...: summing the terms first, pairwise or in
    another order, gives other bits (here 0.0 against 4.0 before the square)."""
    _numpy()
    weights = _Weights([1e16, 1.0, -1e16])

    def fn(*x):
        return _order_matters(weights.w, x)

    rows = [[1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 2.0, 2.0, 2.0], [1.0, 1.0, 0.0, 1.0, 1.0]]
    want = _per_row(fn, rows, weights.w)
    assert want[0][0] == 0.0  # (the graph is built to show it: 1e16 + 1 + 1 + 1 + 1 == 1e16)
    program = microgradx.compile(fn, rows[0], backend="numpy", model=weights)
    assert _chain_groups(program) == 1
    replayed = program.run_batch(rows)
    for r, (out, grads, _) in enumerate(want):
        assert _bits(replayed.output[r]) == _bits(out)
        assert [_bits(replayed.input_grads[k][r]) for k in range(5)] == [_bits(g) for g in grads]


@pytest.mark.parametrize("other_use", ["after", "before", "twice"])
def test_a_chain_node_with_a_second_use_is_not_fused(other_use):
    """An inner node of a chain that something else reads (before or after the chain's next
    node, in the graph's order) keeps its row: the chain stops there, and the numbers stay the
    engine's."""
    _numpy()
    weights = _Weights([1e16, 1.0, -1e16, 0.5])

    def fn(x, y):
        w = weights.w
        a = w[3] + w[0] * x
        b = a + w[1] * y  # read twice: by c and by another node
        if other_use == "before":
            other = b * w[1]
        c = b + w[2] * x
        d = c + w[1] * x
        if other_use == "before":
            return other + d
        if other_use == "after":
            return d + b * w[1]
        return d * b + b

    rows = [[1.0, 1.0], [2.0, -3.0], [0.5, 0.25]]
    want = _per_row(fn, rows, weights.w)
    program = microgradx.compile(fn, rows[0], backend="numpy", model=weights)
    source = program._current()[0].source
    assert "chain of 2 products" in source  # a, b: one chain; c, d another, started from b
    replayed = program.run_batch(rows)
    for r, (out, grads, _) in enumerate(want):
        assert _bits(replayed.output[r]) == _bits(out)
        assert [_bits(replayed.input_grads[k][r]) for k in range(2)] == [_bits(g) for g in grads]
    for r in range(3):
        for p in weights.w:
            p.grad = 0.0
        program.run(*rows[r])
        assert [_bits(p.grad) for p in weights.w] == [_bits(g) for g in want[r][2]]


def test_a_zero_upstream_contributes_zero_through_a_chains_infinite_product():
    """A chain whose products hold an infinity, under a relu that passes back 0: the weights
    get nothing from those rows (0 * inf counts 0, as in backward()), also when the batch's sum
    of a weight's contributions is one matrix product."""
    _numpy()
    weights = _Weights([-1.0, 2.0, 0.5])

    def fn(x, y):
        w = weights.w
        h = x * 1e300 * 1e300  # inf for x > 0
        z = w[2] + w[0] * h + w[1] * y
        return z.relu() + y * y

    rows = [[1.0, 0.5], [-1.0, 0.25], [2.0, -1.0]]
    want = _per_row(fn, rows, weights.w)
    program = microgradx.compile(fn, rows[0], backend="numpy", model=weights)
    assert _chain_groups(program) == 1
    replayed = program.run_batch(rows)
    for r, (out, grads, _) in enumerate(want):
        assert _bits(replayed.output[r]) == _bits(out)
        assert [_bits(replayed.input_grads[k][r]) for k in range(2)] == [_bits(g) for g in grads]
    summed = [math.fsum(w[2][j] for w in want) for j in range(3)]
    assert [p.grad for p in weights.w] == summed  # finite, and exact here (one term is 0)


def test_digits_network_trains_bit_for_bit_a_few_steps():
    """The digits network (64-32-10, ReLU, squared error: arithmetic only), a few SGD steps of
    one image each, interpreted and with the NumPy back-end: the same weights, bit for bit; and
    a batch of 5 images: each image's output and input gradients bit for bit."""
    _numpy()
    X, y = load_digits()
    models = [MLP(64, [32, 10], "relu", seed=3) for _ in range(2)]
    targets = [[1.0 if k == t else 0.0 for k in range(10)] for t in y[:9]]
    rows = [[*x, *t] for x, t in zip(X[:9], targets)]
    fn_interpreted = _squared_error(models[0], 64)
    fn = _squared_error(models[1], 64)
    program = microgradx.compile(fn, rows[0], backend="numpy", model=models[1])
    assert _chain_groups(program) == 3  # the two layers' sums, and the loss's sum of squares
    for row in rows[:4]:
        for model in models:
            for p in model.parameters():
                p.grad = 0.0
        fn_interpreted(*[Value(v) for v in row]).backward()
        program.run(*row)
        for model in models:
            for p in model.parameters():
                p.data -= 0.01 * p.grad
    assert [_bits(p.data) for p in models[1].parameters()] == [
        _bits(p.data) for p in models[0].parameters()
    ]
    want = _per_row(fn_interpreted, rows[4:], models[0].parameters())
    replayed = program.run_batch(rows[4:])
    for r, (out, grads, _) in enumerate(want):
        assert _bits(replayed.output[r]) == _bits(out)
        assert [_bits(g[r]) for g in replayed.input_grads] == [_bits(g) for g in grads]


@pytest.mark.parametrize("block", [1, 7])
def test_chains_in_blocks_of_steps_are_bit_for_bit(monkeypatch, block):
    """A large batch runs a chain group a few steps at a time (its arrays in cache): the same
    numbers, with the walk's order kept across blocks (here forced with tiny blocks)."""
    import random

    from microgradx import replay_numpy

    _numpy()
    monkeypatch.setattr(replay_numpy, "_BLOCK", block)
    for seed in range(12):
        weights = _Weights([0.5, -0.25, 1e8, -3.0])
        fn = _chain_graph(seed, 3, weights)
        rng = random.Random(seed)
        rows = [[rng.uniform(-3, 3) for _ in range(3)] for _ in range(5)]
        want = _per_row(fn, rows, weights.w)
        program = microgradx.compile(fn, rows[0], backend="numpy", model=weights, check=False)
        replayed = program.run_batch(rows)
        for r, (out, grads, _) in enumerate(want):
            assert _bits(replayed.output[r]) == _bits(out), f"seed {seed}, row {r}"
            assert [_bits(g[r]) for g in replayed.input_grads] == [_bits(g) for g in grads]
        summed = [math.fsum(w[2][j] for w in want) for j in range(4)]
        assert [p.grad for p in weights.w] == pytest.approx(summed, rel=1e-12, abs=1e-12)
        for p in weights.w:
            p.grad = 0.0
        program.run(*rows[1])
        assert [_bits(p.grad) for p in weights.w] == [_bits(g) for g in want[1][2]]


@pytest.mark.parametrize("backend", ["numpy", "python"])
def test_run_batch_without_the_inputs_gradients_gives_the_same_weights_gradients(backend):
    """``input_grads=False`` (what a training step needs): no inputs' gradients returned, the
    NumPy back-end skips the work only they need (a layer's contributions to its inputs), and
    every weight's gradient and every output is the same, bit for bit."""
    if backend == "numpy":
        _numpy()
    X, y = load_digits()
    model = MLP(64, [32, 10], "relu", seed=2)
    fn = _squared_error(model, 64)
    rows = [[*x, *[1.0 if k == t else 0.0 for k in range(10)]] for x, t in zip(X[:7], y[:7])]
    program = microgradx.compile(fn, rows[0], backend=backend, model=model)
    results = []
    for wanted in (True, False):
        for p in model.parameters():
            p.grad = 0.0
        replayed = program.run_batch(rows, gradient=0.5, input_grads=wanted)
        results.append((replayed, [_bits(p.grad) for p in model.parameters()]))
    (full, full_grads), (lean, lean_grads) = results
    assert len(full.input_grads) == 74 and lean.input_grads == ()
    assert lean_grads == full_grads
    assert [_bits(v) for v in lean.output] == [_bits(v) for v in full.output]
    with pytest.raises(TypeError, match="input_grads"):
        program.run_batch(rows, input_grads="no")


def test_the_guards_over_a_batch_are_the_row_by_row_guards():
    """The guards on inputs, tested for a whole batch with a few array comparisons (grouped by
    comparison and kind of sides), say of each row what the row-by-row check says: inputs
    against constants on either side, inputs against inputs, every comparison, both outcomes."""
    import random

    np = _numpy()

    def fn(x, y, t, u):
        s = x * y
        if 0.0 <= t.data and t.data <= 1.0 and u.data >= 0.0 and 1.0 >= u.data:  # noqa: SIM300 (a constant on the left, on purpose)
            s = s + t
        if x.data < y.data:
            s = s + x
        if not (u.data > 0.75) and t.data != 0.5 and x.data == x.data:
            s = s * 2.0
        return s

    program = microgradx.compile(fn, [0.1, 0.2, 0.3, 0.4], backend="numpy")
    recording = program._current()[0]
    assert recording.meets is not None and recording.prepass is not None
    rng = random.Random(0)
    choices = [0.0, 0.5, 0.75, 1.0, -0.25, 1.5, 0.3]
    rows = [[rng.choice(choices) for _ in range(4)] for _ in range(300)]
    want = [recording.prepass(row, recording.leaves) is not None for row in rows]
    assert 10 < sum(want) < 290  # (rows on both sides)
    assert recording.meets(np.array(rows)).tolist() == want


# ---- the NumPy back-end: a leaf's gradient of -0.0 where nothing reaches it ------------------


def _bits(x: float) -> tuple[bool, float, float]:
    """A float's identity: NaN equals NaN, -0.0 differs from 0.0."""
    return (x != x, 0.0 if x != x else x, math.copysign(1.0, x))


def _add_cut(x, y, ps):  # + to a leaf, its upstream 0
    return (x + ps[0]) * 0.0


def _mul_cut(x, y, ps):  # * to a leaf, its upstream 0 (0 * w is +0.0 for w > 0)
    return (x * ps[0]) * 0.0 + y * ps[1]


def _mul_minus_zero(x, y, ps):  # a contribution of -0.0 itself (x = -0.0): the leaf keeps -0.0
    return (x * ps[0]) * 1.0 + (y + ps[1])


def _chain_cut(x, y, ps):  # a neuron's sum of products, cut by relu (an infinite weight too)
    z = ps[0]
    for k in range(1, 5):
        z = z + ps[k] * (x, y)[k % 2]
    return (z * 0.0 - 1.0).relu() + x


def _layer(x, y, ps):  # three neurons on the same inputs (a matrix product), some rows dead
    out = ps[0] * 0.0
    for m in range(3):
        z = ps[1 + 3 * m] + ps[2 + 3 * m] * x + ps[3 + 3 * m] * y
        out = out + z.relu()
    return out


def _detached(x, y, ps):  # a computed leaf: the program runs node by node
    return (x * ps[0] + ps[2]) * (x.detach() * 0.0) + y * ps[1] * ps[1]


_SIGNED = {
    "add": (_add_cut, [2.0]),
    "mul": (_mul_cut, [2.0, 0.5]),
    "mul -0.0": (_mul_minus_zero, [2.0, 1.0]),
    "chain": (_chain_cut, [math.inf, 1.0, -1.0, 2.0, 3.0]),
    "layer": (_layer, [1.0, 0.0, 1.0, 2.0, -8.0, 1.0, 1.0, 0.5, -1.0, -1.0]),
    "detached": (_detached, [2.0, 1.5, 0.5]),
}
# each row's numbers small dyadic ones, so every sum is exact in any order: bit for bit
_SIGNED_ROWS = [[1.0, -2.0], [-0.0, -0.0], [2.0, 1.0], [0.0, -0.0], [-1.0, 4.0]]


@pytest.mark.parametrize("name", list(_SIGNED))
@pytest.mark.parametrize("rows", [r for r in range(len(_SIGNED_ROWS))] + ["all"])
def test_numpy_leaf_gradients_keep_minus_zero_where_backward_adds_nothing(name, rows):
    """backward() adds nothing to a leaf where the upstream is 0, and a -0.0 contribution keeps
    a -0.0 gradient; the NumPy back-end added the upstream itself (+) or 0 * w (+0.0) there, and
    summed over the batch from +0.0 (numpy.sum, a matrix product): a leaf's -0.0 became +0.0.
    run and run_batch against backward() on each row in turn, bit for bit, zeros' signs too."""
    _numpy()
    fn, weights = _SIGNED[name]
    batch = _SIGNED_ROWS if rows == "all" else [_SIGNED_ROWS[rows]]
    want = []  # for each start: every leaf's gradient after the rows
    for start in (-0.0, 0.0):
        ps = [Value(w) for w in weights]
        for p in ps:
            p.grad = start
        for row in batch:
            x, y = Value(row[0]), Value(row[1])
            fn(x, y, ps).backward()
        want.append([_bits(p.grad) for p in ps])
    if rows == 1:  # (the case, in every graph: some leaf keeps -0.0)
        assert _bits(-0.0) in want[0]

    ps = [Value(w) for w in weights]
    program = microgradx.compile(lambda x, y: fn(x, y, ps), [0.5, 0.25], backend="numpy")
    for start, wanted in zip((-0.0, 0.0), want):
        for p in ps:
            p.grad = start
        if len(batch) == 1:
            program.run(*batch[0])
        else:
            program.run_batch(batch, input_grads=False)
        assert [_bits(p.grad) for p in ps] == wanted
        for p in ps:
            p.grad = start
        program.run_batch(batch)
        assert [_bits(p.grad) for p in ps] == wanted


_SMALL = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, -2.0])  # (every sum of products exact)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(_SMALL, min_size=12, max_size=12),
    st.lists(st.lists(_SMALL, min_size=2, max_size=2), min_size=1, max_size=4),
    st.lists(st.sampled_from([0.0, -0.0]), min_size=12, max_size=12),
)
def test_numpy_leaf_gradients_are_backwards_bit_for_bit_with_zeros_everywhere(
    weights, rows, starts
):
    """Two relu layers (a layer's weights summed by a matrix product, its biases by + from a
    chain's start) whose weights, inputs and starting gradients are small numbers and signed
    zeros: every leaf's gradient after run_batch is backward()'s on each row in turn, bit for
    bit (the numbers are exact in any order, so only the zeros' signs could differ)."""
    _numpy()

    def fn(x, y, ps):
        hidden = [(ps[3 * m] + ps[3 * m + 1] * x + ps[3 * m + 2] * y).relu() for m in range(3)]
        out = ps[9]
        for m in range(2):
            out = out + ps[10 + m] * hidden[m]
        return out + hidden[2] * 0.0

    ps = [Value(w) for w in weights]
    for p, start in zip(ps, starts):
        p.grad = start
    for row in rows:
        fn(Value(row[0]), Value(row[1]), ps).backward()
    want = [_bits(p.grad) for p in ps]
    ps = [Value(w) for w in weights]
    program = microgradx.compile(lambda x, y: fn(x, y, ps), [0.5, 0.25], backend="numpy")
    for wanted in (True, False):
        for p, start in zip(ps, starts):
            p.grad = start
        program.run_batch(rows, input_grads=wanted)
        assert [_bits(p.grad) for p in ps] == want
