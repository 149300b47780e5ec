"""A weight whose ``data`` is not a number (``w.data = "x"``, None, a complex number) is refused
by name, before anything changes: by a compiled call, compile(), fit(), an optimizer's step and
save(). A compiled program reads each weight as a float; without the check it failed deep in
its generated code (the Python back-end), or read None as NaN and went on (NumPy)."""

from __future__ import annotations

import math
import struct

import pytest

import microgradx
from microgradx import Value, io, losses
from microgradx.data import make_moons
from microgradx.nn import MLP
from microgradx.optim import SGD, Adam, RMSprop
from microgradx.train import fit
from tests.conftest import require_numpy

# each with what it raises: a wrong kind of thing, or an int no float can hold
BAD = [
    pytest.param(bad, error, id=name)
    for name, bad, error in [("str", "text", TypeError), ("None", None, TypeError),
                             ("complex", 1j, TypeError), ("list", [1.0], TypeError),
                             ("huge int", 10**400, ValueError)]
]  # fmt: skip
NAME = "layers.0.neurons.1.w.0"  # the weight set to a bad number in these tests


def bits(x):
    if x is None or type(x) is not float:
        return repr(x)
    return struct.pack("<d", x).hex()


def _model():
    model = MLP(2, [3, 1], seed=0)
    dict(model.named_parameters())[NAME]  # (the name is one the model has)
    return model


def _state(model):
    return [(repr(p.data), bits(p.grad)) for p in model.parameters()]


def _loss(model):
    return lambda a, b: (model([a, b]) - 1.0) ** 2


CALLS = {
    "run": lambda program: program.run(0.3, -0.4),
    "forward": lambda program: program.forward(0.3, -0.4),
    "__call__": lambda program: program(0.3, -0.4),
    "run_batch": lambda program: program.run_batch([[0.3, -0.4], [1.0, 2.0]]),
    "batch": lambda program: program.batch([[0.3, -0.4]]),
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("backend", ["python", "numpy"])
@pytest.mark.parametrize(("bad", "error"), BAD)
def test_a_compiled_call_names_a_weight_that_is_not_a_number_and_changes_nothing(
    bad, error, backend, call
):
    if backend == "numpy":
        require_numpy()
    model = _model()
    program = microgradx.compile(_loss(model), [0.1, 0.2], model=model, backend=backend)
    for m, p in enumerate(model.parameters()):
        p.grad = [None, 0.25, -0.0][m % 3]  # None is started at 0 by a call: undone too
    dict(model.named_parameters())[NAME].data = bad
    before = _state(model)
    with pytest.raises(error, match=f"data of parameter '{NAME}'"):
        CALLS[call](program)
    assert _state(model) == before


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_leaf_that_is_not_a_parameter_is_named_by_its_label(backend):
    if backend == "numpy":
        require_numpy()
    w = Value(2.0, label="w")
    program = microgradx.compile(lambda x: x * w + x.detach() * w, [0.5], backend=backend)
    w.data = None
    with pytest.raises(TypeError, match="data of 'w' must be a real number, got NoneType"):
        program.run(1.5)
    assert w.grad == 0.0


@pytest.mark.parametrize("backend", ["python", "numpy"])
@pytest.mark.parametrize("number", [3, True, "numpy"])
def test_a_weight_that_is_a_real_number_of_another_type_runs_as_its_float(backend, number):
    """An int, a bool or a NumPy float is a real number: the call runs, with the float's
    arithmetic (the weight is left as it is)."""
    np = require_numpy()
    number = np.float64(0.75) if number == "numpy" else number
    results = []
    for value in (number, float(number)):
        model = _model()
        program = microgradx.compile(_loss(model), [0.1, 0.2], model=model, backend=backend)
        dict(model.named_parameters())[NAME].data = value
        out = program.run(0.3, -0.4).output
        results.append([bits(float(out)), *(bits(float(p.grad)) for p in model.parameters())])
        assert dict(model.named_parameters())[NAME].data is value
    assert results[0] == results[1]


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_a_compiled_call_refuses_a_weight_that_is_a_0d_array(backend, call):
    # checks.number takes a 0-d array as its number where data is converted (Value(), a step,
    # save); a compiled program reads data as it is, so there it stays refused, by name
    np = require_numpy()
    model = _model()
    program = microgradx.compile(_loss(model), [0.1, 0.2], model=model, backend=backend)
    dict(model.named_parameters())[NAME].data = np.array(0.5)
    before = _state(model)
    with pytest.raises(TypeError, match=f"data of parameter '{NAME}' must be a real number, got"):
        CALLS[call](program)
    assert _state(model) == before


@pytest.mark.parametrize("backend", ["python", "numpy"])
@pytest.mark.parametrize(("bad", "error"), BAD)
def test_compile_and_fit_name_a_weight_that_is_not_a_number(bad, error, backend):
    if backend == "numpy":
        require_numpy()
    model = _model()
    dict(model.named_parameters())[NAME].data = bad
    before = _state(model)
    with pytest.raises(error, match=f"data of parameter '{NAME}'"):
        microgradx.compile(_loss(model), [0.1, 0.2], model=model, backend=backend)
    X, y = make_moons(8, seed=0)
    for compiled in (True, False):
        with pytest.raises(error, match=f"data of parameter '{NAME}'"):
            fit(model, X, y, loss="mse", epochs=1, compile=compiled, backend=backend)
    assert _state(model) == before


@pytest.mark.parametrize("compiled", [True, False])
def test_fit_names_a_weight_set_to_junk_between_epochs(compiled):
    """on_epoch may set a weight: the next epoch refuses it by name, before its first step."""
    model = _model()
    weight = dict(model.named_parameters())[NAME]
    X, y = make_moons(8, seed=0)
    seen = []

    def junk(epoch, history):
        seen.append([p.data for p in model.parameters()])
        weight.data = "junk"

    with pytest.raises(TypeError, match=f"data of parameter '{NAME}'"):
        fit(model, X, y, loss="mse", epochs=3, compile=compiled, on_epoch=junk)
    assert len(seen) == 1
    assert weight.data == "junk"
    weight.data = seen[0][model.parameters().index(weight)]
    assert [bits(p.data) for p in model.parameters()] == [bits(d) for d in seen[0]]


@pytest.mark.parametrize("kind", [SGD, Adam, RMSprop])
@pytest.mark.parametrize(("bad", "error"), BAD)
def test_an_optimizer_step_names_a_weight_that_is_not_a_number(kind, bad, error):
    """Complex data was stepped silently by SGD (a complex weight), and the rest failed deep in
    the update; now refused as a bad grad is, before anything changes."""
    model = _model()
    params = model.parameters()
    optimizer = kind(params, lr=0.1)
    for p in params:
        p.grad = 0.5
    optimizer.step()  # (some state to keep: a first step)
    params[4].data = bad
    before = _state(model), repr(vars(optimizer))
    with pytest.raises(error, match=r"data of params\[4\] (must be|is too large)"):
        optimizer.step()
    assert (_state(model), repr(vars(optimizer))) == before


def test_an_optimizer_step_names_a_grad_that_is_not_a_number():
    model = _model()
    params = model.parameters()
    optimizer = Adam(params, lr=0.1)
    for p in params:
        p.grad = 0.5
    params[2].grad = "junk"
    before = _state(model)
    with pytest.raises(TypeError, match=r"grad of params\[2\] must be a real number"):
        optimizer.step()
    assert _state(model) == before and optimizer.steps == 0


@pytest.mark.parametrize(("bad", "error"), BAD)
def test_save_names_a_weight_that_is_not_a_number_and_writes_nothing(tmp_path, bad, error):
    """A string or None was written (a file load() then refused), a complex number failed in the
    JSON encoder without a name."""
    model = _model()
    dict(model.named_parameters())[NAME].data = bad
    path = tmp_path / "model.json"
    with pytest.raises(error, match=f"data of parameter '{NAME}'"):
        io.save(model, path)
    assert not path.exists()


def test_save_writes_a_real_number_of_another_type_as_its_float(tmp_path):
    model = _model()
    dict(model.named_parameters())[NAME].data = 3
    path = tmp_path / "model.json"
    io.save(model, path)
    loaded = dict(io.load(path).named_parameters())[NAME].data
    assert type(loaded) is float and loaded == 3.0
    assert not math.isnan(loaded)


def test_bce_loss_target_is_checked_by_the_compiled_run():
    """A target is an input of fit's compiled graph: a target that is not a finite number is
    refused by name by the call, as an input is (the rows' check)."""
    model = _model()
    program = microgradx.compile(
        lambda a, b, t: losses.mse([model([a, b])], [t]), [0.1, 0.2, 1.0], model=model
    )
    with pytest.raises(TypeError, match="input 2 of row 0 must be a real number"):
        program.run_batch([[0.1, 0.2, "1.0"]])
    with pytest.raises(ValueError, match="input 2 of row 0 is nan"):
        program.run_batch([[0.1, 0.2, math.nan]])
