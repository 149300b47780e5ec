"""Code generation: a tape as straight-line Python, forward then backward, one line per node.

The backward lines come from the engine's walk (``microgradx.walk``): this module says only how
a gradient, a local derivative and a contribution are written.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from microgradx import checks, walk
from microgradx.engine import Value
from microgradx.ops import ADD, MUL, OPS, Op
from microgradx.replay_numbers import real_power, same
from microgradx.replay_tape import Tape, closure, guard_entries


@dataclass(slots=True)  # three or so per node: no __dict__ each
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


class _Names:
    """The names generated code uses, none made from user text (an op named ``x²`` is
    ``f_op_3``): op rules, and every constant (so inf, NaN and -0.0 need no literal)."""

    def __init__(self) -> None:
        self.table: dict[str, Any] = {
            "_same": same,
            "_trunc": math.trunc,
            "_floor": math.floor,
            "_ceil": math.ceil,
            "_round": round,
            "_is_integer": float.is_integer,
            "_pow": real_power,
        }
        self.ops: dict[int, str] = {}

    def op(self, op: Op, kind: str) -> str:
        key = id(op) * 2 + (kind == "d")
        if key not in self.ops:
            stem = op.name if OPS.get(op.name) is not None else "op"  # a table name: our own text
            self.ops[key] = f"{kind}_{stem}_{len(self.ops)}"
            self.table[self.ops[key]] = op.forward if kind == "f" else op.local_grads
        return self.ops[key]

    def constant(self, value: Any) -> str:
        name = f"k{len(self.table)}"
        self.table[name] = value
        return name


_GUARDED_ERRORS = "(ArithmeticError, ValueError, TypeError)"  # as fn would meet them: re-record


Text = tuple[str, tuple[str, ...]]  # a piece of generated code and the variables it reads


class _Forward:
    """The forward pass as lines: each value in order, each computed leaf from its expression,
    and each guard as soon as the values it reads exist (it returns None when it fails, before
    anything has changed)."""

    def __init__(self, tape: Tape, names: _Names) -> None:
        self.tape = tape
        self.names = names
        self.position = {node: k for k, node in enumerate(tape.values)}
        self.input_index = {node: k for k, node in enumerate(tape.inputs)}
        self.leaf_index = {node: k for k, node in enumerate(tape.leaves)}
        self.lines: list[_Line] = []
        self.emitted: dict[int, Text] = {}

    def value(self, node: Value) -> Text:
        """How a line reads ``node``'s number: a leaf's from its Value, anything else's from
        its variable (a leaf's data does not change during a call, so reading it twice is
        the same number)."""
        if node in self.leaf_index:
            return f"P[{self.leaf_index[node]}].data", ()
        k = self.position[node]
        return f"{{v{k}}}", (f"v{k}",)

    def expression(self, j: int) -> Text:
        """The text of entry j, emitting the lines that compute it (and its parts) once."""
        exprs = self.tape.exprs
        for i in sorted(closure(exprs, [j])):
            if i in self.emitted:
                continue
            entry = exprs[i]
            if entry[0] == "v":
                self.emitted[i] = self.value(entry[1])
            elif entry[0] == "c":
                self.emitted[i] = (self.names.constant(entry[1]), ())
            else:
                text, uses = self._entry(entry)
                self.lines.append(_Line(f"{{e{i}}} = {text}", uses, new=f"e{i}"))
                self.emitted[i] = (f"{{e{i}}}", (f"e{i}",))
        return self.emitted[j]

    def _entry(self, entry: tuple[Any, ...]) -> Text:
        """An expression entry computed from its parts (emitted already)."""
        kind, emitted = entry[0], self.emitted
        if kind == "apply":
            parts = [emitted[a] for a in entry[2]]
            text = f"{self.names.op(entry[1], 'f')}({', '.join(p[0] for p in parts)})"
        elif kind in ("neg", "abs", "round"):
            parts = [emitted[entry[1]]]
            x = parts[0][0]
            if kind == "round":
                text = f"_round({x}, {self.names.constant(entry[2])})"
            else:
                text = f"-{x}" if kind == "neg" else f"abs({x})"
        else:
            parts = [emitted[entry[1]], emitted[entry[2]]]
            a, b = parts[0][0], parts[1][0]
            # a complex power raises, as fn would meet it (Value(complex))
            text = f"_pow({a}, {b})" if kind == "**" else f"{a} {kind} {b}"
        return text, tuple(u for p in parts for u in p[1])

    def guard(self, guard: tuple[Any, ...]) -> None:
        kind, constant = guard[0], self.names.constant
        if kind == "cmp":
            a, b = self.expression(guard[2]), self.expression(guard[3])
            condition, uses = f"{a[0]} {guard[1]} {b[0]}", a[1] + b[1]
            outcome = guard[4]
        elif kind in ("bool", "is_integer"):
            a = self.expression(guard[1])
            condition = a[0] if kind == "bool" else f"_is_integer({a[0]})"
            uses, outcome = a[1], guard[2]
        elif kind == "int":
            a = self.expression(guard[2])
            condition, uses = f"_{guard[1]}({a[0]}) == {constant(guard[3])}", a[1]
            outcome = True
        else:  # "same"
            a = self.expression(guard[1])
            condition, uses, outcome = f"_same({a[0]}, {constant(guard[2])})", a[1], True
        test = f"not ({condition})" if outcome else condition
        self.lines.append(_Line(f"if {test}: return None", uses))

    def node(self, node: Value) -> None:
        k = self.position[node]
        if node in self.input_index:
            self.lines.append(_Line(f"{{v{k}}} = I[{self.input_index[node]}]", new=f"v{k}"))
        elif node in self.tape.computed:
            text, uses = self.expression(self.tape.computed[node])
            self.lines.append(_Line(f"{{v{k}}} = {text}", uses, new=f"v{k}"))
        elif node.op is not None:
            args = [self.value(c) for c in node.children]
            uses = tuple(name for _, used in args for name in used)
            texts = [text for text, _ in args]
            if node.op is ADD:
                text = f"{texts[0]} + {texts[1]}"
            elif node.op is MUL:
                text = f"{texts[0]} * {texts[1]}"
            else:
                text = f"{self.names.op(node.op, 'f')}({', '.join(texts)})"
            self.lines.append(_Line(f"{{v{k}}} = {text}", uses, new=f"v{k}"))

    def all(self, keep: Callable[[Value], bool] | None = None) -> list[_Line]:
        """Every value (``keep``: only those), each guard right after the last value it reads
        (leaves are there from the start)."""
        exprs = self.tape.exprs
        after: dict[int, list[tuple[Any, ...]]] = {}
        for guard in self.tape.guards:
            reads = [
                self.position[exprs[i][1]]
                for j in guard_entries(guard)
                for i in closure(exprs, [j])
                if exprs[i][0] == "v" and exprs[i][1] not in self.leaf_index
            ]
            after.setdefault(max(reads, default=-1), []).append(guard)
        for guard in after.get(-1, []):
            self.guard(guard)
        for node in self.tape.values:
            if keep is None or keep(node):
                self.node(node)
            for guard in after.get(self.position[node], []):
                self.guard(guard)
        return self.lines


def _guarded(lines: list[_Line], tape: Tape) -> list[_Line]:
    """Forward lines inside ``try``: an exception where fn would meet one fails the guards."""
    if not tape.guards and not tape.computed:
        return lines
    return _in_try(lines)


def _in_try(lines: list[_Line]) -> list[_Line]:
    inner = [_Line(line.text, line.uses, line.new, line.indent + 1) for line in lines]
    return [
        _Line("try:"),
        *inner,
        _Line(f"except {_GUARDED_ERRORS}:"),
        _Line("return None", (), None, 1),
    ]


class _Backward(walk.Source):
    """The backward pass as lines: the engine's walk (``microgradx.walk``), with each gradient a
    variable ``g<k>`` and a leaf's added straight into its ``.grad``, as ``backward()`` does. A
    computed leaf (``x.detach()``) receives nothing. The zero-upstream rule is a test in the
    code; ``+`` needs none (adding the upstream as it is changes nothing when it is 0)."""

    def __init__(self, tape: Tape, names: _Names, forward: _Forward) -> None:
        self.names = names
        self.forward = forward
        self.position = forward.position
        self.leaf_index = forward.leaf_index
        self.sinks = set(tape.computed)
        root = self.position[tape.root]
        self.lines = [_Line(f"{{g{root}}} = seed", new=f"g{root}")]
        self.started = {tape.root}  # the gradients that have a variable already
        self.indent = 0

    def gradient(self, node: Value) -> Text:
        k = self.position[node]
        return f"{{g{k}}}", (f"g{k}",)

    def upstream(self, node: Any) -> Any:
        return self.gradient(node) if node in self.started else None

    def receives(self, child: Any) -> bool:
        return child not in self.sinks

    def number(self, node: Any) -> Any:
        return self.forward.value(node)

    def opened(self, node: Any, upstream: Any, zero: int) -> None:
        if node.op is ADD:
            return
        for child in node.children:  # inside the test, a first contribution needs a start
            if child not in self.started and child not in self.leaf_index and self.receives(child):
                self.started.add(child)
                k = self.position[child]
                self.lines.append(_Line(f"{{g{k}}} = 0.0", new=f"g{k}"))
        self.lines.append(_Line(f"if {upstream[0]} != 0.0:", upstream[1]))
        self.indent = 1

    def local_grads(self, node: Any, op: Op) -> Sequence[Any]:
        rule = self.names.op(op, "d")
        out = self.forward.value(node)
        args = [self.forward.value(c) for c in node.children]
        uses = tuple(u for _, used in args for u in used) + out[1]
        texts = ", ".join(t for t, _ in args)
        if len(args) == 1:
            return ((f"{rule}({texts}, {out[0]})[0]", uses),)
        locals_ = [f"l{j}" for j in range(len(args))]
        self.lines.append(
            _Line(f"{', '.join(locals_)}, = {rule}({texts}, {out[0]})", uses, None, 1)
        )
        return [(local, ()) for local in locals_]

    def accumulate(self, node: Any, i: int, child: Any, local: Any, contribution: Any) -> None:
        term, uses = contribution
        if child in self.leaf_index:
            text = self.adds(f"P[{self.leaf_index[child]}].grad", term)
            self.lines.append(_Line(text, uses, None, self.indent))
            return
        target, used = self.gradient(child)
        if child in self.started:
            self.lines.append(_Line(self.adds(target, term), used + uses, None, self.indent))
        else:
            self.started.add(child)
            text = self.adds(target, term, first=True)
            self.lines.append(_Line(text, uses, used[0], self.indent))

    def closed(self, node: Any, upstream: Any) -> None:
        self.indent = 0


def _returns(tape: Tape, forward: _Forward) -> tuple[_Line, _Line]:
    """``run``'s return line (output, inputs' gradients, watched values) and ``forward``'s."""
    position, in_order = forward.position, set(tape.order)
    k_root = position[tape.root]
    watched = [forward.value(n) for n in tape.watch]
    used = [n for n in tape.inputs if n in in_order]  # an unused input's gradient is 0.0
    grads = [f"{{g{position[n]}}}" if n in in_order else "0.0" for n in tape.inputs]
    seen = _tuple(text for text, _ in watched)
    watched_uses = tuple(u for _, w in watched for u in w)
    result = _Line(
        f"return {{v{k_root}}}, {_tuple(grads)}, {seen}",
        (f"v{k_root}", *(f"g{position[n]}" for n in used), *watched_uses),
    )
    return result, _Line(f"return {{v{k_root}}}, {seen}", (f"v{k_root}", *watched_uses))


def python_source(tape: Tape) -> tuple[str, dict[str, Any]]:
    """The program for ``tape`` and the names it uses (the ops' own rules, constants).

    ``run(I, P, seed)`` takes the input numbers ``I``, the leaf Values ``P`` and the gradient of
    the output ``seed``; it adds each leaf's gradient into ``P[m].grad`` and returns the output,
    the inputs' gradients and the watched values, or ``None`` (having changed nothing) when a
    guard fails. ``forward(I, P)`` returns the output and the watched values only (or ``None``).
    """
    checks.instance(tape, "tape", Tape, "Tape (from tape_of())")
    names = _Names()
    forward = _Forward(tape, names)
    guarded = _guarded(forward.all(), tape)
    backward = _Backward(tape, names, forward)
    walk.walk(tape.order, backward)
    result, only = _returns(tape, forward)
    run = ["def run(I, P, seed):"] + [
        "    " + t for t in _allocate([*guarded, *backward.lines, result])
    ]
    ahead = ["def forward(I, P):"] + ["    " + t for t in _allocate([*guarded, only])]
    return "\n".join(run) + "\n\n" + "\n".join(ahead) + "\n", names.table


# lines compiled at a time: CPython's compiler needs ~3 KB a line (9 KB a node) while it works, so
# a large graph is compiled in pieces; a piece hands its live variables on through a dict, which
# costs time at every call, so the pieces are large (a 64-32-10 network is one piece)
CHUNK = 30_000
COMPILER_BYTES_PER_LINE = 3_000


def python_program(tape: Tape) -> tuple[str, Callable[..., Any], Callable[..., Any]]:
    """``(source, run, forward)``: ``python_source``'s program, compiled. A graph of more than
    ``CHUNK`` lines is compiled in pieces of about ``CHUNK`` lines, each a function that takes
    the values the pieces before it computed, and leaves those the later ones read, in a list
    (``R``): the compiler's memory (its syntax tree, about 3 KB a line, 9 KB a node) is then
    that of one piece, not of the whole graph. The numbers are those of the one-piece program
    (the same lines in the same order)."""
    checks.instance(tape, "tape", Tape, "Tape (from tape_of())")
    names = _Names()
    forward = _Forward(tape, names)
    lines = forward.all()
    backward = _Backward(tape, names, forward)
    walk.walk(tape.order, backward)
    result, only = _returns(tape, forward)
    if len(lines) + len(backward.lines) <= CHUNK:
        source = _one_piece(tape, lines, backward.lines, result, only)
        load_program(source, names.table, "")
        return source, names.table.pop("run"), names.table.pop("forward")
    guarded = bool(tape.guards or tape.computed)
    run_pieces = _pieces(lines, guarded) + _pieces(backward.lines, False)
    ahead_pieces = _pieces(lines, guarded)
    texts: list[str] = []
    run = _chained(_compiled(run_pieces, result, "r", names.table, texts))
    ahead = _chained(_compiled(ahead_pieces, only, "f", names.table, texts))
    return "\n".join(texts), run, ahead


def _one_piece(
    tape: Tape, lines: list[_Line], backward: list[_Line], result: _Line, only: _Line
) -> str:
    guarded = _guarded(lines, tape)
    run = ["def run(I, P, seed):"] + ["    " + t for t in _allocate([*guarded, *backward, result])]
    ahead = ["def forward(I, P):"] + ["    " + t for t in _allocate([*guarded, only])]
    return "\n".join(run) + "\n\n" + "\n".join(ahead) + "\n"


def _pieces(lines: list[_Line], guarded: bool) -> list[tuple[list[_Line], bool]]:
    """``lines`` cut into pieces of about ``CHUNK`` lines, each cut between two blocks (never
    inside an ``if``); ``guarded``: each piece's lines go inside ``try`` (``_guarded``)."""
    pieces: list[tuple[list[_Line], bool]] = []
    start = 0
    while start < len(lines):
        stop = min(start + CHUNK, len(lines))
        while stop < len(lines) and lines[stop].indent > 0:
            stop += 1
        pieces.append((lines[start:stop], guarded))
        start = stop
    return pieces


def _compiled(
    pieces: list[tuple[list[_Line], bool]],
    last: _Line,
    tag: str,
    table: dict[str, Any],
    texts: list[str],
) -> list[Callable[..., Any]]:
    """Each piece as a function ``(I, P, seed, R)``: it reads from ``R`` the variables earlier
    pieces made and later ones read, and writes those it makes; the last one returns ``last``
    (the others return R, or None where a guard fails)."""
    pieces = [*pieces[:-1], (pieces[-1][0] + [last], pieces[-1][1])]
    last_piece: dict[str, int] = {}  # the last piece that reads each variable
    for k, (body, _) in enumerate(pieces):
        for line in body:
            for name in line.uses:
                last_piece[name] = k
    slots: dict[str, int] = {}
    made: set[str] = set()
    functions = []
    for k, (body, guarded) in enumerate(pieces):
        read = sorted({u for line in body for u in line.uses if u in made})
        new = {line.new for line in body if line.new is not None}
        # what later pieces read (the others stay in R as they are)
        keep = sorted(name for name in new | set(read) if last_piece.get(name, -1) > k)
        loads = [_Line(f"{{{name}}} = R[{slots.setdefault(name, len(slots))}]", new=name)
                 for name in read]  # fmt: skip
        inner = _in_try(body) if guarded else body
        if k == len(pieces) - 1:
            stores: list[_Line] = []
        else:
            stores = [_Line(f"R[{slots.setdefault(name, len(slots))}] = {{{name}}}", (name,))
                      for name in keep]  # fmt: skip
            stores.append(_Line("return R"))
        name = f"{tag}{k}"
        text = "\n".join([f"def {name}(I, P, seed, R):"]
                         + ["    " + t for t in _allocate([*loads, *inner, *stores])])  # fmt: skip
        load_program(text + "\n", table, "")
        functions.append(table.pop(name))
        texts.append(text)
        made |= new
    return functions


def _chained(functions: list[Callable[..., Any]]) -> Callable[..., Any]:
    """The pieces run one after another; None (a guard failed) stops them."""
    *first, last = functions

    def run(inputs: Any, P: Any, seed: Any = None) -> Any:
        R: dict[int, Any] = {}
        for piece in first:
            if piece(inputs, P, seed, R) is None:
                return None
        return last(inputs, P, seed, R)

    return run


def prepass_source(tape: Tape) -> tuple[str, dict[str, Any]]:
    """For the NumPy back-end: ``prepass(I, P)`` checks one example's guards (and that no
    expression raises where the function would), returning ``None`` when one fails; it computes
    only the values those need, in plain Python, so the guards see exactly the numbers the
    interpreted engine would."""
    names = _Names()
    exprs = tape.exprs
    start = [*(j for g in tape.guards for j in guard_entries(g)), *tape.computed.values()]
    needed: set[Value] = set()
    stack = [exprs[i][1] for i in closure(exprs, start) if exprs[i][0] == "v"]
    stack += tape.computed
    while stack:  # and every value those are computed from
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        if node.op is not None:
            stack.extend(node.children)
        elif node in tape.computed:
            j = tape.computed[node]
            stack.extend(exprs[i][1] for i in closure(exprs, [j]) if exprs[i][0] == "v")
    forward = _Forward(tape, names).all(keep=lambda node: node in needed)
    result = _Line("return ()")
    lines = ["def prepass(I, P):"] + [
        "    " + t for t in _allocate([*_guarded(forward, tape), result])
    ]
    return "\n".join(lines) + "\n", names.table


def _tuple(items: Iterable[str]) -> str:
    """A tuple expression in generated code: ``()``, ``(a,)``, ``(a, b)``."""
    parts = list(items)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


def load_program(source: str, names: dict[str, Any], what: str) -> dict[str, Any]:
    """Run ``source`` with ``names`` as its globals and return them. Pop the functions it
    defines out of ``names``: a function in its own globals is a reference cycle."""
    code = builtins.compile(source, f"<microgradx compiled graph{what}>", "exec")
    exec(code, names)  # the program: plain Python made from the graph, nothing else
    return names
