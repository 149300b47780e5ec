"""Find and run a Graphviz program (``dot`` or ``graphviz-pure``) on DOT text.

``find_renderer()`` looks, in order, for

1. the command named by the environment variable ``MICROGRADX_DOT``, if set;
2. ``dot`` on the PATH (Graphviz itself);
3. ``graphviz-pure`` (a self-contained renderer from PyPI that ``pip install 'microgradx[viz]'``
   brings along), on the PATH or next to the running Python.

``render(source, fmt)`` runs it. Neither is needed to draw: without a program, ``draw_graph`` and
the step-through lay their pictures out themselves (``viz.layout``); a Graphviz program is
needed only for its own layout and for its other formats (PNG).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from microgradx import checks

__all__ = ["INSTALL_HELP", "RenderError", "RendererNotFound", "find_renderer", "render"]

INSTALL_HELP = """no Graphviz renderer found. Install one of:
  pip install 'microgradx[viz]'      (brings graphviz-pure, a self-contained renderer)
  Debian/Ubuntu: sudo apt-get install graphviz
  macOS:         brew install graphviz
  conda:         conda install -c conda-forge graphviz
or set MICROGRADX_DOT=/path/to/dot"""


class RendererNotFound(RuntimeError):
    """No Graphviz renderer could be found; the message says how to install one."""


class RenderError(RuntimeError, ValueError):
    """The renderer refused the DOT ``source`` or the format ``fmt`` (its message says which,
    with the renderer's own words). A ``RuntimeError`` as before, and a ``ValueError``: the
    arguments were wrong, as with any other argument the package refuses."""


_FORMAT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*\Z")  # svg, png, plain-ext, xdot1.4, png:cairo


def find_renderer() -> str:
    """The path of the Graphviz program to run (see the module docstring for the order).

    Raises ``RendererNotFound`` (saying how to install one) when there is none, or when
    ``MICROGRADX_DOT`` names a program that cannot be found."""
    override = os.environ.get("MICROGRADX_DOT")
    if override:
        path = shutil.which(override)
        if path is None:
            raise RendererNotFound(f"MICROGRADX_DOT={override!r} is not an executable program")
        return path
    found = shutil.which("dot") or shutil.which("graphviz-pure")
    if found:
        return found
    beside_python = Path(sys.executable).parent / "graphviz-pure"  # a venv not on the PATH
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    raise RendererNotFound(INSTALL_HELP)


def renderer_name(program: str) -> str:
    """``"graphviz-pure"`` or ``"dot"``: which kind of Graphviz program ``program`` is."""
    return "graphviz-pure" if Path(program).name.startswith("graphviz-pure") else "dot"


def render(source: str, fmt: str = "svg", renderer: str | Path | None = None) -> bytes:
    """Run a renderer on DOT ``source``; ``fmt`` is any Graphviz output format (svg, png, ...).

    ``renderer``: the program to run (a path or a name on the PATH); ``None``: ``find_renderer()``.
    Raises ``RenderError`` (a RuntimeError and a ValueError) naming ``source`` or ``fmt`` when the
    renderer refuses them, ``RendererNotFound`` when it cannot be run.
    """
    source = checks.text(source, "source")
    fmt = checks.text(fmt, "fmt")
    if not _FORMAT.match(fmt):
        raise ValueError(f"fmt must be a Graphviz output format such as 'svg', got {fmt!r:.60}")
    if renderer is not None:
        checks.path(renderer, "renderer")
    # as given ("./dot" stays a path, not a name looked up on the PATH)
    program = find_renderer() if renderer is None else os.fspath(renderer)
    try:
        result = subprocess.run(
            [program, f"-T{fmt}"], input=source.encode("utf-8"), capture_output=True, timeout=60
        )
    except OSError as error:
        raise RendererNotFound(f"cannot run {program}: {error}\n{INSTALL_HELP}") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"{Path(program).name} took more than 60 s: draw fewer nodes (level='layer',"
            " or the loss of one example rather than a batch)"
        ) from None
    message = result.stderr.decode("utf-8", "replace").strip()
    name = Path(program).name
    if f'Format: "{fmt}" not recognized' in message:  # as dot and graphviz-pure both say
        raise RenderError(f"fmt={fmt!r} is not a format {name} writes: {message}")
    if result.returncode != 0:
        raise RenderError(f"{name} could not render source (not DOT it reads?): {message}")
    return result.stdout
