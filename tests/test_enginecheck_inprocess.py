"""The engine checker in the checker's own process (issue 21: notebook 00's ``check_engine(V)`` in
JupyterLite, where Pyodide has no child processes), and the exercises' checks there.

In-process, the same planted bugs give the same report as in a child process; only the findings
that need the child's containment (a hang killed, ``os._exit``, the memory limit, a forked
process, writes to the checker's pipe) cannot be compared, and the report says what is lost.
Pyodide is simulated here (``sys.platform == "emscripten"``, no ``subprocess.Popen``): the
browser itself runs ``tests/test_lite.py``'s checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import microgradx.enginecheck.api as api
import microgradx.enginecheck.inprocess as inprocess
import microgradx.enginecheck.limits as limits
from microgradx.enginecheck.findings import IN_PROCESS, IN_PROCESS_NOTE, PROCESS, EngineReport
from microgradx.enginecheck.inprocess import InProcess
from microgradx.enginecheck.report import to_dict, to_html, to_junit, to_text
from microgradx.testing import TargetError, check_engine, check_target
from microgradx.viz.markup import escape

ROOT = Path(__file__).resolve().parent.parent
ENGINES = ROOT / "tests" / "engines"
FEW = 8  # random expressions per op, as tests/test_enginecheck.py
# Comparisons get a budget no loaded machine spends: each op's share of the budget bounds how
# many examples start, and the two modes must run the same ones.
AMPLE = 900.0

# every planted bug whose finding does not need the child's containment
COMPARED = [
    "engine_base",
    "wrong_tanh",
    "children_set",
    "reset_in_backward",
    "recursive_topo",
    "exits",
    "other_names",
    "nan_data",
    "typo_tanh",
]


def _findings(report: EngineReport) -> dict[str, object]:
    data = to_dict(report)
    for key in ("seconds", "isolation", "note"):  # the wall time, and where it ran
        data.pop(key, None)
    return data


@pytest.fixture
def no_time_limits(monkeypatch):
    """Reports compared, not speeds: on a loaded machine a check in a busy test process can pass
    the 10 s a request may take while the fresh child does not (a timeout is a crash finding)."""
    monkeypatch.setattr(api, "_limit", lambda budget: AMPLE)
    monkeypatch.setattr(limits, "CHAIN_LIMIT", AMPLE)


@pytest.mark.parametrize("name", COMPARED)
def test_in_process_gives_the_child_processs_report(name, no_time_limits):
    target = str(ENGINES / f"{name}.py")
    child = check_target(target, examples=FEW, budget=AMPLE, isolation="process")
    here = check_target(target, examples=FEW, budget=AMPLE, isolation="in-process")
    assert child.isolation == PROCESS and here.isolation == IN_PROCESS
    assert _findings(here) == _findings(child)


def _depth(report: EngineReport) -> object:
    return {f.check: f for f in report.findings}["depth 1000"].details.get("depth")


def test_a_recursive_engine_fails_at_the_childs_depth_however_deep_the_caller_is():
    limit = sys.getrecursionlimit()

    def nested(levels: int) -> EngineReport:  # a notebook's kernel is deeper than a script
        if levels:
            return nested(levels - 1)
        return check_target(str(ENGINES / "recursive_topo.py"), examples=2, isolation="in-process")

    depths = {_depth(nested(levels)) for levels in (0, 200)}
    child = check_target(str(ENGINES / "recursive_topo.py"), examples=2, isolation="process")
    assert depths == {_depth(child)} and isinstance(_depth(child), int)
    assert sys.getrecursionlimit() == limit  # restored


def test_check_engine_in_process_checks_the_class_object_itself():
    def make() -> type:  # defined inside a function: a child process cannot import it
        sys.path.insert(0, str(ENGINES))
        try:
            import wrong_tanh
        finally:
            sys.path.remove(str(ENGINES))

        class Value(wrong_tanh.Value):
            pass

        return Value

    with pytest.raises(TargetError, match="defined inside a function"):
        check_engine(make(), examples=2, isolation="process")
    report = check_engine(make(), examples=FEW, isolation="in-process")
    assert {f.check: f.kind for f in report.findings}["op tanh"] == "wrong gradient"
    assert report.class_name == "Value" and report.isolation == IN_PROCESS


def test_the_report_says_what_running_in_process_loses(no_time_limits):
    report = check_target(str(ENGINES / "engine_base.py"), examples=2, isolation="in-process")
    assert report.ok and report.note == IN_PROCESS_NOTE
    assert "ran in-process: no time or memory limit" in report.note
    assert IN_PROCESS_NOTE in to_text(report) and escape(IN_PROCESS_NOTE) in to_html(report)
    assert IN_PROCESS_NOTE in (ROOT / "docs" / "check.md").read_text(encoding="utf-8")
    data = to_dict(report)
    assert data["isolation"] == "in-process" and data["note"] == IN_PROCESS_NOTE
    assert b'<property name="isolation" value="in-process" />' in to_junit(report)
    child = check_target(str(ENGINES / "engine_base.py"), examples=2, isolation="process")
    assert child.note is None and "in-process" not in to_text(child)
    # a child process's report is as before: no new field, no new line
    assert "isolation" not in to_dict(child) and b"isolation" not in to_junit(child)


def test_the_engines_output_is_captured_and_the_kernels_streams_restored(
    tmp_path, capsys, no_time_limits
):
    (tmp_path / "loud.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ENGINES)!r})\n"
        "from engine_base import Value as Base\n\n"
        "class Value(Base):\n"
        "    def backward(self):\n"
        "        print('x' * 100_000)\n"
        "        sys.stderr.write('from the engine')\n"
        "        input()  # reads nothing: stdin is empty, as in the child\n"
        "        super().backward()\n"
    )
    streams = sys.stdout, sys.stderr, sys.stdin
    report = check_target(
        str(tmp_path / "loud.py"), examples=2, budget=AMPLE, isolation="in-process"
    )
    assert (sys.stdout, sys.stderr, sys.stdin) == streams
    assert capsys.readouterr() == ("", "")  # nothing reached the notebook
    crash = report.findings[0]
    assert crash.kind == "crash" and "EOFError" in crash.message
    assert str(crash.details["output"]).endswith("... (100001 characters in all)from the engine")
    child = check_target(str(tmp_path / "loud.py"), examples=2, budget=AMPLE, isolation="process")
    assert _findings(report) == _findings(child)  # kept and cut as the child does


def test_a_request_that_returns_after_its_time_limit_is_the_childs_timeout(tmp_path):
    (tmp_path / "slow.py").write_text(
        "import sys, time\n"
        f"sys.path.insert(0, {str(ENGINES)!r})\n"
        "from engine_base import Value as Base\n\n"
        "class Value(Base):\n"
        "    def backward(self):\n"
        "        time.sleep(0.3)\n"
        "        super().backward()\n"
    )
    spec = {"text": "", "path": str(tmp_path / "slow.py"), "module": None, "class_name": None}
    runner = InProcess({"cmd": "load", "spec": spec, "class_name": None}, 5.0)
    runner.start()
    request = {"cmd": "run", "inputs": [1.0], "steps": [], "actions": [["backward", 0]]}
    # sleeping 0.3 s takes at least 0.3 s: past a 0.1 s limit whatever the machine
    assert runner.call(request, 0.1)["error"] == "timeout"
    assert runner.call(request, 60.0)["ok"]


def test_an_interrupt_ends_the_check_and_is_not_an_answer(tmp_path):
    (tmp_path / "interrupted.py").write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ENGINES)!r})\n"
        "from engine_base import Value as Base\n\n"
        "class Value(Base):\n"
        "    def backward(self):\n"
        "        raise KeyboardInterrupt\n"
    )
    limit = sys.getrecursionlimit()
    with pytest.raises(KeyboardInterrupt):
        check_target(str(tmp_path / "interrupted.py"), examples=2, isolation="in-process")
    assert sys.getrecursionlimit() == limit


def test_the_isolation_is_chosen_by_the_platform(monkeypatch):
    assert inprocess.choose("auto") == PROCESS  # this machine can start processes
    assert inprocess.choose("in-process") == IN_PROCESS
    with pytest.raises(ValueError, match="isolation must be one of 'auto', 'process'"):
        inprocess.choose("thread")
    with pytest.raises(TypeError, match="isolation must be one of"):
        check_target(str(ENGINES / "engine_base.py"), isolation=1)  # type: ignore[arg-type]
    for platform in ("emscripten", "wasi"):
        monkeypatch.setattr(sys, "platform", platform)
        assert not inprocess.processes_available() and inprocess.choose("auto") == IN_PROCESS


def test_under_pyodide_check_engine_runs_in_process_and_starts_no_process(monkeypatch):
    def refuse(*args: object, **kwargs: object) -> None:  # as Pyodide's subprocess does
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(sys, "platform", "emscripten")
    sys.path.insert(0, str(ENGINES))
    try:
        import children_set
    finally:
        sys.path.remove(str(ENGINES))
    report = check_engine(children_set.Value, examples=FEW)  # no isolation given: automatic
    assert report.isolation == IN_PROCESS and IN_PROCESS_NOTE in str(report)
    assert {f.check: f.kind for f in report.findings}["reuse a + a"] == "wrong gradient"


BROWSER = textwrap.dedent(
    """
    import contextlib, io, json, os, subprocess, sys

    def refuse(*args, **kwargs):  # Pyodide has the module, not the processes
        raise OSError(38, "Function not implemented")

    subprocess.Popen = os.fork = refuse
    for name in ("numpy", "matplotlib", "resource", "nbclient", "nbformat", "torch"):
        sys.modules[name] = None  # missing in the browser: importing it fails
    from microgradx.exercises import EXERCISES, check

    sys.platform = "emscripten"  # after the imports: sysconfig needs the real one
    package = os.path.dirname(sys.modules["microgradx"].__file__)
    events = []

    def audit(event, args):
        if event in ("subprocess.Popen", "os.fork", "os.system", "os.posix_spawn"):
            events.append(event)
        elif event == "open" and isinstance(args[0], str):
            if not os.path.abspath(args[0]).startswith(package + os.sep):
                events.append(f"open {args[0]}")

    sys.addaudithook(audit)
    statuses = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for e in EXERCISES.values():
            statuses[e.id] = [check(e.id, ...).status, check(e.id, e.reference()).status]
            for mistake, _ in e.named_mistakes():
                statuses[e.id].append(check(e.id, mistake.answer).status)
    print(json.dumps({"statuses": statuses, "events": events}))
    """
)


def test_the_exercises_checks_need_nothing_the_browser_lacks():
    done = subprocess.run(
        [sys.executable, "-c", BROWSER],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["events"] == []  # no process, no file outside the package (its data: Titanic)
    assert len(seen["statuses"]) >= 25
    for exercise, (placeholder, right, *mistakes) in seen["statuses"].items():
        assert (placeholder, right) == ("not answered", "right"), exercise
        assert mistakes and set(mistakes) == {"wrong"}, exercise


def test_a_class_defined_in_notebook_cells_gets_the_same_report_in_process():
    import contextlib
    import linecache

    from tests.test_enginecheck import NOTEBOOK_CELLS

    namespace: dict[str, object] = {"__name__": "__main__"}
    for i, cell in enumerate(NOTEBOOK_CELLS):
        name = f"/tmp/ipykernel_1/cell{i}.py"  # as IPython names cells; kept in linecache
        linecache.cache[name] = (len(cell), None, cell.splitlines(True), name)
        with contextlib.suppress(SystemExit):
            exec(compile(cell, name, "exec"), namespace)
    for cls in (namespace["Value"], namespace["Overwriting"]):
        child = check_engine(cls, examples=FEW, budget=AMPLE, isolation="process")  # type: ignore[arg-type]
        here = check_engine(cls, examples=FEW, budget=AMPLE, isolation="in-process")  # type: ignore[arg-type]
        assert _findings(here) == _findings(child)
        assert not here.ok  # each has its planted bug (tanh's rule, = for +=)
