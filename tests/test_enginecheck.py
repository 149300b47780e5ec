"""The engine checker's core (issue 19): targets, the sandbox, the checks, the API.

The engines checked live in tests/engines/: a correct micrograd-style engine (engine_base.py) and
files that each plant one bug on top of it; Karpathy's micrograd 0.1.0 (the test extra) too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import linecache
import os
import re
import sys
import time
from pathlib import Path

import pytest

from microgradx.enginecheck.findings import BEHAVIOUR, CRASH, NOT_CHECKED, OK, UNSUPPORTED
from microgradx.enginecheck.sandbox import Sandbox
from microgradx.strategies import Expression
from microgradx.testing import EngineReport, Finding, TargetError, check_engine, check_target

ENGINES = Path(__file__).parent / "engines"
FEW = 8  # random expressions per op: enough for the planted bugs, and quick


def engine(name: str) -> str:
    return str(ENGINES / f"{name}.py")


def check(name: str, **options: object) -> EngineReport:
    options.setdefault("examples", FEW)
    return check_target(engine(name), **options)  # type: ignore[arg-type]


def by_check(report: EngineReport) -> dict[str, Finding]:
    return {finding.check: finding for finding in report.findings}


def test_a_correct_engine_passes_with_nothing_failing():
    report = check("engine_base")
    assert report.complete and report.ok and report.exit_code == 0
    assert report.class_name == "Value"
    assert set(report.supported) >= {"add", "sub", "mul", "div", "pow", "pow_scalar", "tanh"}
    found = by_check(report)
    for name in report.supported:
        assert found[f"op {name}"].kind == OK
    for name in ("reuse a + a", "reuse a * a", "reuse shared subexpression"):
        assert found[name].kind == OK
    assert found["backward() twice"].kind == OK  # it accumulates, as PyTorch does
    assert found["gradients accumulating across two losses"].kind == OK
    assert found["resetting gradients between steps"].kind == OK
    assert found["constants on either side"].kind == OK
    assert [found[f"depth {n}"].kind for n in (1000, 10000, 100000)] == [OK] * 3
    assert found["training step on moons"].kind == OK
    # math.exp raises where IEEE-754 gives inf: a behaviour, not a failure
    assert found["numerics exp(1000)"].kind == BEHAVIOUR
    assert "OverflowError" in found["numerics exp(1000)"].message
    assert found["numerics tanh(1000)"].kind == OK


def test_a_wrong_local_derivative_is_caught_and_named_with_its_formula():
    report = check("wrong_tanh")
    finding = by_check(report)["op tanh"]
    assert finding.kind == "wrong gradient" and report.exit_code == 1
    # the smallest input hypothesis shrinks to: tanh of one input
    assert isinstance(finding.expression, Expression)
    assert [step.op.name for step in finding.expression.steps] == ["tanh"]
    x = finding.expression.inputs[0]
    assert finding.node == 1
    assert finding.message.startswith("`v1 = x0.tanh()`: expected d v1/d x0 = ")
    import math

    assert f"expected d v1/d x0 = {1 - math.tanh(x) ** 2:.6g}, got {1 - math.tanh(x):.6g}" in (
        finding.message
    )
    assert "x0 = Value(" in (finding.example or "") and "v1 = x0.tanh()" in (finding.example or "")
    # the other ops hold
    assert all(f.kind == OK for f in report.findings if f.check in ("op add", "op mul", "op exp"))
    # at the edge, finite numbers that differ are wrong, not a behaviour: tanh'(-1000) = 2, not 0
    assert by_check(report)["numerics tanh(-1000)"].kind == "wrong gradient"
    assert by_check(report)["numerics tanh(1000)"].kind == OK  # 1 - 1 = 0 happens to be right
    # what Jupyter shows and print writes: the table, and the failing expression drawn
    assert report._repr_html_().count("data:image/svg+xml;base64,") == 1  # type: ignore[attr-defined]
    assert "wrong gradient" in str(report) and "v1 = x0.tanh()" in str(report)


def test_children_kept_in_a_set_are_caught_by_the_reuse_checks():
    found = by_check(check("children_set"))
    for name, got in (("reuse a + a", "got 1,"), ("reuse a * a", "got 1.5,")):
        assert found[name].kind == "wrong gradient"
        assert got in found[name].message and "counted once" in found[name].message
    assert found["op tanh"].kind == OK  # one input: nothing to count twice


def test_gradients_reset_inside_backward_are_caught_across_two_losses():
    found = by_check(check("reset_in_backward"))
    finding = found["gradients accumulating across two losses"]
    assert finding.kind == "wrong gradient"
    assert "loss2's alone" in finding.message and "expected the sum [0.25, -0.5]" in finding.message
    assert found["backward() twice"].kind == BEHAVIOUR
    assert found["resetting gradients between steps"].kind == OK
    assert found["op add"].kind == OK


def test_a_recursive_topological_sort_is_reported_with_the_depth_where_it_starts():
    report = check("recursive_topo")
    found = by_check(report)
    finding = found["depth 1000"]
    assert finding.kind == CRASH and "RecursionError" in finding.message
    depth = finding.details["depth"]
    assert isinstance(depth, int) and f"starts at a chain of {depth} additions" in finding.message
    # the depth is where it starts: one less works in the same child
    load = {
        "cmd": "load",
        "spec": {"text": "", "path": engine("recursive_topo"), "module": None, "class_name": None},
        "source": None,
        "class_name": None,
        "path": [],
    }
    with Sandbox(load, 10.0) as sandbox:
        sandbox.start()
        assert sandbox.call({"cmd": "chain", "n": depth - 1}, 10.0)["ok"]
        assert sandbox.call({"cmd": "chain", "n": depth}, 10.0)["error"] == "RecursionError"
    assert found["depth 100000"].kind == CRASH
    assert found["op add"].kind == OK and report.complete


def test_a_backward_that_hangs_is_reported_and_the_checker_returns():
    report = check("hangs", budget=3.0, examples=2)
    first = report.findings[0]
    assert first.kind == CRASH and "time limit" in first.message
    # the next check ran in a fresh child (and hung again); the budget ended the rest
    assert report.findings[1].kind in (CRASH, NOT_CHECKED)
    assert not report.complete and NOT_CHECKED in {f.kind for f in report.findings}


def test_an_engine_that_prints_megabytes_is_checked_like_any_other():
    report = check("chatty")
    assert report.ok and report.complete


def test_sys_exit_and_os_exit_in_the_engine_are_crashes_and_the_check_goes_on():
    report = check("exits")
    found = by_check(report)
    assert found["op add"].kind == CRASH
    assert "the engine called sys.exit(3)" in found["op add"].message
    assert found["training step on moons"].kind == CRASH  # the checks after it still ran
    assert report.complete
    # os._exit ends the child: each check after it runs in a fresh one
    report = check("os_exit", budget=4.0, examples=2)
    assert report.findings[0].kind == report.findings[1].kind == CRASH
    for finding in report.findings[:2]:
        assert "the process exited with status 4" in finding.message


def test_an_engine_past_the_memory_limit_is_a_crash():
    report = check("memory_hog", budget=5.0, examples=2)
    assert report.findings[0].kind == CRASH and "MemoryError" in report.findings[0].message


def test_other_spellings_are_found_or_given():
    report = check("other_names")
    assert report.ok and report.supported == ("add", "mul")
    found = by_check(report)
    assert found["op sub"].kind == UNSUPPORTED
    assert "a.val" not in (found["op sub"].example or "")
    with pytest.raises(TargetError, match="not Value-like: no number gradient attribute"):
        check_target(engine("other_names") + ":Node", grad_attr="slope")


def test_karpathys_micrograd():
    import micrograd  # noqa: F401  (in the test extra: missing, this fails rather than skips)

    report = check_target("micrograd.engine:Value")  # the default budget and examples
    assert report.complete
    found = by_check(report)
    for name in ("add", "mul", "pow_scalar", "relu"):
        assert found[f"op {name}"].kind == OK
    assert found["op pow"].kind == UNSUPPORTED  # x ** Value
    assert found["op rpow_scalar"].kind == UNSUPPORTED  # 2 ** Value
    depth = found["depth 1000"]
    assert depth.kind == CRASH and "RecursionError" in depth.message
    assert isinstance(depth.details["depth"], int) and depth.details["depth"] <= 1000
    division = found["numerics 1/0"]
    assert division.kind == BEHAVIOUR and "ZeroDivisionError" in division.message
    assert "IEEE-754 gives inf" in division.message
    assert found["backward() twice"].kind == BEHAVIOUR  # inner gradients passed on again
    assert found["training step on moons"].kind == OK


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("tests/engines/nothing_here.py", "tests/engines/nothing_here.py: no such file"),
        (engine("raises_on_import"), "raised ZeroDivisionError: planted at import"),
        (engine("no_value"), "has no Value-like class"),
        (engine("two_values"), "has 2 Value-like classes (Value, Tensor): name one, e.g. "),
        (engine("two_args"), "Value(1.5) fails (TypeError: "),
        ("no_such_package.engine", "no_such_package.engine: no such module"),
        (engine("engine_base") + ":Nope", "has no class Nope"),
    ],
)
def test_a_target_that_cannot_be_checked_raises_one_line(target, message):
    with pytest.raises(TargetError) as raised:
        check_target(target, budget=5.0)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_target_path_that_is_no_file_says_what_it_is(tmp_path):
    """A folder, a FIFO or a device named as the target was "no such file": each is now named
    for what it is (and never opened: a FIFO would wait for a writer)."""
    from microgradx.enginecheck.target import parse_target

    fifo = tmp_path / "engine.py"
    os.mkfifo(fifo)
    (tmp_path / "folder.py").mkdir()
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "gone.py").symlink_to(tmp_path / "nowhere.py")
    for name, says in [
        ("engine.py", "is a FIFO (named pipe), not a regular file"),
        ("folder.py", "is a folder, not a regular file"),
        ("zero.py", "is a character device, not a regular file"),
        ("gone.py", "gone.py: no such file"),
    ]:
        with pytest.raises(TargetError, match=re.escape(says)):
            parse_target(str(tmp_path / name))


def test_arguments_are_checked():
    with pytest.raises(TypeError, match="target must be a str"):
        check_target(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budget"):
        check_target(engine("engine_base"), budget=0.0)
    with pytest.raises(ValueError, match="data_attr must be an attribute name"):
        check_target(engine("engine_base"), data_attr="not a name")
    with pytest.raises(TypeError, match="value_class must be a class"):
        check_engine(3)  # type: ignore[arg-type]


def test_check_engine_runs_a_class_object_in_the_child():
    spec = importlib.util.spec_from_file_location("exits_engine", engine("exits"))
    assert spec is not None and spec.loader is not None
    sys.path.insert(0, str(ENGINES))
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        # in this process its backward() would end the test run
        report = check_engine(module.Value, examples=2)
    finally:
        sys.path.remove(str(ENGINES))
    assert "the engine called sys.exit(3)" in by_check(report)["op add"].message


NOTEBOOK_CELLS = (
    # imported in a cell of its own, and a helper in another: the methods read both
    "import math\n",
    "def _tanh(x):\n    return math.tanh(x)\n",
    "class Value:\n"
    "    def __init__(self, data, _children=()):\n"
    "        self.data, self.grad, self._prev = data, 0.0, _children\n"
    "        self._backward = lambda: None\n"
    "    def __mul__(self, other):\n"
    "        out = Value(self.data * other.data, (self, other))\n"
    "        def _backward():\n"
    "            self.grad += other.data * out.grad\n"
    "            other.grad += self.data * out.grad\n"
    "        out._backward = _backward\n"
    "        return out\n"
    "    def backward(self):\n"
    "        topo, seen, stack = [], set(), [(self, False)]\n"
    "        while stack:\n"
    "            v, done = stack.pop()\n"
    "            if done:\n"
    "                topo.append(v)\n"
    "            elif v not in seen:\n"
    "                seen.add(v)\n"
    "                stack += [(v, True)] + [(c, False) for c in v._prev]\n"
    "        self.grad = 1.0\n"
    "        for v in reversed(topo):\n"
    "            v._backward()\n\n"
    "raise SystemExit('the rest of the cell is not shipped')\n",
    "def tanh(self):\n"
    "    t = _tanh(self.data)\n"
    "    out = Value(t, (self,))\n"
    "    def _backward():\n"
    "        self.grad += (1 - t) * out.grad\n"
    "    out._backward = _backward\n"
    "    return out\n",
    # bound in a later cell of its own, as a learner adds a method after the fact
    "Value.tanh = tanh\nprint(Value(0.5).tanh().data)\n",
    # a subclass in another cell: its base's cells are shipped too
    "class Overwriting(Value):\n"
    "    def __mul__(self, other):\n"
    "        out = Overwriting(self.data * other.data, (self, other))\n"
    "        def _backward():\n"
    "            self.grad = other.data * out.grad   # = where += belongs\n"
    "            other.grad = self.data * out.grad\n"
    "        out._backward = _backward\n"
    "        return out\n",
)


def test_check_engine_ships_the_source_of_notebook_cells():
    namespace: dict[str, object] = {"__name__": "__main__"}
    for i, cell in enumerate(NOTEBOOK_CELLS):
        name = f"/tmp/ipykernel_0/cell{i}.py"  # as IPython names cells; kept in linecache
        linecache.cache[name] = (len(cell), None, cell.splitlines(True), name)
        with contextlib.suppress(SystemExit):  # the rest of the first cell ends it
            exec(compile(cell, name, "exec"), namespace)
    report = check_engine(namespace["Value"], examples=FEW)  # type: ignore[arg-type]
    assert report.supported == ("mul", "tanh")
    found = by_check(report)
    assert found["op mul"].kind == OK
    assert found["op tanh"].kind == "wrong gradient"  # the second cell's rule: 1 - t
    linecache.cache.pop("/tmp/ipykernel_0/cell4.py")  # the binding's own line is not needed
    buggy = by_check(check_engine(namespace["Overwriting"], examples=FEW))  # type: ignore[arg-type]
    assert buggy["reuse a * a"].kind == "wrong gradient"  # backward() from the base's cell


def test_check_engine_refuses_a_class_it_cannot_load_in_another_process():
    def make() -> type:
        class Value:
            pass

        return Value

    with pytest.raises(TargetError, match="defined inside a function"):
        check_engine(make())
    lost = type("Lost", (), {"__module__": "__main__"})
    with pytest.raises(TargetError, match="no source found for Lost"):
        check_engine(lost)


def test_a_budget_that_runs_out_leaves_checks_not_checked():
    # a millisecond: starting the child process alone takes longer on any machine, so no check
    # gets time (a budget a fast machine might finish in would make this test depend on speed)
    report = check("engine_base", budget=0.001)
    assert not report.complete and report.ok
    assert report.findings[-1].kind == NOT_CHECKED


def test_the_check_is_deterministic():
    first, second = check("wrong_tanh"), check("wrong_tanh")
    assert [(f.check, f.kind, f.message, f.example) for f in first.findings] == [
        (f.check, f.kind, f.message, f.example) for f in second.findings
    ]


# ---- the command, end to end: a real engine, a real child process ------------------------------


def _command(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "microgradx", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_the_command_exits_1_on_a_planted_bug_and_writes_junit_and_json(tmp_path):
    import json
    import xml.etree.ElementTree as ET

    report = tmp_path / "report.xml"
    status, out, err = _command(engine("wrong_tanh"), "--junit", str(report), "--budget", "60")
    assert status == 1, err
    assert "op tanh" in out and "wrong gradient" in out and "expected d v1/d x0" in out
    suite = ET.parse(report).getroot()
    failed = [
        case.get("name") for case in suite.iter("testcase") if case.find("failure") is not None
    ]
    assert "op tanh" in failed
    status, out, _ = _command(engine("engine_base"), "--json", "--budget", "60")
    assert status == 0 and json.loads(out)["ok"] is True


@pytest.mark.parametrize(
    "target, says",
    [
        ("no_such_engine.py", "no such file"),
        ("raises_on_import", "raise"),
        ("no_value", "Value-like"),
        ("two_values", "Value-like classes (Value, Tensor): name one"),
        ("two_args", "argument"),
    ],
)
def test_a_target_the_command_cannot_check_is_one_line_and_exit_2(target, says):
    path = target if target.endswith(".py") else engine(target)
    status, out, err = _command(path)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and says in err, err


def test_check_engine_in_a_script_takes_a_subclass_with_no_functions_of_its_own(tmp_path):
    import shutil
    import subprocess

    shutil.copy(engine("engine_base"), tmp_path / "nanograd.py")
    (tmp_path / "script.py").write_text(
        "from nanograd import Value as Base\n"
        "from microgradx.testing import check_engine\n\n"
        "class Value(Base):\n    pass\n\n"
        "if __name__ == '__main__':\n"
        "    report = check_engine(Value, examples=3)\n"
        "    print(report.ok, report.class_name)\n"
    )
    done = subprocess.run(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parent.parent)},
        check=False,
    )
    assert done.stdout.strip() == "True Value", done.stderr


# ---- engines that misbehave in ways a learner's (or a hostile) engine does -----------------------


def test_an_engine_whose_results_are_nan_fails_and_is_not_called_unsupported():
    report = check("nan_data")
    assert report.exit_code == 1
    assert by_check(report)["op add"].kind == "wrong value"  # a Value came back: the op exists


def test_a_method_that_always_raises_is_a_crash_naming_the_error_not_unsupported():
    found = by_check(check("typo_tanh"))
    assert found["op tanh"].kind == CRASH and "AttributeError" in found["op tanh"].message
    assert found["op add"].kind == OK


def test_an_engine_writing_into_the_checkers_channel_is_reported_not_a_traceback():
    report = check("channel_writer", budget=60)  # the answer expected: a report, exit 1
    assert report.exit_code == 1
    assert any(f.kind == CRASH for f in report.findings)


def test_an_engine_that_forks_and_exits_leaves_no_process_behind(tmp_path, monkeypatch):
    pids = tmp_path / "pids"
    monkeypatch.setenv("FORKS_PIDS", str(pids))  # the engine's forked sleepers write their pids
    report = check("forks", budget=20)
    assert any(f.kind == CRASH for f in report.findings)
    forked = [int(pid) for pid in pids.read_text().split()]
    assert forked  # the engine did fork

    def alive(pid: int) -> bool:  # a zombie waiting for init to reap it is gone already
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        return "State:\tZ" not in status

    # SIGKILL is delivered asynchronously: wait for the event (each one dead), a long bound only
    # against a leak, which would stay alive for its whole 300 s sleep
    for _ in range(600):
        if not any(alive(pid) for pid in forked):
            break
        time.sleep(0.05)
    assert [pid for pid in forked if alive(pid)] == []  # each went with the child's group


def test_a_check_writes_nothing_where_it_runs_and_puts_hypothesis_back(tmp_path):
    """Hypothesis draws numbers found in the source of every module the process imported and
    caches them in ``.hypothesis/`` in the working directory: the command wrote that folder
    beside the learner's files (and its examples depended on what was imported). The command
    runs in a fresh process here (this suite's conftest turns the feature off for itself);
    in-process, the function the check replaces is put back after it."""
    status, out, err = _command(engine("wrong_tanh"), "--budget", "20", cwd=tmp_path)
    assert "op tanh" in out
    assert status == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    from hypothesis.internal.conjecture import providers

    from microgradx.enginecheck.checks import source_constants_off

    before = providers._get_local_constants
    with source_constants_off():
        assert providers._get_local_constants is not before
        assert len(providers._get_local_constants()) == 0
    assert providers._get_local_constants is before


def test_overlapping_source_constants_off_blocks_put_hypothesis_back_in_any_order():
    # Two checks in two threads: A opens, B opens, A closes, B closes. B had saved A's
    # replacement as "the original" and put it back last: Hypothesis's constants stayed off
    # for good (and A's close had turned them on under B's still-running check).
    from hypothesis.internal.conjecture import providers

    from microgradx.enginecheck.checks import source_constants_off

    before = providers._get_local_constants
    a, b = source_constants_off(), source_constants_off()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert len(providers._get_local_constants()) == 0  # B's check still runs without them
    b.__exit__(None, None, None)
    assert providers._get_local_constants is before
