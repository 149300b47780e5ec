"""compile() on a graph with no sums of products (random +, -, * and tanh, each node a line of
generated code): at most 1.5 KB a node with both back-ends (issue 22), measured with tracemalloc
(deterministic: the same allocations at every run; not timed). And the NaNs of a compiled run
carry the interpreted engine's sign wherever CPython's own arithmetic decides it (see
``microgradx.replay_python``'s docstring for where it does not)."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

import microgradx
from microgradx import Value
from microgradx.replay import compile_graph
from tests.conftest import require_numpy
from tests.test_replay_memory import _dag

KB = 1024


# In a process of its own: in a process that has imported much (a test run), the table of
# interned strings is large, and its resizing, which the compiler's new names can set off at any
# moment, adds megabytes to whichever compile() it falls in.
_MEASURE = """
import sys
import microgradx
from tests.test_replay_memory import _dag, _peak_per_node

backend = sys.argv[1]


def compile_it(n):
    return microgradx.compile(_dag(n), [0.5] * 8, check=False, backend=backend)


compile_it(200)  # imports and caches, once
per_node, program = _peak_per_node(lambda: compile_it(3300))
print(program.nodes, per_node)
"""


@pytest.mark.parametrize("backend", ["python", "numpy"])
def test_compiling_a_random_graph_without_sums_takes_at_most_1_5_kb_a_node(backend):
    """2,058 nodes of +, -, * and tanh: 2.9 KB a node (Python) and 1.8 KB (NumPy) before, when
    the Python back-end held every line of its source before compiling any, and the NumPy
    back-end's plan held a tuple per edge."""
    if backend == "numpy":
        require_numpy()
    root = Path(__file__).resolve().parent.parent
    path = os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, backend],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": path},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    nodes, per_node = result.stdout.split()
    assert 2000 <= int(nodes) <= 2100
    assert float(per_node) <= 1.5 * KB, f"{float(per_node):.0f} B a node"


def test_the_python_back_end_compiles_a_large_graph_in_pieces_as_its_lines_are_made(
    monkeypatch,
):
    """When a piece is compiled, no more lines of the program exist than a piece has: its
    source exists a piece at a time (the first pass, which makes every line once, keeps none
    once they are more than a piece's worth; the second names and compiles them as they come)."""
    from microgradx import replay_python

    alive = [0, 0]  # lines made, lines freed
    at_compile = []
    real_init = replay_python._Line.__init__

    def counting(self, *args, **kwargs):
        alive[0] += 1
        real_init(self, *args, **kwargs)

    def freed(self):
        alive[1] += 1

    real_code = replay_python._inner_code

    def compiling(source, name):
        at_compile.append(alive[0] - alive[1])
        return real_code(source, name)

    monkeypatch.setattr(replay_python._Line, "__init__", counting)
    monkeypatch.setattr(replay_python._Line, "__del__", freed, raising=False)
    monkeypatch.setattr(replay_python, "_inner_code", compiling)
    program = microgradx.compile(_dag(3300), [0.5] * 8, check=False)
    assert program.source.count("def r") > 20  # in pieces
    assert alive[0] >= 2 * 3 * program.nodes  # (every line made twice)
    assert max(at_compile) <= replay_python.CHUNK, at_compile


# ---- NaN: the sign bit ----------------------------------------------------------------------


def _bits(x: float) -> tuple[bool, float, float]:
    """A float's identity with its sign bit: NaN and -NaN differ, as do 0.0 and -0.0."""
    x = float(x)
    return (x != x, 0.0 if x != x else x, math.copysign(1.0, x))


def _inf(v: Value) -> Value:
    return v * 1e308 * 10.0  # +-inf for |v| >= 1


# Graphs whose NaNs never meet another NaN in a + or a * (where CPython's sign is not its own,
# see replay_python): each NaN comes from an invalid operation and goes on with finite numbers.
NAN_GRAPHS = {
    "inf - inf": lambda a, b: _inf(a) - _inf(b) + b,
    "0 * inf, then tanh": lambda a, b: (_inf(a) * (b - b)).tanh() * 0.5 + b,
    "log of a negative number": lambda a, b: (a - b).log() * b,
    "a detached -NaN": lambda a, b: Value(-(_inf(a) - _inf(a)).data) * b + a,
    "a detached abs(-NaN)": lambda a, b: Value(abs((_inf(a) - _inf(a)).data)) * b + a,
}


@pytest.mark.parametrize("name", sorted(NAN_GRAPHS))
def test_nan_results_of_a_compiled_run_have_the_interpreted_engines_sign(name):
    fn = NAN_GRAPHS[name]
    program = microgradx.compile(fn, [2.0, 3.0], check=False)
    graph_xs = [Value(2.0), Value(3.0)]
    graph = compile_graph(fn(*graph_xs), graph_xs)  # (the same graph, given whole)
    for a, b in [(2.0, 3.0), (1.5, 4.0), (5.0, 7.5)]:
        xs = [Value(a), Value(b)]
        out = fn(*xs)
        out.backward()
        want = [_bits(out.data), *(_bits(x.grad) for x in xs)]
        assert any(w[0] for w in want)  # (a NaN to compare)
        for compiled in (program, graph):
            for _ in range(3):  # the first calls and later ones (CPython specializes its code)
                got = compiled.run(a, b)
                assert [_bits(got.output), *map(_bits, got.input_grads)] == want


def test_recording_a_function_that_makes_many_constants_is_linear_in_them(monkeypatch):
    """``record_function`` looks each leaf the function made up in the second run's leaves: one
    set of them, not one per leaf (quadratic: 10-15% of compiling a 19,000-node graph). Counted,
    not timed: the sets it builds do not grow with the leaves."""
    from microgradx import replay_record

    built = []

    def counting_set(*args):
        result = set(*args)
        built.append(len(result))
        return result

    monkeypatch.setattr(replay_record, "set", counting_set, raising=False)
    program = microgradx.compile(_dag(3300), [0.5] * 8, check=False)
    assert len(program.tape.leaves) > 200  # (the constants 0.5 of its tanh steps)
    assert len(built) <= 5, len(built)
