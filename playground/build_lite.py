"""Build the course as a JupyterLite site in ``lite/``: ``python playground/build_lite.py``
(``make lite``, which first installs the ``lite`` extra: jupyterlite-core, the Pyodide kernel and
jupyter_server, pinned in pyproject.toml).

``lite/`` is static files, served by any web server
(``python3 -m http.server --bind 127.0.0.1 -d lite``):

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
  It must be an absolute ``http://`` or ``https://`` folder address (no query, fragment or
  credentials: the file names are appended to it and the lock is published); ``{version}`` in
  it, and only that, is replaced by the pinned version. A ``file:`` address is refused: a page
  served over http cannot load it (serve a local copy and give its http address).

``--output PATH`` builds elsewhere; an existing output is replaced only if a previous build made
it (see ``build_site.py``: the build is made next to it and swapped in whole when it succeeds).

Source maps are left out (half the size). Downloads are kept in ``build/lite-cache/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
import tempfile
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from build_site import (
    ROOT,
    OutputError,
    ToolError,
    build_into,
    build_wheel,
    copy_pyodide_core,
    output_argument,
    pyodide_core,
    run,
    write_json,
)

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
VERSION = "{version}"  # the one placeholder of PACKAGES_URL, replaced literally (never str.format)
# Not in a URL as typed (RFC 3986): what is left after the placeholder must not have them.
NOT_IN_URL = set(' "<>\\^`{|}')
KERNEL_SETTINGS = "@jupyterlite/pyodide-kernel-extension:kernel"
SOURCE_MAP_COMMENT = re.compile(rb"\n?//# sourceMappingURL=[^\n]*\s*$")


def packages_url(text: str) -> str:
    """``--pyodide-packages-url`` checked: an absolute http(s) folder address, ``{version}`` the
    only text in braces. Raises ``ValueError`` saying what is wrong."""
    bare = text.replace(VERSION, "0")
    bad = sorted({c for c in bare if c in NOT_IN_URL or not c.isprintable() or ord(c) > 126})
    if bad:
        raise ValueError(
            f"{text!r} has {''.join(bad)!r}, not allowed in an address"
            f" (the only placeholder is {VERSION})"
        )
    try:
        parts = urllib.parse.urlsplit(bare)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as error:
        raise ValueError(f"{text!r} is not an address: {error}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an absolute http:// or https:// address")
    if parts.query or parts.fragment or "?" in bare or "#" in bare:
        raise ValueError(f"{text!r} has a query or fragment; file names are appended to it")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{text!r} has credentials in it; the lock it goes into is published")
    return text


def packages_url_argument(text: str) -> str:
    """``--pyodide-packages-url``'s argparse type: ``packages_url`` with a one-line error."""
    try:
        return packages_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


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
        run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--python-version", "3.14", "--implementation", "py",
             "-d", str(CACHE), f"{name}=={version}"],
            f"pip download {name}=={version} (a wheel the kernel installs)",
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
    write_json(lock_path, lock, indent=1)
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


def build(output: Path, url: str) -> None:
    """The site into ``output`` (replaced only if a previous build made it: ``build_into``);
    the packages not shipped load from ``url`` (``packages_url``; ``{version}`` replaced)."""
    core = pyodide_core()
    version = json.loads((core / "package.json").read_text())["version"]
    url = packages_url(url).replace(VERSION, version)
    if not url.endswith("/"):
        url += "/"
    shipped: list[str] = []

    def make(site: Path) -> None:
        shipped.extend(make_lite(site, url))

    build_into(output, "lite", make)
    size = sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
    print(
        f"{output.name}/ built: {size / 1e6:.1f} MB, Pyodide {version}, {len(shipped)} wheels"
        f" shipped, other packages from {url}\n"
        f"serve it with: python3 -m http.server --bind 127.0.0.1 -d {output.name}"
    )


def make_lite(site: Path, url: str) -> list[str]:
    """The JupyterLite site into the empty folder ``site``: the names of the wheels shipped."""
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
        write_json(lite_dir / "jupyter-lite.json", config, indent=1)
        # jupyter lite build makes --output-dir itself: the empty folder is given to it as is
        site.rmdir()
        run(
            [sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", str(lite_dir),
             "--contents", str(contents), "--output-dir", str(site), "--no-sourcemaps"],
            "jupyter lite build (the lite extra: make lite installs it)", cwd=Path(tmp),
        )  # fmt: skip
    drop_source_maps(site)
    pyodide_dir = site / "pyodide"
    copy_pyodide_core(pyodide_dir)
    return rewrite_lock(pyodide_dir, url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pyodide-packages-url",
        type=packages_url_argument,
        default=PACKAGES_URL,
        help="where the Pyodide packages not shipped (numpy, matplotlib, ...) load from;"
        " {version} is the pinned Pyodide version (default: %(default)s)",
    )
    parser.add_argument("--output", type=output_argument, default=LITE, help="default: lite/")
    args = parser.parse_args(argv)
    try:
        build(args.output, args.pyodide_packages_url)
    except OutputError as error:  # changed while building
        parser.error(f"argument --output: {error}")
    except ToolError as error:
        parser.exit(1, f"{parser.prog}: error: {error}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
