"""Build the static playground in ``site/``: ``python playground/build_site.py`` (``make site``).

``site/`` gets the pinned Pyodide core from npm (interpreter and standard library, nothing from a
CDN), this project's wheel, and the page. Serve it with
``python3 -m http.server --bind 127.0.0.1 -d site``.

``--output PATH`` builds elsewhere. Every build (this one and ``build_lite.py``) is made in a fresh
folder next to the output and renamed into place only when it is complete, so a failed build
leaves the old site as it was. An existing output is replaced only if it is a real folder (not a
symbolic link) holding the ``.microgradx-build`` file a previous build wrote; anything else (a
file, a link, ``.``, a folder of yours) is refused with one line naming ``--output``, and nothing
is deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SITE = ROOT / "site"
# Written into every finished build: only a folder holding it is ever replaced by a new build.
MARKER = ".microgradx-build"
PYODIDE_FILES = [
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
    "package.json",
]


class OutputError(ValueError):
    """The output path names something a build must not replace; nothing was deleted."""


class ToolError(RuntimeError):
    """A program the build runs is missing or failed; the message names it and what it was for."""


def output_path(path: str | Path) -> Path:
    """``path`` made absolute with its folder's links resolved (the last part is kept as given,
    so a symbolic link there is seen as a link). Raises ``OutputError`` if a build must not
    replace what is there: anything but nothing or a folder a previous build made (one holding
    ``MARKER``), and never the current folder, the repository or a folder containing either."""
    given = Path(os.path.abspath(path))
    if given.parent == given:
        raise OutputError(f"{path} is the root folder; refusing to replace it")
    target = Path(os.path.realpath(given.parent)) / given.name
    protected = {Path.cwd().resolve(), ROOT.resolve()}
    if any(target == p or target in p.parents for p in protected):
        raise OutputError(
            f"{path} is the current folder, the repository or a folder containing one;"
            " refusing to replace it (give a new folder, e.g. lite/ or site/)"
        )
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target
    if stat.S_ISLNK(mode):
        raise OutputError(f"{path} is a symbolic link; refusing to replace it or its target")
    if not stat.S_ISDIR(mode):
        raise OutputError(f"{path} exists and is not a folder; refusing to replace it")
    try:
        marked = stat.S_ISREG(os.lstat(target / MARKER).st_mode)
    except FileNotFoundError:
        marked = False
    if not marked:
        raise OutputError(
            f"{path} is a folder this build did not make (no {MARKER} in it); refusing to"
            " replace it (remove it yourself if it is an old build)"
        )
    return target


def build_into(output: Path, kind: str, make: Callable[[Path], None]) -> None:
    """Run ``make(folder)`` on a fresh folder next to ``output``, then put it in ``output``'s
    place (``output`` is checked by ``output_path`` before and again just before the swap). If
    ``make`` fails or is interrupted, the fresh folder is removed and ``output`` is untouched."""
    target = output_path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".building", dir=target.parent))
    try:
        fresh = work / target.name
        fresh.mkdir()
        make(fresh)
        (fresh / MARKER).write_text(f"{kind}: made by playground/build_{kind}.py\n")
        target = output_path(output)  # still nothing, or still a previous build
        if target.exists():
            # two renames in one folder: a reader never sees a half-copied site
            os.replace(target, work / "previous")
        os.replace(fresh, target)
    finally:
        shutil.rmtree(work)  # made by mkdtemp above: ours, holding only the build or the old one


def write_json(path: Path, data: object, indent: int | None = None) -> None:
    """``data`` as JSON into ``path`` atomically (a temporary file in its folder, then
    ``os.replace``): the path holds the old file or the whole new one, never half."""
    text = json.dumps(data, indent=indent, allow_nan=False) + "\n"
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def output_argument(text: str) -> Path:
    """``--output``'s argparse type: the checked path (``output_path``), or its one-line error."""
    try:
        return output_path(text)
    except OutputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def pyodide_core() -> Path:
    """The pinned Pyodide core (package.json here), installed from npm on first use: its folder."""
    core = HERE / "node_modules" / "pyodide"
    if not (core / "pyodide.mjs").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise ToolError(
                "npm is needed once, to fetch the Pyodide core pinned in playground/package.json:"
                " install Node.js 18 or newer with npm (Debian: apt-get install npm)"
            )
        run([npm, "ci", "--no-audit", "--no-fund"], "npm ci (the pinned Pyodide core)", cwd=HERE)
    return core


def run(command: list[str], what: str, cwd: Path | None = None) -> None:
    """Run ``command`` (its output shown as it goes); ``ToolError`` naming ``what`` if it fails."""
    try:
        result = subprocess.run(command, cwd=cwd)
    except OSError as error:  # not found or not executable
        raise ToolError(f"{what}: {command[0]} could not run ({error.strerror})") from None
    if result.returncode != 0:
        raise ToolError(f"{what} failed with exit status {result.returncode} (its output is above)")


def copy_pyodide_core(dest: Path) -> None:
    """The interpreter, standard library and lock of the pinned core into ``dest``."""
    core = pyodide_core()
    dest.mkdir(parents=True, exist_ok=True)
    for name in PYODIDE_FILES:
        shutil.copy(core / name, dest / name)


def build_wheel(dest: Path) -> Path:
    """This project's wheel, built into ``dest``: its path."""
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dest), str(ROOT)],
        "pip wheel (this project's wheel)",
    )
    (wheel,) = dest.glob("microgradx-*.whl")
    return wheel


def make_site(site: Path) -> None:
    """The playground's files into the empty folder ``site``."""
    copy_pyodide_core(site / "pyodide")
    wheel = build_wheel(site)
    for name in ("index.html", "playground.js", "playground.css"):
        shutil.copy(HERE / name, site / name)
    write_json(site / "manifest.json", {"wheel": wheel.name})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=output_argument, default=SITE, help="default: site/")
    args = parser.parse_args(argv)
    try:
        build_into(args.output, "site", make_site)
    except OutputError as error:  # changed while building
        parser.error(f"argument --output: {error}")
    except ToolError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")
    size = sum(p.stat().st_size for p in args.output.rglob("*") if p.is_file())
    name = args.output.name
    print(
        f"{name}/ built: {size / 1e6:.1f} MB; serve it with:"
        f" python3 -m http.server --bind 127.0.0.1 -d {name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
