"""Break the core behaviours on purpose, one at a time, and check that the tests notice.

    python benchmarks/mutation_check.py            # every mutation
    python benchmarks/mutation_check.py atomic     # those whose name contains "atomic"

Each mutation is a small edit to a copy of the package (a wrong derivative, a plain write instead
of an atomic one, a step-through whose script does nothing, ...). The tests that guard that
behaviour run against the copy; a mutation is *caught* when they fail. Prints one line per
mutation and exits with status 1 if any survives. Run from the repository root with the test
dependencies installed (``make test`` installs them); the browser mutations need Chromium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    name: str
    path: str  # a file of the package
    old: str  # text that must occur exactly once
    new: str
    tests: tuple[str, ...]  # the tests that should catch it


MUTATIONS = [
    Mutation(
        "atomic write becomes a plain write",
        "microgradx/files.py",
        "    path = Path(path)\n",
        "    path = Path(path)\n    path.write_bytes(data)\n    return path\n",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "temp file not removed when a write fails",
        "microgradx/files.py",
        "        temporary.unlink(missing_ok=True)\n",
        "        pass\n",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "Dual.sqrt wired to the log rule",
        "microgradx/forward.py",
        '    if _op.arity == 2 and _op.method.startswith("__"):  # __add__ -> __radd__',
        "    if _op.name == 'sqrt':\n        setattr(Dual, 'sqrt', _method(ops.LOG))\n"
        '    if _op.arity == 2 and _op.method.startswith("__"):  # __add__ -> __radd__',
        ("tests/test_ops_table.py",),
    ),
    Mutation(
        "fast path for * swaps its inputs' rules",
        "microgradx/engine.py",
        "            a.grad += upstream * b.data  # type: ignore[union-attr]\n"
        "            b.grad += upstream * a.data  # type: ignore[union-attr]\n",
        "            a.grad += upstream * a.data\n            b.grad += upstream * b.data\n",
        ("tests/test_engine.py",),
    ),
    Mutation(
        "wrong derivative of tanh in the op table",
        "microgradx/ops.py",
        "            return (1.0 - out * out,)\n",
        "            return (1.0 - out,)\n",
        ("tests/test_ops_table.py",),
    ),
    Mutation(
        "sigmoid's derivative as s (1 - s) again: 0 where sigmoid rounds to 1",
        "microgradx/ops.py",
        "        return (e / (u * u),)\n",
        "        return (out * (1.0 - out),)\n",
        (
            "tests/test_accuracy.py::test_sigmoid_at_40_has_its_tiny_gradient_and_at_minus_40_its"
            "_exact_value",
        ),
    ),
    Mutation(
        "softmax's exp(z_i - z_m) without the rounding error of z_i - z_m",
        "microgradx/ops.py",
        "        el.append(y * low)",
        "        el.append(0.0)",
        (
            "tests/test_accuracy.py::test_every_op_and_local_derivative_is_within_4_ulp_over_the_whole_range",
        ),
    ),
    Mutation(
        "the power rule's b a^(b-1) with b - 1 rounded (1e-20 - 1 = -1)",
        "microgradx/ops.py",
        "    if e_low == 0:\n",
        "    if True:\n",
        ("tests/test_accuracy.py::test_one_example_of_each_kind_fixed",),
    ),
    Mutation(
        "the NumPy back-end's x ** p by NumPy's power at -0.0 (its sqrt gives -0.0)",
        "microgradx/replay_numpy.py",
        'forward_rows("pow_scalar", p, out, unusual(x, out), x)',
        "out",
        ("tests/test_accuracy.py::test_the_issue_example_agrees_in_both_back_ends_at_minus_zero",),
    ),
    Mutation(
        "a zero upstream gradient multiplies an infinite local derivative",
        "microgradx/engine.py",
        "        if upstream == 0.0:\n            continue\n",
        "",
        ("tests/test_engine.py", "tests/test_losses_optim.py"),
    ),
    Mutation(
        "a shared parameter is listed twice",
        "microgradx/nn.py",
        "            if isinstance(item, Value):\n                if id(item) not in seen:",
        "            if isinstance(item, Value):\n                if True:",
        ("tests/test_nn.py",),
    ),
    Mutation(
        "default initialisation restarts at seed 0 for every layer",
        "microgradx/nn.py",
        "        rng = rng if rng is not None else _generator\n        self.neurons",
        "        rng = rng if rng is not None else random.Random(0)\n        self.neurons",
        ("tests/test_nn.py",),
    ),
    Mutation(
        "gradcheck passes having compared nothing",
        "microgradx/gradcheck.py",
        "        return self.checked > 0 and all(",
        "        return all(",
        ("tests/test_gradcheck.py",),
    ),
    Mutation(
        "fit() leaves the model in eval mode",
        "microgradx/train.py",
        "        module.training = training\n    return history",
        "        module.training = False\n    return history",
        ("tests/test_data_train_io.py",),
    ),
    Mutation(
        "neuron-level delta forgets the activation's derivative",
        "microgradx/viz/levels.py",
        "        delta = first.contributions[0].contribution\n",
        "        delta = first.upstream\n",
        ("tests/test_trace.py",),
    ),
    Mutation(
        "the op that made a highlighted input is highlighted too",
        "microgradx/viz/page.py",
        "                if box.owner == step.node:",
        "                if box.owner == step.node or box.owner in step.children:",
        ("tests/test_trace.py",),
    ),
    Mutation(
        "compiled replay multiplies a gradient by the wrong input",
        "microgradx/replay.py",
        'contribute(node.children[0], f"{g[0]} * {b[0]}", g[1] + b[1], 1)',
        'contribute(node.children[0], f"{g[0]} * {a[0]}", g[1] + a[1], 1)',
        ("tests/test_replay.py",),
    ),
    Mutation(
        "compile skips the check that the graph does not depend on the data",
        "microgradx/replay.py",
        "        same_graph(tape, trace(other))\n",
        "",
        ("tests/test_replay.py",),
    ),
    Mutation(
        "the step-through's script does nothing (as a dead widget would)",
        "microgradx/viz/page.py",
        '  if (!root || root.dataset.ready) return;\n  root.dataset.ready = "1";',
        "  return;",
        ("tests/test_trace.py", "tests/test_jupyter.py"),
    ),
]


def _pytest(workspace: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(workspace), PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-x",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            *tests,
        ],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
    )


def _fresh_copy(workspace: Path) -> None:
    package = workspace / "microgradx"
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(ROOT / "microgradx", package, ignore=shutil.ignore_patterns("__pycache__"))


def run(mutation: Mutation, workspace: Path) -> tuple[bool, float, str]:
    """Apply ``mutation`` to a fresh copy of the package; True if its tests fail (and the first
    failing test, to show that it failed for this reason)."""
    _fresh_copy(workspace)
    target = workspace / mutation.path
    text = target.read_text(encoding="utf-8")
    if text.count(mutation.old) != 1:
        raise SystemExit(f"{mutation.name}: the text to change is not in {mutation.path} once")
    target.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")
    start = time.perf_counter()
    result = _pytest(workspace, mutation.tests)
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    first = failed[0].split(" - ")[0].removeprefix("FAILED ") if failed else ""
    return result.returncode != 0, time.perf_counter() - start, first


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(a in m.name for a in argv)]
    survived = 0
    with tempfile.TemporaryDirectory() as folder:
        workspace = Path(folder) / "main"  # the repository without .git and .venv ...
        skip = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", ".*cache")
        shutil.copytree(ROOT, workspace, ignore=skip)
        if (ROOT.parent / "shared").exists():  # ... and shared/ beside it, as in a checkout
            (Path(folder) / "shared").symlink_to(ROOT.parent / "shared")
        # Unmutated, every chosen test file must pass, or "caught" would mean nothing.
        _fresh_copy(workspace)
        for tests in sorted({m.tests for m in chosen}):
            baseline = _pytest(workspace, tests)
            if baseline.returncode != 0:
                print(baseline.stdout[-3000:])
                raise SystemExit(f"the unmutated code fails {' '.join(tests)}: fix that first")
        for mutation in chosen:
            caught, seconds, first = run(mutation, workspace)
            survived += not caught
            verdict = "caught" if caught else "SURVIVED"
            print(f"{verdict:<9} {seconds:5.1f} s  {mutation.name}  [{first}]", flush=True)
    print(f"{len(chosen) - survived} of {len(chosen)} mutations caught")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
