"""The README's promise: on a fresh clone with nothing beside it, `make test` passes.

Nothing the tests or the package run may read the project's data folder that sits next to a
working checkout (the Titanic table one level up): a clone has no such neighbour. The package
ships its own data (``microgradx/datasets``); ``.ci/run`` runs the suite from a copy of the
checkout placed where nothing is beside it, and this test finds any new reference early (in code
and in comments alike: a comment naming that folder is how a reference starts).
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEIGHBOUR = "sha" + "red"  # spelled in two pieces so that this file does not match itself
# the folder one level up, its name as a quoted path piece, or followed by a slash
READS_THE_NEIGHBOUR = re.compile(
    rf"\.\./{NEIGHBOUR}\b|[\"']{NEIGHBOUR}[\"']|\b{NEIGHBOUR}/data\b|\b{NEIGHBOUR}/"
)
CODE = {".py", ".ipynb", ".js", ".json", ".toml", ".cfg", ".ini", ".sh", ".html"}
SKIP = {".git", ".venv", "site", "node_modules", "build", "__pycache__", ".hypothesis"}


def _files():
    for path in sorted(ROOT.rglob("*")):
        parts = path.relative_to(ROOT).parts
        if any(part in SKIP or part.endswith((".egg-info", "_cache")) for part in parts):
            continue
        if path.is_file() and (path.suffix in CODE or path.name in ("Makefile", "run")):
            yield path


def test_the_detector_finds_the_old_reference():
    old = 'TITANIC = Path(__file__).resolve().parents[2] / "' + NEIGHBOUR + '" / "data"'
    assert READS_THE_NEIGHBOUR.search(old)
    assert READS_THE_NEIGHBOUR.search("cp ../" + NEIGHBOUR + "/data/titanic.csv .")
    assert not READS_THE_NEIGHBOUR.search("a parameter shared by two modules")


def test_no_test_or_package_file_reads_the_folder_beside_the_checkout():
    files = list(_files())
    assert ROOT / "tests" / "test_data_train_io.py" in files  # the walk sees the tests
    assert ROOT / ".ci" / "run" in files and ROOT / "Makefile" in files
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if READS_THE_NEIGHBOUR.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert found == [], "read the package's own data instead:\n" + "\n".join(found)
