"""Switches that change how the engine records and checks: ``no_grad``, ``detect_anomaly``, and
the recording that ``compile`` makes.

All are per thread, like PyTorch's. The engine asks them only while some thread is inside one of
these blocks (``IN_USE[0] > 0``), because reading a thread-local on every op costs more than the
op itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any


class _Mode(threading.local):
    grad_enabled: bool = True  # record the graph
    anomaly: bool = False  # raise at the first NaN or infinity
    recorder: Any = None  # compile()'s recording on this thread (microgradx.replay), or None


class RecordedNumber:
    """Base of the numbers ``compile`` puts in ``Value.data`` while it records a function (the
    class that does the work is ``microgradx.replay.RecordedFloat``). The engine knows only this
    much: a Value made from one keeps it (``keep``), so the recording sees where it came from."""

    __slots__ = ()

    def keep(self) -> Any:
        """What a Value made from this number stores: the number, or a plain float."""
        raise NotImplementedError


mode = _Mode()
IN_USE = [0]  # how many threads are inside a block right now (a list: the engine reads it)
RECORDING = [0]  # how many of those are compile() recordings (then the engine asks mode.recorder)
_lock = threading.Lock()


class AnomalyError(FloatingPointError):
    """Raised in ``detect_anomaly()`` mode when an op produces a NaN or an infinity.

    Attributes: ``op`` (the op's name), ``inputs`` (its input values), ``direction``
    (``"forward"`` or ``"backward"``) and ``result`` (the offending number).
    """

    def __init__(
        self, op: str, inputs: Sequence[float], direction: str, result: float, detail: str = ""
    ) -> None:
        if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
            raise TypeError(f"inputs must be a list of the op's input values, got {inputs!r:.60}")
        self.op = op
        self.inputs = tuple(inputs)
        self.direction = direction
        self.result = result
        args = ", ".join(repr(x) for x in inputs)
        message = f"{op}({args}) produced {result!r} in the {direction} pass"
        super().__init__(message + (f": {detail}" if detail else ""))


@contextmanager
def _switch(name: str, on: Any) -> Iterator[None]:
    before = getattr(mode, name)
    with _lock:
        IN_USE[0] += 1
    setattr(mode, name, on)
    try:
        yield
    finally:
        setattr(mode, name, before)
        with _lock:
            IN_USE[0] -= 1


def no_grad() -> AbstractContextManager[None]:
    """``with no_grad():`` computes values without recording a graph (this thread only)."""
    return _switch("grad_enabled", False)


def enable_grad() -> AbstractContextManager[None]:
    """Record the graph again inside a ``no_grad()`` block."""
    return _switch("grad_enabled", True)


def is_grad_enabled() -> bool:
    return mode.grad_enabled


@contextmanager
def recording(recorder: Any) -> Iterator[None]:
    """While ``compile`` records (this thread only): every op asks ``recorder`` for its inputs'
    numbers (``recorder.numbers(inputs)``) and reports the node it made (``recorder.made``)."""
    with _lock:
        RECORDING[0] += 1
    try:
        with _switch("recorder", recorder):
            yield
    finally:
        with _lock:
            RECORDING[0] -= 1


def detect_anomaly() -> AbstractContextManager[None]:
    """``with detect_anomaly():`` raises ``AnomalyError`` at the first op that yields NaN or inf.

    Forward: the first op whose output is not finite. Backward: the first op whose contribution
    ``upstream * local_grad`` to one of its inputs is not finite. Checking costs time: use it to
    find a problem, not in every run.
    """
    return _switch("anomaly", True)
