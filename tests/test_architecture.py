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
    "forward",
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
    "viz.graph",
    "viz.layout",
    "viz.page",
    "viz.network",
    "viz.record",
    "viz.levels",
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


def _label_parsing(tree: ast.AST) -> list[str]:
    """Places that read structure out of a name: a string naming a network's parts
    (``neurons.``, ``.w.``), or a label taken apart (``label.split``, ``label.startswith``, ``x in
    label``, ``re.search(..., label)``)."""
    found = []
    parsers = {"split", "rsplit", "partition", "rpartition", "startswith", "endswith", "find"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if "neurons." in node.value or ".w." in node.value:
                found.append(f"line {node.lineno}: {node.value!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            mentions = [ast.unparse(node.func.value), *(ast.unparse(a) for a in node.args)]
            parses = node.func.attr in parsers or node.func.attr in ("search", "match")
            if parses and any("label" in text for text in mentions):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Compare):
            tested = [c for c, o in zip(node.comparators, node.ops) if isinstance(o, ast.In)]
            if any("label" in ast.unparse(c) for c in tested):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_but_nn_reads_a_network_from_labels():
    """Which neuron and layer a node belongs to is what nn recorded while it computed
    (nn.Structure), never a label parsed: a user's label is only a name."""
    for name, path in _modules().items():
        if name == "nn":
            continue
        found = _label_parsing(ast.parse(path.read_text(encoding="utf-8")))
        assert not found, f"{name} parses labels: {found}"


def test_the_label_parsing_check_finds_what_it_looks_for():
    tree = ast.parse(
        "a = node.label.rsplit('.neurons.', 1)\n"
        "b = '.w.' in label\n"
        "c = (x.label or '').startswith(name + '.')\n"
        "d = re.search(pattern, n.label)\n"
    )
    found = _label_parsing(tree)
    assert {line.split(":")[0] for line in found} == {f"line {k}" for k in (1, 2, 3, 4)}
