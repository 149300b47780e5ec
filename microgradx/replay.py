"""Compiled replay: record a graph once, then run the same graph as a program.

Training rebuilds an identical graph for every example: the same ops in the same order, only the
numbers differ. ``compile(fn, example_inputs)`` runs ``fn`` once on Values, records that graph, and
writes it out as straight-line Python, one line per node, forward then backward::

    v7 = v3 * v4              # forward: the op table's own rule, on floats
    v8 = f_tanh(v7)
    ...
    if g8 != 0.0:             # backward, in backward()'s order: child.grad += upstream * local
        g7 += g8 * d_tanh(v7, v8)[0]

No Value objects are made when it runs, which is where the interpreted engine spends its time.
It is the same graph run as a program, not a new engine: for the same inputs its output and every
gradient are bit for bit those of ``backward()`` (the same float operations in the same order; a
test checks this on random graphs over the whole op table and on MLP losses).

Leaves that are not inputs (a model's parameters, constants) are read from their Value at every
call and their ``grad`` accumulates, exactly as after ``backward()``. A NumPy back-end (extra
``fast``) replays one example's graph over a whole batch at once: see ``microgradx.replay_numpy``.

Honest guards: a function whose graph depends on the input *values* (a Python ``if`` on
``.data``) would be replayed wrongly, so ``compile`` runs ``fn`` a second time on other numbers and
refuses if the op sequence differs. Given the ``model``, a change of its structure after compiling
(a layer added, a weight replaced) is refused at the next call.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from microgradx.checks import is_real, real
from microgradx.engine import Value, topological_order
from microgradx.nn import Module
from microgradx.ops import ADD, MUL, Op
from microgradx.replay_numpy import numpy_program

BACKENDS = ("python", "numpy")


class CompileError(ValueError):
    """The function cannot be compiled faithfully; the message says why and what to do."""


# ---- the recorded graph -------------------------------------------------------------------------


@dataclass(frozen=True)
class Tape:
    """A recorded graph in topological order, with each node's role.

    ``order``: every node, inputs first, the output last. ``inputs``: the input leaves (numbers
    given at each call). ``leaves``: every other leaf (parameters, constants), read at each call.
    ``watch``: nodes whose values a call also returns (a model's output, for accuracy).
    """

    order: tuple[Value, ...]
    inputs: tuple[Value, ...]
    leaves: tuple[Value, ...]
    watch: tuple[Value, ...]

    @property
    def root(self) -> Value:
        return self.order[-1]

    def signature(self) -> list[tuple[Any, ...]]:
        """The op sequence: for each node its op and where its inputs are (positions or roles)."""
        position = {node: k for k, node in enumerate(self.order)}
        input_index = {node: k for k, node in enumerate(self.inputs)}
        shape: list[tuple[Any, ...]] = []
        for node in self.order:
            if node.op is None:
                shape.append(("input", input_index[node]) if node in input_index else ("leaf",))
            else:
                shape.append((node.op, *(position[c] for c in node.children)))
        return shape


def record(root: Value, inputs: Sequence[Value], watch: Iterable[Value] = ()) -> Tape:
    """The tape of ``root``'s graph; ``inputs`` are the leaves that each call supplies."""
    if not isinstance(root, Value):
        raise TypeError(
            f"the function must return one Value (a scalar, such as a loss), got"
            f" {type(root).__name__}{_length(root)}: reduce it to one Value first"
        )
    if root.op is None:
        raise CompileError("the function returned a leaf: there is no graph to compile")
    order = topological_order(root)
    in_graph = set(order)  # an input the function ignores is allowed: its gradient is 0
    watched = tuple(watch)
    for k, node in enumerate(watched):
        if node not in in_graph:
            raise CompileError(f"watched value {k} is not part of the output's graph")
    input_set = set(inputs)
    leaves = tuple(n for n in order if n.op is None and n not in input_set)
    return Tape(tuple(order), tuple(inputs), leaves, watched)


def _length(x: Any) -> str:
    return f" of {len(x)}" if isinstance(x, (list, tuple)) else ""


# ---- straight-line Python -----------------------------------------------------------------------


@dataclass
class _Line:
    """One line of generated code, with the variables it reads and the one it creates."""

    text: str  # with {name} placeholders for variables
    uses: tuple[str, ...] = ()
    new: str | None = None  # a variable this line creates (it starts living here)
    indent: int = 0


def _allocate(lines: list[_Line]) -> list[str]:
    """Give the variables the fewest local names: a name is reused once its value is dead.

    The whole graph in locals would make one local per node, and a Python frame that large is
    allocated afresh (mmap) at every call, which costs more than the arithmetic. Straight-line
    code, so a variable is dead after its last use; new variables are only created outside the
    ``if`` blocks, so reusing a name can never skip a definition.
    """
    last_use: dict[str, int] = {}
    for i, line in enumerate(lines):
        for name in line.uses:
            last_use[name] = i
    slot: dict[str, str] = {}
    free: list[str] = []
    count = 0
    out = []
    for i, line in enumerate(lines):
        names = {name: slot[name] for name in line.uses}
        for name in line.uses:
            if last_use[name] == i and slot.get(name) is not None:
                free.append(slot.pop(name))
        if line.new is not None:
            if free:
                slot[line.new] = free.pop()
            else:
                slot[line.new] = f"x{count}"
                count += 1
            names[line.new] = slot[line.new]
            if last_use.get(line.new, -1) <= i:  # created but never read (a dead value)
                free.append(slot.pop(line.new))
        out.append("    " * line.indent + line.text.format(**names))
    return out


def python_source(tape: Tape) -> tuple[str, dict[str, Any]]:
    """The program for ``tape`` and the names it uses (the ops' own rules).

    ``run(I, P, seed)`` takes the input numbers ``I``, the leaf Values ``P`` and the gradient of
    the output ``seed``; it adds each leaf's gradient into ``P[m].grad`` and returns the output,
    the inputs' gradients and the watched values. ``forward(I, P)`` returns the output and the
    watched values only.
    """
    position = {node: k for k, node in enumerate(tape.order)}
    input_index = {node: k for k, node in enumerate(tape.inputs)}
    leaf_index = {node: k for k, node in enumerate(tape.leaves)}
    names: dict[str, Any] = {}
    op_names: dict[int, str] = {}

    def op_name(op: Op, kind: str) -> str:
        key = id(op) * 2 + (kind == "d")
        if key not in op_names:
            stem = "".join(ch if ch.isalnum() else "_" for ch in op.name)
            op_names[key] = f"{kind}_{stem}_{len(op_names)}"
            names[op_names[key]] = op.forward if kind == "f" else op.local_grads
        return op_names[key]

    def value(node: Value) -> tuple[str, tuple[str, ...]]:
        """How a line reads ``node``'s number: a leaf's from its Value, anything else's from
        its variable (a leaf's data does not change during a call, so reading it twice is
        the same number)."""
        if node in leaf_index:
            return f"P[{leaf_index[node]}].data", ()
        return f"{{v{position[node]}}}", (f"v{position[node]}",)

    forward: list[_Line] = []
    for node in tape.order:
        k = position[node]
        if node in input_index:
            forward.append(_Line(f"{{v{k}}} = I[{input_index[node]}]", new=f"v{k}"))
            if node is tape.root:
                continue
        if node.op is None:
            continue
        args = [value(c) for c in node.children]
        uses = tuple(name for _, used in args for name in used)
        texts = [text for text, _ in args]
        if node.op is ADD:
            expression = f"{texts[0]} + {texts[1]}"
        elif node.op is MUL:
            expression = f"{texts[0]} * {texts[1]}"
        else:
            expression = f"{op_name(node.op, 'f')}({', '.join(texts)})"
        forward.append(_Line(f"{{v{k}}} = {expression}", uses, new=f"v{k}"))

    # Backward, in backward()'s order. A gradient starts at 0.0 and each contribution is added
    # to it (a leaf's straight into its .grad, as backward() does); a first contribution made
    # only when the upstream is not 0 needs the start written out before the test. (+ needs no
    # test: adding +0.0 changes nothing.)
    root = tape.root
    backward = [_Line(f"{{g{position[root]}}} = seed", new=f"g{position[root]}")]
    started = {root}

    def contribute(child: Value, expression: str, uses: tuple[str, ...], indent: int) -> None:
        c = position[child]
        if child in leaf_index:
            backward.append(
                _Line(f"P[{leaf_index[child]}].grad += {expression}", uses, None, indent)
            )
        elif child in started:
            backward.append(_Line(f"{{g{c}}} += {expression}", (f"g{c}", *uses), None, indent))
        else:
            started.add(child)
            backward.append(_Line(f"{{g{c}}} = 0.0 + {expression}", uses, f"g{c}", indent))

    for node in reversed(tape.order):
        if node.op is None:
            continue
        k = position[node]
        g = (f"{{g{k}}}", (f"g{k}",))
        if node.op is ADD:
            for child in node.children:
                contribute(child, g[0], g[1], 0)
            continue
        for child in node.children:  # inside the test below, a first contribution needs a start
            if child not in started and child not in leaf_index:
                started.add(child)
                backward.append(_Line(f"{{g{position[child]}}} = 0.0", new=f"g{position[child]}"))
        backward.append(_Line(f"if {{g{k}}} != 0.0:", g[1]))  # a zero upstream contributes 0
        a, b = (value(c) for c in node.children) if len(node.children) == 2 else (None, None)
        if node.op is MUL:
            assert a is not None and b is not None
            contribute(node.children[0], f"{g[0]} * {b[0]}", g[1] + b[1], 1)
            contribute(node.children[1], f"{g[0]} * {a[0]}", g[1] + a[1], 1)
            continue
        rule = op_name(node.op, "d")
        out = (f"{{v{k}}}", (f"v{k}",))
        if len(node.children) == 1:
            x = value(node.children[0])
            expression = f"{g[0]} * {rule}({x[0]}, {out[0]})[0]"
            contribute(node.children[0], expression, g[1] + x[1] + out[1], 1)
        elif len(node.children) == 2:
            assert a is not None and b is not None
            call = f"la, lb = {rule}({a[0]}, {b[0]}, {out[0]})"
            backward.append(_Line(call, a[1] + b[1] + out[1], None, 1))
            contribute(node.children[0], f"{g[0]} * la", g[1], 1)
            contribute(node.children[1], f"{g[0]} * lb", g[1], 1)
        else:  # an op of three or more inputs (a loss of n logits): l0, l1, ... = its rule
            args = [value(c) for c in node.children]
            names_ = [f"l{j}" for j in range(len(args))]
            reads = tuple(u for _, us in args for u in us)
            call = f"{', '.join(names_)} = {rule}({', '.join(t for t, _ in args)}, {out[0]})"
            backward.append(_Line(call, reads + out[1], None, 1))
            for child, local in zip(node.children, names_):
                contribute(child, f"{g[0]} * {local}", g[1], 1)

    k_root = position[root]
    watched = [value(n) for n in tape.watch]
    used = [n for n in tape.inputs if n in position]  # an unused input's gradient is 0.0
    grads = [f"{{g{position[n]}}}" if n in position else "0.0" for n in tape.inputs]
    result = _Line(
        f"return {{v{k_root}}}, {_tuple(grads)}, {_tuple(text for text, _ in watched)}",
        (f"v{k_root}", *(f"g{position[n]}" for n in used), *(u for _, w in watched for u in w)),
    )
    run = ["def run(I, P, seed):"] + ["    " + t for t in _allocate([*forward, *backward, result])]
    only = _Line(
        f"return {{v{k_root}}}, {_tuple(text for text, _ in watched)}",
        (f"v{k_root}", *(u for _, w in watched for u in w)),
    )
    ahead = ["def forward(I, P):"] + ["    " + t for t in _allocate([*forward, only])]
    return "\n".join(run) + "\n\n" + "\n".join(ahead) + "\n", names


def _tuple(items: Iterable[str]) -> str:
    """A tuple expression in generated code: ``()``, ``(a,)``, ``(a, b)``."""
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


# ---- the compiled callable ----------------------------------------------------------------------


def _fingerprint(model: Any) -> tuple[Any, ...]:
    """The structure of a module tree, cheaply: every module and container it holds, by identity
    and length (and a list's first item), so an added layer or a replaced module changes it. Runs
    at every call, so it looks at containers, not at every weight."""
    if not isinstance(model, Module):
        raise TypeError(f"model must be a microgradx Module, got {type(model).__name__}")
    parts: list[Any] = []
    stack = [model]
    while stack:
        module = stack.pop()
        for value in vars(module).values():
            if type(value) is list or type(value) is tuple:
                first = value[0] if value else None
                parts.append((id(value), len(value), id(first)))
                if isinstance(first, Module):
                    stack.extend(value)
            elif isinstance(value, Module):
                parts.append(id(value))
                stack.append(value)
            elif type(value) is Value:
                parts.append(id(value))
    return tuple(parts)


class Compiled:
    """A recorded graph as a program: ``program(*inputs)`` runs forward and backward for one
    example (returns the output; leaves' ``grad`` accumulate, as after ``backward()``);
    ``program.forward(*inputs)`` runs forward only; ``program.batch(rows)`` runs many examples
    (with the NumPy back-end, all at once)."""

    def __init__(self, tape: Tape, backend: str = "python", model: Any = None) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be 'python' or 'numpy', got {backend!r}")
        self.tape = tape
        self.backend = backend
        self.n_inputs = len(tape.inputs)
        self.nodes = len(tape.order)
        self.input_grads: tuple[float, ...] = ()
        self.watched: tuple[Any, ...] = ()
        self._model = model
        self._fingerprint = _fingerprint(model) if model is not None else None
        self._leaves = list(tape.leaves)
        if backend == "python":
            self.source, names = python_source(tape)
            code = builtins.compile(self.source, "<microgradx compiled graph>", "exec")
            exec(code, names)  # the program: plain Python made from the graph, nothing else
            self._run: Callable[..., Any] = names["run"]
            self._forward: Callable[..., Any] = names["forward"]
        else:
            self.source, self._run, self._forward = numpy_program(tape)

    def __repr__(self) -> str:
        return (
            f"<compiled graph: {self.nodes} nodes, {self.n_inputs} inputs,"
            f" {len(self._leaves)} leaves, {self.backend} back-end>"
        )

    def check_structure(self) -> None:
        """Raise if the model given to ``compile`` changed shape since (a layer added, a weight
        replaced): the recorded graph would no longer be the model's."""
        if self._fingerprint is not None and _fingerprint(self._model) != self._fingerprint:
            raise CompileError(
                "the model's structure changed after it was compiled (a layer or parameter was"
                " added, removed or replaced): the recorded graph no longer matches; compile again"
            )

    def _numbers(self, inputs: Sequence[Any], where: str = "") -> list[float]:
        if len(inputs) != self.n_inputs:
            raise ValueError(
                f"the compiled function takes {self.n_inputs} inputs, got {len(inputs)}{where}"
            )
        numbers = []
        for k, x in enumerate(inputs):
            number = real(x, f"input {k}{where}")
            if not math.isfinite(number):
                raise ValueError(f"input {k}{where} is {number}: the data must be finite numbers")
            numbers.append(number)
        return numbers

    def __call__(self, *inputs: Any, gradient: float = 1.0) -> float:
        """Forward and backward for one example, like ``fn(*inputs).backward(gradient)``."""
        if self.backend != "python":
            return float(self.batch([inputs], gradient=gradient)[0])
        self.check_structure()
        out, self.input_grads, self.watched = self._run(
            self._numbers(inputs), self._leaves, real(gradient, "gradient")
        )
        return out  # type: ignore[no-any-return]

    def forward(self, *inputs: Any) -> float:
        """The output for one example, no gradients (like ``fn`` under ``no_grad``)."""
        self.check_structure()
        if self.backend != "python":
            out, self.watched = self._forward([[x] for x in self._numbers(inputs)], self._leaves)
            return float(out[0])
        out, self.watched = self._forward(self._numbers(inputs), self._leaves)
        return out  # type: ignore[no-any-return]

    def batch(self, rows: Sequence[Sequence[Any]], gradient: float = 1.0) -> list[float]:
        """Forward and backward for every row (one example's inputs each), in order; each
        leaf's gradient is the sum over the rows. Returns the outputs; ``watched`` holds, per
        watched value, its value for every row."""
        self.check_structure()
        if not rows:
            raise ValueError("batch() needs at least one row")
        checked = [self._numbers(row, f" of row {i}") for i, row in enumerate(rows)]
        seed = real(gradient, "gradient")
        if self.backend == "numpy":
            columns = [[row[k] for row in checked] for k in range(self.n_inputs)]
            out, self.input_grads, self.watched = self._run(columns, self._leaves, seed)
            return [float(v) for v in out]
        outputs, watched = [], []
        for numbers in checked:
            out, self.input_grads, seen = self._run(numbers, self._leaves, seed)
            outputs.append(out)
            watched.append(seen)
        self.watched = tuple(zip(*watched)) if watched and watched[0] else ()
        return outputs


def compile_graph(
    root: Value,
    inputs: Sequence[Value],
    *,
    watch: Iterable[Value] = (),
    backend: str = "python",
    model: Any = None,
) -> Compiled:
    """Compile a graph already recorded: ``root`` its output, ``inputs`` the leaves each call
    supplies. (``compile`` records it for you and checks that it does not depend on the data.)"""
    return Compiled(record(root, inputs, watch), backend, model)


def compile(
    fn: Callable[..., Value],
    example_inputs: Sequence[float],
    *,
    backend: str = "python",
    model: Any = None,
    check: bool | Sequence[float] = True,
) -> Compiled:
    """Record ``fn``'s graph on ``example_inputs`` and return it as a program (see the module
    docstring). ``fn`` takes one Value per input and returns one Value.

    ``check``: run ``fn`` again on other numbers (``True``: the example negated, scaled and
    shifted; or the numbers to use) and refuse if its op sequence differs, which means a Python
    ``if`` on ``.data`` decides the graph. ``model``: the module whose parameters ``fn`` uses;
    a change of its structure is refused at the next call. ``backend``: ``"python"`` (no
    dependencies) or ``"numpy"`` (``pip install 'microgradx[fast]'``): many examples at once.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    if isinstance(example_inputs, (str, bytes)) or not hasattr(example_inputs, "__len__"):
        raise TypeError("example_inputs must be a sequence of numbers, one per input of fn")
    example = [real(x, f"example input {k}") for k, x in enumerate(example_inputs)]
    if not example:
        raise ValueError("example_inputs is empty: fn needs at least one input to replay")

    def trace(numbers: Sequence[float]) -> Tape:
        leaves = [Value(x) for x in numbers]
        return record(fn(*leaves), leaves)

    tape = trace(example)
    if check is not False:
        if check is True:
            other = [-1.37 * x + 0.71 for x in example]
        else:
            if not all(is_real(x) for x in check) or len(check) != len(example):
                raise ValueError(f"check must be True, False or {len(example)} numbers")
            other = [float(x) for x in check]
        same_graph(tape, trace(other))
    return Compiled(tape, backend, model)


def same_graph(first: Tape, second: Tape) -> None:
    """Raise ``CompileError`` unless two recordings of one function (on different inputs) are the
    same graph: the same op sequence, the same parameters, and constants of the same values."""
    if first.signature() != second.signature():
        raise CompileError(
            "the function builds a different graph for different input values (a Python `if`"
            " on .data, or a loop whose length depends on the data): a recorded graph would be"
            " wrong for some inputs, so it is not compiled. Write the choice with ops (relu,"
            " maximum), or keep the interpreted engine"
        )
    for a, b in zip(first.leaves, second.leaves):
        if a is not b and not (a.data == b.data or (a.data != a.data and b.data != b.data)):
            raise CompileError(
                "a number inside the function changes from call to call (a dropout mask, a"
                f" random draw, a counter: {a.data!r} then {b.data!r}): a recorded graph would"
                " freeze it, so it is not compiled. Compile in eval mode, or keep the"
                " interpreted engine"
            )
