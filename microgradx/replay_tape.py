"""The tape: a recorded graph in topological order, with each node's role and, from ``compile``'s
recording, the expressions and guards it holds under; and the checks that two recordings of one
function are the same graph."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from microgradx import checks
from microgradx.engine import Value, topological_order
from microgradx.ops import Op
from microgradx.replay_numbers import RecordedFloat, Recording, bits


class CompileError(ValueError):
    """The function cannot be compiled faithfully; the message says why and what to do."""


@dataclass(frozen=True)
class Tape:
    """A recorded graph in topological order, with each node's role.

    ``order``: every node of the output's graph, inputs first, the output last (backward runs in
    its reverse). ``inputs``: the input leaves (numbers given at each call). ``leaves``: every
    other leaf read at each call (parameters, constants). ``watch``: nodes whose values a call
    also returns (a model's output, for accuracy). From a recording by ``compile`` also:
    ``forward``, every value a call computes, in an order that computes each after what it
    depends on (``order`` plus the values guards and computed leaves need); ``computed``, the
    leaves whose number is computed from the inputs (``x.detach()``), each with its entry in
    ``exprs``; ``exprs``, the expressions they and the guards use (``Recording`` describes the
    entries); ``guards``, the conditions the recording holds under.
    """

    order: tuple[Value, ...]
    inputs: tuple[Value, ...]
    leaves: tuple[Value, ...]
    watch: tuple[Value, ...]
    forward: tuple[Value, ...] = ()
    computed: dict[Value, int] = field(default_factory=dict)
    exprs: tuple[tuple[Any, ...], ...] = ()
    guards: tuple[tuple[Any, ...], ...] = ()

    @property
    def root(self) -> Value:
        return self.order[-1]

    @property
    def values(self) -> tuple[Value, ...]:
        """Every value a call computes or reads: ``forward``, or ``order`` without a recording."""
        return self.forward or self.order

    def signature(self) -> tuple[Any, ...]:
        """Everything but the leaves' numbers (computed once per tape)."""
        cached: tuple[Any, ...] | None = self.__dict__.get("_signature")
        if cached is None:
            cached = self._signature()
            self.__dict__["_signature"] = cached  # a frozen dataclass: the cache goes around it
        return cached

    def _signature(self) -> tuple[Any, ...]:
        """Everything but the leaves' numbers, comparably: for each value its op and where its
        inputs are (positions or roles), the expressions (constants bit for bit) and the guards
        with their outcomes."""
        values = self.values
        position = {node: k for k, node in enumerate(values)}
        input_index = {node: k for k, node in enumerate(self.inputs)}
        shape: list[tuple[Any, ...]] = []
        for node in values:
            if node in input_index:
                shape.append(("input", input_index[node]))
            elif node in self.computed:
                shape.append(("computed", self.computed[node]))
            elif node.op is None:
                shape.append(("leaf",))
            else:
                shape.append((_op_key(node.op), *(position[c] for c in node.children)))
        shape.append(("output", position[self.root], *(position[w] for w in self.watch)))
        exprs: list[tuple[Any, ...]] = []
        for entry in self.exprs:
            kind = entry[0]
            if kind == "v":
                exprs.append(("v", position[entry[1]]))
            elif kind == "c":
                exprs.append(("c", bits(entry[1])))
            elif kind == "apply":
                exprs.append(("apply", _op_key(entry[1]), entry[2]))
            else:
                exprs.append(entry)
        guards = [(g[0], g[1], bits(g[2])) if g[0] == "same" else g for g in self.guards]
        return tuple(shape), tuple(exprs), tuple(guards)


def _op_key(op: Op) -> Any:
    """An op, comparably: a family's members compare by family and parameter, bit for bit (a
    zero or NaN parameter is not cached by ``member``, so two recordings hold two objects)."""
    if op.param is None:
        return op
    forward, local = op.forward, op.local_grads
    return (getattr(forward, "func", forward), getattr(local, "func", local), bits(op.param))


def tape_of(root: Value, inputs: Sequence[Value], watch: Iterable[Value] = ()) -> Tape:
    """The tape of ``root``'s graph; ``inputs`` are the leaves that each call supplies.

    A graph built without ``compile``'s recording has no guards: nothing says how it depends on
    the numbers it was built from (``compile`` records that).

    ``root``: a Value computed by ops (a leaf has no graph: ``CompileError``). ``inputs``: leaf
    Values, each once (an input the graph does not use is allowed: its gradient is 0); a
    computed value as an input would cut the graph there for the output but not for the
    gradients, so it is refused. ``watch``: Values of the graph whose numbers each call returns.
    Each is named in the TypeError/ValueError it raises (``inputs[1]``, ``watch[0]``)."""
    checks.instance(root, "root", Value, "Value (the graph's output)")
    if root.op is None:
        raise CompileError("root is a leaf: there is no graph to record")
    given = checks.instances(inputs, "inputs", Value, "Value")
    first: dict[int, int] = {}
    for k, node in enumerate(given):
        if node.op is not None:
            raise ValueError(
                f"inputs[{k}] is computed (by {node.op.label}), not a leaf: each input must be a"
                " leaf Value, whose number each call supplies"
            )
        if id(node) in first:
            raise ValueError(f"inputs[{k}] is the same Value as inputs[{first[id(node)]}]")
        first[id(node)] = k
    watched = checks.instances(watch, "watch", Value, "Value")
    return plain_tape(topological_order(root), given, watched, "watch[{k}]")


def plain_tape(
    order: list[Value],
    inputs: Sequence[Value],
    watch: Sequence[Value],
    watch_name: str = "watched value {k}",
) -> Tape:
    """The tape of the graph ``order`` ends in (its output last)."""
    in_graph = set(order)  # an input the function ignores is allowed: its gradient is 0
    watched = tuple(watch)
    for k, node in enumerate(watched):
        if node not in in_graph:
            shown = watch_name.format(k=k)
            raise CompileError(f"{shown} is not part of the output's graph")
    input_set = set(inputs)
    leaves = tuple(n for n in order if n.op is None and n not in input_set)
    return Tape(tuple(order), tuple(inputs), leaves, watched)


def checked_order(root: Any) -> list[Value]:
    if not isinstance(root, Value):
        raise TypeError(
            f"fn (the function) must return one Value (a scalar, such as a loss), got"
            f" {type(root).__name__}{_length(root)}: reduce it to one Value first"
        )
    if root.op is None:
        raise CompileError("the function returned a leaf: there is no graph to compile")
    return topological_order(root)


def _length(x: Any) -> str:
    return f" of {len(x)}" if isinstance(x, (list, tuple)) else ""


def closure(entries: Sequence[tuple[Any, ...]], start: Iterable[int]) -> set[int]:
    """Every entry the given ones are computed from (themselves included)."""
    seen: set[int] = set()
    stack = list(start)
    while stack:
        j = stack.pop()
        if j in seen:
            continue
        seen.add(j)
        entry = entries[j]
        kind = entry[0]
        if kind in ("v", "c"):
            continue
        if kind == "apply":
            stack.extend(entry[2])
        elif kind in ("neg", "abs", "round"):
            stack.append(entry[1])
        else:
            stack.extend(entry[1:3])
    return seen


def guard_entries(guard: tuple[Any, ...]) -> tuple[int, ...]:
    """The expression entries a guard reads."""
    if guard[0] == "cmp":
        return (guard[2], guard[3])
    if guard[0] == "int":
        return (guard[2],)
    return (guard[1],)


class _Computed:
    """Which leaves of one recording are computed from its numbers (``x.detach()``,
    ``Value(x.data * 2)``), each with its expression entry, found as they are asked about."""

    def __init__(self, recording: Recording, inputs: Sequence[Value]) -> None:
        self.recording = recording
        self.entries = recording.entries
        self.inputs = set(inputs)
        self.found: dict[Value, int] = {}

    def __call__(self, node: Value) -> bool:
        if node.op is not None or node in self.inputs:
            return False
        if node in self.found:
            return True
        data: Any = node.data
        if type(data) is not RecordedFloat or data._recording is not self.recording:
            return False  # a constant
        j = data._entry
        if self.entries[j][0] == "v" and self.entries[j][1] is node:
            return False  # a leaf that lives on (a weight): read at each call
        self.found[node] = j
        return True

    def reads(self, start: Iterable[int]) -> list[Value]:
        """The values the expressions ``start`` read."""
        entries = self.entries
        return [entries[j][1] for j in sorted(closure(entries, start)) if entries[j][0] == "v"]


def _forward_order(root: Value, guard_roots: set[int], computed: _Computed) -> list[Value]:
    """Every value a call computes, each after what it depends on (a computed leaf depends on the
    values its expression reads); depth first with an explicit stack, as topological_order."""
    forward: list[Value] = []
    placed: set[Value] = set()
    for start in [root, *computed.reads(guard_roots)]:
        stack: list[tuple[Value, bool]] = [(start, False)]
        while stack:
            node, ready = stack.pop()
            if ready:
                forward.append(node)
                continue
            if node in placed:
                continue
            placed.add(node)
            stack.append((node, True))
            if node.op is not None:
                deps: Sequence[Value] = node.children
            elif computed(node):
                deps = computed.reads([computed.found[node]])
            else:
                deps = ()
            stack.extend((d, False) for d in reversed(deps) if d not in placed)
    return forward


def _renumbered(
    recording: Recording, used: list[int]
) -> tuple[dict[int, int], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The expressions ``used`` and the guards, renumbered in the order they were made."""
    new = {j: k for k, j in enumerate(used)}
    exprs: list[tuple[Any, ...]] = []
    for j in used:
        entry = recording.entries[j]
        kind = entry[0]
        if kind in ("v", "c"):
            exprs.append(entry)
        elif kind == "apply":
            exprs.append(("apply", entry[1], tuple(new[a] for a in entry[2])))
        elif kind in ("neg", "abs"):
            exprs.append((kind, new[entry[1]]))
        elif kind == "round":
            exprs.append((kind, new[entry[1]], entry[2]))
        else:
            exprs.append((kind, new[entry[1]], new[entry[2]]))
    guards: list[tuple[Any, ...]] = []
    for g in recording.guards:
        if g[0] == "cmp":
            guards.append((g[0], g[1], new[g[2]], new[g[3]], g[4]))
        elif g[0] == "int":
            guards.append((g[0], g[1], new[g[2]], g[3]))
        else:
            guards.append((g[0], new[g[1]], g[2]))
    return new, exprs, guards


def tape_of_recording(
    recording: Recording, root: Any, inputs: Sequence[Value], watch: Sequence[Value]
) -> Tape:
    """The tape of one recording (called after it stopped, with its numbers still in place)."""
    order = checked_order(root)
    plain = plain_tape(order, inputs, watch)  # checks the watched values
    computed = _Computed(recording, inputs)
    guard_roots = {j for g in recording.guards for j in guard_entries(g)}
    if not guard_roots and not any(computed(n) for n in order if n.op is None):
        return plain  # nothing steers this graph and nothing in it is computed from its numbers
    forward = _forward_order(root, guard_roots, computed)
    used = sorted(closure(recording.entries, [*guard_roots, *computed.found.values()]))
    new, exprs, guards = _renumbered(recording, used)
    skip = computed.inputs | set(computed.found)
    in_order = set(order)
    leaves = [n for n in order if n.op is None and n not in skip]
    leaves += [n for n in forward if n.op is None and n not in skip and n not in in_order]
    return Tape(
        tuple(order),
        tuple(inputs),
        tuple(leaves),
        plain.watch,
        tuple(forward),
        {node: new[j] for node, j in computed.found.items()},
        tuple(exprs),
        tuple(guards),
    )


def same_run(first: Tape, second: Tape) -> None:
    """Two recordings on the same numbers must be the same, or the function depends on
    something other than its inputs and the model (a random draw, a counter)."""
    _same_leaves(first, second)
    if first.signature() != second.signature():
        raise CompileError(
            "the function builds a different graph each time it runs on the same numbers (a"
            " random choice or a counter decides it): a recorded graph would freeze one of"
            " them, so it is not compiled. Keep the interpreted engine"
        )


def _same_leaves(first: Tape, second: Tape) -> None:
    for a, b in zip(first.leaves, second.leaves):
        if a is not b and bits(a.data) != bits(b.data):
            raise CompileError(
                "a number inside the function changes from call to call (a dropout mask, a"
                f" random draw, a counter: {a.data!r} then {b.data!r}): a recorded graph would"
                " freeze it, so it is not compiled. Compile in eval mode, or keep the"
                " interpreted engine"
            )


def same_graph(first: Tape, second: Tape, *, probes: bool = False) -> None:
    """Raise ``CompileError`` unless two recordings of one function are the same graph: the same
    op sequence, the same parameters, constants of the same values (bit for bit), the same
    expressions and guards. ``probes``: the second was recorded on other numbers with every
    guard coming out the same."""
    checks.instance(first, "first", Tape, "Tape (from tape_of())")
    checks.instance(second, "second", Tape, "Tape (from tape_of())")
    if len(first.leaves) == len(second.leaves) and first.signature() == second.signature():
        _same_leaves(first, second)
        return
    if probes:
        raise CompileError(
            "the function builds a different graph for other input values although every"
            " comparison it made on them came out the same: it reads the numbers in a way a"
            " recording cannot follow (their type, or numbers kept from an earlier call), so it"
            " is not compiled. Write the choice with ops (relu, maximum), or keep the"
            " interpreted engine"
        )
    raise CompileError(
        "the function builds a different graph for different input values (a Python `if`"
        " on .data, or a loop whose length depends on the data): a recorded graph would be"
        " wrong for some inputs, so it is not compiled. Write the choice with ops (relu,"
        " maximum), or keep the interpreted engine"
    )
