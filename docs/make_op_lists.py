"""Write docs/ops.md and the README's op list from the op table (microgradx/ops.py).

Run from the repository root: ``python docs/make_op_lists.py``. tests/test_ops_table.py fails
while either is stale.
"""

from __future__ import annotations

from pathlib import Path

from microgradx.files import write_atomically
from microgradx.ops import markdown_table, readme_with_op_list

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    write_atomically(ROOT / "docs" / "ops.md", markdown_table().encode("utf-8"))
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    write_atomically(readme, readme_with_op_list(text).encode("utf-8"))


if __name__ == "__main__":
    main()
