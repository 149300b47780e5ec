"""Golden vectors (``microgradx vectors``): right by mpmath, deterministic, and run by the two
runners in docs/runners against microgradx, micrograd 0.1.0 and small engines with a planted bug."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mpmath
import pytest

from microgradx import vectors
from microgradx.ops import OPS
from tests.reference import _number

ROOT = Path(__file__).resolve().parent.parent
RUNNERS = ROOT / "docs" / "runners"
MICROGRAD_OPS = "add,sub,mul,div,neg,pow_scalar,relu,exp"  # exp: micrograd has none (skipped)


@pytest.fixture(scope="module")
def lines() -> list[dict]:
    return vectors.generate(0)


@pytest.fixture(scope="module")
def cases_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vectors") / "cases.jsonl"
    vectors.write(str(path))
    return path


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "microgradx", "vectors", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
    )


def _python_runner(path: Path, target: str, cwd: Path | None = None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, str(RUNNERS / "run_vectors.py"), str(path), target],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        check=False,
        timeout=600,  # a hang guard only; the run takes about a second
    )


def _failed_ids(stdout: str) -> set[int]:
    return {int(line.split()[2]) for line in stdout.splitlines() if line.startswith("FAIL case")}


# ---- the cases are right ------------------------------------------------------------------------


def _exact(case: dict) -> tuple[list, list]:
    """Every node's exact value and every input's exact gradient, by the ops' mpmath references
    (Op.exact), at 200 bits, the reverse sweep done in mpmath too."""
    table = {op.name: op for op in vectors.port_ops()}
    with mpmath.mp.workprec(200):
        values = [mpmath.mpf(x) for x in case["inputs"]]
        locals_ = []
        for step in case["steps"]:
            op = table[step["op"]]
            params = [_number(p) for p in step.get("params", [])]
            args = [x if x != 0 else 0.0 for x in (values[i] for i in step["args"])]
            value, grads = op.exact(mpmath, *params, *args)
            values.append(mpmath.mpf(value))
            locals_.append([mpmath.mpf(g) for g in grads])
        adjoint = [mpmath.mpf(0)] * len(values)
        adjoint[-1] = mpmath.mpf(1)
        first = len(case["inputs"])
        for k in range(len(case["steps"]) - 1, -1, -1):
            for i, local in zip(case["steps"][k]["args"], locals_[k]):
                adjoint[i] += adjoint[first + k] * local
        return values, adjoint[:first]


def _close(got: float, exact, rtol: float) -> bool:
    return abs(mpmath.mpf(got) - exact) <= rtol * max(1, abs(exact))


def test_every_case_agrees_with_the_exact_reference_well_within_its_tolerance(lines):
    for case in lines[1:]:
        values, grads = _exact(case)
        tight = case["rtol"] / 10  # what the generator promises: a tenth of the tolerance
        assert _close(case["output"], values[-1], tight), case["id"]
        for got, exact in zip(case["values"], values):
            assert _close(got, exact, tight), (case["id"], got, exact)
        for i, (got, exact) in enumerate(zip(case["grads"], grads)):
            if i in case["constants"]:
                assert got is None
            else:
                assert _close(got, exact, tight), (case["id"], i, got, exact)


def test_the_reference_sweep_adds_every_path_and_sees_a_gradient_off_by_a_tolerance(lines):
    square = next(c for c in lines[1:] if c["name"] == "v1 = x0 * x0")
    _, grads = _exact(square)
    assert grads[0] == 2 * square["inputs"][0]  # both operands' paths (a set would count one)
    for case in lines[1:]:
        if case["category"] == "reuse" and len(case["steps"]) > 1:
            _, grads = _exact(case)
            wrong = case["grads"][1] + case["rtol"] * max(1, abs(case["grads"][1]))
            assert not _close(wrong, grads[1], case["rtol"] / 10), case["id"]


def test_a_case_whose_result_cancels_is_refused_as_ill_conditioned():
    """(x0 * x0 + x1) - x0 * x0 is x1, but a few ULP of 1e6 is 1e-9 of it: another engine's
    rounding would fail it, so the generator must not emit it; with small numbers it may."""
    mul, add, sub = OPS["mul"], OPS["add"], OPS["sub"]
    steps = [(mul, (0, 0)), (add, (2, 1)), (sub, (3, 2))]
    rng = vectors.random.Random(0)
    assert not vectors._conditioned(vectors._Case("x", [1000.0, 0.5], set(), steps), rng)
    assert vectors._conditioned(vectors._Case("x", [1.5, 0.5], set(), steps), rng)


def test_the_header_counts_the_cases_and_names_every_op_with_its_parameters(lines):
    header, cases = lines[0], lines[1:]
    assert header["version"] == vectors.FORMAT_VERSION == 1
    assert header["cases"] == len(cases) and [c["id"] for c in cases] == list(range(len(cases)))
    assert header["counts"] == {
        category: sum(c["category"] == category for c in cases) for category in vectors.CATEGORIES
    }
    assert all(header["counts"][category] > 0 for category in vectors.CATEGORIES)
    assert [op["name"] for op in header["ops"]] == [op.name for op in vectors.port_ops()]
    assert {"add", "mul", "pow_scalar", "tanh", "relu", "sigmoid", "exp", "log"} <= {
        op["name"] for op in header["ops"]
    }
    for op in vectors.port_ops():  # each op, at each of its parameters, has its own cases
        params = op.param_examples or (None,)
        for p in params:
            alone = [c for c in cases if c["category"] == "op" and c["steps"][0]["op"] == op.name]
            assert sum(c["steps"][0].get("params", [None]) == [p] for c in alone) == 4, op.name


def test_ops_with_a_kink_are_tested_on_both_sides_of_it(lines):
    for name in ("relu", "abs", "leaky_relu", "elu"):
        sides = {
            c["inputs"][0] > 0
            for c in lines[1:]
            if c["category"] == "op" and c["steps"][0]["op"] == name
        }
        assert sides == {True, False}, name


def test_the_tolerance_is_tight_for_exact_arithmetic_and_loose_for_the_rest(lines):
    for case in lines[1:]:
        exact = set(case["ops"]) <= {"add", "sub", "mul", "neg"}
        assert case["rtol"] == (1e-12 if exact else 1e-9), case["id"]
    assert any(c["rtol"] == 1e-12 for c in lines[1:] if c["category"] == "depth")


def test_depth_reuse_mixed_and_mlp_cases_are_what_they_say(lines):
    cases = lines[1:]
    depth = [c for c in cases if c["category"] == "depth"]
    assert {c["ops"][0] for c in depth} == {"add", "mul", "neg", "tanh"}
    assert all(len(c["steps"]) == vectors.DEFAULT_DEPTH > 1000 for c in depth)
    add_chain = next(c for c in depth if c["ops"] == ["add"])
    assert add_chain["grads"] == [float(vectors.DEFAULT_DEPTH), 1.0]  # x0 reused 1200 times
    for case in cases:
        args = [tuple(s["args"]) for s in case["steps"]]
        if case["category"] == "reuse":  # some value feeds two operands
            used = [i for a in args for i in a]
            assert len(used) > len(set(used)), case["id"]
        if case["category"] in ("mixed", "mlp"):
            assert case["constants"] and any(i in case["constants"] for a in args for i in a)
        for step in case["steps"]:  # a plain number only ever beside a Value, in an operator
            plain = [i in case["constants"] for i in step["args"]]
            assert not any(plain) or (step["op"] in vectors.OPERATORS and not all(plain))
    alone = [c for c in cases if c["category"] == "mixed" and len(c["steps"]) == 1]
    lefts = {c["steps"][0]["op"] for c in alone if c["constants"] == [0]}
    assert lefts == set(vectors.OPERATORS)  # 2 - x, 2 / x, 2 ** x: the reflected forms
    mlp = [c for c in cases if c["category"] == "mlp"]
    assert mlp and all(
        len(c["inputs"]) == 16 and c["ops"] == ["add", "mul", "sub", "tanh"] for c in mlp
    )


def test_ops_restricts_every_case_to_the_ops_named():
    header, *cases = vectors.generate(3, ["add", "mul", "relu"], depth=50)
    assert [op["name"] for op in header["ops"]] == ["add", "mul", "relu"]
    assert all(set(c["ops"]) <= {"add", "mul", "relu"} for c in cases)
    assert header["counts"]["mlp"] == 0  # needs sub
    assert {len(c["steps"]) for c in cases if c["category"] == "depth"} == {50}


def test_the_format_docs_show_a_case_of_the_default_file_and_its_counts(lines):
    text = (ROOT / "docs" / "vectors.md").read_text(encoding="utf-8")
    block = text.split("```json\n", 1)[1].split("```", 1)[0]
    example = json.loads(block.replace("\n", ""))
    assert example == lines[1 + example["id"]]
    counts = ", ".join(f"{n} {c}" for c, n in lines[0]["counts"].items())
    assert f"The default file has {lines[0]['cases']} cases ({counts})" in " ".join(text.split())
    for op in vectors.port_ops():
        assert f"| `{op.name}`" in text, op.name


# ---- the file -----------------------------------------------------------------------------------


def test_the_same_seed_gives_a_byte_identical_file_and_another_seed_another(tmp_path):
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert _cli("--out", str(first)).returncode == 0
    assert _cli("--out", str(second), "--seed", "0").returncode == 0
    assert first.read_bytes() == second.read_bytes()
    standard_output = _cli()  # --out - is the default
    assert standard_output.stdout.encode() == first.read_bytes()
    assert _cli("--out", str(second), "--seed", "1").returncode == 0
    assert first.read_bytes() != second.read_bytes()
    lines = [json.loads(line) for line in first.read_text().splitlines()]
    assert lines == vectors.generate(0)  # floats read back bit for bit


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ops", "add,foo"], "no op 'foo'; the ops are add, sub"),
        (["--ops", "maximum"], "no op 'maximum'"),
        (["--depth", "0"], "--depth: must be from 1 to 100000"),
        (["--seed", "-1"], "--seed: must be from 0"),
        (["--out", "."], "is a folder, not a regular file"),
        (
            ["--out", "no/such/folder/cases.jsonl"],
            "cases.jsonl: the folder no/such/folder does not exist",
        ),
        (["--out", "fifo"], "is a FIFO (named pipe), not a regular file"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, args, message):
    os.mkfifo(tmp_path / "fifo")
    result = _cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


# ---- the Python runner --------------------------------------------------------------------------


def test_microgradx_passes_its_own_vectors_through_the_python_runner(cases_file, lines):
    result = _python_runner(cases_file, "microgradx:Value")
    assert result.returncode == 0, result.stdout[-2000:]
    assert (
        result.stdout.strip() == f"{len(lines) - 1} passed, 0 failed, 0 skipped (ops Value lacks)"
    )


def test_micrograd_passes_the_ops_it_has_and_fails_only_the_depth_cases(tmp_path):
    path = tmp_path / "cases.jsonl"
    assert _cli("--out", str(path), "--ops", MICROGRAD_OPS).returncode == 0
    cases = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    result = _python_runner(path, "micrograd.engine:Value")
    depth = {c["id"] for c in cases if c["category"] == "depth"}
    assert result.returncode == 1 and depth and _failed_ids(result.stdout) == depth
    assert "RecursionError" in result.stdout  # its recursive topological sort
    lacks = sum("exp" in c["ops"] for c in cases)
    ran = len(cases) - lacks
    assert result.stdout.splitlines()[-1] == (
        f"{ran - len(depth)} passed, {len(depth)} failed, {lacks} skipped (ops Value lacks)"
    )


def test_with_every_op_micrograd_skips_what_it_lacks_and_fails_only_the_depth_cases(tmp_path):
    # no --ops: the runner itself finds that micrograd has no tanh, no x ** Value, no 2 ** x
    path = tmp_path / "cases.jsonl"
    assert _cli("--out", str(path)).returncode == 0
    cases = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    result = _python_runner(path, "micrograd.engine:Value")
    depth = {c["id"] for c in cases if c["category"] == "depth" and "tanh" not in c["ops"]}
    assert result.returncode == 1 and _failed_ids(result.stdout) == depth
    ran = int(result.stdout.splitlines()[-1].split()[0])  # "N passed, ..."
    assert ran > 50  # the ops it has are run, not skipped


_WRONG_RELU = """
from micrograd.engine import Value as Base

class Value(Base):
    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "ReLU")
        def _backward():
            self.grad += out.grad  # wrong: relu'(x) is 0 for x < 0
        out._backward = _backward
        return out
"""


def test_the_python_runner_fails_an_engine_with_a_wrong_derivative_naming_the_cases(tmp_path):
    (tmp_path / "buggy.py").write_text(_WRONG_RELU)
    path = tmp_path / "cases.jsonl"
    assert _cli("--out", str(path), "--ops", "relu", "--depth", "10").returncode == 0
    cases = {c["id"]: c for c in map(json.loads, path.read_text().splitlines()[1:])}
    result = _python_runner(path, "buggy:Value", cwd=tmp_path)  # found in the current folder
    assert result.returncode == 1
    negative = {i for i, c in cases.items() if c["category"] == "op" and c["inputs"][0] < 0}
    assert negative and negative <= _failed_ids(result.stdout)
    assert "(op) v1 = relu(x0): gradient of x0 1, expected 0.0" in result.stdout


@pytest.mark.parametrize("runner", ["run_vectors.py", "run_vectors.mjs"])
def test_the_runners_refuse_another_format_version(tmp_path, cases_file, runner):
    if runner.endswith(".mjs"):
        _require_node()
    text = cases_file.read_text().replace('"version":1,', '"version":2,', 1)
    (changed := tmp_path / "v2.jsonl").write_text(text)
    (tmp_path / "engine.mjs").write_text(_JS_ENGINE)
    command = (
        ["node", str(RUNNERS / runner), str(changed), str(tmp_path / "engine.mjs")]
        if runner.endswith(".mjs")
        else [sys.executable, str(RUNNERS / runner), str(changed), "microgradx:Value"]
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().endswith("format version 2; this runner reads 1")


# ---- the JavaScript runner ----------------------------------------------------------------------


def _require_node() -> None:
    """Node, or a skip; a failure instead where MICROGRADX_REQUIRE_BROWSER=1 (CI, as for the
    playground's Node test)."""
    if shutil.which("node") is None:
        if os.environ.get("MICROGRADX_REQUIRE_BROWSER") == "1":
            pytest.fail("Node.js is missing, but these machines (and CI) have it")
        pytest.skip("needs Node.js (these machines have Node 20)")


# A tiny engine as a learner writes one in JavaScript: methods for each op, numbers accepted
# where a Value is, and an iterative topological sort.
_JS_ENGINE = """
export class Value {
  constructor(data, children = []) {
    this.data = data; this.grad = 0; this.children = children; this._backward = () => {};
  }
  static of(x) { return x instanceof Value ? x : new Value(x); }
  make(data, children, backward) {
    const out = new Value(data, children);
    out._backward = () => backward(out.grad, out);
    return out;
  }
  add(o) { o = Value.of(o); return this.make(this.data + o.data, [this, o], (g) => {
    this.grad += g; o.grad += g; }); }
  mul(o) { o = Value.of(o); return this.make(this.data * o.data, [this, o], (g) => {
    this.grad += g * o.data; o.grad += g * this.data; }); }
  sub(o) { return this.add(Value.of(o).neg()); }
  div(o) { o = Value.of(o); return this.make(this.data / o.data, [this, o], (g) => {
    this.grad += g / o.data; o.grad -= g * this.data / (o.data * o.data); }); }
  pow(o) { o = Value.of(o); return this.make(this.data ** o.data, [this, o], (g, out) => {
    this.grad += g * o.data * this.data ** (o.data - 1);
    o.grad += g * out.data * Math.log(this.data); }); }
  neg() { return this.mul(-1); }
  exp() { return this.make(Math.exp(this.data), [this], (g, out) => {
    this.grad += g * out.data; }); }
  log() { return this.make(Math.log(this.data), [this], (g) => { this.grad += g / this.data; }); }
  tanh() { return this.make(Math.tanh(this.data), [this], (g, out) => {
    this.grad += g * (1 - out.data * out.data); }); }
  relu() { return this.make(Math.max(this.data, 0), [this], (g) => {
    this.grad += this.data > 0 ? g : 0; }); }
  sigmoid() { return this.make(1 / (1 + Math.exp(-this.data)), [this], (g, out) => {
    this.grad += g * out.data * (1 - out.data); }); }
  backward() {
    const order = [], seen = new Set(), stack = [[this, false]];
    while (stack.length) {
      const [v, done] = stack.pop();
      if (done) { order.push(v); continue; }
      if (seen.has(v)) continue;
      seen.add(v);
      stack.push([v, true]);
      for (const c of v.children) if (!seen.has(c)) stack.push([c, false]);
    }
    this.grad = 1;
    for (const v of order.reverse()) v._backward();
  }
}
"""
_JS_OPS = {"add", "sub", "mul", "div", "pow", "pow_scalar", "rpow_scalar", "neg"}
_JS_OPS |= {"exp", "log", "tanh", "relu", "sigmoid"}
_WRONG_TANH = ("(1 - out.data * out.data)", "(1 - out.data)")  # d tanh = 1 - tanh, not 1 - tanh^2


def _node_runner(tmp_path: Path, cases: Path, engine: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "engine.mjs").write_text(engine)
    return subprocess.run(
        ["node", str(RUNNERS / "run_vectors.mjs"), str(cases), str(tmp_path / "engine.mjs")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,  # a hang guard only; the run takes under a second
    )


def test_the_javascript_runner_passes_a_correct_engine(tmp_path, cases_file, lines):
    _require_node()
    result = _node_runner(tmp_path, cases_file, _JS_ENGINE)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    runnable = [c for c in lines[1:] if set(c["ops"]) <= _JS_OPS]
    categories = {c["category"] for c in runnable}
    assert categories == set(vectors.CATEGORIES)  # depth chains, reuse, 2 - x, the MLP, ...
    skipped = len(lines) - 1 - len(runnable)
    assert result.stdout.strip() == (
        f"{len(runnable)} passed, 0 failed, {skipped} skipped (ops the engine lacks)"
    )


def test_the_javascript_runner_fails_an_engine_with_a_wrong_tanh_derivative(
    tmp_path, cases_file, lines
):
    _require_node()
    assert _JS_ENGINE.count(_WRONG_TANH[0]) == 1
    result = _node_runner(tmp_path, cases_file, _JS_ENGINE.replace(*_WRONG_TANH))
    assert result.returncode == 1
    failed = _failed_ids(result.stdout)
    tanh_alone = {c["id"] for c in lines[1:] if c["category"] == "op" and c["ops"] == ["tanh"]}
    assert tanh_alone <= failed
    assert all("tanh" in lines[1 + i]["ops"] for i in failed)  # only cases that use tanh
    case = lines[1 + min(tanh_alone)]
    assert f"FAIL case {case['id']} (op) v1 = tanh(x0): gradient of x0 " in result.stdout
