"""Ops the engine has but that raise, and engines that change the checker's process.

An op is unsupported only when the engine lacks it (its special method is missing or returns
``NotImplemented``, raises ``NotImplementedError``, or refuses this operand's type while taking
the other one); an op that raises whatever it is given is a crash that fails the check. In-process,
the learner's ``KeyboardInterrupt`` ends the check wherever it is raised, and what a request
changes in the process is put back.
"""

from __future__ import annotations

import gc
import os
import random
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from microgradx.enginecheck.findings import CRASH, OK, UNSUPPORTED
from microgradx.enginecheck.target import Spelling, supported_forms
from microgradx.testing import check_engine

ENGINES = Path(__file__).parent / "engines"
SPELLING = Spelling("data", "grad", "backward")


def base() -> Any:
    sys.path.insert(0, str(ENGINES))
    try:
        import engine_base
    finally:
        sys.path.remove(str(ENGINES))
    return engine_base.Value


def _raising(error: BaseException) -> Any:
    def method(self: Any, *args: Any) -> Any:
        raise error

    return method


def subclass(**methods: Any) -> type:
    return type("Value", (base(),), methods)


@pytest.mark.parametrize(
    ("method", "op", "forms"),
    [
        ("__add__", "add", {"add", "add_f"}),
        ("__mul__", "mul", {"mul", "mul_f"}),
        ("tanh", "tanh", {"tanh"}),
    ],
)
def test_an_op_the_engine_has_that_raises_is_a_crash_that_fails_the_check(method, op, forms):
    cls = subclass(**{method: _raising(TypeError("student bug"))})
    assert forms <= set(supported_forms(cls, SPELLING))
    report = check_engine(cls, examples=2, budget=60, isolation="in-process")
    found = {f.check: f for f in report.findings}
    assert found[f"op {op}"].kind == CRASH and "student bug" in found[f"op {op}"].message
    assert not report.ok and report.exit_code == 1
    assert all(f.kind != UNSUPPORTED for f in report.findings if f.check == f"op {op}")


def test_a_missing_op_or_a_refused_operand_type_is_unsupported_not_a_crash():
    def pow_numbers_only(self: Any, other: Any) -> Any:  # micrograd's __pow__
        assert isinstance(other, (int, float)), "only supporting int/float powers for now"
        return base().__pow__(self, other)

    def not_implemented(self: Any, other: Any) -> Any:
        return NotImplemented

    cls = subclass(
        __pow__=pow_numbers_only,
        __rtruediv__=_raising(NotImplementedError("later")),
        __rsub__=not_implemented,
    )
    forms = supported_forms(cls, SPELLING)
    assert "pow_scalar" in forms and "pow" not in forms  # a ** 2.0 works, a ** b refused
    assert "f_div" not in forms and "f_sub" not in forms
    assert {"add", "sub", "mul", "div", "tanh"} <= set(forms)
    bare = type("Bare", (), {"__init__": base().__init__, "backward": base().backward})
    assert "add" not in supported_forms(bare, SPELLING)  # no __add__ at all


def test_sys_exit_in_an_op_the_engine_has_is_a_crash():
    cls = subclass(__mul__=_raising(SystemExit(3)))
    assert "mul" in supported_forms(cls, SPELLING)
    report = check_engine(cls, examples=2, budget=60, isolation="in-process")
    finding = {f.check: f for f in report.findings}["op mul"]
    assert finding.kind == CRASH and "sys.exit(3)" in finding.message
    assert report.exit_code == 1


def test_an_interrupt_while_the_ops_are_probed_ends_an_in_process_check():
    cls = subclass(__add__=_raising(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        supported_forms(cls, SPELLING, passes=(KeyboardInterrupt,))
    with pytest.raises(KeyboardInterrupt):
        check_engine(cls, examples=2, isolation="in-process")
    # in a child process the interrupt is the engine's: an answer, the op crashes
    assert "add" in supported_forms(cls, SPELLING)


def _state() -> dict[str, Any]:
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    mask = os.umask(0o022)
    os.umask(mask)
    return {
        "cwd": os.getcwd(),
        "handlers": handlers,
        "gc": (gc.isenabled(), gc.get_threshold()),
        "umask": mask,
        "hooks": (sys.displayhook, sys.excepthook),
        "recursion": sys.getrecursionlimit(),
        "streams": (sys.stdout, sys.stderr, sys.stdin),
        "random": random.getstate(),
        "filters": list(warnings.filters),
        "environ": dict(os.environ),
        "switch": sys.getswitchinterval(),
    }


def test_what_an_engine_changes_in_the_process_is_put_back_after_an_in_process_check(tmp_path):
    before = _state()

    def tanh(self: Any) -> Any:
        os.chdir(tmp_path)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        gc.disable()
        gc.set_threshold(1, 1, 1)
        os.umask(0o077)
        sys.displayhook = print
        sys.excepthook = print
        sys.setrecursionlimit(99999)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - the engine's misdeed
        random.seed(12345)
        random.random()
        warnings.simplefilter("ignore")
        os.environ["MICROGRADX_ENGINE_WAS_HERE"] = "1"
        os.environ.pop("PATH", None)
        sys.setswitchinterval(0.5)
        return base().tanh(self)

    try:
        report = check_engine(subclass(tanh=tanh), examples=2, budget=60, isolation="in-process")
        after = _state()
    finally:  # whatever the checker did, leave pytest's process as it was
        os.chdir(before["cwd"])
        for number, handler in before["handlers"].items():
            signal.signal(number, handler)
        (gc.enable if before["gc"][0] else gc.disable)()
        gc.set_threshold(*before["gc"][1])
        os.umask(before["umask"])
        sys.displayhook, sys.excepthook = before["hooks"]
        sys.setrecursionlimit(before["recursion"])
        sys.stdout, sys.stderr, sys.stdin = before["streams"]
        random.setstate(before["random"])
        warnings.filters[:] = before["filters"]
        os.environ.clear()
        os.environ.update(before["environ"])
        sys.setswitchinterval(before["switch"])
    assert {f.check: f.kind for f in report.findings}["op tanh"] == OK  # tanh was called
    for key in before:
        assert after[key] == before[key], key
