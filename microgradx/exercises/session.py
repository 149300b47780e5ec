"""Checking in a notebook: ``check(id, answer)`` prints one line and keeps the result;
``session()``/``session_json()`` give what this process checked, ``catalogue()`` every exercise.
"""

from __future__ import annotations

import json
from typing import Any

from microgradx.checks import text
from microgradx.exercises.core import Result
from microgradx.exercises.course import EXERCISES

_SESSION: dict[str, Result] = {}


def check(exercise: str, answer: Any) -> Result:
    """Check ``answer`` for ``exercise`` (an id of ``EXERCISES``), print the result, keep it.

    Returns the :class:`Result` (in a notebook, end the line with ``;`` so that it is not shown a
    second time). Whatever ``answer`` is, nothing is raised for it; ``TypeError`` for an id that
    is not a str and ``ValueError`` for an unknown id (a typo in the notebook, not the answer).
    """
    exercise = text(exercise, "exercise")
    if exercise not in EXERCISES:
        raise ValueError(f"exercise must be one of the ids in EXERCISES, got {exercise!r}")
    result = EXERCISES[exercise].check(answer)
    _SESSION[exercise] = result
    print(result)
    return result


def session() -> list[Result]:
    """The last result of each exercise checked in this process, in order of first check."""
    return list(_SESSION.values())


def session_json() -> str:
    return json.dumps([r.to_dict() for r in session()], ensure_ascii=False)


def catalogue(notebook: str | None = None) -> list[dict[str, Any]]:
    """Every exercise (of one notebook: ``"04"``): id, notebook, statement, mistakes and hints.

    Raises ValueError for a notebook number no exercise has (``"4"`` for ``"04"``), naming them."""
    numbers = sorted({e.notebook for e in EXERCISES.values()})
    if notebook is not None and notebook not in numbers:
        raise ValueError(f"notebook must be one of {', '.join(numbers)}, got {notebook!r}")
    return [
        {
            "exercise": e.id,
            "notebook": e.notebook,
            "statement": e.statement,
            "answer": e.shape,
            "mistakes": [{"name": m.name, "hint": m.hint} for m, _ in e.named_mistakes()],
        }
        for e in EXERCISES.values()
        if notebook is None or e.notebook == notebook
    ]
