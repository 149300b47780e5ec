"""Grading a learner's notebook: run it top to bottom (nbclient) and collect every check.

``grade_notebook(path)`` returns a ``Graded`` (its JSON is what ``python -m microgradx.exercises
grade`` writes). Needs nbclient and ipykernel (the ``test`` extra), imported when called.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microgradx.checks import in_range, mapping, path, text
from microgradx.exercises.core import Exercise, Result
from microgradx.exercises.course import EXERCISES
from microgradx.files import read_regular

_MARKER = "MICROGRADX-EXERCISES-JSON:"  # the line that carries the kernel's checks out
_TIMED_OUT = "microgradx-grading-timeout"  # the error nbclient reports for a cell it interrupted


@dataclass(frozen=True)
class Graded:
    """A notebook run: the result of every exercise of that notebook, and the cells that raised."""

    notebook: str
    results: list[Result]
    errors: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "passed": sum(r.passed for r in self.results),
            "total": len(self.results),
            "results": [r.to_dict() for r in self.results],
            "errors": self.errors,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=1)


def _exercises_in(cells: list[Any], where: Path) -> list[Exercise]:
    """The exercises of a notebook, in its order: the cells marked ``"exercise": id`` (a learner
    may rename the file), else those of the notebook its name starts with (``04_...``)."""
    marked = [_marked(c) for c in cells]
    found = [EXERCISES[i] for i in dict.fromkeys(marked) if i in EXERCISES]
    if not found:
        number = where.name.split("_", 1)[0]
        found = [e for e in EXERCISES.values() if e.notebook == number]
    if not found:
        raise ValueError(
            f"notebook {where.name} holds no exercise: no cell is marked as one (its metadata"
            " 'exercise') and its name does not start with a course notebook's number (04_...)"
        )
    return found


def _marked(cell: Any) -> str | None:
    """The exercise id a cell's metadata marks it with; None for none, or for anything but a str
    (a hand-edited notebook may hold a list there, which no dict or set can be keyed by)."""
    metadata = cell.get("metadata")
    exercise = metadata.get("exercise") if isinstance(metadata, dict) else None
    return exercise if isinstance(exercise, str) else None


MAX_NOTEBOOK_BYTES = 64 << 20  # a notebook with its pictures; more is not a learner's notebook


def _read_notebook(where: Path) -> Any:
    """The notebook at ``where`` as nbformat version 4 (upgraded from an older version).

    Only a regular file is read (a FIFO is refused, not waited on), of at most
    ``MAX_NOTEBOOK_BYTES``. Anything that is not a notebook (not UTF-8, not JSON, nested too
    deeply, not of the notebook format) is a ``ValueError`` naming the file and what is wrong."""
    import nbformat

    raw = read_regular(where, MAX_NOTEBOOK_BYTES)
    try:
        return nbformat.reads(raw.decode("utf-8"), as_version=4)  # type: ignore[no-untyped-call]
    except Exception as error:  # nbformat reports a bad file with whatever its code runs into
        lines = str(error).strip().splitlines()
        # the message may quote the file: its first line, clipped, control characters written out
        detail = (
            "".join(c if c.isprintable() else repr(c)[1:-1] for c in lines[0][:200])
            if lines
            else ""
        )
        raise ValueError(
            f"{where} is not a Jupyter notebook: {type(error).__name__}"
            + (f": {detail}" if detail else "")
        ) from None


def _checked_fill(fill: Any) -> dict[str, str]:
    if fill is None:
        return {}
    items = mapping(fill, "fill")
    for key, source in items.items():
        text(key, "fill's keys (exercise ids)")
        text(source, f"fill[{key!r}]")
    return dict(items)


def grade_notebook(
    notebook: str | Path,
    *,
    fill: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> Graded:
    """Run ``notebook`` (a learner's filled copy) top to bottom and collect every check.

    ``fill`` maps exercise ids to source that replaces the cell whose metadata says
    ``"exercise": id`` (the tests put the solutions in this way). A cell that raises does not
    stop the run (its error is listed), nor does one that runs longer than ``timeout`` seconds
    (``math.inf``: no limit): it is interrupted and listed, and the run goes on. If the kernel
    dies (``os._exit()``, a crash, out of memory), that is listed and the checks it held are
    lost. An exercise of the notebook never checked counts as ``not answered``. Needs nbclient
    and ipykernel (``pip install 'microgradx[test]'``).

    Raises ``TypeError``/``ValueError`` for a ``fill`` that is not a dict of str to str or names
    an exercise no cell of the notebook is marked with, a ``timeout`` not in (0, inf], and a
    file that is not a notebook (``ValueError`` naming it); ``OSError`` for a file that cannot
    be read, ``NotARegularFileError`` for a folder, a FIFO or a device.
    """
    where = path(notebook, "notebook")
    fills = _checked_fill(fill)
    timeout = in_range(timeout, "timeout", 0.0, math.inf, low_open=True)
    try:
        import nbclient  # noqa: F401 (only whether it is there: _run imports what it uses)
        import nbformat
    except ImportError as error:  # pragma: no cover - the test extra has both
        raise ImportError(
            "grade_notebook needs nbclient and nbformat: pip install 'microgradx[test]'"
        ) from error
    nb = _read_notebook(where)
    unmatched = set(fills) - {_marked(cell) for cell in nb.cells}
    if unmatched:
        raise ValueError(
            f"fill has source for {', '.join(sorted(map(repr, unmatched)))}, but no cell of"
            f" {where.name} is marked with that exercise (its metadata 'exercise')"
        )
    for cell in nb.cells:
        exercise = _marked(cell)
        if exercise in fills:
            cell.source = fills[exercise]
    nb.cells.append(
        nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
            "from microgradx import exercises as _mgx_exercises\n"
            f"print({_MARKER!r} + _mgx_exercises.session_json())"
        )
    )
    errors, checked = _run(nb, where, timeout)
    seen = {r["exercise"]: r for r in checked}
    results = []
    for e in _exercises_in(nb.cells, where):
        r = seen.get(e.id)
        if r is None:
            results.append(
                Result(e.id, "not answered", "never checked (the check cell did not run)")
            )
        else:
            results.append(Result(r["exercise"], r["status"], r["message"], r["mistake"]))
    return Graded(where.name, results, errors)


def _run(nb: Any, where: Path, timeout: float) -> tuple[list[str], list[dict[str, Any]]]:
    """Run ``nb`` in a kernel (in the folder of ``where``): the errors to list, and the checks
    the last marker line carried."""
    from nbclient import NotebookClient
    from nbclient.exceptions import DeadKernelError

    seconds = None if math.isinf(timeout) else math.ceil(timeout)  # nbclient counts whole seconds
    running: list[int] = []  # the cells sent to the kernel, in order
    timed_out: set[int] = set()

    def sent(cell: Any, cell_index: int) -> None:
        running.append(cell_index)

    def failed(cell: Any, cell_index: int, execute_reply: Any) -> None:
        if execute_reply.get("content", {}).get("ename") == _TIMED_OUT:
            timed_out.add(cell_index)

    client = NotebookClient(
        nb,
        timeout=seconds,
        allow_errors=True,
        # A cell past the timeout is interrupted and listed, and the run goes on (nbclient would
        # raise, losing every check). Its reply is not awaited: a cell that ignores the
        # interrupt costs at most the timeout again for each cell after it.
        interrupt_on_timeout=True,
        error_on_timeout={"ename": _TIMED_OUT, "evalue": ""},
        on_cell_execute=sent,
        on_cell_error=failed,
        resources={"metadata": {"path": str(where.resolve().parent)}},
    )
    errors: list[str] = []
    checked: list[dict[str, Any]] = []
    try:
        client.execute()
    except DeadKernelError:
        at = f" in cell {running[-1]}" if running else ""
        errors.append(
            f"the kernel died{at} (os._exit(), a crash or out of memory): the cells after it did"
            " not run, and the checks it held are lost"
        )
    for index, cell in enumerate(nb.cells):
        if index in timed_out:
            errors.append(
                f"cell {index}: TimeoutError: it ran longer than {timeout:g} s and was interrupted"
            )
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                if index not in timed_out:  # (the interrupt's KeyboardInterrupt, if it came)
                    errors.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream":
                for line in output.get("text", "").splitlines():
                    if line.startswith(_MARKER):
                        checked = _checks_in(line[len(_MARKER) :])
    return errors, checked


_RESULT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "exercise": str,
    "status": str,
    "message": str,
    "mistake": (str, type(None)),
}


def _checks_in(line: str) -> list[dict[str, Any]]:
    """The results a marker line carries: a JSON list of ``Result.to_dict()``; anything else
    (the learner's own output that starts like the marker) carries none."""
    try:
        results = json.loads(line)
    except (ValueError, RecursionError):
        return []
    if not isinstance(results, list):
        return []
    return [
        r
        for r in results
        if isinstance(r, dict)
        and all(isinstance(r.get(k), kind) for k, kind in _RESULT_FIELDS.items())
    ]
