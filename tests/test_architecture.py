"""Dependencies point one way; the engine core needs only the standard library."""

from __future__ import annotations

import ast
import builtins
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "microgradx"

# Lower layers first. A module may import only from modules before it in this list.
LAYERS = [
    "files",
    "collector",  # pausing the cyclic collector's full passes (train and compile)
    "checks",
    "ops",
    "modes",
    "walk",
    "engine",
    "autograd",
    "dual",
    "forward",  # renamed: a stub whose import names microgradx.dual (one release)
    "functional",
    "data",
    "nn",
    "losses",
    "optim",
    "replay_numbers",
    "replay_tape",
    "replay_python",
    "replay_numpy",
    "replay_model",
    "replay_record",
    "replay",
    "gradcheck",  # its finite differences run on the compiled replay
    "strategies",
    "vectors",  # golden cases for other engines: the engine, the op table, files
    "train",
    "exercises.core",
    "exercises.arithmetic",
    *(f"exercises.notebook{k:02d}" for k in range(10)),  # each notebook's, ordered by number
    "exercises.course",
    "exercises.session",
    "exercises.grading",
    "exercises.command",
    "io",
    "viz.markup",
    "viz.style",
    "viz.renderer",  # finding and running a Graphviz program
    "viz.scene",
    "viz.layout",
    "viz.graph",  # draws with viz.layout's own layout when no Graphviz program exists
    "viz.page",
    "viz.text",
    "viz.network",
    "viz.record",
    "viz.levels",
    "viz.steps",
    "viz.trace",
    "viz.plots",
    "playground",
    "enginecheck.findings",
    "enginecheck.report",
    "enginecheck.target",
    "enginecheck.child",
    "enginecheck.inprocess",  # the child's engine, in the checker's process (Pyodide)
    "enginecheck.sandbox",
    "enginecheck.checks",
    "enginecheck.semantics",
    "enginecheck.limits",
    "enginecheck.training",
    "enginecheck.api",
    "enginecheck.command",
    "enginecheck.pytest_plugin",
    "testing",
    "cli",
]
# Standard library only at import time (torch, tqdm, graphviz, matplotlib and ipywidgets are
# imported lazily, inside functions); only the strategies, and testing, which re-exports them, need
# a third-party package (hypothesis), and the pytest plugin, which only pytest loads, needs pytest.
CORE = set(LAYERS) - {"strategies", "testing", "enginecheck.pytest_plugin"}


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


def test_every_public_module_is_an_attribute_of_the_package_after_import_microgradx():
    """As ``torch.autograd`` after ``import torch``: ``microgradx.autograd.grad`` works (in a
    fresh interpreter: here other tests have imported the modules already)."""
    import microgradx

    public = {name.split(".")[0] for name in _modules()}
    public -= {"forward"}  # renamed: importing it says so
    public -= {n for n in public if n.startswith("replay_")}  # parts of microgradx.replay
    public -= set(microgradx.__all__)  # microgradx.gradcheck is the function, as in torch.autograd
    code = (
        "import sys, types; sys.path.insert(0, sys.argv[1]); import microgradx\n"
        "for name in sys.argv[2:]:\n"
        "    assert isinstance(getattr(microgradx, name), types.ModuleType), name\n"
        "try:\n"
        "    microgradx.nonsense\n"
        "except AttributeError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(PACKAGE.parent), *sorted(public)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "module 'microgradx' has no attribute 'nonsense'", result.stderr


# ---- one backward walk: the chain rule is applied in microgradx/walk.py only ---------------------

# Modules other than the walk that call an op's derivative rule (``op.local_grads(...)``), and why
# that is not the backward chain rule. (``Value.local_grads()``, which reads a node's local
# derivatives through the walk's ``local_grads``, may be called anywhere.)
RULE_CALLERS = {
    "ops": "the rules themselves, some built from others",
    "dual": "forward mode: a tangent flows from the inputs to the output",
    "strategies": "checks each rule against its Value form",
}
# Generated code that accumulates a gradient: `g3 += ...`, `P[0].grad += ...`, `g3 = 0.0 + ...`,
# `g3 = g3 + ...`, `P[0].grad = P[0].grad + ...` (placeholders read as `{}`).
_GENERATED_ACCUMULATION = re.compile(
    r"(^|[^\w/])(g|\w*grad)[\w{}\[\]]*\s*\+="
    r"|\.grad\s*=\s*\S+\.grad\s*\+"
    r"|(^|[^\w/])(g[\w{}]*)\s*=\s*\4\s*\+"
    r"|=\s*0\.0\s*\+"
)


def _text(node: ast.AST) -> str | None:
    """A string literal's text, an f-string's with ``{}`` for each placeholder."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _holds_gradient(target: ast.AST) -> bool:
    """``x.grad`` or ``grads[x]`` (any subscripted name with "grad" in it)."""
    if isinstance(target, ast.Attribute):
        return target.attr == "grad"
    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
        return "grad" in target.value.id
    return False


def chain_rule_arithmetic(source: str, module: str = "") -> list[str]:
    """Each place in ``source`` that applies the chain rule by hand: adds into a gradient
    (``x.grad += ...``, ``grads[c] = before + c``), writes generated code that does, or calls an
    op's derivative rule (unless ``module`` is in RULE_CALLERS)."""
    found = []
    tree = ast.parse(source)
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}  # prose, not code
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.AugAssign) and _holds_gradient(node.target):
            if isinstance(node.op, (ast.Add, ast.Sub)):
                found.append(f"line {line}: adds into a gradient")
        elif isinstance(node, ast.Assign) and any(_holds_gradient(t) for t in node.targets):
            if any(
                isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add) for n in ast.walk(node.value)
            ):
                found.append(f"line {line}: adds into a gradient")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            through_the_walk = (
                isinstance(node.func.value, ast.Name) and node.func.value.id == "walk"
            )
            rule = node.func.attr == "local_grads" and node.args and not through_the_walk
            if rule and module not in RULE_CALLERS:
                found.append(f"line {line}: calls an op's derivative rule")
        text = None if id(node) in docs else _text(node)
        if text is not None and _GENERATED_ACCUMULATION.search(text):
            found.append(f"line {line}: writes code that adds into a gradient: {text!r}")
    return found


def test_the_chain_rule_is_applied_only_by_the_walk():
    for name, path in _modules().items():
        if name != "walk":
            found = chain_rule_arithmetic(path.read_text(encoding="utf-8"), name)
            assert not found, f"{name}: {found} (apply the chain rule through microgradx.walk)"


# The hand-written passes the walk replaced; the check must find each one again.
_OLD_PASSES = {
    "engine's float pass": """
for node in order:
    a, b = node._left, node._right
    a.grad += upstream * op.local_grads(a.data, node.data)[0]
""",
    "engine's dict pass": """
for child, local in zip(children, local_grads):
    before = grads.get(child)
    grads[child] = local * upstream if before is None else before + local * upstream
""",
    "the step-through's recorded pass": """
for child, local in zip(node.children, node.local_grads()):
    child.grad = child.grad + upstream * local
""",
    "the Python code generator": """
lines.append(_Line(f"P[{leaf_index[child]}].grad += {expression}", uses))
lines.append(_Line(f"{{g{c}}} = 0.0 + {expression}", uses))
""",
    "the NumPy code generator": """
backward.append(f"g{c} = g{c} + np.where(g{k} != 0.0, g{k} * l{j}, 0.0)")
""",
}


@pytest.mark.parametrize("name", sorted(_OLD_PASSES))
def test_the_chain_rule_check_finds_a_hand_written_pass(name):
    assert chain_rule_arithmetic(_OLD_PASSES[name], "replay")


# ---- no module shadows a builtin it uses ---------------------------------------------------------


def _module_names(tree: ast.Module) -> set[str]:
    """The names a module defines at its top level."""
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def builtins_shadowed_and_used(source: str) -> set[str]:
    """Builtins a module both shadows (defines at top level) and needs (``builtins.name``, or a
    use of the name inside a function that also defines it locally never happens: the module's
    definition is what the name means there)."""
    tree = ast.parse(source)
    shadowed = _module_names(tree) & set(dir(builtins))
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "builtins"
    }
    return shadowed & used


def test_no_module_shadows_a_builtin_it_uses():
    for name, path in _modules().items():
        both = builtins_shadowed_and_used(path.read_text(encoding="utf-8"))
        assert not both, f"{name} defines {sorted(both)} and needs the builtin too: split it"
    # the check finds what replay.py did: define compile() and call builtins.compile
    assert builtins_shadowed_and_used(
        "import builtins\ndef compile(fn): return builtins.compile('1', '<x>', 'eval')\n"
    ) == {"compile"}


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
    long = _long_functions()
    assert not long, f"split these (or say why with a '# Long:' comment): {long}"
