"""Build the course as a JupyterLite site in ``lite/``: ``python playground/build_lite.py``
(``make lite``, which first installs the ``lite`` extra: jupyterlite-core, the Pyodide kernel and
jupyter_server, pinned in pyproject.toml).

``lite/`` is static files, served by any web server (``python3 -m http.server -d lite``):

- every notebook of ``notebooks/`` (``*.ipynb``), in JupyterLab and Jupyter Notebook;
- the Pyodide core pinned in ``playground/package.json`` (from npm, as ``make site``) in
  ``lite/pyodide/``, which the kernel loads instead of a CDN's;
- the wheels the kernel installs (micropip, IPython and its dependencies, jedi, comm) and
  hypothesis (for ``check_engine``, with sortedcontainers), downloaded
  from PyPI at the versions the core's ``pyodide-lock.json`` names (``comm``, which the lock lacks,
  at ``COMM``), and microgradx's own wheel, all added to that lock with the sha256 of the files
  shipped (PyPI's wheels are not byte-identical to Pyodide's builds, and Pyodide checks the hash),
  so a notebook's unchanged ``import microgradx`` loads it;
- every other package of the lock (numpy, matplotlib and what they need, which neither PyPI nor
  npm carry as Pyodide builds) points at Pyodide's own distribution of the pinned version,
  ``--pyodide-packages-url`` (a school that hosts its own copy gives its address). Offline, those
  fail to load and a plot says so in one line (``microgradx.viz.plots``); the rest runs.

Source maps are left out (half the size). Downloads are kept in ``build/lite-cache/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from build_site import ROOT, build_wheel, copy_pyodide_core, pyodide_core

LITE = ROOT / "lite"
CACHE = ROOT / "build" / "lite-cache"
NOTEBOOKS = ROOT / "notebooks"

# The pins of the site not in pyproject.toml's lite extra or playground/package.json (Pyodide):
COMM = "0.2.3"  # the kernel imports comm; the Pyodide lock does not have it
# microgradx.testing.check_engine (notebook 00) draws with hypothesis, which the lock lacks too;
# it comes with microgradx (a dependency in the lock), as the check extra does on CPython
HYPOTHESIS = "6.155.7"
# What the kernel installs at start (pyodide-kernel's initPackageManager and initKernel); their
# dependencies come from the lock.
KERNEL_PACKAGES = ("micropip", "ipython", "jedi")
# Pyodide's own distribution of a version: where the packages not shipped here load from.
PACKAGES_URL = "https://cdn.jsdelivr.net/pyodide/v{version}/full/"
KERNEL_SETTINGS = "@jupyterlite/pyodide-kernel-extension:kernel"
SOURCE_MAP_COMMENT = re.compile(rb"\n?//# sourceMappingURL=[^\n]*\s*$")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def closure(lock: dict[str, dict[str, object]], names: Iterable[str]) -> list[str]:
    """The lock's keys of ``names`` and of everything they depend on (the lock spells a name in
    ``depends`` as its project does: ``prompt_toolkit`` for the key ``prompt-toolkit``)."""
    keys = {canonical(key): key for key in lock}
    todo, seen = [keys[canonical(n)] for n in names], set()
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            depends = lock[key]["depends"]
            assert isinstance(depends, list)
            todo.extend(keys[canonical(str(d))] for d in depends)
    return sorted(seen)


def canonical(name: str) -> str:
    """A project name as PyPI compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pypi_wheel(name: str, version: str) -> Path:
    """The pure-Python wheel ``name==version`` from PyPI (kept in the cache)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[-_.]+", "_", name).lower()

    def cached() -> list[Path]:
        return [
            p
            for p in CACHE.glob("*.whl")
            if p.name.lower().startswith(f"{stem}-{version}-") and p.name.endswith("-none-any.whl")
        ]

    if not cached():
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--python-version", "3.14", "--implementation", "py",
             "-d", str(CACHE), f"{name}=={version}"],
            check=True,
        )  # fmt: skip
    found = cached()
    if len(found) != 1:
        raise SystemExit(f"expected one pure-Python wheel of {name} {version}, found {found}")
    return found[0]


def entry(name: str, version: str, wheel: Path, imports: list[str]) -> dict[str, object]:
    """A pyodide-lock.json package entry for a wheel shipped beside the lock."""
    return {
        "name": name,
        "version": version,
        "file_name": wheel.name,
        "install_dir": "site",
        "sha256": sha256(wheel),
        "package_type": "package",
        "imports": imports,
        "depends": [],
        "unvendored_tests": False,
        "tool": {},
    }


def rewrite_lock(pyodide_dir: Path, packages_url: str) -> list[str]:
    """Ship the kernel's wheels and microgradx's beside the lock, with their own sha256; point
    every other package at ``packages_url``. Returns the names shipped."""
    lock_path = pyodide_dir / "pyodide-lock.json"
    lock = json.loads(lock_path.read_text())
    packages: dict[str, dict[str, object]] = lock["packages"]
    hypothesis = pypi_wheel("hypothesis", HYPOTHESIS)
    packages["hypothesis"] = entry("hypothesis", HYPOTHESIS, hypothesis, ["hypothesis"])
    packages["hypothesis"]["depends"] = ["sortedcontainers"]
    shipped = closure(packages, [*KERNEL_PACKAGES, "sortedcontainers"])
    for name in shipped:
        package = packages[name]
        if not str(package["file_name"]).endswith("-none-any.whl"):
            raise SystemExit(f"{name} is not a pure-Python wheel: PyPI has no Pyodide build of it")
        wheel = pypi_wheel(str(package["name"]), str(package["version"]))
        shutil.copy(wheel, pyodide_dir / wheel.name)
        package["file_name"], package["sha256"] = wheel.name, sha256(wheel)
    comm = pypi_wheel("comm", COMM)
    shutil.copy(comm, pyodide_dir / comm.name)
    shutil.copy(hypothesis, pyodide_dir / hypothesis.name)
    packages["comm"] = entry("comm", COMM, comm, ["comm"])
    ours = build_wheel(pyodide_dir)
    version = ours.name.split("-")[1]
    packages["microgradx"] = entry("microgradx", version, ours, ["microgradx"])
    packages["microgradx"]["depends"] = ["hypothesis"]
    shipped += ["comm", "hypothesis", "microgradx"]
    for name, package in packages.items():
        if name not in shipped:
            package["file_name"] = packages_url + str(package["file_name"])
    lock_path.write_text(json.dumps(lock, indent=1, allow_nan=False) + "\n")
    return shipped


def drop_source_maps(site: Path) -> None:
    """Delete the ``.map`` files and the comments that point browsers' tools at them."""
    for path in site.rglob("*"):
        if path.suffix == ".map":
            path.unlink()
        elif path.suffix in (".js", ".mjs", ".css") and path.is_file():
            text = path.read_bytes()
            stripped = SOURCE_MAP_COMMENT.sub(b"\n", text)
            if stripped != text:
                path.write_bytes(stripped)


def build(output: Path, packages_url: str) -> None:
    core = pyodide_core()
    version = json.loads((core / "package.json").read_text())["version"]
    packages_url = packages_url.format(version=version)
    if not packages_url.endswith("/"):
        packages_url += "/"
    if output.exists():
        shutil.rmtree(output)
    with tempfile.TemporaryDirectory() as tmp:
        lite_dir, contents = Path(tmp) / "lite-dir", Path(tmp) / "contents"
        lite_dir.mkdir()
        contents.mkdir()
        for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
            shutil.copy(notebook, contents / notebook.name)
        config = {
            "jupyter-lite-schema-version": 0,
            "jupyter-config-data": {
                "appName": "microgradx course",
                # every cell in the page, not only those scrolled to: the browser's find
                # (Ctrl+F) then searches the whole notebook
                "settingsOverrides": {
                    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"}
                },
                "litePluginSettings": {
                    KERNEL_SETTINGS: {
                        # relative to this file (the site's root): the core shipped with it
                        "pyodideUrl": "./pyodide/pyodide.mjs",
                        # every package comes from the lock; none from PyPI at run time
                        "disablePyPIFallback": True,
                    }
                },
            },
        }
        (lite_dir / "jupyter-lite.json").write_text(json.dumps(config, indent=1))
        subprocess.run(
            [sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", str(lite_dir),
             "--contents", str(contents), "--output-dir", str(output), "--no-sourcemaps"],
            check=True, cwd=tmp,
        )  # fmt: skip
    drop_source_maps(output)
    pyodide_dir = output / "pyodide"
    copy_pyodide_core(pyodide_dir)
    shipped = rewrite_lock(pyodide_dir, packages_url)
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    print(
        f"{output.name}/ built: {size / 1e6:.1f} MB, Pyodide {version}, {len(shipped)} wheels"
        f" shipped, other packages from {packages_url}\n"
        f"serve it with: python3 -m http.server -d {output.name}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pyodide-packages-url",
        default=PACKAGES_URL,
        help="where the Pyodide packages not shipped (numpy, matplotlib, ...) load from;"
        " {version} is the pinned Pyodide version (default: %(default)s)",
    )
    parser.add_argument("--output", type=Path, default=LITE, help="default: lite/")
    args = parser.parse_args(argv)
    build(args.output.resolve(), args.pyodide_packages_url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
