"""Hostile inputs to the engine checker's readings of numbers and to the functional API's
results and arguments (each test fails when its mechanism breaks)."""

from __future__ import annotations

import fractions
from pathlib import Path

import pytest

from microgradx.enginecheck.findings import CRASH, OK
from microgradx.enginecheck.target import number_of
from microgradx.testing import TargetError, check_target

from .conftest import require_numpy

ENGINES = Path(__file__).parent / "engines"


def _engine_base() -> type:
    """tests/engines/engine_base.py's correct Value, to subclass with one odd method."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("engine_base", ENGINES / "engine_base.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Value  # type: ignore[no-any-return]


# ---- the engine checker reads numbers, not text ----------------------------------------------


@pytest.mark.parametrize("text", ["1.5", b"1.5", bytearray(b"1.5"), memoryview(b"1.5")])
def test_text_is_not_an_engines_number(text: object) -> None:
    assert number_of(text) is None  # float() would parse each of them to 1.5


def test_numpy_text_dates_and_durations_are_not_an_engines_number() -> None:
    """float() of a 0-d NumPy array of text parses the text (as float("1.5") does); a duration
    in nanoseconds is its count. Before, each of these read as 1.5 or 5.0."""
    np = require_numpy()
    for x in (
        np.array("1.5"),
        np.array(b"1.5"),
        np.array("1.5", dtype=object),
        np.array(np.array("1.5"), dtype=object),
        np.timedelta64(5),
        np.array(5, dtype="m8[ns]"),
        np.datetime64(5, "ns"),
    ):
        assert number_of(x) is None, repr(x)
    assert number_of(np.array(0.5)) == 0.5 and number_of(np.array(True)) == 1.0
    assert number_of(np.array(2, dtype=object)) == 2.0  # the number it holds


def test_numbers_of_every_kind_are_read() -> None:
    np = require_numpy()
    assert number_of(np.float32(0.5)) == 0.5
    assert number_of(fractions.Fraction(1, 4)) == 0.25
    assert number_of(3) == 3.0
    assert number_of(10**400) is None  # beyond a float: not a number the checker can compare
    assert number_of(None) is None
    assert number_of(1j) is None


@pytest.mark.parametrize("isolation", ["process", "in-process"])
def test_an_engine_with_gradients_as_text_does_not_pass(isolation: str) -> None:
    report = check_target(
        str(ENGINES / "text_grads.py"), examples=4, budget=60, isolation=isolation
    )
    assert not report.ok
    found = {finding.check: finding for finding in report.findings}
    for name in ("add", "mul", "tanh"):
        assert found[f"op {name}"].kind != OK, found[f"op {name}"]
    assert found["training step on moons"].kind != OK


def test_an_engine_with_numbers_as_text_is_not_value_like() -> None:
    with pytest.raises(TargetError, match=r"no number attribute equal to 1\.5"):
        check_target(f"{ENGINES / 'text_data.py'}:Value", examples=4, budget=30)


# ---- the functional API: what a differentiated function may return ---------------------------


def _constant_results() -> list[object]:
    np = require_numpy()
    return [3, 2.5, np.float64(2.5), np.float32(2.5), np.int64(3), fractions.Fraction(1, 4)]


def test_a_function_returning_any_real_number_is_a_constant_with_gradient_zero() -> None:
    from microgradx.dual import jvp
    from microgradx.functional import grad, value_and_grad

    for constant in _constant_results():
        assert grad(lambda x, c=constant: c)(1.5) == 0.0, constant
        value, gradient = value_and_grad(lambda x, c=constant: c)(1.5)
        assert (value, gradient) == (float(constant), 0.0), constant  # type: ignore[arg-type]
        assert type(value) is float
        primal, tangent = jvp(lambda x, c=constant: c, [1.5], [1.0])
        assert (primal, tangent) == (float(constant), 0.0), constant  # type: ignore[arg-type]
        assert type(primal) is float


def test_a_function_returning_an_int_beyond_a_float_gets_a_valueerror_naming_it() -> None:
    from microgradx.dual import jvp
    from microgradx.functional import grad, value_and_grad

    for call in (
        lambda: grad(lambda x: 10**400)(1.5),
        lambda: value_and_grad(lambda x: -(10**400))(1.5),
        lambda: jvp(lambda x: 10**400, [1.5], [1.0]),
    ):
        with pytest.raises(ValueError, match="too large for a float"):
            call()


@pytest.mark.parametrize("result", [True, "1.0", None, [1.0], 1j])
def test_a_function_returning_no_number_gets_a_typeerror(result: object) -> None:
    from microgradx.dual import jvp
    from microgradx.functional import grad

    with pytest.raises(TypeError, match="func must return"):
        grad(lambda x: result)(1.5)
    with pytest.raises(TypeError, match="func must return"):
        jvp(lambda x: result, [1.5], [1.0])


@pytest.mark.parametrize("has_aux", ["yes", 1, None, [True]])
def test_has_aux_must_be_true_or_false(has_aux: object) -> None:
    from microgradx.functional import grad, value_and_grad

    for make in (grad, value_and_grad):
        with pytest.raises(TypeError, match="has_aux"):
            make(lambda x: (x * x, 1), has_aux=has_aux)  # type: ignore[arg-type]


def test_an_empty_list_argument_has_an_empty_gradient_whatever_the_function_returns() -> None:
    from microgradx import Value
    from microgradx.functional import grad, value_and_grad

    assert grad(lambda xs: Value(2.0) * Value(3.0))([]) == []
    assert grad(lambda xs: 1.0)([]) == []
    assert value_and_grad(lambda xs, y: y * y, argnums=(0, 1))([], 3.0) == (9.0, ([], 6.0))


def test_hessian_and_hvp_of_a_constant_function_are_zero_as_grad_is() -> None:
    from microgradx.functional import hessian, hvp

    np = require_numpy()
    assert hessian(lambda x, y: np.float32(2.0), [1.0, 2.0]) == [[0.0, 0.0], [0.0, 0.0]]
    assert hvp(lambda x: 7, [1.0]) == (7.0, [0.0])
    with pytest.raises(TypeError, match="func must return one Value"):
        hessian(lambda x: "1.0", [1.0])
    with pytest.raises(ValueError, match="too large for a float"):
        hvp(lambda x: 10**400, [1.0])


def test_hvps_vector_is_data_as_jvps_tangents_are() -> None:
    """v is a direction, data as jvp's tangents and hvp's inputs are: a bool is 0 or 1 and a
    0-d array its number (checks.number). Before, hvp read v as a setting: v=[True] and
    v=[np.array(1.0)] were TypeErrors where jvp took the same tangents."""
    from microgradx.dual import jvp
    from microgradx.functional import hvp

    np = require_numpy()

    def cube(x: object) -> object:
        return x * x * x  # type: ignore[operator]

    for v in ([np.array(1.0)], [True], np.array([True]), [np.True_]):
        assert hvp(cube, [2.0], v=v) == (8.0, [12.0])
        assert jvp(cube, [2.0], v) == (8.0, 12.0)
    assert hvp(cube, [2.0], v=[False]) == (8.0, [0.0])
    with pytest.raises(TypeError, match=r"^v\[0\] must be a real number, got str"):
        hvp(cube, [2.0], v=["1"])


def test_argnums_is_an_int_and_not_a_numpy_duration() -> None:
    # NumPy registers timedelta64 as a numbers.Integral: argnums=np.timedelta64(1) picked
    # argument 1 (functional tested numbers.Integral itself; checks.is_int knows the exception)
    from microgradx.functional import grad

    np = require_numpy()
    with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
        grad(lambda x, y: x * y, argnums=np.timedelta64(1))(2.0, 3.0)
    assert grad(lambda x, y: x * y, argnums=np.int64(1))(2.0, 3.0) == 2.0


# ---- the engine's exceptions are the engine's code too -----------------------------------------


@pytest.mark.parametrize("isolation", ["process", "in-process"])
def test_exceptions_that_cannot_be_printed_are_crashes_named_not_a_crash_of_the_checker(
    isolation: str,
) -> None:
    report = check_target(
        str(ENGINES / "unprintable_errors.py"), examples=2, budget=60, isolation=isolation
    )
    found = {finding.check: finding for finding in report.findings}
    add = found["op add"]
    assert add.kind == CRASH
    assert "Unprintable: (its str() raised Unprintable) in backward" in add.message
    assert "exited" not in add.message  # the child answered: it did not die on the message
    tanh = found["op tanh"]
    assert tanh.kind == CRASH
    assert "sys.exit(an object whose repr() raised RuntimeError)" in tanh.message


class _Text(str):
    """What an engine's __str__ may return: a str whose own methods raise."""

    def split(self, *args: object, **kwargs: object) -> list[str]:
        raise RuntimeError("split")

    def __getitem__(self, i: object) -> str:
        raise RuntimeError("getitem")


class _TextError(Exception):
    def __str__(self) -> str:
        return _Text("a  message")


def test_an_exception_whose_str_is_a_str_subclass_with_raising_methods_is_named() -> None:
    """str() returns a str subclass as it is: before, its split() (the engine's code) raised
    out of the checker's message reading, which is what reading it guarded against."""
    from microgradx.enginecheck.target import said

    assert said(_TextError(), 40) == "(its str() raised RuntimeError)"
    got = said(ValueError("a  long\nmessage"), 6)
    assert got == "a long" and type(got) is str


def test_an_import_raising_an_unprintable_exception_is_a_target_error() -> None:
    with pytest.raises(TargetError, match=r"raised Unprintable: \(its str\(\) raised"):
        check_target(str(ENGINES / "unprintable_import.py"), examples=2, budget=30)


# ---- the step-through trace of a long graph ----------------------------------------------------


class _Counted(float):
    """A gradient that counts the additions made to it (each sum is counted again)."""

    additions = 0

    def __add__(self, other: object) -> _Counted:
        _Counted.additions += 1
        return _Counted(float(self) + float(other))  # type: ignore[arg-type]


def test_the_gradients_shown_after_each_step_cost_one_addition_per_contribution() -> None:
    # x feeds every one of n additions: it receives n contributions, one per step. The gradient
    # shown after each step was the sum of all contributions so far, summed again at every step:
    # n (n + 1) / 2 additions (a chain of 1e5 took minutes to trace).
    from microgradx import Value
    from microgradx.viz.steps import RecordedPass

    n = 300
    x = Value(0.5, label="x")
    y = x
    for _ in range(n):
        y = y + x
    recorded = RecordedPass(y, "op")
    recorded.start = {node: _Counted(g) for node, g in recorded.start.items()}
    _Counted.additions = 0
    shown = recorded._shown_gradients()
    assert _Counted.additions == 2 * n  # x's n contributions, and one to each of n other nodes
    assert shown[-1][x] == n + 1
    assert [len(after) for after in shown] == [2] * (n - 1) + [1]


def test_gradients_shown_at_neuron_level_still_add_in_backwards_order() -> None:
    # contributions that reach a node out of backward()'s order (a neuron's step groups several
    # ops) are summed in that order: the last shown gradient is backward()'s, bit for bit
    from microgradx import nn
    from microgradx.viz.trace import trace_backward

    model = nn.MLP(3, [4, 4, 1], seed=3)
    rows = [[0.1, -0.7, 0.33], [1e-3, 2.5, -1.25], [0.4, 0.4, -0.9]]

    def loss() -> nn.Value:
        model.zero_grad()
        # weight decay computed before the forward pass: its ops come late in backward()'s
        # order but are shown first (in the loss's step), before the neurons' contributions
        decay = sum((p * p * 1e-3 for p in model.parameters()), nn.Value(0.0))
        return sum(((model(row) - 0.3) ** 2 for row in rows), nn.Value(0.0)) + decay

    for level in ("neuron", "layer"):
        trace = trace_backward(loss(), level=level)
        got = trace.grads_after(len(trace) - 1)
        loss().backward()
        for p in model.parameters():
            assert got[p] == p.grad, (level, p)


@pytest.mark.parametrize("kind", ["backward", "forward"])
def test_a_trace_is_indexed_as_equation_and_frame_are(kind: str) -> None:
    np = require_numpy()
    from microgradx import Value
    from microgradx.viz.trace import trace_backward, trace_forward

    a, b = Value(-0.0, label="a"), Value(float("nan"), label="<b>b</b>")
    c = a * b + a.detach()
    trace = trace_backward(c) if kind == "backward" else trace_forward(c)
    n = len(trace)
    assert trace[np.int64(1)] is trace[1] is trace[1 - n]
    assert trace[-1] is list(trace)[-1]
    assert trace[0:2] == list(trace)[0:2]
    for bad in (True, False, 1.0, "0", None):
        with pytest.raises(TypeError, match="i must be an int"):
            trace[bad]  # type: ignore[index]
        with pytest.raises(TypeError, match="i must be an int"):
            trace.equation(bad)  # type: ignore[arg-type]
    for outside in (n, -n - 1, 10**30):
        with pytest.raises(IndexError, match=rf"i must be an int in \[-{n}, {n - 1}\]"):
            trace[outside]
    assert list(reversed(trace)) == list(trace)[::-1]  # the sequence protocol still works


# ---- in-process: what the engine changes is put back -------------------------------------------


def test_tracers_and_the_digit_limit_an_engine_sets_are_put_back_after_an_in_process_check() -> (
    None
):
    import sys
    import threading

    from microgradx.testing import check_engine

    Base = _engine_base()
    calls: list[str] = []

    def tracer(*args: object) -> None:
        calls.append("trace")

    class Value(Base):  # type: ignore[misc, valid-type]
        def tanh(self) -> object:
            sys.settrace(tracer)
            sys.setprofile(tracer)
            threading.settrace(tracer)
            threading.setprofile(tracer)
            if hasattr(sys, "set_int_max_str_digits"):
                sys.set_int_max_str_digits(640)
            return super().tanh()

    before = (sys.gettrace(), sys.getprofile(), getattr(sys, "get_int_max_str_digits", int)())
    threads = threading.gettrace(), threading.getprofile()
    try:
        report = check_engine(Value, examples=2, budget=60, isolation="in-process")
        after = (sys.gettrace(), sys.getprofile(), getattr(sys, "get_int_max_str_digits", int)())
        threads_after = threading.gettrace(), threading.getprofile()
    finally:  # whatever the checker did, leave pytest's process as it was
        sys.settrace(before[0])
        sys.setprofile(before[1])
        threading.settrace(threads[0])
        threading.setprofile(threads[1])
        if hasattr(sys, "set_int_max_str_digits"):
            sys.set_int_max_str_digits(before[2])
    assert {f.check: f.kind for f in report.findings}["op tanh"] == OK  # tanh was called
    assert after == before
    assert threads_after == threads


@pytest.mark.skipif(not hasattr(__import__("signal"), "setitimer"), reason="no POSIX timers")
def test_a_virtual_or_profiling_timer_an_engine_starts_is_cancelled_after_an_in_process_check() -> (
    None
):
    # setitimer(ITIMER_VIRTUAL / ITIMER_PROF) in the engine: after that much CPU time the kernel
    # got SIGVTALRM / SIGPROF, whose default action ends it (only ITIMER_REAL was cancelled)
    import signal

    from microgradx.testing import check_engine

    Base = _engine_base()

    class Value(Base):  # type: ignore[misc, valid-type]
        def tanh(self) -> object:
            signal.signal(signal.SIGVTALRM, signal.SIG_IGN)
            signal.setitimer(signal.ITIMER_VIRTUAL, 1000.0)
            signal.setitimer(signal.ITIMER_PROF, 1000.0)
            return super().tanh()

    timers = (signal.ITIMER_VIRTUAL, signal.ITIMER_PROF)
    handler = signal.getsignal(signal.SIGVTALRM)
    assert all(signal.getitimer(t)[0] == 0.0 for t in timers)
    try:
        report = check_engine(Value, examples=2, budget=60, isolation="in-process")
        after = [signal.getitimer(t) for t in timers], signal.getsignal(signal.SIGVTALRM)
    finally:  # whatever the checker did, leave pytest's process as it was
        for t in timers:
            signal.setitimer(t, 0.0)
        signal.signal(signal.SIGVTALRM, handler)
    assert {f.check: f.kind for f in report.findings}["op tanh"] == OK  # tanh was called
    assert after == ([(0.0, 0.0), (0.0, 0.0)], handler)


def test_the_collectors_debug_flags_callbacks_and_the_hooks_an_engine_sets_are_put_back() -> None:
    # gc.set_debug(gc.DEBUG_SAVEALL) in the engine: every later collection in the kernel keeps
    # its garbage in gc.garbage (memory that never comes back) and DEBUG_STATS prints; a
    # gc.callbacks entry runs at every collection; unraisablehook, threading.excepthook and
    # breakpointhook are hooks as displayhook and excepthook are (these two were put back)
    import gc
    import sys
    import threading

    from microgradx.testing import check_engine

    Base = _engine_base()

    def hook(*args: object) -> None:
        pass

    class Value(Base):  # type: ignore[misc, valid-type]
        def tanh(self) -> object:
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.callbacks.append(hook)
            sys.unraisablehook = hook
            threading.excepthook = hook
            sys.breakpointhook = hook
            return super().tanh()

    def state() -> tuple[object, ...]:
        hooks = sys.unraisablehook, threading.excepthook, sys.breakpointhook
        # the engine's callback only: Hypothesis adds one of its own once per process
        return (gc.get_debug(), hook in gc.callbacks, *hooks)

    before = state()
    try:
        report = check_engine(Value, examples=2, budget=60, isolation="in-process")
        after = state()
    finally:  # whatever the checker did, leave pytest's process as it was
        gc.set_debug(before[0])  # type: ignore[arg-type]
        while hook in gc.callbacks:
            gc.callbacks.remove(hook)
        sys.unraisablehook, threading.excepthook, sys.breakpointhook = before[2:]  # type: ignore[assignment]
    assert {f.check: f.kind for f in report.findings}["op tanh"] == OK  # tanh was called
    assert after == before


def test_a_function_that_changes_the_list_it_is_given_gets_one_gradient_per_input() -> None:
    from microgradx import Value
    from microgradx.functional import grad, value_and_grad

    # f(xs) = 2 xs[1], computed by popping xs[1] off the list f was given
    assert grad(lambda xs: xs.pop() * 2)([1.0, 2.0]) == [0.0, 2.0]
    # an entry replaced by a constant: f no longer depends on the original xs[0]
    replaced = grad(lambda xs: (xs.__setitem__(0, Value(9.0)), xs[0] * xs[1])[1])([1.0, 2.0])
    assert replaced == [0.0, 9.0]
    appended = grad(lambda xs: (xs.append(Value(5.0)), xs[0] * xs[2])[1])([1.0, 2.0])
    assert appended == [5.0, 0.0]
    value, gradient = value_and_grad(lambda xs, y: (xs.clear(), y * y)[1], argnums=(0, 1))(
        [1.0, 2.0], 3.0
    )
    assert (value, gradient) == (9.0, ([0.0, 0.0], 6.0))


@pytest.mark.skipif(not hasattr(__import__("signal"), "setitimer"), reason="no POSIX timers")
def test_an_alarm_an_engine_sets_is_cancelled_after_an_in_process_check() -> None:
    # signal.alarm(n) in the engine: n seconds after the check, SIGALRM's default action would
    # end the process (the notebook's kernel)
    import signal

    from microgradx.testing import check_engine

    Base = _engine_base()

    class Value(Base):  # type: ignore[misc, valid-type]
        def tanh(self) -> object:
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            signal.alarm(1000)
            return super().tanh()

    handler = signal.getsignal(signal.SIGALRM)
    assert signal.getitimer(signal.ITIMER_REAL)[0] == 0.0
    try:
        report = check_engine(Value, examples=2, budget=60, isolation="in-process")
        timer, handler_after = (
            signal.getitimer(signal.ITIMER_REAL),
            signal.getsignal(signal.SIGALRM),
        )
    finally:  # whatever the checker did, leave pytest's process as it was
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, handler)
    assert {f.check: f.kind for f in report.findings}["op tanh"] == OK  # tanh was called
    assert timer == (0.0, 0.0)
    assert handler_after is handler


def test_a_dual_kept_from_a_finished_jvp_is_refused_not_returned_as_a_result() -> None:
    from microgradx.dual import Dual, derivative, jvp

    kept: list[object] = []
    assert jvp(lambda x: (kept.append(x), x * x)[1], [2.0], [1.0]) == (4.0, 4.0)
    leaked = kept[0]
    for call in (
        lambda: jvp(lambda y: leaked * 3, [1.0], [1.0]),  # type: ignore[operator]
        lambda: jvp(lambda y: leaked * y, [1.0], [1.0]),  # type: ignore[operator]
        lambda: derivative(lambda y: leaked + y, 1.0),  # type: ignore[operator]
    ):
        with pytest.raises(ValueError, match="a jvp/derivative call that has returned"):
            call()
    with pytest.raises(ValueError, match=r"primals\[0\] holds a Dual of a jvp/derivative call"):
        jvp(lambda y: y * y, [leaked], [1.0])
    # what stays allowed: Duals of the calls still running (nesting), and Duals made by hand
    assert derivative(lambda x: x * derivative(lambda y: x + y, 1.0), 1.0) == 1.0
    assert derivative(lambda x: derivative(lambda y: x * x * y, 1.0), 3.0) == 6.0
    primal, tangent = jvp(lambda y: y * 2, [Dual(1.0, 1.0)], [1.0])
    assert isinstance(primal, Dual) and (primal.primal, primal.tangent, tangent) == (2.0, 2.0, 2.0)
