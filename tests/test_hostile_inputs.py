"""Hostile inputs to the engine checker's readings of numbers and to the functional API's
results and arguments (each test fails when its mechanism breaks)."""

from __future__ import annotations

import fractions
from pathlib import Path

import pytest

from microgradx.enginecheck.findings import OK
from microgradx.enginecheck.target import number_of
from microgradx.testing import TargetError, check_target

ENGINES = Path(__file__).parent / "engines"


# ---- the engine checker reads numbers, not text ----------------------------------------------


@pytest.mark.parametrize("text", ["1.5", b"1.5", bytearray(b"1.5"), memoryview(b"1.5")])
def test_text_is_not_an_engines_number(text: object) -> None:
    assert number_of(text) is None  # float() would parse each of them to 1.5


def test_numbers_of_every_kind_are_read() -> None:
    np = pytest.importorskip("numpy")
    assert number_of(np.float32(0.5)) == 0.5
    assert number_of(fractions.Fraction(1, 4)) == 0.25
    assert number_of(3) == 3.0
    assert number_of(10**400) is None  # beyond a float: not a number the checker can compare
    assert number_of(None) is None
    assert number_of(1j) is None


@pytest.mark.parametrize("isolation", ["process", "in-process"])
def test_an_engine_with_gradients_as_text_does_not_pass(isolation: str) -> None:
    report = check_target(
        str(ENGINES / "text_grads.py"), examples=4, budget=60, isolation=isolation
    )
    assert not report.ok
    found = {finding.check: finding for finding in report.findings}
    for name in ("add", "mul", "tanh"):
        assert found[f"op {name}"].kind != OK, found[f"op {name}"]
    assert found["training step on moons"].kind != OK


def test_an_engine_with_numbers_as_text_is_not_value_like() -> None:
    with pytest.raises(TargetError, match="no number attribute equal to 1.5"):
        check_target(f"{ENGINES / 'text_data.py'}:Value", examples=4, budget=30)
