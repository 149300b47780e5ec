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


def pyodide_core() -> Path:
    """The pinned Pyodide core (package.json here), installed from npm on first use: its folder."""
    core = HERE / "node_modules" / "pyodide"
    if not (core / "pyodide.mjs").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    return core


def copy_pyodide_core(dest: Path) -> None:
    """The interpreter, standard library and lock of the pinned core into ``dest``."""
    core = pyodide_core()
    dest.mkdir(parents=True, exist_ok=True)
    for name in PYODIDE_FILES:
        shutil.copy(core / name, dest / name)


def build_wheel(dest: Path) -> Path:
    """This project's wheel, built into ``dest``: its path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dest), str(ROOT)],
        check=True,
    )
    (wheel,) = dest.glob("microgradx-*.whl")
    return wheel


def main() -> int:
    if SITE.exists():
        shutil.rmtree(SITE)
    copy_pyodide_core(SITE / "pyodide")
    wheel = build_wheel(SITE)
    for name in ("index.html", "playground.js", "playground.css"):
        shutil.copy(HERE / name, SITE / name)
    (SITE / "manifest.json").write_text(json.dumps({"wheel": wheel.name}, allow_nan=False))
    size = sum(p.stat().st_size for p in SITE.rglob("*") if p.is_file())
    print(f"site/ built: {size / 1e6:.1f} MB; serve it with: python -m http.server -d site")
    return 0


if __name__ == "__main__":
    sys.exit(main())
