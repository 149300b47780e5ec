"""no_full_collection(): a user's training loop pays no full collection of the cyclic garbage
collector over its graphs, and the collector's settings are the caller's again afterwards.

Event-based: each full collection is counted by a ``gc.callbacks`` hook as it starts; nothing is
timed."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from microgradx import losses
from microgradx.data import make_moons
from microgradx.nn import MLP
from microgradx.optim import SGD
from microgradx.train import no_full_collection

from .conftest import ctrl_c_raises_keyboard_interrupt, require_numpy


@contextmanager
def _settings(threshold: tuple[int, int, int], enabled: bool = True) -> Iterator[None]:
    """The collector set as a user might have it for the block, and put back after the test."""
    was, before = gc.isenabled(), gc.get_threshold()
    gc.set_threshold(*threshold)
    (gc.enable if enabled else gc.disable)()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        (gc.enable if was else gc.disable)()


def _state() -> tuple[object, ...]:
    return gc.isenabled(), gc.get_threshold(), gc.get_freeze_count(), list(gc.callbacks)


class _Loop:
    """The README's loop (zero_grad, forward, backward, step), its last loss kept alive into the
    next step as a loop keeps it; ``full`` counts full collections started while a graph of the
    loop was alive."""

    def __init__(self) -> None:
        self.X, self.y = make_moons(100, noise=0.1, seed=0)
        self.model = MLP(2, [16, 16, 1], "tanh", seed=0)
        self.optimizer = SGD(self.model.parameters(), lr=0.1)
        self.loss = None
        self.full = 0

    def watch(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            self.full += 1

    def step(self) -> None:
        self.optimizer.zero_grad()
        loss = losses.bce_with_logits([self.model(x) for x in self.X], self.y)
        loss.backward()
        self.optimizer.step()
        self.loss = loss


def test_the_readme_loop_in_no_full_collection_pays_no_full_collection_over_its_graphs():
    """Without the block the loop's graphs (65,000 nodes a step) start full collections, each
    over the graph being built and the last one; in it, none starts. Steps run until the plain
    loop has paid its first full collection (an event), then as many inside the block."""
    plain, paused = _Loop(), _Loop()
    with _settings((700, 10, 10)):
        gc.collect()
        gc.callbacks.append(plain.watch)
        try:
            steps = 0
            while plain.full == 0 and steps < 60:
                plain.step()
                steps += 1
        finally:
            gc.callbacks.remove(plain.watch)
        plain.loss = None
        assert plain.full > 0, "the workload must start full collections without the block"
        gc.collect()
        gc.callbacks.append(paused.watch)
        try:
            with no_full_collection():
                for _ in range(steps + 2):
                    paused.step()
                assert paused.full == 0
        finally:
            gc.callbacks.remove(paused.watch)
    # the same steps, the same numbers: the collector never changes what is computed
    again = _Loop()
    for _ in range(steps + 2):
        again.step()
    assert [p.data.hex() for p in paused.model.parameters()] == [
        p.data.hex() for p in again.model.parameters()
    ]


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("threshold", [(700, 10, 10), (123, 4, 5), (0, 10, 10)])
def test_no_full_collection_puts_back_the_callers_settings(threshold, enabled):
    """Enabled or not, the thresholds (also threshold0 = 0, collection off), the frozen objects
    and the callbacks are as they were after the block: when it ends, when the loop inside
    raises, on Ctrl-C, and after nested blocks."""
    with _settings(threshold, enabled):
        before = _state()
        with no_full_collection():
            assert gc.get_threshold()[:2] == threshold[:2]
            assert gc.get_threshold()[2] > 10**9  # full collections wait
            assert gc.isenabled() == enabled
        assert _state() == before
        loop = _Loop()
        with pytest.raises(ZeroDivisionError), no_full_collection():
            loop.step()
            loop.loss = 1 / 0
        assert _state() == before
        with (
            ctrl_c_raises_keyboard_interrupt(),
            pytest.raises(KeyboardInterrupt),
            no_full_collection(),
        ):
            raise KeyboardInterrupt
        assert _state() == before
        with no_full_collection():
            with no_full_collection():
                pass
            assert gc.get_threshold()[2] > 10**9  # the outer block still pauses them
        assert _state() == before


def test_a_threshold_set_inside_the_block_is_undone_when_it_ends():
    """The block restores what it found: a gc.set_threshold inside it lasts only until it ends."""
    with _settings((700, 10, 10)):
        with no_full_collection():
            gc.set_threshold(5, 5, 5)
        assert gc.get_threshold() == (700, 10, 10)


def test_two_threads_blocks_do_not_restore_each_others_pause():
    """The thresholds are the process's: A opens, B opens, A closes (B's loop still paused), B
    closes (the caller's settings back). Ordered by events, not by timing."""
    events = {name: threading.Event() for name in ("a_in", "b_in", "a_out", "b_may_leave")}
    seen: dict[str, object] = {}

    def a() -> None:
        with no_full_collection():
            events["a_in"].set()
            events["b_in"].wait()
        seen["after_a"] = gc.get_threshold()
        events["a_out"].set()

    def b() -> None:
        events["a_in"].wait()
        with no_full_collection():
            events["b_in"].set()
            events["b_may_leave"].wait()

    with _settings((700, 10, 10)):
        threads = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in threads:
            t.start()
        events["a_out"].wait()
        during_b = gc.get_threshold()
        events["b_may_leave"].set()
        for t in threads:
            t.join()
        assert seen["after_a"] == during_b and during_b[2] > 10**9
        assert gc.get_threshold() == (700, 10, 10)


def _full_collections_during(work: Any) -> int:
    """How many full collections start while ``work()`` runs (default young thresholds, full
    ones as often as CPython's rule lets them), counted as they start. The objects alive before
    are frozen for it: CPython waits for the survivors of young collections to exceed a quarter
    of the objects it keeps, so the count would otherwise depend on what the process loaded
    before (torch, other tests)."""
    full = [0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            full[0] += 1

    with _settings((700, 10, 1)):
        gc.collect()
        gc.freeze()
        gc.callbacks.append(watch)
        try:
            work()
        finally:
            gc.callbacks.remove(watch)
            gc.unfreeze()
    return full[0]


@pytest.mark.parametrize("backend", ["python", "numpy"])
@pytest.mark.parametrize("how", ["compile", "recorded again"])
def test_compiling_pays_no_full_collection_over_the_graph_it_records(backend, how):
    """compile() keeps the graph it records alive while it writes its program: full collections
    over it made compile time per node grow with the graph (1.25x-1.7x from 2k to 19k nodes).
    None starts while it records and builds, first or again (a failed guard); building the same
    graph with the collector as set does start them (the control: the test can fail).
    (``compile_graph`` is given a graph already built: it records nothing.)"""
    if backend == "numpy":
        require_numpy()
    from microgradx.replay import compile

    model = MLP(64, [32, 10], "tanh", seed=0)  # about 4,300 nodes an example
    x0 = [i / 64 for i in range(64)]

    def loss(*x: Any) -> Any:
        return losses.cross_entropy([model(list(x))], [3])

    kept: list[Any] = []
    assert _full_collections_during(lambda: kept.extend(loss(*x0) for _ in range(60))) > 0
    kept.clear()
    if how == "compile":

        def work() -> None:
            kept.append(compile(loss, x0, backend=backend, model=model))

    else:  # a call whose guard fails records the function again
        compiled = compile(
            lambda *x: loss(*x) if x[0].data < 1 else loss(*x) * 2, x0, backend=backend, model=model
        )

        def work() -> None:
            kept.append(compiled(2.0, *x0[1:]))
            assert compiled.recordings == 2  # it did record again

    assert _full_collections_during(work) == 0


def test_ctrl_c_while_the_block_opens_still_puts_the_settings_back(monkeypatch):
    """A Ctrl-C that arrives while the block saves and changes the thresholds is delivered
    right after (deferred_interrupt), before the block's body runs: the block must count as
    open then, and close, or full collections stay paused for the rest of the process."""
    import signal
    import types

    from microgradx import collector

    def get_threshold() -> tuple[int, int, int]:
        signal.raise_signal(signal.SIGINT)  # Ctrl-C, at the worst moment
        return gc.get_threshold()

    shim = types.SimpleNamespace(get_threshold=get_threshold, set_threshold=gc.set_threshold)
    with _settings((321, 9, 8)):
        before = _state()
        monkeypatch.setattr(collector, "gc", shim)
        body = []
        with (
            ctrl_c_raises_keyboard_interrupt(),
            pytest.raises(KeyboardInterrupt),
            no_full_collection(),
        ):
            body.append(1)
        monkeypatch.undo()
        assert body == []  # delivered before the body, as soon as the settings were changed
        assert _state() == before
        assert collector._full_pause == [0, None]
