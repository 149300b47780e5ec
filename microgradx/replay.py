"""Compiled replay: record a graph once, then run the same graph as a program.

Training rebuilds an identical graph for every example: the same ops in the same order, only the
numbers differ. ``compile(fn, example_inputs)`` runs ``fn`` once on Values, records that graph, and
writes it out as straight-line Python, one line per node, forward then backward (a neuron's sum of
products ``b + w0*x0 + w1*x1 + ...`` is one call of a function written out for its length, see
``microgradx.replay_python``)::

    v7 = v3 * v4              # forward: the op table's own rule, on floats
    v8 = f_tanh_0(v7)
    ...
    if g8 != 0.0:             # backward, in backward()'s order: child.grad += upstream * local
        g7 += g8 * d_tanh_1(v7, v8)[0]

No Value objects are made when it runs, which is where the interpreted engine spends its time.
It is the same graph run as a program, not a new engine: for the same inputs its output and every
gradient are bit for bit those of ``backward()`` (the same float operations in the same order; a
test checks this on random graphs over the whole op table and on MLP losses).

Leaves that are not inputs (a model's parameters, constants) are read from their Value at every
call and their ``grad`` accumulates, exactly as after ``backward()``. A NumPy back-end (extra
``fast``) replays one example's graph over a whole batch at once: see ``microgradx.replay_numpy``.

**Guards: no replay is silently wrong.** While ``fn`` is recorded, the ``data`` of its inputs, of
every node it computes and (with ``model=``) of every Value the model holds is a
``RecordedFloat``: a number that behaves as a float and remembers where it came from. Every
*read that could steer the graph* becomes a guard: comparisons (``<``, ``==``, ...), ``bool``,
``int``, ``round``, ``math.floor``/``ceil``/``trunc``, ``is_integer``, and, for reads that expose
the exact number (``float()``, ``hash``, ``str``/``repr``/``format``, ``math.exp(x.data)``, NumPy's
``np.exp(x.data)`` or ``np.asarray(x.data)``, and any other function that converts it to a plain
float, an exception raised by arithmetic on it), the
guard that the number is the same, bit for bit. Arithmetic on such numbers (``x.data * 2 + 1``)
gives numbers of the same kind, so a guard is written over the inputs it depends on. The program
checks every guard at each call, in generated code, before it changes anything; if one fails, the
call records ``fn`` again on its own inputs (so its result is right by construction) and keeps
that recording too, keyed by its guards, as TorchDynamo does: up to ``CACHE_SIZE`` recordings;
beyond that, inputs that match none run on the interpreted engine (with one warning).

A number read from the graph that becomes part of it (``x.detach()``, ``Value(x.data * 2)``,
``x + x.data``) is replayed as a value computed from the inputs at each call, with no gradient
(exactly what ``detach`` means), never frozen. Op rules themselves see plain floats, so the
engine's own comparisons inside an op (relu's ``x > 0``) are part of the op, not guards.

With ``model=``, the model is guarded too: every module's training flag, every attribute of every
module (parameters by identity, settings such as a LeakyReLU slope or a dropout ``p`` by value,
bit for bit, lists and dicts by content) and so every parameter's identity and count. A change
records again; if that recording is refused, the call runs on the interpreted engine with a
warning that names what changed (``model.layers.1.negative_slope changed from 0.01 to 0.2``).

Each recording is checked by a second run: with ``check``, on other numbers where every guard
comes out the same, where the graph must be the same too; otherwise (or if the guards come out
differently on every other numbers tried) on the same numbers, where everything must be the same.
Either way a dropout mask in training mode, a random draw or a counter (something a recorded
graph would freeze) is refused, and so is a read the guards did not see.

What is *not* seen: numbers that do not come from a Value (a global float, ``random.random()``,
the time: the double recording catches those that change between two runs), a test of a number's
type (``type(x.data) is float`` is False while recording; ``isinstance(x.data, float)`` is True),
``is``/``id()`` on numbers, and side effects of ``fn`` (prints, counters, writes to ``.data``),
which a replay does not repeat. Values ``fn`` reaches other than through ``model`` are read from
the objects recorded: rebinding a variable to a new Value is not seen.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from microgradx import checks, replay_python, walk
from microgradx.checks import flag, gone, number, real
from microgradx.collector import no_full_collection
from microgradx.engine import Value, grad_number
from microgradx.modes import no_grad
from microgradx.nn import Module
from microgradx.replay_model import ModelState
from microgradx.replay_numbers import RecordedFloat
from microgradx.replay_numpy import column_guards, numpy_program
from microgradx.replay_python import (
    load_program,
    prepass_source,
    python_program,
    python_source,
)
from microgradx.replay_record import Function, input_number, probes_for, record_function
from microgradx.replay_tape import CompileError, Tape, checked_order, same_graph, tape_of

BACKENDS = ("python", "numpy")
CACHE_SIZE = 8  # recordings kept per compiled function (TorchDynamo's default cache size too)
# compile()'s peak memory per node of the recorded graph, measured with tracemalloc on MLPs
# (tests/test_replay.py and tests/test_replay_memory.py check the bounds), rounded up: the
# recordings and the program made from them (with the Python back-end, whose neurons' sums run
# as loops, 0.6-0.9 KB a node in a fresh process, up to 1.3 KB in a long test run); the Python
# back-end adds its compiler's work on one piece of its source (``replay_python.CHUNK`` lines,
# or one chain's function, at most: ~3 KB a line)
BYTES_PER_NODE = {"python": 1536, "numpy": 1536}
# and per node and example while a NumPy program runs: its values, gradients and buffer
BYTES_PER_NODE_AND_ROW = 24


def compile_memory(nodes: int, backend: str = "python", batch: int = 1) -> int:
    """Bytes ``compile`` needs for a graph of ``nodes`` nodes (its peak, measured: see
    ``BYTES_PER_NODE``), and with the NumPy back-end also what running ``batch`` rows at once
    needs (a value, a gradient and a buffer row per node and example). An estimate, computed
    without building anything: the CLI refuses a network that would not fit before it starts."""
    nodes = checks.count(nodes, "nodes", minimum=0)
    backend = checks.choice(backend, "backend", BACKENDS)
    batch = checks.count(batch, "batch")
    if backend == "numpy":
        extra = nodes * batch * BYTES_PER_NODE_AND_ROW
    else:  # at most three lines of source a node, compiled a piece at a time
        piece = max(replay_python.CHUNK, replay_python.MAX_KERNEL + 4)
        extra = min(3 * nodes, piece) * replay_python.COMPILER_BYTES_PER_LINE
    return nodes * BYTES_PER_NODE[backend] + extra


# ---- the compiled callable ----------------------------------------------------------------------


class _Program:
    """One recording as a program (``Compiled`` keeps one per recording, TorchDynamo style)."""

    def __init__(self, tape: Tape, backend: str) -> None:
        self.tape = tape
        self.leaves = list(tape.leaves)
        in_order = set(tape.order)
        # the leaves a pass adds a gradient to (a leaf only a guard reads gets none)
        self.graded = [leaf for leaf in self.leaves if leaf in in_order]
        self.prepass: Callable[..., Any] | None = None
        self.run: Callable[..., Any]
        self.forward: Callable[..., Any]
        self.per_node = False
        self.meets: Callable[[Any], Any] | None = None
        if backend == "python":
            self.source, self.run, self.forward = python_program(tape)
        else:
            self.source, self.run, self.forward = numpy_program(tape)
            self.per_node = bool(tape.computed)  # (numpy_program's choice: it takes columns)
            self.meets = column_guards(tape)  # the guards over a whole batch, when they allow
            if tape.guards or tape.computed:
                source, names = prepass_source(tape)
                self.prepass = load_program(source, names, ", guards").pop("prepass")
                self.source += "\n" + source


_FLOAT = frozenset([float])


def _check_data(programs: list[_Program], model: Any) -> None:
    """Refuse a call whose leaves do not all hold a real number (``w.data = "x"``, ``None``, a
    complex number), by name, before anything changes: the program reads each leaf's ``data``
    as a float, and would fail deep inside its code (or, with NumPy, read ``None`` as NaN). One
    loop over the leaves' types per call (a float is the rule, and the only case looked at
    further is not one); an int, a bool or a NumPy float is a real number and stays as it is
    (the arithmetic is the float's). With no recording for the model's present state, the
    model's parameters are checked (the call records them)."""
    if len(programs) == 1:
        leaves: list[Value] = programs[0].leaves
    elif programs:
        leaves = list(dict.fromkeys(leaf for program in programs for leaf in program.leaves))
    else:
        leaves = model.parameters() if model is not None else []
    check_data(leaves, model)


def check_data(leaves: Sequence[Value], model: Any = None) -> None:
    """Raise ``TypeError`` (``ValueError`` for an int too large for a float) if a leaf's
    ``data`` is not a real number, naming it: by its name in ``model.named_parameters()``, else
    by its label, else by its place in ``leaves``. Cheap when every ``data`` is a float (a
    plain loop: its attribute reads are specialised by CPython, which ``map(attrgetter)``'s are
    not: 0.1 ms for 2,411 leaves against 0.25); an int, a bool or a NumPy float passes as it is.
    A 0-d NumPy array, which ``checks.number`` takes as its number where data is converted
    (``Value()``, an optimizer's step, ``save``), is refused here: a compiled program reads
    ``data`` as it is, and its outputs would become NumPy numbers."""
    for leaf in leaves:
        if type(leaf.data) is not float:
            break
    else:
        return
    names = {}
    if model is not None:
        names = {id(p): name for name, p in model.named_parameters()}
    for k, leaf in enumerate(leaves):
        if type(leaf.data) is float:
            continue
        if id(leaf) in names:
            what = f"data of parameter {names[id(leaf)]!r}"
        elif leaf.label:
            what = f"data of {leaf.label!r}"
        else:
            what = f"data of leaf {k} of the compiled graph (a Value fn reads, not an input)"
        if not checks.is_real(leaf.data):  # the program reads data as it is: a real number
            # (a 0-d array, which Value() would convert, would make the outputs NumPy numbers)
            raise TypeError(f"{what} must be a real number, got {checks.describe(leaf.data)}")
        number(leaf.data, what)  # ValueError for an int beyond a float; a bool is 0 or 1


class _Undo:
    """The leaf gradients one compiled call may change, as they were before it: a call that
    raises (an op of the user's, a recording again, Ctrl-C) puts every one back, so a compiled
    call is all-or-nothing, as ``backward()`` is. Each program's leaves are saved before its
    first pass of the call, and an interpreted graph's before its ``backward()``."""

    def __init__(self) -> None:
        self.saved: list[tuple[list[Value], list[Any]]] = []
        self.seen: set[int] = set()

    def start(self, program: _Program) -> None:
        """Save ``program``'s leaves (once per call), then start each one's gradient as
        ``backward()`` does (``walk.starting_grad``: ``None`` is 0, junk is refused by name)."""
        if id(program) in self.seen:
            return  # started already in this call (its passes leave floats or Values)
        self.seen.add(id(program))
        graded = program.graded
        grads = [leaf.grad for leaf in graded]
        self.saved.append((graded, grads))
        if not _FLOAT.issuperset(map(type, grads)):  # (a C loop: this runs at every call)
            starts = [(leaf, walk.starting_grad(leaf)) for leaf in graded]  # all checked first
            for leaf, grad in starts:
                leaf.grad = grad

    def save(self, leaves: list[Value]) -> None:
        self.saved.append((leaves, [leaf.grad for leaf in leaves]))

    def undo(self) -> None:
        for leaves, grads in reversed(self.saved):  # the first saved (the oldest) wins
            for leaf, grad in zip(leaves, grads):
                leaf.grad = grad


@dataclass(frozen=True)
class Replayed:
    """What a compiled function returns: ``output``, the output's number; ``input_grads``,
    d(output)/d(input) for each input; ``watched``, the number of each watched value. From
    ``Compiled.run_batch``, each of them holds one number per row."""

    output: Any
    input_grads: tuple[Any, ...]
    watched: tuple[Any, ...]


_RETURNED = (
    "Compiled.{name} was removed: the results are returned, use Compiled.run(*inputs).{name}"
    " (run_batch(rows).{name} for a batch)"
)


class Compiled:
    """A recorded function as a program: ``program(*inputs)`` runs forward and backward for one
    example (returns the output; leaves' ``grad`` accumulate, as after ``backward()``);
    ``program.forward(*inputs)`` runs forward only; ``program.batch(rows)`` runs many examples
    (with the NumPy back-end, all at once); ``program.run(*inputs)`` and
    ``program.run_batch(rows)`` return a ``Replayed`` with the inputs' gradients and the watched
    values too. As with ``backward()``, a leaf's ``grad`` of ``None`` counts as 0, anything but a
    number is refused by name (``TypeError``/``ValueError``, ``walk.starting_grad``) before
    anything changes, and a call that raises puts every leaf's ``grad`` back as it was.
    ``recordings`` counts the recordings made (guards that failed record again, up to
    ``CACHE_SIZE``)."""

    def __init__(
        self,
        tape: Tape,
        backend: str = "python",
        model: Any = None,
        *,
        function: Function | None = None,
        check: Any = True,
        state: ModelState | None = None,
    ) -> None:
        checks.instance(tape, "tape", Tape, "Tape (from tape_of())")
        backend = checks.choice(backend, "backend", BACKENDS)
        _check_model(model)
        if model is not None and state is None:
            state = ModelState(model)
        self.backend = backend
        self.n_inputs = len(tape.inputs)
        self.recordings = 1
        self._model = model
        self._function = function
        self._check = check
        self._warned: set[str] = set()
        first = _Program(tape, backend)
        self.tape = tape
        self.source = first.source
        self.nodes = len(tape.order)
        # recordings grouped by the model state they were made in; the group in use first. A
        # state whose recording was refused keeps an empty group: its calls run interpreted.
        self._groups: list[tuple[ModelState | None, list[_Program]]] = [(state, [first])]
        self._state, self._programs = self._groups[0]
        self._refused: set[int] = set()  # ids of the groups refused

    def __repr__(self) -> str:
        recorded = f", {self.recordings} recordings" if self.recordings > 1 else ""
        return (
            f"<compiled graph: {self.nodes} nodes, {self.n_inputs} inputs,"
            f" {len(self.tape.leaves)} leaves, {self.backend} back-end{recorded}>"
        )

    # -- which recordings apply now --

    def _current(self) -> list[_Program]:
        """The recordings made in the model's present state (all of them without a model),
        once the numbers they read from leaves (weights, constants) are checked: once per call,
        before anything changes (``_check_data``)."""
        programs = self._select()
        _check_data(programs, self._model)
        return programs

    def _select(self) -> list[_Program]:
        state = self._state
        if state is None or state.holds():
            return self._programs
        for other, programs in reversed(self._groups):
            if other is not None and other is not state and other.holds():
                self._state, self._programs = other, programs
                return programs
        return []

    def _record_again(self, numbers: Sequence[float]) -> _Program | None:
        """A recording on ``numbers`` (no recording applies to them), or None: run interpreted."""
        if id(self._programs) in self._refused:
            return None  # this model state was refused already (warned then)
        now = ModelState(self._model) if self._model is not None else None
        changed = None
        if self._state is not None and now is not None:
            changed = self._state.change(now)
        if self._function is None:
            raise CompileError(
                f"the model changed after it was compiled ({changed}): a graph given to"
                " compile_graph cannot be recorded again; compile it again"
            )
        if changed is not None:  # from now on, calls are in the new state's group
            self._groups.append((now, []))
            self._state, self._programs = self._groups[-1]
        if self.recordings >= CACHE_SIZE:
            self._warn(
                "cache",
                f"the function was recorded {CACHE_SIZE} times (CACHE_SIZE) and these inputs or"
                " model settings match none of the recordings: such calls now run on the"
                " interpreted engine (same results, slower)",
            )
            return None
        self.recordings += 1
        try:
            with no_full_collection():  # as in compile_function
                tape, _ = record_function(self._function, numbers, self._model, self._check, now)
        except CompileError as error:
            if changed is not None:
                self._refused.add(id(self._programs))
            why = f"the model changed ({changed}) and " if changed else ""
            self._warn(
                f"refused {changed}",
                f"{why}recording the function again was refused: {error}. Such calls run on the"
                " interpreted engine (same results, slower)",
            )
            return None
        with no_full_collection():
            program = _Program(tape, self.backend)
        self._programs.append(program)
        return program

    def _warn(self, kind: str, message: str) -> None:
        """Warn once per kind (a cache full, a refusal in one model state)."""
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(f"compiled function: {message}", RuntimeWarning, stacklevel=5)

    # -- running --

    def _numbers(self, inputs: Sequence[Any], where: str = "") -> list[float]:
        if len(inputs) != self.n_inputs:
            raise ValueError(
                f"the compiled function takes {self.n_inputs} inputs, got {len(inputs)}{where}"
            )
        return [input_number(x, f"input {k}{where}") for k, x in enumerate(inputs)]

    def _one(
        self, programs: list[_Program], numbers: list[float], seed: float | None, undo: _Undo
    ) -> tuple[Any, ...]:
        """One example through the first recording whose guards hold (``seed`` None: forward
        only), recording again or running interpreted when none does."""
        for program in programs:
            result = self._try(program, numbers, seed, undo)
            if result is not None:
                return result  # type: ignore[no-any-return]
        again = self._record_again(numbers)
        if again is not None:
            result = self._try(again, numbers, seed, undo)
            if result is not None:
                return result  # type: ignore[no-any-return]
        return self._interpret(numbers, seed, undo)

    def _try(self, program: _Program, numbers: list[float], seed: float | None, undo: _Undo) -> Any:
        if self.backend == "python":
            if seed is None:
                return program.forward(numbers, program.leaves)
            undo.start(program)
            return program.run(numbers, program.leaves, seed)
        outcome = self._columns(program, [numbers], seed, undo)
        if outcome is None:
            return None
        out, grads, watched = outcome
        if seed is None:
            return float(out[0]), tuple(w[0] for w in watched)
        return float(out[0]), tuple(g[0] for g in grads), tuple(w[0] for w in watched)

    def _interpret(self, numbers: list[float], seed: float | None, undo: _Undo) -> tuple[Any, ...]:
        """The function itself on Values: what the recordings stand for, right by definition."""
        assert self._function is not None
        inputs = [Value(x) for x in numbers]
        if seed is None:
            with no_grad():
                root, watch = self._function(*inputs)
            return float(root), tuple(float(w) for w in watch)
        root, watch = self._function(*inputs)
        undo.save([node for node in checked_order(root) if node.op is None])
        root.backward(seed)
        return root.data, tuple(grad_number(x) for x in inputs), tuple(w.data for w in watch)

    def run(self, *inputs: Any, gradient: float | None = 1.0) -> Replayed:
        """Forward and backward for one example, like ``fn(*inputs).backward(gradient)``:
        returns the output, d(output)/d(input) for each input and the watched values (floats).
        Leaves' ``grad`` accumulate, as after ``backward()``. ``gradient=None``: forward only
        (``input_grads`` is then ``()``)."""
        if gradient is None:
            out, watched = self._one(self._current(), self._numbers(inputs), None, _Undo())
            return Replayed(out, (), watched)
        if self.backend != "python":
            columns = self.run_batch([inputs], gradient=gradient)
            grads = tuple(float(g[0]) for g in columns.input_grads)
            return Replayed(
                float(columns.output[0]), grads, tuple(float(w[0]) for w in columns.watched)
            )
        numbers, seed = self._numbers(inputs), real(gradient, "gradient")
        undo = _Undo()
        try:
            return Replayed(*self._one(self._current(), numbers, seed, undo))
        except BaseException:
            undo.undo()
            raise

    def _forward_unchecked(self, *inputs: Any) -> Replayed:
        """``run(*inputs, gradient=None)`` without the check of the leaves' data, for a caller
        that checked them with one ``run`` and since wrote only floats to them (gradcheck moving
        one input: the check is a loop over every leaf, a fifth of a forward of 64-32-10)."""
        out, watched = self._one(self._select(), self._numbers(inputs), None, _Undo())
        return Replayed(out, (), watched)

    def __call__(self, *inputs: Any, gradient: float = 1.0) -> float:
        """``run(*inputs, gradient=gradient).output``: forward and backward, the output."""
        return self.run(*inputs, gradient=real(gradient, "gradient")).output  # type: ignore[no-any-return]

    def forward(self, *inputs: Any) -> float:
        """The output for one example, no gradients (like ``fn`` under ``no_grad``)."""
        return self.run(*inputs, gradient=None).output  # type: ignore[no-any-return]

    def run_batch(
        self,
        rows: Sequence[Sequence[Any]],
        gradient: float | None = 1.0,
        *,
        input_grads: bool = True,
    ) -> Replayed:
        """Forward and backward for every row (one example's inputs each), in order; each
        leaf's gradient is the sum over the rows. Returns, for each row, the output, each
        input's gradient (``input_grads[k][r]``: input k, row r) and each watched value
        (``watched[j][r]``); lists, or NumPy arrays with the NumPy back-end. ``rows``: a list of
        lists, or a 2-D NumPy array. ``gradient=None``: forward only. ``input_grads=False``:
        the inputs' gradients are not returned (``input_grads`` is ``()``) and the NumPy
        back-end skips the work only they need (a training step needs the weights' gradients,
        not the data's); the leaves' gradients are the same."""
        wanted = flag(input_grads, "input_grads")
        table = checks.sequence(rows, "rows")
        if len(table) == 0:
            raise ValueError("rows is empty: batch() needs at least one row")
        checked: Any = None
        if self.backend == "numpy":
            checked = self._table(rows, table)
        if checked is None:
            checked = [
                self._numbers(checks.sequence(row, f"rows[{i}]"), f" of row {i}")
                for i, row in enumerate(table)
            ]
        seed = None if gradient is None else real(gradient, "gradient")
        programs = self._current()  # the model is checked once per batch
        undo = _Undo()
        try:
            if self.backend == "numpy":
                return self._batch_numpy(programs, checked, seed, undo, wanted)
            results = [self._one(programs, numbers, seed, undo) for numbers in checked]
        except BaseException:
            undo.undo()
            raise
        outputs = [result[0] for result in results]
        watched = tuple(list(column) for column in zip(*[result[-1] for result in results]))
        if seed is None or not wanted:
            return Replayed(outputs, (), watched)
        grads = tuple(list(column) for column in zip(*[result[1] for result in results]))
        return Replayed(outputs, grads or tuple([] for _ in range(self.n_inputs)), watched)

    def batch(self, rows: Sequence[Sequence[Any]], gradient: float = 1.0) -> list[float]:
        """``run_batch(rows, gradient).output`` as floats: the outputs, one per row."""
        outputs = self.run_batch(rows, gradient=real(gradient, "gradient")).output
        return [float(v) for v in outputs]

    @property
    def input_grads(self) -> Any:
        raise AttributeError(_RETURNED.format(name="input_grads"))

    @property
    def watched(self) -> Any:
        raise AttributeError(_RETURNED.format(name="watched"))

    # -- the NumPy back-end: a batch at once, split by the recordings whose guards hold --

    def _table(self, rows: Any, table: Sequence[Any]) -> Any:
        """``rows`` as a 2-D float array checked by NumPy (finite numbers, one per input), or
        None when it is not plainly numbers (strings, Values, rows of other lengths): the row by
        row check then names what is wrong. The errors are that check's, word for word."""
        import numpy as np

        try:
            array = np.asarray(rows) if isinstance(rows, np.ndarray) else np.array(table)
        except (ValueError, TypeError, OverflowError):  # ragged rows, huge ints: checked by row
            return None
        if array.dtype.kind not in "fiub" or array.shape != (len(table), self.n_inputs):
            return None
        if array.dtype.itemsize > 8:  # a longdouble's numbers may be beyond a float: converted
            return None  # to inf here, they are named by the row check as input_number names them
        array = np.ascontiguousarray(array, dtype=np.float64)
        finite = np.isfinite(array)
        if not finite.all():
            i, k = (int(j) for j in np.argwhere(~finite)[0])  # the first in row order
            number = float(array[i, k])
            raise ValueError(f"input {k} of row {i} is {number}: the data must be finite numbers")
        return array

    def _columns(
        self,
        program: _Program,
        rows: Any,
        seed: float | None,
        undo: _Undo,
        checked: bool = False,
        wanted: bool = True,
    ) -> Any:
        """``rows`` through one recording with NumPy, or None if its guards fail for one
        (``checked``: they were checked already; ``wanted``: the inputs' gradients)."""
        prepass = None if checked else program.prepass
        if prepass is not None and any(prepass(row, program.leaves) is None for row in rows):
            return None
        import numpy as np

        columns: Any = np.asarray(rows, dtype=np.float64).reshape(len(rows), self.n_inputs)
        if program.per_node:
            columns = list(columns.T)
        if seed is None:
            out, watched = program.forward(columns, program.leaves)
            return out, (), watched
        undo.start(program)
        return program.run(columns, program.leaves, seed, wanted)

    def _batch_numpy(
        self,
        programs: list[_Program],
        table: Any,
        seed: float | None,
        undo: _Undo,
        wanted: bool = True,
    ) -> Replayed:
        import numpy as np  # the back-end needs it (numpy_program imported it already)

        # Long: one batch taken whole by one recording, or its rows split among recordings
        # (and the interpreter), the two sharing the checks and the columns they fill
        n = len(table)
        array = np.asarray(table, dtype=np.float64).reshape(n, self.n_inputs)
        first = programs[0] if len(programs) == 1 else None
        if first is not None and (
            first.prepass is None or (first.meets is not None and first.meets(array).all())
        ):  # one recording, and every row meets its guards: nothing to split the rows by
            result = self._columns(first, array, seed, undo, True, wanted)
            grads = tuple(np.array(g, dtype=np.float64) for g in result[1])
            watched = tuple(np.array(w, dtype=np.float64) for w in result[2])
            given = () if seed is None or not wanted else grads
            return Replayed(np.array(result[0]), given, watched)
        # rows as plain floats for what runs in Python (guards, a recording, the interpreter)
        rows = table.tolist() if isinstance(table, np.ndarray) else table
        out = np.empty(n)
        input_grads = [np.empty(n) for _ in range(self.n_inputs)]
        seen = [np.empty(n) for _ in self.tape.watch]
        pending = list(range(n))
        candidates = list(programs)
        while pending:
            if not candidates:
                program = self._record_again(rows[pending[0]])
                if program is None:
                    for i in pending:  # beyond the cache, or refused: the interpreted engine
                        answer = self._interpret(rows[i], seed, undo)
                        out[i] = answer[0]
                        for column, value in zip(
                            input_grads, answer[1] if seed is not None else ()
                        ):
                            column[i] = value
                        for column, value in zip(seen, answer[-1]):
                            column[i] = value
                    break
                candidates = [program]
            program = candidates.pop(0)
            fits: list[int] = []
            rest: list[int] = []
            meets = None if program.meets is None else program.meets(array[pending])
            for n_, i in enumerate(pending):
                prepass = program.prepass
                if meets is not None:
                    ok = bool(meets[n_])
                else:
                    ok = prepass is None or prepass(rows[i], program.leaves) is not None
                (fits if ok else rest).append(i)
            if fits:
                index = np.asarray(fits)
                result = self._columns(program, array[index], seed, undo, True, wanted)
                out[index] = result[0]
                for column, values in zip(input_grads, result[1]):
                    column[index] = values
                for column, values in zip(seen, result[2]):
                    column[index] = values
            pending = rest
        given = () if seed is None or not wanted else tuple(input_grads)
        return Replayed(out, given, tuple(seen))


def _check_model(model: Any) -> None:
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"model must be a microgradx Module or None, got {checks.describe(model)}")


def compile_graph(
    root: Value,
    inputs: Sequence[Value],
    *,
    watch: Iterable[Value] = (),
    backend: str = "python",
    model: Any = None,
) -> Compiled:
    """Compile a graph already built: ``root`` its output, ``inputs`` the leaves each call
    supplies. Nothing records how the graph depended on the numbers it was built from, so there
    are no guards: use it only for a graph that does not depend on them (``compile`` records
    and guards). With ``model``, a change of the model is refused at the next call. The
    arguments are checked as ``record`` and ``Compiled`` check them, before anything is built."""
    backend = checks.choice(backend, "backend", BACKENDS)
    _check_model(model)
    return Compiled(tape_of(root, inputs, watch), backend, model)


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

    Every read of a recorded number that could steer the graph becomes a guard checked at each
    call; a failed guard records again (the call's result is then the function's own). ``model``:
    the module whose parameters ``fn`` uses; its parameters' identities, its settings and its
    training flags are guarded too. ``check``: check the recording by a run on other numbers
    (``True``: the example moved far, then a little; or the numbers to try first) where every
    guard comes out the same, and refuse if the graph differs there; ``False``: by a second run
    on the same numbers only. ``backend``: ``"python"`` (no dependencies) or ``"numpy"``
    (``pip install 'microgradx[fast]'``): many examples at once. Raises ``CompileError`` (with
    the reason) for a function that cannot be replayed faithfully, such as one with dropout in
    training mode.
    """
    checks.function(fn, "fn")

    def function(*inputs: Value) -> tuple[Value, Sequence[Value]]:
        return fn(*inputs), ()

    function.__wrapped_fn__ = fn  # type: ignore[attr-defined]  # for the signature check

    return compile_function(function, example_inputs, backend=backend, model=model, check=check)


def compile_function(
    function: Function,
    example_inputs: Sequence[float],
    *,
    backend: str = "python",
    model: Any = None,
    check: bool | Sequence[float] = True,
) -> Compiled:
    """``compile`` for a function that returns ``(output, values to watch)``: each call also
    sets ``watched`` (``fit`` watches the model's outputs for its accuracy)."""
    function = checks.function(function, "function")
    # data numbers (input_number's rule without its finiteness: a recording at NaN or infinity
    # is kept right by its guards, which record again at a call's finite inputs)
    example = checks.reals(example_inputs, "example_inputs", allow_empty=True, data=True)
    if not example:
        raise ValueError("example_inputs is empty: fn needs at least one input to replay")
    checks.takes(
        getattr(function, "__wrapped_fn__", function), len(example), "fn", "example_inputs"
    )
    backend = checks.choice(backend, "backend", BACKENDS)
    _check_model(model)
    if check is not True and check is not False:
        # refuses a malformed check before anything runs; kept as the floats it was checked as
        check = probes_for(example, check)[0]
    if model is not None:  # a weight that is not a number is named, not met deep in fn
        check_data(model.parameters(), model)
    # The recorded graph lives until its program is built: full collections would visit all of
    # it again and again, which made compile time grow faster than the graph (no cycles to find).
    with no_full_collection():
        tape, state = record_function(function, example, model, check)
        return Compiled(tape, backend, model, function=function, check=check, state=state)


__all__ = [
    "BACKENDS",
    "CACHE_SIZE",
    "CompileError",
    "Compiled",
    "RecordedFloat",
    "Replayed",
    "Tape",
    "compile",
    "compile_function",
    "compile_graph",
    "compile_memory",
    "python_source",
    "same_graph",
    "tape_of",
]

# One release of a clear error for the renamed names (then they go).
__getattr__ = gone(
    __name__, {"record": "use microgradx.replay.tape_of (a graph already built as a Tape)"}
)
