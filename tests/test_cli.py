"""The command line: the demo walks through a neuron; bad arguments exit with status 2."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from microgradx.cli import demo, main
from microgradx.ops import markdown_table


def test_demo_shows_forward_values_backward_steps_and_a_passing_gradcheck():
    out = io.StringIO()
    demo(out)
    text = out.getvalue()
    assert "o              = tanh(n)              =  0.707107" in text
    assert "do/d(w1) += do/d(x1*w1) * d(x1*w1)/d(w1) = 0.5000 * 2.0000 = 1.0000" in text
    assert "do/dx1  = -1.500000" in text
    assert "gradcheck passed" in text


def test_ops_prints_the_docs_table(capsys):
    assert main(["ops"]) == 0
    assert capsys.readouterr().out == markdown_table()


@pytest.mark.parametrize("argv", [[], ["nonsense"], ["demo", "--nope"]])
def test_bad_arguments_exit_with_status_2_and_a_reason(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_python_dash_m_runs_the_demo():
    result = subprocess.run(
        [sys.executable, "-m", "microgradx", "demo"], capture_output=True, text=True, check=True
    )
    assert "gradcheck passed" in result.stdout
