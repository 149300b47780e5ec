"""The course's checked exercises: every notebook run as shipped and with the solutions filled in,
and each exercise's hints unit-tested (a named mistake gives its hint, the reference is right, the
placeholder is not answered).

A notebook run takes a kernel (nbclient); each notebook runs twice, in its own test. A teacher's
export (docs/exercises.md: the grade command's JSON, and the pytest file) is run as documented on
notebook 00, filled in and as shipped.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from microgradx import exercises
from microgradx.exercises import EXERCISES, Exercise, Result, check, grade_notebook

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
STEMS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _solutions(stem: str) -> dict[str, str]:
    return json.loads((SOLUTIONS / f"{stem}.json").read_text(encoding="utf-8"))


def _exercise_cells(stem: str) -> list[str]:
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))
    return [c["metadata"]["exercise"] for c in nb["cells"] if "exercise" in c.get("metadata", {})]


# --- the course as a whole ------------------------------------------------------------------


def test_the_course_has_at_least_25_exercises_and_two_in_every_notebook():
    assert len(EXERCISES) >= 25
    for stem in STEMS:
        assert len(_exercise_cells(stem)) >= 2, stem


@pytest.mark.parametrize("stem", STEMS)
def test_each_exercise_has_one_learner_cell_one_check_and_one_solution(stem):
    number = stem[:2]
    ids = [e.id for e in EXERCISES.values() if e.notebook == number]
    assert sorted(_exercise_cells(stem)) == sorted(ids)  # one placeholder cell each
    assert sorted(_solutions(stem)) == sorted(ids)  # one solution each, none visible
    nb = json.loads((NOTEBOOKS / f"{stem}.ipynb").read_text(encoding="utf-8"))
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    for exercise in ids:
        assert sum(f'check("{exercise}"' in s for s in sources) == 1, exercise
    ids_of_cells = [c.get("id") for c in nb["cells"]]  # nbformat 4.5: every cell has its own
    assert None not in ids_of_cells and len(set(ids_of_cells)) == len(ids_of_cells)
    for c in nb["cells"]:
        if "exercise" in c.get("metadata", {}):
            # the placeholder: the learner replaces the ...
            assert "= ..." in "".join(c["source"]), c["metadata"]["exercise"]


def _copied(stem: str, folder: Path) -> Path:
    """The notebook copied into ``folder``: a run writes what its cells write next to the
    notebook (01 saves its step-through page), which must not land in the source tree."""
    copy = folder / f"{stem}.ipynb"
    shutil.copyfile(NOTEBOOKS / f"{stem}.ipynb", copy)
    return copy


@pytest.mark.parametrize("stem", STEMS)
def test_a_notebook_as_shipped_runs_and_every_check_says_not_answered(stem, tmp_path):
    graded = grade_notebook(_copied(stem, tmp_path), timeout=300)
    assert graded.errors == []
    assert graded.results, stem
    for result in graded.results:
        assert result.status == "not answered", result
        assert "never checked" not in result.message, result  # the check cell ran


@pytest.mark.parametrize("stem", STEMS)
def test_a_notebook_with_the_solutions_filled_in_passes_every_check(stem, tmp_path):
    graded = grade_notebook(_copied(stem, tmp_path), fill=_solutions(stem), timeout=300)
    assert graded.errors == []
    assert [r.status for r in graded.results] == ["right"] * len(graded.results), graded.results


def test_a_wrong_answer_in_a_notebook_gets_its_hint_and_a_raising_one_is_reported(tmp_path):
    stem = "01_backprop_by_hand"
    fill = _solutions(stem)
    fill["01.tanh_neuron_dw"] = "dy_dw = x.data   # forgot tanh'(z)"
    fill["01.logistic_dw"] = "dL_dw = 1 / 0"
    graded = grade_notebook(_copied(stem, tmp_path), fill=fill, timeout=300)
    by_id = {r.exercise: r for r in graded.results}
    assert by_id["01.tanh_neuron_dw"].mistake == "missing factor f'(z)"
    assert by_id["01.logistic_dw"].status == "not answered"  # its cell raised: never checked
    assert any("ZeroDivisionError" in e for e in graded.errors)
    assert by_id["01.reused_dL_da"].status == "right"


def test_checking_an_exercise_draws_nothing_from_manual_seeds_generator():
    """Notebook 03's references built a Neuron and an MLP from the default generator (then set
    their weights): a learner's manual_seed(0); check(...); MLP(...) got other weights than
    without the check, and which ones depended on what was checked first."""
    from microgradx import nn

    for exercise in EXERCISES.values():
        before = nn._generator.getstate()
        exercise.outputs(exercise.reference())
        for mistake in exercise.mistakes():
            exercise.outputs(mistake.answer)
        assert nn._generator.getstate() == before, exercise.id


# --- the hints, exercise by exercise ---------------------------------------------------------

CASES = [(e.id, m.name) for e in EXERCISES.values() for m, _ in e.named_mistakes()]


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_the_reference_is_right_and_the_placeholder_not_answered(exercise):
    e = EXERCISES[exercise]
    assert e.check(e.reference()).status == "right"
    assert e.check(...).status == "not answered"
    assert e.named_mistakes(), "an exercise names at least one mistake"


@pytest.mark.parametrize(("exercise", "mistake"), CASES)
def test_each_named_mistake_gets_its_own_hint(exercise, mistake):
    e = EXERCISES[exercise]
    (m,) = [m for m, _ in e.named_mistakes() if m.name == mistake]
    result = e.check(m.answer)
    assert result.status == "wrong"
    assert result.mistake == mistake
    assert m.hint in result.message


@pytest.mark.parametrize("exercise", sorted(EXERCISES))
def test_no_mistake_is_taken_for_the_right_answer_or_for_another_mistake(exercise):
    e = EXERCISES[exercise]
    outputs = [e._expected()] + [o for _, o in e.named_mistakes()]
    for i, a in enumerate(outputs):
        for b in outputs[i + 1 :]:
            assert not exercises._all_close(a, b, e.tolerance)


def test_numbers_lists_and_functions_are_compared_and_a_value_is_named():
    from microgradx import Value

    e = EXERCISES["01.tanh_neuron_dw"]
    right = e.reference()
    assert e.check(right * (1 + 1e-9)).status == "right"  # within the tolerance
    assert e.check(right * 1.01).status == "wrong"
    assert e.check(right * 1.01).mistake is None  # no named mistake: a general hint
    assert "Value" in e.check(Value(right)).message
    assert e.check(float("nan")).status == "wrong"
    assert e.check("-2.35").status == "wrong"
    vector = EXERCISES["04.delta1"]
    assert vector.check(vector.reference()[:2]).status == "wrong"  # a wrong length
    assert vector.check(tuple(vector.reference())).status == "right"

    class Hostile:
        def tolist(self):
            raise RuntimeError("no")

    deep: list = [1.0]
    for _ in range(100_000):
        deep = [deep]
    for odd in (Hostile(), deep, {"a": 1}, None, object()):  # never an exception, just wrong
        assert vector.check(odd).status == "wrong"
    fn = EXERCISES["04.linear_backward"]
    assert fn.check(42).message.startswith("give a function")
    assert fn.check(lambda W, x, g: ...).status == "not answered"
    raised = fn.check(lambda W, x, g: 1 / 0)
    assert raised.status == "error" and "ZeroDivisionError" in raised.message


def test_sys_exit_in_an_answer_is_reported_and_an_interrupt_still_stops_the_check(capsys):
    def exits(*args, **kwargs):
        sys.exit(4)

    result = check("00.numerical_slope", exits)  # check(): nothing raised, whatever the answer
    assert result.status == "error" and "sys.exit(4)" in result.message
    assert "sys.exit(4)" in capsys.readouterr().out

    class Unequal:  # an answer whose comparison exits is not equal
        def __eq__(self, other):
            sys.exit(5)

        def __float__(self):
            sys.exit(6)

    assert check("00.numerical_slope", lambda *a, **k: Unequal()).status == "wrong"

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no")

    def raises(*args, **kwargs):
        raise Unprintable

    assert "Unprintable" in check("00.numerical_slope", raises).message

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check("00.numerical_slope", interrupted)


def test_a_function_answer_is_called_on_every_case():
    e = EXERCISES["00.numerical_slope"]

    def right_on_the_first_case_only(f, x, h):
        central = (f(x + h) - f(x - h)) / (2 * h)
        return central if x == 2.0 else central + 1.0

    assert e.check(right_on_the_first_case_only).status == "wrong"


def test_check_prints_keeps_the_last_result_and_exports_json(capsys):
    exercises._SESSION.clear()
    result = check("09.parameter_count", 2368)
    assert capsys.readouterr().out.strip() == str(result)
    assert result.mistake == "no biases"
    check("09.parameter_count", 2410)
    (kept,) = exercises.session()
    assert kept.passed
    data = json.loads(exercises.session_json())
    assert data == [kept.to_dict()] and data[0]["status"] == "right"
    assert json.loads(kept.to_json())["exercise"] == "09.parameter_count"
    with pytest.raises(ValueError, match="exercise must be one of"):
        check("09.no_such_exercise", 1)
    exercises._SESSION.clear()


def test_the_html_of_a_result_is_escaped():
    result = Result("x<script>", "wrong", "<img src=x onerror=alert(1)>")
    markup = result._repr_html_()
    assert "<script>" not in markup and "<img" not in markup
    assert "&lt;img" in markup


def test_the_catalogue_lists_every_exercise_with_its_hints():
    listed = exercises.catalogue()
    assert [e["exercise"] for e in listed] == list(EXERCISES)
    assert all(e["mistakes"] and e["statement"] for e in listed)
    assert {e["notebook"] for e in exercises.catalogue("04")} == {"04"}


def test_the_command_line_writes_the_catalogue(tmp_path):
    out = tmp_path / "catalogue.json"
    assert exercises.main(["catalogue", "--notebook", "00", "--out", str(out)]) == 0
    assert [e["exercise"] for e in json.loads(out.read_text())] == [
        e.id for e in EXERCISES.values() if e.notebook == "00"
    ]


def test_an_exercise_computes_its_reference_once():
    calls = []

    def reference() -> float:
        calls.append(1)
        return math.pi

    e = Exercise("99.x", "pi", reference, lambda: [])
    for _ in range(3):
        e.check(3.0)
    assert len(calls) == 1


def test_an_unknown_notebook_number_is_refused_in_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        exercises.main(["catalogue", "--notebook", "4"])
    assert stop.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith(
            "notebook must be one of "
            + ", ".join(sorted({e.notebook for e in EXERCISES.values()}))
            + ", got '4'"
        )
    )


def test_a_renamed_notebook_is_graded_by_its_marked_cells_in_their_order(tmp_path):
    import shutil

    renamed = tmp_path / "alice.ipynb"  # a learner's file, renamed
    shutil.copy(NOTEBOOKS / "00_build_a_value.ipynb", renamed)
    graded = grade_notebook(renamed, fill={"00.df_da": "df_da = 7.0"}, timeout=300)
    in_order = ["00.dL_db", "00.numerical_slope", "00.do_dw2", "00.df_da"]
    assert [r.exercise for r in graded.results] == in_order  # the notebook's, not the catalogue's
    assert [r.status for r in graded.results] == ["not answered"] * 3 + ["right"]
    empty = tmp_path / "notes.ipynb"
    empty.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    with pytest.raises(ValueError, match="holds no exercise"):
        grade_notebook(empty)


def _notebook(folder: Path, name: str, sources: list[str]) -> Path:
    """A notebook of code cells, the first marked as exercise 00.df_da."""
    cells = [
        {"cell_type": "code", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for s in sources
    ]
    cells[0]["metadata"]["exercise"] = "00.df_da"
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    (folder / name).write_text(json.dumps(nb), encoding="utf-8")
    return folder / name


_ANSWER = "from microgradx.exercises import check\ncheck('00.df_da', 7.0)"


def test_a_cell_past_the_timeout_is_interrupted_listed_and_the_run_goes_on(tmp_path):
    """A learner's endless loop made nbclient raise CellTimeoutError: every check was lost and
    the command printed a traceback-like line. Now the cell is interrupted and listed, and the
    cells after it run, even after a cell that ignores the interrupt."""
    hangs = _notebook(tmp_path, "hangs.ipynb", [_ANSWER, "import time\ntime.sleep(600)", "1"])
    graded = grade_notebook(hangs, timeout=2)
    assert [r.status for r in graded.results] == ["right"]
    assert graded.errors == ["cell 1: TimeoutError: it ran longer than 2 s and was interrupted"]
    stubborn = "while True:\n try:\n  time.sleep(600)\n except KeyboardInterrupt:\n  pass"
    ignores = _notebook(tmp_path, "ignores.ipynb", [_ANSWER, "import time\n" + stubborn])
    graded = grade_notebook(ignores, timeout=1.5)  # whole seconds for nbclient: 2
    assert [r.status for r in graded.results] == ["not answered"]  # the check cell timed out too
    assert graded.errors[0] == "cell 1: TimeoutError: it ran longer than 1.5 s and was interrupted"


def test_a_kernel_that_dies_is_listed_and_the_grade_still_comes_back(tmp_path):
    """os._exit() in a cell killed the kernel and grade_notebook raised nbclient's
    DeadKernelError (a RuntimeError the command did not catch: a traceback)."""
    dies = _notebook(tmp_path, "dies.ipynb", [_ANSWER, "import os\nos._exit(0)", "1"])
    graded = grade_notebook(dies, timeout=60)
    assert [r.status for r in graded.results] == ["not answered"]
    assert len(graded.errors) == 1 and graded.errors[0].startswith("the kernel died in cell 1 (")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ('{"cells": [', "is not a Jupyter notebook: NotJSONError"),
        ("[]", "is not a Jupyter notebook"),
        ('{"cells": 5}', "is not a Jupyter notebook"),
        ("[" * 100_000, "is not a Jupyter notebook"),
        (b"\xff\xfe", "is not a Jupyter notebook: UnicodeDecodeError"),
        ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{}]}', "not a Jupyter"),
    ],
)
def test_a_file_that_is_not_a_notebook_is_one_value_error_naming_it(content, says, tmp_path):
    """Each of these raised whatever nbformat ran into (AttributeError, TypeError,
    RecursionError, jsonschema's ValidationError), before any kernel starts."""
    bad = tmp_path / "bad.ipynb"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=says) as refused:
        grade_notebook(bad)
    assert str(refused.value).startswith(f"{bad} is not") and "\n" not in str(refused.value)


def test_a_fifo_a_folder_and_bad_arguments_are_refused_before_any_kernel(tmp_path):
    from microgradx.files import NotARegularFileError

    fifo = tmp_path / "fifo.ipynb"
    os.mkfifo(fifo)
    with pytest.raises(NotARegularFileError, match="FIFO"):  # it waited forever for a writer
        grade_notebook(fifo)
    with pytest.raises(NotARegularFileError):
        grade_notebook(tmp_path)
    good = _notebook(tmp_path, "good.ipynb", [_ANSWER])
    for timeout in (math.nan, 0, -1.0):  # int(nan) raised Python's own ValueError
        with pytest.raises(ValueError, match="timeout must be in"):
            grade_notebook(good, timeout=timeout)
    with pytest.raises(TypeError, match="timeout must be a real number"):
        grade_notebook(good, timeout="60")
    with pytest.raises(TypeError, match=r"fill\['00.df_da'\] must be a str"):
        grade_notebook(good, fill={"00.df_da": 7.0})
    with pytest.raises(TypeError, match="fill must be a dict"):
        grade_notebook(good, fill=["00.df_da"])
    with pytest.raises(ValueError, match=r"fill has source for '00\.dL_db', but no cell"):
        grade_notebook(good, fill={"00.dL_db": "x = 1"})  # a typo graded nothing, silently


def test_a_cell_marked_with_a_list_is_no_exercise_and_never_a_type_error(tmp_path):
    nb = _notebook(tmp_path, "notes.ipynb", ["x = 1"])
    data = json.loads(nb.read_text(encoding="utf-8"))
    data["cells"][0]["metadata"]["exercise"] = ["00.df_da"]  # hand-edited: unhashable
    nb.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="holds no exercise"):
        grade_notebook(nb, fill={})


def test_output_that_looks_like_the_marker_carries_no_checks():
    from microgradx.exercises.grading import _checks_in

    assert _checks_in("not json") == []
    assert _checks_in('{"exercise": "00.df_da"}') == []
    assert _checks_in('[{"exercise": 1}, 5]') == []
    right = {"exercise": "00.df_da", "status": "right", "message": "right", "mistake": None}
    assert _checks_in(json.dumps([right, {"exercise": "x"}])) == [right]


# --- a teacher's export (docs/exercises.md): the command's JSON, and the pytest file ------------

FAST = "00_build_a_value"  # the notebook the export tests run (each run starts a kernel)


def _submission(folder: Path, fill: dict[str, str], name: str = f"{FAST}.ipynb") -> Path:
    """The notebook as a learner hands it in: its marked cells replaced by ``fill``'s source."""
    nb = json.loads((NOTEBOOKS / f"{FAST}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        exercise = cell.get("metadata", {}).get("exercise")
        if exercise in fill:
            cell["source"] = fill[exercise]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(nb), encoding="utf-8")
    return folder / name


def _grade_command(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "microgradx.exercises", "grade", *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )


def test_the_documented_grade_command_exports_a_filled_and_a_shipped_notebook(tmp_path):
    ids = [e.id for e in EXERCISES.values() if e.notebook == FAST[:2]]
    filled = _submission(tmp_path / "alice", _solutions(FAST))
    done = _grade_command(str(filled), "--out", str(tmp_path / "alice-00.json"))
    assert done.returncode == 0, done.stderr
    graded = json.loads((tmp_path / "alice-00.json").read_text(encoding="utf-8"))
    assert (graded["notebook"], graded["errors"]) == (f"{FAST}.ipynb", [])
    assert graded["passed"] == graded["total"] == len(ids)
    assert sorted(r["exercise"] for r in graded["results"]) == sorted(ids)
    assert {(r["status"], r["passed"], r["mistake"]) for r in graded["results"]} == {
        ("right", True, None)
    }
    shipped = _grade_command(str(NOTEBOOKS / f"{FAST}.ipynb"))  # to stdout
    assert shipped.returncode == 0, shipped.stderr
    graded = json.loads(shipped.stdout)
    assert (graded["passed"], graded["total"], graded["errors"]) == (0, len(ids), [])
    assert {r["status"] for r in graded["results"]} == {"not answered"}
    missing = _grade_command(str(tmp_path / "nobody.ipynb"))
    assert missing.returncode == 2 and missing.stdout == ""
    assert len(missing.stderr.strip().splitlines()) == 1 and "nobody.ipynb" in missing.stderr


def _documented_pytest_file() -> str:
    docs = (ROOT / "docs" / "exercises.md").read_text(encoding="utf-8")
    section = docs.split("### With pytest")[1]
    return section.split("```python\n")[1].split("```")[0]


def test_the_documented_pytest_file_makes_each_exercise_a_test(pytester):
    fill = _solutions(FAST)
    unanswered = sorted(fill)[0]
    del fill[unanswered]  # this one left as shipped: its test fails with the check's message
    _submission(pytester.path, fill, "submission.ipynb")
    pytester.makepyfile(test_submission=_documented_pytest_file())
    pytester._monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-rA")
    ids = sorted(e.id for e in EXERCISES.values() if e.notebook == FAST[:2])
    assert result.ret == 1
    outcomes = result.parseoutcomes()
    assert (outcomes["passed"], outcomes["failed"]) == (len(ids), 1)  # and test_every_cell_ran
    result.stdout.fnmatch_lines([f"FAILED test_submission.py::test_exercise[[]{unanswered}[]]*"])
    result.stdout.fnmatch_lines(["*not answered yet*"])
    lines = result.stdout.lines
    for exercise in ids:
        if exercise != unanswered:
            assert f"PASSED test_submission.py::test_exercise[{exercise}]" in lines, exercise


def test_an_unknown_wrong_number_is_not_told_it_should_be_a_number():
    # the hint describes the answer's kind, not the learner's (a number is not "expected a number")
    result = check("01.tanh_neuron_dw", 123.0)
    assert result.status == "wrong" and "expected a number" not in result.message
    assert "the answer is a number" in result.message
