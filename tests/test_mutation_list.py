"""benchmarks/mutation_check.py's list: every breakage applies (its text occurs once) and leaves
Python that compiles, so that "caught" means a test failed and not that nothing could run."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
_SPEC = importlib.util.spec_from_file_location(
    "mutation_check", _ROOT / "benchmarks" / "mutation_check.py"
)
assert _SPEC is not None and _SPEC.loader is not None
mutation_check = importlib.util.module_from_spec(_SPEC)
sys.modules["mutation_check"] = mutation_check  # where its dataclass looks itself up
_SPEC.loader.exec_module(mutation_check)


def test_every_breakage_applies_once_and_compiles():
    """Found: one breakage of the walk turned a line into a syntax error, so its tests failed to
    import and the check counted it caught, with no failing test named; and a change that
    re-indented a function left another breakage's text nowhere in its file."""
    problems = []
    texts: dict[str, str] = {}
    for mutation in mutation_check.MUTATIONS:
        if mutation.path not in texts:
            texts[mutation.path] = (_ROOT / mutation.path).read_text(encoding="utf-8")
        text = texts[mutation.path]
        if text.count(mutation.old) != 1:
            problems.append(f"not once in {mutation.path}: {mutation.name}")
        elif mutation.path.endswith(".py"):
            try:
                compile(text.replace(mutation.old, mutation.new), mutation.path, "exec")
            except SyntaxError as error:
                problems.append(f"does not compile ({error}): {mutation.name}")
    assert problems == []


def test_the_readmes_count_of_breakages_is_the_lists():
    """The README says how many breakages the check applies; a stale count went unnoticed for
    a session (417 said, 421 listed)."""
    readme = (_ROOT / "README.md").read_text(encoding="utf-8")
    said = re.findall(r"applies ([\d,]+) deliberate breakages", readme)
    assert said == [f"{len(mutation_check.MUTATIONS):,}"]
