"""The README's Python examples run as written."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = [
    textwrap.dedent(block)  # a block inside a list item is indented
    for block in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
]


def test_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples may write files
    namespace: dict[str, object] = {}
    exec(compile(BLOCKS[index], f"README.md example {index}", "exec"), namespace)
    for name, value in namespace.items():
        if name.startswith("test_") and callable(value):
            value()  # an example that shows a test: run it too


def test_the_first_look_prints_what_the_readme_says(capsys):
    namespace: dict[str, object] = {}
    exec(compile(BLOCKS[0], "README.md example 0", "exec"), namespace)
    assert capsys.readouterr().out.strip() == "1.000000"
    text = " ".join(README.read_text(encoding="utf-8").split())
    (shown,) = re.findall(r"`print\(w1\.grad\)` shows `([0-9.]+)`", text)
    assert repr(namespace["w1"].grad) == shown  # type: ignore[attr-defined]
