"""Pausing the full collections of Python's cyclic garbage collector while large graphs live.

Every node of a graph is an object the collector tracks. CPython (3.10-3.13) starts a full
collection, which visits every tracked object alive, whenever the objects that survived young
collections since the last full one exceed a quarter of those it kept then (and at most once per
ten middle-generation collections). While a graph of millions of nodes is built, that is one
full pass after each few hundred thousand nodes, each over the whole graph so far: building a
chain of 1e6 ops takes about 23 times as long as one of 1e5 ops with those passes, and 11-12
times without them (``benchmarks/bench_engine.py``). Value graphs hold no reference cycles, so
reference counting frees a graph when its last reference goes, and a full collection finds
nothing in it.

``no_full_collection()`` pauses the full collections for a block: a user's training loop
(the README's), and ``compile()``, which keeps the whole graph it records alive while it builds
its program.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from microgradx.files import deferred_interrupt

# The thresholds no_full_collection() found, and how many blocks are open (any thread): the
# collector's settings are the process's, so the first block to open saves them and the last to
# close puts them back (nested blocks, or two threads' loops, never restore each other's pause).
_full_pause_lock = threading.Lock()
_full_pause: list[Any] = [0, None]  # [open blocks, thresholds before the first]
_NEVER = 2**31 - 1  # the largest threshold gc.set_threshold takes (a C int)


@contextmanager
def no_full_collection() -> Iterator[None]:
    """Pause the full (generation-2) collections of Python's cyclic garbage collector inside the
    block, and put the collector's thresholds back as they were on leaving it (also when the
    block raises, or on Ctrl-C). Wrap a training loop of your own in it::

        with no_full_collection():
            for step in range(100):
                optimizer.zero_grad()
                loss = loss_fn([model(x) for x in X], y)
                loss.backward()
                optimizer.step()

    Why: every node of a graph is an object the collector tracks. A full collection visits every
    tracked object alive, and CPython starts one whenever the objects that survived young
    collections since the last full one exceed a quarter of those it kept then; a step that
    builds a graph of millions of nodes (full-batch digits: about 9 million) while the last
    step's graph is still alive (``loss`` refers to it) starts several, each over both graphs:
    three quarters of a step. Value graphs hold no reference cycles, so reference counting frees
    each graph when ``loss`` is replaced; a full collection finds nothing in them.

    Only full collections wait: young collections still run, so cyclic garbage made inside the
    block (a caught exception's traceback, a figure) is still freed among young objects, and
    old cyclic garbage is freed by the next full collection after the block (which may come
    soon: the block's survivors count toward it). Whether the collector is enabled, its frozen
    objects and ``gc.callbacks`` are not touched. The thresholds are the process's: the first
    block to open (in any thread) saves them and the last one to close restores them; a
    ``gc.set_threshold`` inside a block is undone when the last block closes.

    In a generator (a loop that yields its losses, a data loader), the block is open from the
    ``with`` to its end, including while the generator waits at a ``yield``: full collections
    wait while the generator is suspended too. A generator left unfinished closes its block
    when it is closed (``close()``, ``contextlib.closing``) or freed: Python throws
    ``GeneratorExit`` into it, and the thresholds come back as on any exit. Freed means at once
    when the last reference to it goes (``del``, the variable rebound); while anything keeps it
    (a variable, a list, a notebook's last traceback), full collections stay paused. A generator
    abandoned inside a reference cycle is freed only by the collector, and once it has lived
    long enough to be in the oldest generation, only by a full collection, which the block
    pauses: the pause then lasts until ``gc.collect()`` is called (which frees it, and the
    thresholds come back). Close a generator you may leave unfinished.

    CPython 3.10-3.13 (generational collector, ``gc.get_threshold()[2]``). From 3.14 the
    collector is incremental and ignores the third threshold: this then changes nothing.
    ``fit()`` needs no such block: it frees each batch's graph itself before the collector runs.
    """
    opened = False
    try:
        # A Ctrl-C between saving the settings and changing them would lose them; one that
        # arrives meanwhile is delivered as the deferring ends, so the block is open by then
        # (inside the try) and closes, and the settings come back.
        with deferred_interrupt(), _full_pause_lock:
            if _full_pause[0] == 0:
                young, middle, _ = _full_pause[1] = gc.get_threshold()
                gc.set_threshold(young, middle, _NEVER)
            _full_pause[0] += 1
            opened = True
        yield
    finally:
        if opened:
            with deferred_interrupt(), _full_pause_lock:
                _full_pause[0] -= 1
                if _full_pause[0] == 0:
                    gc.set_threshold(*_full_pause[1])
                    _full_pause[1] = None


__all__ = ["no_full_collection"]
