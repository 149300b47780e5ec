"""Grading a learner's notebook: run it top to bottom (nbclient) and collect every check.

``grade_notebook(path)`` returns a ``Graded`` (its JSON is what ``python -m microgradx.exercises
grade`` writes). Needs nbclient and ipykernel (the ``test`` extra), imported when called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microgradx.checks import path, real
from microgradx.exercises.core import Exercise, Result
from microgradx.exercises.course import EXERCISES

_MARKER = "MICROGRADX-EXERCISES-JSON:"  # the line that carries the kernel's checks out


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
    marked = [c.get("metadata", {}).get("exercise") for c in cells]
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


def grade_notebook(
    notebook: str | Path,
    *,
    fill: dict[str, str] | None = None,
    timeout: float = 600.0,
) -> Graded:
    """Run ``notebook`` (a learner's filled copy) top to bottom and collect every check.

    ``fill`` maps exercise ids to source that replaces the cell whose metadata says
    ``"exercise": id`` (the tests put the solutions in this way). A cell that raises does not
    stop the run (its error is listed); an exercise of the notebook never checked counts as
    ``not answered``. Needs nbclient and ipykernel (``pip install 'microgradx[test]'``).
    """
    where = path(notebook, "notebook")
    timeout = real(timeout, "timeout")
    try:
        import nbformat
        from nbclient import NotebookClient
    except ImportError as error:  # pragma: no cover - the test extra has both
        raise ImportError(
            "grade_notebook needs nbclient and nbformat: pip install 'microgradx[test]'"
        ) from error
    nb = nbformat.read(str(where), as_version=4)  # type: ignore[no-untyped-call]
    if fill:
        for cell in nb.cells:
            exercise = cell.get("metadata", {}).get("exercise")
            if exercise in fill:
                cell.source = fill[exercise]
    nb.cells.append(
        nbformat.v4.new_code_cell(  # type: ignore[no-untyped-call]
            "from microgradx import exercises as _mgx_exercises\n"
            f"print({_MARKER!r} + _mgx_exercises.session_json())"
        )
    )
    client = NotebookClient(
        nb,
        timeout=int(timeout),
        allow_errors=True,
        resources={"metadata": {"path": str(where.resolve().parent)}},
    )
    client.execute()
    errors, checked = [], []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
            elif output.get("output_type") == "stream":
                for line in output.get("text", "").splitlines():
                    if line.startswith(_MARKER):
                        checked = json.loads(line[len(_MARKER) :])
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
