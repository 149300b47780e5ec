"""docs/lectures.md maps every lecture topic to the notebook cell that reproduces it: every linked
cell exists (by its nbformat cell id), every topic the course promises has a row, and a row that
links nowhere says why it is left out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "docs" / "lectures.md"
LINK = re.compile(r"\]\(\.\./notebooks/([0-9]{2}_[a-z_]+\.ipynb)#([A-Za-z0-9_-]+)\)")

# The lectures' topics (the brief's course list and the gaps the course issue names); each must
# be the topic of some row (matched case-insensitively in the first column).
TOPICS = [
    "perceptron", "activation", "relu", "forward propagation", "depth collapses",
    "depth folding", "xor", "delta form", "nudge", "linear.backward", "losses", "l1",
    "sgd", "momentum", "adam", "weight decay", "input noise", "dropout", "early stopping",
    "forward mode", "jacobian", "control flow", "diagnostics", "initialisations",
    "random vs grid", "universal approximation", "titanic", "predicted 0.2", "digits",
    "p − t", "reverse topological",
]  # fmt: skip


def _rows() -> list[tuple[str, str]]:
    rows = []
    for line in MAP.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 2:
            continue
        if cells[0] == "Topic or worked example" or set(cells[0]) <= {"-"}:
            continue
        rows.append((cells[0], cells[1]))
    return rows


def _cell_ids(name: str) -> set[str]:
    path = ROOT / "notebooks" / name
    assert path.is_file(), name
    nb = json.loads(path.read_text(encoding="utf-8"))
    return {c["id"] for c in nb["cells"]}


ROWS = _rows()


def test_the_map_has_rows():
    assert len(ROWS) >= len(TOPICS)


@pytest.mark.parametrize("topic, where", ROWS, ids=[t[:40] for t, _ in ROWS])
def test_each_row_points_at_cells_that_exist_or_says_why_not(topic, where):
    links = LINK.findall(where)
    if where.startswith("Left out:"):
        assert not links and len(where.split()) >= 8, f"{topic}: give the reason in a sentence"
        return
    assert links, f"{topic}: no cell link and no reason ({where!r})"
    for name, cell in links:
        assert cell in _cell_ids(name), f"{topic}: {name} has no cell {cell!r}"


@pytest.mark.parametrize("topic", TOPICS)
def test_every_lecture_topic_has_a_row(topic):
    assert any(topic in t.lower() for t, _ in ROWS), topic


def test_a_missing_cell_or_an_empty_reason_would_fail(tmp_path):
    # the checks above are not vacuous: a made-up cell id is not among a notebook's cells
    assert "no-such-cell" not in _cell_ids("00_build_a_value.ipynb")
    assert LINK.findall("[x](../notebooks/00_build_a_value.ipynb#a-cell)") == [
        ("00_build_a_value.ipynb", "a-cell")
    ]
