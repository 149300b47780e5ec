"""Checked exercises for the course notebooks: a right answer, a named mistake, or not yet answered.

Each exercise has an id (``"01.tanh_neuron_dw"``: the notebook's number and a name), a statement, a
placeholder the learner replaces (``answer = ...``: ``Ellipsis`` means *not answered yet*) and a
check. ``check(id, answer)`` prints one line and returns a :class:`Result`:

- ``not answered``: the answer is still ``...``;
- ``right``: the answer equals the exercise's reference, computed here with the engine (a
  ``Value`` graph and ``backward()``, an optimizer's ``step()``, ``losses``, ``Dual``), within the
  exercise's tolerance: relative ``1e-6`` unless the exercise sets another, and absolute
  ``1e-3`` times that near 0 (``math.isclose``);
- ``wrong``: with a *specific* hint when the answer equals one of the exercise's named mistakes
  (a wrong sign, a missing factor f'(z), a and z swapped, a transposed W, off by the learning
  rate, ...). Each mistake is evaluated the same way as the reference (with the engine where
  the reference uses it) and compared; an answer that matches none gets a general hint (the
  expected shape, never the answer);
- ``error``: a function answer raised on one of the exercise's inputs (the exception is named).

Answers are numbers, lists (vectors), lists of lists (matrices), tuples of those, or functions
(e.g. the learner's ``linear_backward(W, x, g)``), which are called on several inputs and each
output compared. A ``Value`` given where a number is asked for is named as such.

Every check of a process is kept (the last per id), so a teacher can run a learner's filled
notebook and collect them all: :func:`grade_notebook` (or ``python -m microgradx.exercises grade
notebook.ipynb --out checks.json``) runs it with nbclient and returns or writes the JSON of every
exercise of that notebook; :func:`catalogue` lists the exercises, their statements and hints.
See docs/exercises.md.

The package: ``core`` (an exercise, its check and result), ``arithmetic`` (the learner's plain
arithmetic the mistakes reuse), ``notebook00`` ... ``notebook09`` (each notebook's exercises),
``course`` (all of them, ``EXERCISES``), ``session`` (``check``, ``session``, ``catalogue``),
``grading`` (``grade_notebook``) and ``command`` (``python -m microgradx.exercises``). Checking
needs only the standard library and the engine (no subprocess, no NumPy, no file but the
package's own data), so the exercises run in JupyterLite as they do in CPython.
"""

from microgradx.exercises.command import main
from microgradx.exercises.core import Exercise, Mistake, Result, Status
from microgradx.exercises.core import _all_close as _all_close  # for the tests
from microgradx.exercises.course import EXERCISES
from microgradx.exercises.grading import Graded, grade_notebook
from microgradx.exercises.session import _SESSION as _SESSION  # the tests clear it
from microgradx.exercises.session import catalogue, check, session, session_json

__all__ = [
    "EXERCISES",
    "Exercise",
    "Graded",
    "Mistake",
    "Result",
    "Status",
    "catalogue",
    "check",
    "grade_notebook",
    "main",
    "session",
    "session_json",
]
