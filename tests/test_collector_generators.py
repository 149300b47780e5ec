"""no_full_collection() inside a generator (a loop that yields its losses, a data loader) left
unfinished: the collector's thresholds come back when the generator is closed or freed (Python
throws GeneratorExit into it), and stay paused, as the docstring says, while it lives."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from microgradx import collector
from microgradx.collector import no_full_collection

CALLERS = (700, 10, 10)


@pytest.fixture(autouse=True)
def _thresholds() -> Iterator[None]:
    """Every test starts from CALLERS, and the process's settings are put back after it."""
    before = gc.get_threshold()
    gc.set_threshold(*CALLERS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _losses(steps: int = 5) -> Iterator[int]:
    """A training loop of one's own that yields each step's number (to plot it as it goes)."""
    with no_full_collection():
        yield from range(steps)


def _paused() -> bool:
    return gc.get_threshold()[2] > 10**9


def _restored() -> bool:
    return gc.get_threshold() == CALLERS and collector._full_pause == [0, None]


class _Loader:
    """An object that keeps its own iterator: the loader, its generator and the generator's
    frame (which holds ``self``) are a reference cycle, freed only by the collector."""

    def __init__(self) -> None:
        self.iterator = iter(self)

    def __iter__(self) -> Iterator[int]:
        with no_full_collection():
            yield from range(5)


def _finish(g: Iterator[int]) -> None:
    for _ in g:
        pass


def _throw(g: Iterator[int]) -> None:
    with pytest.raises(ZeroDivisionError):
        g.throw(ZeroDivisionError)  # type: ignore[attr-defined]


def _close(g: Iterator[int]) -> None:
    g.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("end", [_finish, _throw, _close])
def test_a_generator_ended_any_way_puts_the_thresholds_back(end):
    g = _losses()
    assert next(g) == 0 and _paused()
    end(g)
    assert _restored()


def test_an_unfinished_generator_freed_by_reference_counting_puts_them_back():
    g = _losses()
    next(g)
    assert _paused()
    del g  # the last reference: GeneratorExit closes the block at once
    assert _restored()
    g = _losses()
    next(g)
    g = _losses()  # rebound: the first one is freed (the second has not started)
    assert _restored()


def test_an_unfinished_generator_keeps_the_pause_while_it_lives_until_it_is_closed():
    """Kept (here in a list), it keeps full collections paused, also across other blocks that
    open and close meanwhile; closing it puts the caller's thresholds back."""
    kept = [_losses()]
    next(kept[0])
    with no_full_collection():
        pass
    _finish(_losses())
    assert _paused()
    gc.collect()  # it is alive: nothing frees it
    assert _paused()
    kept[0].close()
    assert _restored()


def test_an_abandoned_generator_in_a_reference_cycle_is_freed_by_a_collection():
    """Abandoned in a cycle after it moved to the oldest generation: only a full collection
    frees it (the pause stops the automatic ones): gc.collect() does, and the thresholds come
    back. The loader is gone once collected (no pause holds it)."""
    loader = _Loader()
    next(loader.iterator)  # type: ignore[call-overload]
    gone = weakref.ref(loader)
    gc.collect(1)
    gc.collect(1)  # (the survivors of collection 1 are in the oldest generation)
    assert _paused()
    del loader
    assert gone() is not None  # a cycle: not freed by reference counting
    gc.collect()
    assert gone() is None
    assert _restored()


def test_a_generator_closed_in_another_thread_puts_the_thresholds_back():
    g = _losses()
    next(g)
    done = threading.Event()

    def close() -> None:
        g.close()
        done.set()

    worker = threading.Thread(target=close)
    worker.start()
    done.wait()
    worker.join()
    assert _restored()


def test_nested_in_a_block_of_the_caller_the_generators_end_leaves_the_callers_pause():
    with no_full_collection():
        g = _losses()
        next(g)
        g.close()
        assert _paused()  # the caller's block still pauses them
    assert _restored()
