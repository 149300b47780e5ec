"""The step-through as plain text, for a terminal: a renderer that reads only the scene.

``text_frame(scene, i)`` is step ``i`` as lines of text: the equation, then every box (not the
op circles) with its lines and its grad line at that step, marked as the page marks it::

    step 1 of 3
    dL/dc += dL/dL * ∂L/∂c = 1.0000 * 1.0000 = 1.0000
    > L       data -8   grad 1      (current)
    < c       data 4    grad 1      (gets gradient)
    . a       data 2    grad 0      (not reached yet)

It needs nothing but a ``viz.scene.Scene`` (no Value, no recording), as any renderer of the
step-through should.
"""

from __future__ import annotations

from microgradx import checks
from microgradx.viz.scene import Scene, step_counter

_SIGNS = {"current": ">", "child": "<", "pending": "."}
_WORDS = {"current": "current", "child": "gets gradient", "pending": "not reached yet"}


def text_frame(scene: Scene, i: int) -> str:
    """Step ``i`` of ``scene`` (counted as a list's index) as text, headed ``step i + 1 of n``
    (steps are shown counted from 1 to n, as the page's counter and the table count them);
    ValueError/TypeError naming ``i`` outside ``-len(steps)`` to ``len(steps) - 1``."""
    checks.instance(scene, "scene", Scene, "Scene")
    i = checks.index(i, "i", len(scene.steps))
    marks, texts = scene.state(i)
    step = scene.steps[i]
    rows: list[list[str]] = []
    signs: list[str] = []
    words: list[str] = []
    for box in scene.boxes:
        if box.kind == "op":
            continue
        mark = marks.get(box.id, "")
        cells = [
            texts.get(box.id, line) if k == box.grad_line else line
            for k, line in enumerate(box.lines)
        ]
        rows.append(cells)
        signs.append(_SIGNS.get(mark, " "))
        words.append(f"({_WORDS[mark]})" if mark in _WORDS else "")
    widths = [max(len(r[k]) for r in rows if k < len(r)) for k in range(max(map(len, rows)))]
    lines = [step_counter(i, len(scene.steps)), step.equation]
    for sign, cells, word in zip(signs, rows, words):
        padded = "  ".join(cell.ljust(widths[k]) for k, cell in enumerate(cells))
        lines.append(f"{sign} {padded}  {word}".rstrip())
    return "\n".join(lines)


def text_frames(scene: Scene) -> str:
    """Every step of ``scene``, one ``text_frame`` after another, a blank line between."""
    checks.instance(scene, "scene", Scene, "Scene")
    return "\n\n".join(text_frame(scene, i) for i in range(len(scene.steps)))
