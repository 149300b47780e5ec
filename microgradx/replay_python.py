"""Code generation: a tape as straight-line Python, forward then backward, one line per node.

The backward lines come from the engine's walk (``microgradx.walk``): this module says only how
a gradient, a local derivative and a contribution are written.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from microgradx import checks
from microgradx.engine import Value
from microgradx.ops import ADD, MUL, OPS, Op
from microgradx.replay_numbers import real_power, same
from microgradx.replay_tape import Tape, closure, guard_entries


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


def _forward_lines(
    tape: Tape, names: _Names, keep: Callable[[Value], bool] | None = None
) -> tuple[list[_Line], Callable[[Value], tuple[str, tuple[str, ...]]]]:
    """The forward pass with the guards and computed leaves, each guard as soon as the values it
    reads exist (it returns None when it fails, before anything has changed). ``keep``: compute
    only these values (the others are not needed)."""
    values = tape.values
    position = {node: k for k, node in enumerate(values)}
    input_index = {node: k for k, node in enumerate(tape.inputs)}
    leaf_index = {node: k for k, node in enumerate(tape.leaves)}
    exprs = tape.exprs

    def value(node: Value) -> tuple[str, tuple[str, ...]]:
        """How a line reads ``node``'s number: a leaf's from its Value, anything else's from
        its variable (a leaf's data does not change during a call, so reading it twice is
        the same number)."""
        if node in leaf_index:
            return f"P[{leaf_index[node]}].data", ()
        return f"{{v{position[node]}}}", (f"v{position[node]}",)

    lines: list[_Line] = []
    emitted: dict[int, tuple[str, tuple[str, ...]]] = {}

    def expression(j: int) -> tuple[str, tuple[str, ...]]:
        """The text of entry j, emitting the lines that compute it (and its parts) once."""
        for i in sorted(closure(exprs, [j])):
            if i in emitted:
                continue
            entry = exprs[i]
            kind = entry[0]
            if kind == "v":
                emitted[i] = value(entry[1])
                continue
            if kind == "c":
                emitted[i] = (names.constant(entry[1]), ())
                continue
            if kind == "apply":
                parts = [emitted[a] for a in entry[2]]
                text = f"{names.op(entry[1], 'f')}({', '.join(p[0] for p in parts)})"
            elif kind == "neg":
                parts = [emitted[entry[1]]]
                text = f"-{parts[0][0]}"
            elif kind == "abs":
                parts = [emitted[entry[1]]]
                text = f"abs({parts[0][0]})"
            elif kind == "round":
                parts = [emitted[entry[1]]]
                text = f"_round({parts[0][0]}, {names.constant(entry[2])})"
            else:
                parts = [emitted[entry[1]], emitted[entry[2]]]
                if kind == "**":  # a complex power raises, as fn would meet it (Value(complex))
                    text = f"_pow({parts[0][0]}, {parts[1][0]})"
                else:
                    text = f"{parts[0][0]} {kind} {parts[1][0]}"
            uses = tuple(u for p in parts for u in p[1])
            lines.append(_Line(f"{{e{i}}} = {text}", uses, new=f"e{i}"))
            emitted[i] = (f"{{e{i}}}", (f"e{i}",))
        return emitted[j]

    def guard_line(guard: tuple[Any, ...]) -> None:
        kind = guard[0]
        if kind == "cmp":
            a, b = expression(guard[2]), expression(guard[3])
            condition, uses = f"{a[0]} {guard[1]} {b[0]}", a[1] + b[1]
            outcome = guard[4]
        elif kind == "bool":
            a = expression(guard[1])
            condition, uses, outcome = a[0], a[1], guard[2]
        elif kind == "is_integer":
            a = expression(guard[1])
            condition, uses, outcome = f"_is_integer({a[0]})", a[1], guard[2]
        elif kind == "int":
            a = expression(guard[2])
            result = names.constant(guard[3])
            condition, uses, outcome = f"_{guard[1]}({a[0]}) == {result}", a[1], True
        else:  # "same"
            a = expression(guard[1])
            number = names.constant(guard[2])
            condition, uses, outcome = f"_same({a[0]}, {number})", a[1], True
        test = f"not ({condition})" if outcome else condition
        lines.append(_Line(f"if {test}: return None", uses))

    # each guard right after the last value it reads (leaves are there from the start)
    after: dict[int, list[tuple[Any, ...]]] = {}
    for guard in tape.guards:
        reads = [
            position[exprs[i][1]]
            for j in guard_entries(guard)
            for i in closure(exprs, [j])
            if exprs[i][0] == "v" and exprs[i][1] not in leaf_index
        ]
        after.setdefault(max(reads, default=-1), []).append(guard)
    for guard in after.get(-1, []):
        guard_line(guard)
    for node in values:
        k = position[node]
        if keep is None or keep(node):
            if node in input_index:
                lines.append(_Line(f"{{v{k}}} = I[{input_index[node]}]", new=f"v{k}"))
            elif node in tape.computed:
                text, uses = expression(tape.computed[node])
                lines.append(_Line(f"{{v{k}}} = {text}", uses, new=f"v{k}"))
            elif node.op is not None:
                args = [value(c) for c in node.children]
                uses = tuple(name for _, used in args for name in used)
                texts = [text for text, _ in args]
                if node.op is ADD:
                    expression_text = f"{texts[0]} + {texts[1]}"
                elif node.op is MUL:
                    expression_text = f"{texts[0]} * {texts[1]}"
                else:
                    expression_text = f"{names.op(node.op, 'f')}({', '.join(texts)})"
                lines.append(_Line(f"{{v{k}}} = {expression_text}", uses, new=f"v{k}"))
        for guard in after.get(k, []):
            guard_line(guard)
    return lines, value


def _guarded(lines: list[_Line], tape: Tape) -> list[_Line]:
    """Forward lines inside ``try``: an exception where fn would meet one fails the guards."""
    if not tape.guards and not tape.computed:
        return lines
    inner = [_Line(line.text, line.uses, line.new, line.indent + 1) for line in lines]
    return [
        _Line("try:"),
        *inner,
        _Line(f"except {_GUARDED_ERRORS}:"),
        _Line("return None", (), None, 1),
    ]


def python_source(tape: Tape) -> tuple[str, dict[str, Any]]:
    """The program for ``tape`` and the names it uses (the ops' own rules, constants).

    ``run(I, P, seed)`` takes the input numbers ``I``, the leaf Values ``P`` and the gradient of
    the output ``seed``; it adds each leaf's gradient into ``P[m].grad`` and returns the output,
    the inputs' gradients and the watched values, or ``None`` (having changed nothing) when a
    guard fails. ``forward(I, P)`` returns the output and the watched values only (or ``None``).
    """
    checks.instance(tape, "tape", Tape, "Tape (from tape_of())")
    names = _Names()
    forward, value = _forward_lines(tape, names)
    order = tape.order
    in_order = set(order)
    position = {node: k for k, node in enumerate(tape.values)}
    leaf_index = {node: k for k, node in enumerate(tape.leaves)}
    sinks = set(tape.computed)  # computed leaves: their gradient goes nowhere (detach)

    # Backward, in backward()'s order. A gradient starts at 0.0 and each contribution is added
    # to it (a leaf's straight into its .grad, as backward() does); a first contribution made
    # only when the upstream is not 0 needs the start written out before the test. (+ needs no
    # test: adding +0.0 changes nothing.)
    root = tape.root
    backward = [_Line(f"{{g{position[root]}}} = seed", new=f"g{position[root]}")]
    started = {root}

    def contribute(child: Value, expression: str, uses: tuple[str, ...], indent: int) -> None:
        c = position[child]
        if child in sinks:
            return
        if child in leaf_index:
            backward.append(
                _Line(f"P[{leaf_index[child]}].grad += {expression}", uses, None, indent)
            )
        elif child in started:
            backward.append(_Line(f"{{g{c}}} += {expression}", (f"g{c}", *uses), None, indent))
        else:
            started.add(child)
            backward.append(_Line(f"{{g{c}}} = 0.0 + {expression}", uses, f"g{c}", indent))

    for node in reversed(order):
        if node.op is None:
            continue
        k = position[node]
        g = (f"{{g{k}}}", (f"g{k}",))
        if all(child in sinks for child in node.children):
            continue
        if node.op is ADD:
            for child in node.children:
                contribute(child, g[0], g[1], 0)
            continue
        for child in node.children:  # inside the test below, a first contribution needs a start
            if child not in started and child not in leaf_index and child not in sinks:
                started.add(child)
                backward.append(_Line(f"{{g{position[child]}}} = 0.0", new=f"g{position[child]}"))
        backward.append(_Line(f"if {{g{k}}} != 0.0:", g[1]))  # a zero upstream contributes 0
        a, b = (value(c) for c in node.children) if len(node.children) == 2 else (None, None)
        if node.op is MUL:
            assert a is not None and b is not None
            contribute(node.children[0], f"{g[0]} * {b[0]}", g[1] + b[1], 1)
            contribute(node.children[1], f"{g[0]} * {a[0]}", g[1] + a[1], 1)
            continue
        rule = names.op(node.op, "d")
        out = (f"{{v{k}}}", (f"v{k}",))
        if len(node.children) == 1:
            x = value(node.children[0])
            expression = f"{g[0]} * {rule}({x[0]}, {out[0]})[0]"
            contribute(node.children[0], expression, g[1] + x[1] + out[1], 1)
        else:
            args = [value(c) for c in node.children]
            locals_ = [f"l{j}" for j in range(len(args))]
            call = f"{', '.join(locals_)}, = {rule}({', '.join(t for t, _ in args)}, {out[0]})"
            uses = tuple(u for _, used in args for u in used) + out[1]
            backward.append(_Line(call, uses, None, 1))
            for child, local in zip(node.children, locals_):
                contribute(child, f"{g[0]} * {local}", g[1], 1)

    k_root = position[root]
    watched = [value(n) for n in tape.watch]
    used = [n for n in tape.inputs if n in in_order]  # an unused input's gradient is 0.0
    grads = [f"{{g{position[n]}}}" if n in in_order else "0.0" for n in tape.inputs]
    result = _Line(
        f"return {{v{k_root}}}, {_tuple(grads)}, {_tuple(text for text, _ in watched)}",
        (f"v{k_root}", *(f"g{position[n]}" for n in used), *(u for _, w in watched for u in w)),
    )
    guarded = _guarded(forward, tape)
    run = ["def run(I, P, seed):"] + ["    " + t for t in _allocate([*guarded, *backward, result])]
    only = _Line(
        f"return {{v{k_root}}}, {_tuple(text for text, _ in watched)}",
        (f"v{k_root}", *(u for _, w in watched for u in w)),
    )
    ahead = ["def forward(I, P):"] + ["    " + t for t in _allocate([*guarded, only])]
    return "\n".join(run) + "\n\n" + "\n".join(ahead) + "\n", names.table


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
    forward, _ = _forward_lines(tape, names, keep=lambda node: node in needed)
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
    code = builtins.compile(source, f"<microgradx compiled graph{what}>", "exec")
    exec(code, names)  # the program: plain Python made from the graph, nothing else
    return names
