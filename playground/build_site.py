"""Build the static playground in ``site/``: ``python playground/build_site.py`` (``make site``).

``site/`` gets the pinned Pyodide core from npm (interpreter and standard library, nothing from a
CDN), this project's wheel, and the page. Serve it with ``python -m http.server -d site``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SITE = ROOT / "site"
PYODIDE_FILES = [
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
    "package.json",
]


def main() -> int:
    if not (HERE / "node_modules" / "pyodide" / "pyodide.mjs").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    if SITE.exists():
        shutil.rmtree(SITE)
    (SITE / "pyodide").mkdir(parents=True)
    for name in PYODIDE_FILES:
        shutil.copy(HERE / "node_modules" / "pyodide" / name, SITE / "pyodide" / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(SITE), str(ROOT)],
        check=True,
    )
    (wheel,) = SITE.glob("microgradx-*.whl")
    for name in ("index.html", "playground.js", "playground.css"):
        shutil.copy(HERE / name, SITE / name)
    (SITE / "manifest.json").write_text(json.dumps({"wheel": wheel.name}, allow_nan=False))
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    print(f"site/ built: {size / 1e6:.1f} MB; serve it with: python -m http.server -d site")
    return 0


if __name__ == "__main__":
    sys.exit(main())
