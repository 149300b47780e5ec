"""The command line: the demo walks through a neuron; bad arguments exit with status 2."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from microgradx import load
from microgradx.cli import demo, main, neuron
from microgradx.ops import markdown_table
from microgradx.viz import trace_backward


def test_demo_shows_forward_values_backward_steps_and_a_passing_gradcheck(tmp_path):
    out = io.StringIO()
    demo(out, progress=False, folder=str(tmp_path / "pictures"))
    text = out.getvalue()
    assert "o              = tanh(n)              =  0.707107" in text
    # the trace's own notation (the page says the same): brackets only around non-identifiers
    assert "do/dw1 += do/d(x1*w1) * ∂(x1*w1)/∂w1 = 0.5000 * 2.0000 = 1.0000" in text
    assert str(trace_backward(neuron()[0])).split("\n", 1)[1] in text.replace("\n  ", "\n")
    assert "do/dx1  = -1.500000" in text
    assert "gradcheck passed" in text
    assert "training accuracy" in text
    svg = (tmp_path / "pictures" / "neuron_graph.svg").read_text()
    assert "tanh" in svg and "grad 0.5" in svg  # the neuron, backward pass filled in
    assert (tmp_path / "pictures" / "decision_boundary.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "pictures" / "neuron_backprop.html").read_text()
    assert "do/d(x1*w1) += do/ds * ∂s/∂(x1*w1)" in page


def test_ops_prints_the_docs_table(capsys):
    assert main(["ops"]) == 0
    assert capsys.readouterr().out == markdown_table()


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nonsense"],
        ["demo", "--nope"],
        ["train", "--lr", "0"],
        ["train", "--hidden", "x"],
        ["train", "--hidden", "4,0"],
        ["train", "--dataset", "mnist"],
        ["train", "--epochs", "-3"],
        ["train", "--dataset", "titanic", "--data", "/no/such/file.csv"],
    ],
)
def test_bad_arguments_exit_with_status_2_and_a_reason(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_python_dash_m_runs_the_demo(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "microgradx", "demo"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "gradcheck passed" in result.stdout
    assert sorted(p.name for p in (tmp_path / "microgradx-demo").iterdir()) == [
        "decision_boundary.png",
        "neuron_backprop.html",
        "neuron_graph.svg",
    ]


def test_train_reports_accuracy_and_saves_a_loadable_model(tmp_path, capsys):
    path = tmp_path / "xor.json"
    argv = ["train", "--dataset", "xor", "--hidden", "8", "--epochs", "20", "--quiet"]
    assert main([*argv, "--save", str(path)]) == 0
    out = capsys.readouterr().out
    assert "train accuracy" in out and "test accuracy" in out
    model = load(path)
    assert len(model.parameters()) == (2 * 8 + 8) + (8 + 1)


def test_train_on_titanic_from_the_shared_csv(capsys):
    csv = Path(__file__).resolve().parents[2] / "shared" / "data" / "titanic.csv"
    argv = ["train", "--dataset", "titanic", "--data", str(csv), "--hidden", "4"]
    assert main([*argv, "--epochs", "3", "--quiet", "--activation", "relu"]) == 0
    assert "713 training, 178 test examples" in capsys.readouterr().out


def test_train_on_digits_with_the_shipped_data(capsys):
    argv = ["train", "--dataset", "digits", "--hidden", "16", "--epochs", "3", "--lr", "0.01"]
    assert main([*argv, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "MLP(64, [16, 10]" in out and "1348 training, 449 test examples" in out
    accuracy = float(out.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 80


def test_train_on_titanic_needs_no_path(capsys):
    assert main(["train", "--dataset", "titanic", "--hidden", "4", "--epochs", "2", "--quiet"]) == 0
    assert "713 training, 178 test examples" in capsys.readouterr().out
