"""Every exercise of the course, by id (``"04.delta1"``), notebook by notebook in their order."""

from __future__ import annotations

import microgradx.exercises.notebook00 as notebook00
import microgradx.exercises.notebook01 as notebook01
import microgradx.exercises.notebook02 as notebook02
import microgradx.exercises.notebook03 as notebook03
import microgradx.exercises.notebook04 as notebook04
import microgradx.exercises.notebook05 as notebook05
import microgradx.exercises.notebook06 as notebook06
import microgradx.exercises.notebook07 as notebook07
import microgradx.exercises.notebook08 as notebook08
import microgradx.exercises.notebook09 as notebook09
from microgradx.exercises.core import Exercise

NOTEBOOKS = (
    notebook00,
    notebook01,
    notebook02,
    notebook03,
    notebook04,
    notebook05,
    notebook06,
    notebook07,
    notebook08,
    notebook09,
)


def _by_id() -> dict[str, Exercise]:
    found: dict[str, Exercise] = {}
    for module in NOTEBOOKS:
        for exercise in module.EXERCISES:
            if exercise.id in found:  # a copied exercise would hide the first one's check
                raise ValueError(f"two exercises have the id {exercise.id!r}")
            found[exercise.id] = exercise
    return found


EXERCISES: dict[str, Exercise] = _by_id()
