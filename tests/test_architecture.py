"""Dependencies point one way; the engine core needs only the standard library."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "microgradx"

# Lower layers first. A module may import only from modules before it in this list.
LAYERS = [
    "files",
    "checks",
    "ops",
    "modes",
    "engine",
    "dual",
    "forward",  # renamed: a stub whose import names microgradx.dual (one release)
    "functional",
    "gradcheck",
    "testing",
    "data",
    "nn",
    "losses",
    "optim",
    "replay_numpy",
    "replay",
    "train",
    "io",
    "viz.markup",
    "viz.style",
    "viz.scene",
    "viz.graph",
    "viz.layout",
    "viz.page",
    "viz.text",
    "viz.network",
    "viz.record",
    "viz.levels",
    "viz.steps",
    "viz.trace",
    "viz.plots",
    "playground",
    "cli",
]
# Standard library only at import time (torch, tqdm, graphviz, matplotlib and ipywidgets are
# imported lazily, inside functions); only testing needs a third-party package (hypothesis).
CORE = set(LAYERS) - {"testing"}


def _imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The modules ``path`` imports (with ``top_level_only``, those imported when it loads)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "microgradx":  # from microgradx import ops -> microgradx.ops
                names.update(f"microgradx.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return names


def _modules() -> dict[str, Path]:
    """Modules by dotted name below the package: ``engine``, ``viz.graph``, ..."""
    return {
        ".".join(path.relative_to(PACKAGE).with_suffix("").parts): path
        for path in PACKAGE.rglob("*.py")
        if path.stem not in ("__init__", "__main__")
    }


def test_every_module_has_a_layer():
    assert set(_modules()) == set(LAYERS), "place each new module in LAYERS"


def test_modules_import_only_from_lower_layers():
    for name, path in _modules().items():
        for imported in _imports(path):
            if imported.startswith("microgradx."):
                target = imported.removeprefix("microgradx.")
                if target == "viz":
                    target = "viz.trace"  # the package re-exports graph and trace
                assert LAYERS.index(target) < LAYERS.index(name), f"{name} imports {target}"


def test_core_modules_import_only_the_standard_library():
    for name in CORE:
        for imported in _imports(_modules()[name], top_level_only=True):
            top = imported.split(".")[0]
            assert top == "microgradx" or top in sys.stdlib_module_names, f"{name}: {imported}"


def test_package_imports_with_only_the_standard_library():
    code = "import sys; sys.path.insert(0, sys.argv[1]); import microgradx; print('ok')"
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(PACKAGE.parent)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "ok", result.stderr


# Functions still over the limit, each in another part of issue 18 or not yet split (say whose);
# take a name out when its function is split. A new long function needs a "# Long: why" comment.
STILL_LONG = {
    "data.load_titanic",  # reads and checks the CSV, fills ages: not yet split
    "gradcheck.gradcheck",  # not yet split
    "gradcheck.check",  # not yet split
    "replay._tape_of",  # walk: replay split into modules
    "replay._forward_lines",  # walk
    "replay.python_source",  # walk
    "replay_numpy.numpy_ops",  # ops: a table of NumPy forms (data, not logic)
    "replay_numpy.numpy_program",  # walk
    "testing._expressions",  # ops
    "viz.graph.draw_graph",  # scene
    "viz.network.draw_network",  # structure
}
LONGEST = 60  # lines of code, the docstring not counted


def _long_functions() -> dict[str, int]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            assert node.end_lineno is not None
            size = node.end_lineno - node.lineno + 1
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                assert first.end_lineno is not None
                size -= first.end_lineno - first.lineno + 1  # the docstring
            body = lines[node.lineno - 1 : node.end_lineno]
            if size > LONGEST and not any(line.strip().startswith("# Long:") for line in body):
                found[f"{module}.{node.name}"] = size
    return found


def test_no_function_is_over_60_lines_without_a_comment_saying_why():
    long = {name: size for name, size in _long_functions().items() if name not in STILL_LONG}
    assert not long, f"split these (or say why with a '# Long:' comment): {long}"
