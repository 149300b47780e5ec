"""Datasets, the training loop (the accuracy each classic problem must reach), and save/load."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from microgradx import ModelFileError, load, load_weights, losses, manual_seed, save
from microgradx.data import (
    load_digits,
    load_titanic,
    make_blobs,
    make_circles,
    make_moons,
    make_sine,
    make_spirals,
    make_xor,
    standardize,
    train_test_split,
)
from microgradx.io import to_dict
from microgradx.nn import MLP, Dropout, LeakyReLU, Linear, Maxout, ReLU, Sequential
from microgradx.optim import SGD, Adam
from microgradx.train import evaluate, fit

# The table shipped inside the package: the tests need nothing beside the checkout.
TITANIC = Path(__file__).resolve().parents[1] / "microgradx" / "datasets" / "titanic.csv"

# ---- data ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [make_moons, make_circles, make_spirals, make_blobs, make_xor, make_sine]
)
def test_generators_are_seeded_and_well_formed(make):
    X, y = make(seed=1) if make is not make_xor else make(n=8, noise=0.1, seed=1)
    again = make(seed=1) if make is not make_xor else make(n=8, noise=0.1, seed=1)
    assert (X, y) == again
    assert len(X) == len(y) > 0
    assert all(len(row) == len(X[0]) and all(math.isfinite(v) for v in row) for row in X)


def test_xor_truth_table():
    assert make_xor() == ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])


def test_class_balance():
    for make in (make_moons, make_circles, make_spirals):
        _, y = make(100, seed=0)
        assert sum(y) == 50


def _ulps(x: float, exact) -> float:
    """How many units in the last place ``x`` is from ``exact`` (an mpmath number)."""
    import mpmath

    return float(abs(mpmath.mpf(x) - exact) / mpmath.mpf(math.ulp(float(exact))))


def _exact_statistics(column):
    """The mean and standard deviation to 60 digits: Fractions, then mpmath's square root."""
    from fractions import Fraction

    import mpmath

    exact = [Fraction(v) for v in column]
    mean = sum(exact) / len(exact)
    variance = sum((v - mean) ** 2 for v in exact) / len(exact)
    with mpmath.workprec(200):
        as_mpf = mpmath.mpf(variance.numerator) / variance.denominator
        mean_mpf = mpmath.mpf(mean.numerator) / mean.denominator
        return +mean_mpf, mpmath.sqrt(as_mpf)


COLUMNS = {
    "the reported +-1e200": [1e200, -1e200],
    "near the range's two ends": [1.7e308, 1.7e308, 1.7e308, -1.7e308],
    "a thousand at the top, one at the bottom": [1.7e308] * 1000 + [-1.7e308],
    "tiny": [3e-310, -1e-310, 2.5e-309, 7e-320],
    "mixed magnitudes": [1e300, 3.0, -2e299, 1e-300, 5e299],
    "ordinary": [0.1, 0.2, 0.3, 0.4, 0.7],
}


@pytest.mark.parametrize("name", sorted(COLUMNS))
def test_standardize_statistics_of_finite_columns_are_right_without_overflow(name):
    import mpmath

    from microgradx.data import Standardizer

    column = COLUMNS[name]
    scaler = Standardizer().fit([[v] for v in column])
    mean, std = _exact_statistics(column)
    with mpmath.workprec(200):
        assert _ulps(scaler.means[0], mean) <= 1
        assert _ulps(scaler.stds[0], std) <= 3
    scaled = [row[0] for row in scaler.transform([[v] for v in column])]
    assert all(math.isfinite(v) for v in scaled)
    (again,) = standardize([[v] for v in column])
    assert [row[0] for row in again] == scaled


def test_standardize_reported_example_gives_plus_and_minus_one():
    assert standardize([[1e200], [-1e200]]) == ([[1.0], [-1.0]],)


def test_split_and_standardize_fit_on_train_only():
    X = [[float(i), 2.0 * i] for i in range(20)]
    y = list(range(20))
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, seed=0)
    assert len(X_test) == 5 and sorted(y_train + y_test) == y
    train_s, test_s = standardize(X_train, X_test)
    for column in zip(*train_s):
        assert sum(column) / len(column) == pytest.approx(0.0, abs=1e-12)
        assert math.sqrt(sum(v * v for v in column) / len(column)) == pytest.approx(1.0)
    mean = sum(r[0] for r in X_train) / len(X_train)
    std = math.sqrt(sum((r[0] - mean) ** 2 for r in X_train) / len(X_train))
    assert test_s[0][0] == pytest.approx((X_test[0][0] - mean) / std)  # the train statistics


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: make_moons(1), ValueError, "n must be an int >= 2, got 1"),
        (lambda: make_moons(10, noise=-1), ValueError, "noise"),
        (lambda: train_test_split([[1.0]], [1, 2]), ValueError, "1 rows but y has 2"),
        (lambda: train_test_split([[1.0]] * 4, [1] * 4, test_size=1.5), ValueError, "test_size"),
    ],
)
def test_data_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_titanic_loads_both_header_styles_and_imputes_from_training(tmp_path):
    X_train, X_test, y_train, y_test = load_titanic(TITANIC)
    assert len(X_train) + len(X_test) == 891
    assert sum(y_train + y_test) == 342  # 38.4% survived
    assert all(v is not None and math.isfinite(v) for row in X_train + X_test for v in row)
    # Kaggle's train.csv spelling of the same table gives the same data.
    lines = TITANIC.read_text().splitlines()
    header = lines[0].replace("survived", "Survived").replace("fare", "Fare").replace("age", "Age")
    kaggle = tmp_path / "train.csv"
    kaggle.write_text("\n".join([header, *lines[1:]]) + "\n")
    assert load_titanic(kaggle) == (X_train, X_test, y_train, y_test)


def test_titanic_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Titanic CSV not found"):
        load_titanic(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("survived,age\n1,22\n")
    with pytest.raises(ValueError, match=r"no column\(s\) \['fare'\]"):
        load_titanic(bad)
    with pytest.raises(ValueError, match="unknown Titanic feature"):
        load_titanic(TITANIC, features=("name",))


# ---- training: the accuracy each classic problem reaches ----------------------------------------


def test_xor_with_a_2_2_1_tanh_mlp_reaches_100_percent():
    X, y = make_xor()
    # Seed 0 lands in XOR's well-known local minimum (75%); seed 1 does not.
    model = MLP(2, [2, 1], "tanh", seed=1)
    history = fit(
        model, X, y, loss="bce_with_logits", optimizer=Adam(model.parameters(), lr=0.1),
        epochs=200, progress=False,
    )  # fmt: skip
    assert history.accuracy[-1] == 1.0


@pytest.mark.parametrize(
    ("name", "make", "activation", "needed"),
    [
        ("moons", lambda: make_moons(100, noise=0.1), "tanh", 0.97),
        ("circles", lambda: make_circles(100, noise=0.05), "tanh", 0.95),
        ("spirals", lambda: make_spirals(100, noise=0.02), "relu", 0.90),
    ],
)
def test_2_16_16_1_mlp_learns_the_classic_2d_problems(name, make, activation, needed):
    X, y = make()
    model = MLP(2, [16, 16, 1], activation, seed=0)
    history = fit(
        model, X, y, loss="bce_with_logits", optimizer=Adam(model.parameters(), lr=0.05),
        epochs=30, batch_size=20, progress=False,
    )  # fmt: skip
    assert history.accuracy[-1] >= needed, f"{name}: {history.accuracy[-1]:.2%}"
    assert evaluate(model, X, y, "bce_with_logits")[1] >= needed


def test_titanic_fare_and_age_beats_always_died():
    X_train, X_test, y_train, y_test = load_titanic(TITANIC, features=("fare", "age"))
    X_train, X_test = standardize(X_train, X_test)
    model = MLP(2, [8, 1], "tanh", seed=0)
    history = fit(
        model, X_train, y_train, loss="bce_with_logits",
        optimizer=Adam(model.parameters(), lr=0.05), epochs=60, batch_size=64,
        validation=(X_test, y_test), progress=False,
    )  # fmt: skip
    assert history.val_accuracy[-1] >= 0.65


def test_same_seed_same_result_bit_for_bit():
    def run():
        manual_seed(5)  # the layers below draw their weights and dropout stream from it
        X, y = make_moons(40, seed=2)
        model = Sequential(Linear(2, 8), ReLU(), Dropout(0.2, seed=3), Linear(8, 1))
        fit(model, X, y, loss="bce_with_logits", epochs=3, batch_size=8, seed=4, progress=False)
        return [p.data for p in model.parameters()]

    assert run() == run()


@pytest.mark.parametrize("batch_size", [None, 16, 1])
def test_full_batch_mini_batch_and_single_example_sgd_all_reduce_the_loss(batch_size):
    X, y = make_moons(32, seed=0)
    model = MLP(2, [8, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = fit(
        model, X, y, loss="bce_with_logits", optimizer=opt, epochs=15,
        batch_size=batch_size, progress=False,
    )  # fmt: skip
    assert history.loss[-1] < history.loss[0]


def test_early_stopping_restores_the_best_weights():
    X, y = make_moons(60, noise=0.3, seed=0)
    X_val, y_val = make_moons(60, noise=0.3, seed=1)
    model = MLP(2, [32, 32, 1], seed=0)
    snapshots = []
    history = fit(
        model, X, y, loss="bce_with_logits", optimizer=Adam(model.parameters(), lr=0.05),
        epochs=200, batch_size=10, validation=(X_val, y_val), early_stopping=5, progress=False,
        on_epoch=lambda epoch, h: snapshots.append([p.data for p in model.parameters()]),
    )  # fmt: skip
    assert history.stopped_early and history.epochs < 200
    best = history.best_epoch
    assert best == min(range(len(history.val_loss)), key=history.val_loss.__getitem__)
    assert [p.data for p in model.parameters()] == snapshots[best]


def test_progress_bar_shows_epoch_loss_and_accuracy(capsys):
    X, y = make_xor()
    fit(MLP(2, [2, 1]), X, y, loss="bce_with_logits", epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "acc=" in err


def test_progress_false_is_silent(capsys):
    X, y = make_xor()
    fit(MLP(2, [2, 1]), X, y, loss="bce_with_logits", epochs=3, progress=False)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"loss": "l7"}, ValueError, "unknown loss 'l7'"),
        ({"early_stopping": 3}, ValueError, "needs validation"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, message):
    X, y = make_xor()
    with pytest.raises(error, match=message):
        fit(MLP(2, [2, 1]), X, y, progress=False, **kwargs)


def test_fit_rejects_mismatched_data():
    with pytest.raises(ValueError, match="4 examples but y has 3"):
        fit(MLP(2, [2, 1]), make_xor()[0], [0, 1, 1], progress=False)


# ---- save and load ------------------------------------------------------------------------------


MODELS = {
    "mlp": lambda: MLP(2, [5, 3, 2], "relu", "sigmoid", init="he", seed=7),
    "sequential": lambda: Sequential(
        Linear(2, 3), LeakyReLU(0.2), Dropout(0.1), Maxout(3, 2, pieces=2), Linear(2, 1)
    ),
}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_save_load_round_trip_is_exact(kind, tmp_path):
    model = MODELS[kind]()
    for i, p in enumerate(model.parameters()):
        p.data = math.pi * (i + 1) / 7  # floats with long expansions
    path = tmp_path / "model.json"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is type(model)
    assert [(n, p.data) for n, p in loaded.named_parameters()] == [
        (n, p.data) for n, p in model.named_parameters()
    ]
    x = [0.3, -0.2]
    model.eval()
    out, back = model(x), loaded(x)
    first = out if not isinstance(out, list) else out[0]
    again = back if not isinstance(back, list) else back[0]
    assert first.data == again.data
    assert json.loads(path.read_text())["version"] == 1
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def _saved(tmp_path):
    model = MLP(2, [3, 1], seed=0)
    path = tmp_path / "m.json"
    save(model, path)
    return model, path


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: "\x00\xff garbage", "not valid JSON|not a microgradx"),
        (lambda text: text.replace('"version": 1', '"version": 99'), "format version 99"),
        (lambda text: text.replace('"microgradx-model"', '"other"'), "not a microgradx model"),
        (lambda text: text.replace('"layers.0.neurons.0.b"', '"nope"'), "does not match"),
        (lambda text: text.replace('"nin": 2', '"nin": "two"'), "has a bad nin: str 'two'"),
        (
            lambda text: text.replace('"type": "MLP"', '"type": "Transformer"'),
            "unknown module type",
        ),
        (lambda text: "[]", "not a microgradx model"),
    ],
)
def test_corrupted_files_raise_clear_errors_and_change_nothing(corrupt, message, tmp_path):
    model, path = _saved(tmp_path)
    path.write_text(corrupt(path.read_text()), encoding="utf-8", errors="surrogateescape")
    before = [p.data for p in model.parameters()]
    with pytest.raises(ModelFileError, match=message):
        load(path)
    with pytest.raises(ModelFileError, match=message):
        load_weights(model, path)
    assert [p.data for p in model.parameters()] == before


def test_load_weights_into_a_different_architecture_is_refused(tmp_path):
    _, path = _saved(tmp_path)
    other = MLP(2, [4, 1], seed=0)
    before = [p.data for p in other.parameters()]
    with pytest.raises(ModelFileError, match="different architecture"):
        load_weights(other, path)
    assert [p.data for p in other.parameters()] == before


def test_load_weights_into_the_same_architecture(tmp_path):
    model, path = _saved(tmp_path)
    twin = MLP(2, [3, 1], seed=99)
    load_weights(twin, path)
    assert [p.data for p in twin.parameters()] == [p.data for p in model.parameters()]


def test_missing_file_and_bad_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        load(tmp_path / "nothing.json")
    with pytest.raises(TypeError, match="model must be a microgradx Module, got str"):
        save("model", tmp_path / "x.json")
    with pytest.raises(TypeError, match="model must be a microgradx Module, got dict"):
        to_dict({"layers": []})
    assert not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("path", [0, 3, True, b"model.json", None, 1.5])
def test_a_path_that_is_not_a_str_or_a_path_is_refused_not_taken_as_a_file_descriptor(path):
    # os.stat(0) and open(0) take an int as an open file descriptor: load(0) read standard input
    model = MLP(2, [1], seed=0)
    before = [p.data for p in model.parameters()]
    for call in (lambda: load(path), lambda: load_weights(model, path), lambda: save(model, path)):
        with pytest.raises(TypeError, match=r"path must be a str or a pathlib\.Path"):
            call()
    for call in (lambda: load_digits(path), lambda: load_titanic(path)):
        if path is not None:  # None: the file shipped with microgradx
            with pytest.raises(TypeError, match=r"path must be a str or a pathlib\.Path"):
                call()
    assert [p.data for p in model.parameters()] == before
    with pytest.raises(ValueError, match="path is empty"):
        load("")


# ---- fit() leaves the model as it found it ------------------------------------------------------


@pytest.mark.parametrize("training", [True, False])
def test_fit_restores_the_mode_every_module_had(training):
    X, y = make_moons(20, seed=0)
    model = Sequential(Linear(2, 4), ReLU(), Dropout(0.2, seed=1), Linear(4, 1))
    model.train(training)
    model.layers[2].training = not training  # a mixed state comes back exactly too
    before = [m.training for m in model.modules()]
    fit(model, X, y, loss="bce_with_logits", epochs=2, batch_size=5, progress=False,
        validation=(X, y))  # fmt: skip
    assert [m.training for m in model.modules()] == before


def test_fit_refuses_a_loss_summed_over_the_batch():
    X, y = make_moons(20, seed=0)
    model = MLP(2, [4, 1], seed=0)
    before = [p.data for p in model.parameters()]

    def summed(outputs, targets):
        return losses.bce_with_logits(outputs, targets, reduction="sum")

    with pytest.raises(ValueError, match=r"reduction='mean'"):
        fit(model, X, y, loss=summed, epochs=1, batch_size=4, progress=False)
    assert [p.data for p in model.parameters()] == before  # refused before any step

    def averaged(outputs, targets):
        return losses.bce_with_logits(outputs, targets, reduction="mean")

    history = fit(model, X, y, loss=averaged, epochs=2, batch_size=4, progress=False)
    assert history.epochs == 2


# ---- atomic writes ------------------------------------------------------------------------------

# A child process that saves a model over PATH, stopping at a chosen point inside the save: it
# says "inside" and waits on its stdin, so the parent's signal arrives exactly there (an event,
# never a timer). The points: the data written and synced (before the rename), and the rename done.
_WRITER = """
import os, signal, sys
# Ctrl-C raises KeyboardInterrupt even when this process was started with SIGINT ignored (a
# background job of a shell without job control inherits that)
signal.signal(signal.SIGINT, signal.default_int_handler)
from microgradx import save
from microgradx.nn import MLP
path, point = sys.argv[1], sys.argv[2]
real = getattr(os, point)
def stop_here(*args):
    if point == "replace":
        real(*args)  # after the rename
    print("inside", flush=True)
    sys.stdin.readline()  # the signal arrives while the child waits here
    if point != "replace":
        real(*args)
setattr(os, point, stop_here)
model = MLP(8, [16, 1], seed=2)
save(model, path)
print("finished", flush=True)
"""


def _interrupt_a_save(tmp_path, signal_number, point):
    import os
    import subprocess
    import sys

    path = tmp_path / "model.json"
    save(MLP(8, [16, 1], seed=1), path)  # the file that must survive intact
    old = path.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), point],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout.readline().strip() == "inside"
    os.kill(child.pid, signal_number)
    child.stdin.close()
    child.wait()
    assert child.returncode != 0  # it stopped inside the save ...
    assert "finished" not in child.stdout.read()
    child.stdout.close()
    loaded = load(path)  # ... and the file is whole: the old model or the new one
    expected = MLP(8, [16, 1], seed=1 if point == "fsync" else 2)
    assert [p.data for p in loaded.parameters()] == [p.data for p in expected.parameters()]
    if point == "fsync":
        assert path.read_bytes() == old
    return sorted(p.name for p in tmp_path.iterdir())


@pytest.mark.parametrize("point", ["fsync", "replace"])
def test_ctrl_c_inside_a_save_leaves_a_whole_file_and_no_temp_file(tmp_path, point):
    import signal

    # SIGINT is Ctrl-C: Python raises KeyboardInterrupt inside the save, which cleans up.
    assert _interrupt_a_save(tmp_path, signal.SIGINT, point) == ["model.json"]


@pytest.mark.parametrize("point", ["fsync", "replace"])
def test_a_save_killed_outright_never_leaves_a_half_written_file(tmp_path, point):
    import signal

    # SIGKILL gives the process no chance to clean up: a hidden temp file may remain (killed
    # before the rename), but the model file itself is whole.
    names = _interrupt_a_save(tmp_path, signal.SIGKILL, point)
    assert "model.json" in names
    leftovers = [n for n in names if n != "model.json"]
    assert all(n.startswith(".model.json.") and n.endswith(".tmp") for n in leftovers)
    assert len(leftovers) == (1 if point == "fsync" else 0)


def test_a_failed_write_removes_its_temp_file_and_keeps_the_old_contents(tmp_path, monkeypatch):
    import os

    from microgradx.files import write_atomically

    path = write_atomically(tmp_path / "page.html", b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]
    monkeypatch.undo()
    with pytest.raises(TypeError):
        write_atomically(path, "not bytes")  # type: ignore[arg-type]  # fails mid-write
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


# ---- data shipped inside the package ------------------------------------------------------------


def test_load_digits_gives_1797_images_scaled_to_0_1_with_labels_0_to_9():
    from microgradx.data import load_digits

    X, y = load_digits()
    assert len(X) == len(y) == 1797 and {len(x) for x in X} == {64}
    assert min(min(x) for x in X) == 0.0 and max(max(x) for x in X) == 1.0
    assert all(v * 16 == round(v * 16) for x in X[:50] for v in x)  # pixels were 0..16
    assert sorted(set(y)) == list(range(10))
    assert min(y.count(k) for k in range(10)) >= 170  # about 180 of each digit
    X_train, X_test, *_ = train_test_split(X, y, test_size=0.25, seed=0)
    assert (len(X_train), len(X_test)) == (1348, 449)


def test_load_digits_reads_a_path_plain_or_gzipped_and_names_bad_lines(tmp_path):
    import gzip

    from microgradx.data import load_digits

    row = ",".join(["16"] * 64 + ["7"])
    plain = tmp_path / "digits.csv"
    plain.write_text(row + "\n" + row + "\n")
    zipped = tmp_path / "digits.csv.gz"
    zipped.write_bytes(gzip.compress((row + "\n").encode(), mtime=0))
    assert load_digits(plain) == ([[1.0] * 64] * 2, [7, 7])
    assert load_digits(zipped) == ([[1.0] * 64], [7])
    bad = tmp_path / "bad.csv"
    for text, message in (
        (row + ",1", "line 1: expected 65 numbers, got 66"),
        (row.replace("16", "17", 1), "line 1, column 1: a pixel must be an integer 0..16"),
        (row.replace("16", "x", 1), "line 1, column 1: a pixel must be an integer 0..16, got 'x'"),
        (row[:-1] + "10", "line 1, column 65: the label must be an integer 0..9, got '10'"),
        ("", "has no digits"),
    ):
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            load_digits(bad)
    with pytest.raises(FileNotFoundError, match="digits file not found"):
        load_digits(tmp_path / "missing.csv")


def test_one_hot_targets():
    from microgradx.data import one_hot

    assert one_hot(3, 10) == [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert one_hot(0, 2) == [1.0, 0.0]
    assert one_hot(np.int64(1), 2) == [0.0, 1.0]  # a label read from a NumPy array
    assert one_hot(2, -1) == [0.0, 0.0, 1.0]  # torch's -1: label + 1 classes
    for bad, error in ((10, ValueError), (-1, ValueError), (True, TypeError), (2.0, TypeError)):
        with pytest.raises(error, match=r"label must be an int in 0\.\.9"):
            one_hot(bad, 10)  # type: ignore[arg-type]
    # the old default (10 classes) is gone for one release, loudly: torch's default is -1
    with pytest.raises(TypeError, match="num_classes"):
        one_hot(3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"classes= is now num_classes="):
        one_hot(3, classes=10)  # type: ignore[call-arg]


def test_the_shipped_data_loads_from_any_working_directory(tmp_path):
    import subprocess
    import sys

    script = (
        "from microgradx.data import load_digits, load_titanic\n"
        "X, y = load_digits(); Xt, _, yt, _ = load_titanic()\n"
        "print(len(X), len(Xt) + 178)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["1797", "891"]


def test_the_data_files_and_their_attribution_are_package_data():
    root = Path(__file__).resolve().parents[1]
    config = (root / "pyproject.toml").read_text()
    for pattern in ('"datasets/*.csv"', '"datasets/*.csv.gz"', '"datasets/README.md"'):
        assert pattern in config
    shipped = root / "microgradx" / "datasets"
    # seaborn's titanic table, byte for byte as the project's copy (datasets/README.md)
    digest = hashlib.sha256((shipped / "titanic.csv").read_bytes()).hexdigest()
    assert digest == "81787d320d7f7b03df935e91de8bd19e11d45c5bbcab86ef4d4a76dc91b7d4f2"
    attribution = (shipped / "README.md").read_text()
    assert "Alpaydin" in attribution and "CC BY 4.0" in attribution


# ---- fit() on every exit path --------------------------------------------------------------------


def _mixed_model():
    model = Sequential(Linear(2, 4), ReLU(), Dropout(0.2, seed=1), Linear(4, 1))
    model.train()
    model.layers[2].training = False  # a mixed state must come back exactly
    model.layers[3].training = False
    return model


class _Stop(Exception):
    pass


def _raising_at(batch, error):
    """A loss function (the mean BCE) that raises ``error`` at its ``batch``-th call."""
    calls = []

    def loss(outputs, targets):
        calls.append(1)
        if len(calls) == batch:
            raise error
        return losses.bce_with_logits(outputs, targets)

    return loss


@pytest.mark.parametrize("error", [KeyboardInterrupt(), _Stop("in the loss")])
@pytest.mark.parametrize("collector", [True, False])
def test_an_exception_or_ctrl_c_inside_fit_restores_every_mode_and_the_collector(error, collector):
    import gc

    X, y = make_moons(20, seed=0)
    model = _mixed_model()
    before = [m.training for m in model.modules()]
    was = gc.isenabled()
    (gc.enable if collector else gc.disable)()
    try:
        # the 2 first calls are fit's check for a summed loss; the 5th is inside epoch 2
        with pytest.raises(type(error)):
            fit(model, X, y, loss=_raising_at(5, error), epochs=3, batch_size=10,
                progress=False, validation=(X, y))  # fmt: skip
        assert gc.isenabled() is collector
    finally:
        (gc.enable if was else gc.disable)()
    assert [m.training for m in model.modules()] == before


@pytest.mark.parametrize("compile", [False, True])
@pytest.mark.parametrize("where", ["step", "on_epoch", "validation"])
def test_every_exit_path_of_fit_restores_the_modes(compile, where):
    X, y = make_moons(20, seed=0)
    model = _mixed_model()
    model.layers[2].p = 0.0  # no dropout, so fit(compile=True) compiles
    before = [m.training for m in model.modules()]
    optimizer = SGD(model.parameters(), lr=0.1)
    if where == "step":
        steps = []

        def step():
            steps.append(1)
            if len(steps) == 3:
                raise KeyboardInterrupt
            SGD.step(optimizer)

        optimizer.step = step
    on_epoch = None
    if where == "on_epoch":

        def on_epoch(epoch, history):
            raise KeyboardInterrupt

    validation = (X, y)
    if where == "validation":
        validation = (X, [0.5] * 19 + ["bad"])  # evaluate() fails on the last target
    with pytest.raises((KeyboardInterrupt, TypeError, ValueError)):
        fit(model, X, y, loss="bce_with_logits", optimizer=optimizer, epochs=2, batch_size=5,
            progress=False, validation=validation, on_epoch=on_epoch, compile=compile)  # fmt: skip
    assert [m.training for m in model.modules()] == before


def test_ctrl_c_in_the_middle_of_an_optimizer_step_inside_fit_applies_the_whole_step():
    from tests.conftest import Tripwire, ctrl_c_raises_keyboard_interrupt

    X, y = make_moons(8, seed=0)
    runs = []
    for interrupt in (False, True):
        model = MLP(2, [3, 1], seed=4)
        wire = Tripwire(model.layers[0].neurons[1].w[0].data)
        model.layers[0].neurons[1].w[0] = wire  # parameter 3 of 13: Ctrl-C during the step
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        steps = []

        def step(optimizer=optimizer, wire=wire, steps=steps, interrupt=interrupt):
            steps.append(1)
            wire.armed = interrupt and len(steps) == 2
            SGD.step(optimizer)

        optimizer.step = step
        with ctrl_c_raises_keyboard_interrupt(), contextlib.suppress(KeyboardInterrupt):
            fit(model, X, y, loss="bce_with_logits", optimizer=optimizer, epochs=1,
                batch_size=4, progress=False)  # fmt: skip
        runs.append(([p.data for p in model.parameters()], optimizer.steps))
    # two steps with or without Ctrl-C during the second: all 13 parameters moved twice
    assert runs[1] == runs[0] and runs[0][1] == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch_size": True}, TypeError, "batch_size must be an int, got bool"),
        ({"epochs": 2.0}, TypeError, "epochs must be an int, got float"),
        ({"seed": -1}, ValueError, "seed must be an int >= 0"),
        ({"seed": "a"}, TypeError, "seed must be an int"),
        ({"progress": "no"}, TypeError, "progress must be True or False"),
        ({"compile": 1}, TypeError, "compile must be True or False"),
        ({"on_epoch": 3}, TypeError, "on_epoch must be a function"),
        ({"backend": "gpu"}, ValueError, "backend must be one of 'python', 'numpy'"),
        ({"optimizer": "adam"}, TypeError, "optimizer must be a microgradx Optimizer"),
        (
            {"validation": ([[0.0, 0.0]], [0, 1])},
            ValueError,
            r"validation\[0\] has 1 examples but validation\[1\] has 2",
        ),
        ({"validation": [[0.0, 0.0]]}, TypeError, "validation must be a pair"),
        ({"early_stopping": True, "validation": ([[0.0, 0.0]], [0])}, TypeError, "patience"),
    ],
)
def test_fit_checks_every_argument_before_any_step(kwargs, error, message):
    X, y = make_xor()
    model = MLP(2, [2, 1], seed=0)
    before = [p.data for p in model.parameters()]
    with pytest.raises(error, match=message):
        fit(model, X, y, **{"progress": False, **kwargs})
    assert [p.data for p in model.parameters()] == before


@pytest.mark.parametrize(
    ("X", "y", "where"),
    [
        ([[0.0, 1.0], [math.nan, 0.0]], [0, 1], r"X\[1\]\[0\] is float nan"),
        ([[0.0, 1.0], [1.0, math.inf]], [0, 1], r"X\[1\]\[1\] is float inf"),
        ([[0.0, 1.0], [1.0, 10**400]], [0, 1], r"X\[1\]\[1\] is too large for a float"),
        ([[0.0, 1.0], [1.0, 0.0]], [0.5, math.nan], r"y\[1\] is float nan"),
    ],
)
def test_fit_refuses_data_that_is_not_finite_by_position(X, y, where):
    # A nan in the data made every loss nan, and the command line then suggested a smaller
    # learning rate: the data is named instead.
    with pytest.raises(ValueError, match=where):
        fit(MLP(2, [2, 1], seed=0), X, y, loss="mse", progress=False)
    in_validation = (r"validation\[0\]" if where.startswith("X") else r"validation\[1\]") + where[
        1:
    ]
    with pytest.raises(ValueError, match=in_validation):
        fit(MLP(2, [2, 1], seed=0), [[0.0, 0.0]] * 2, [0, 1], loss="mse", progress=False,
            validation=(X, y))  # fmt: skip


def test_data_tables_may_be_numpy_arrays_and_are_checked_by_name():
    X, y = make_moons(20, seed=1)
    as_lists = train_test_split(X, y, test_size=0.25, seed=0)
    assert train_test_split(np.array(X), np.array(y), test_size=0.25, seed=0)[0] == as_lists[0]
    train_s, test_s = standardize(np.array(as_lists[0]), np.array(as_lists[1]))
    assert (train_s, test_s) == standardize(as_lists[0], as_lists[1])
    with pytest.raises(TypeError, match=r"X\[0\] must be a list of numbers \(a row\)"):
        train_test_split(np.array([1.0, 2.0]), [0, 1])  # one row, not two
    with pytest.raises(TypeError, match=r"X_train\[1\]\[0\] must be a real number, got str"):
        standardize([[1.0], ["2"]])


def test_transform_refuses_rows_of_another_width_instead_of_dropping_numbers():
    from microgradx.data import Standardizer

    scaler = Standardizer().fit([[0.0, 1.0], [2.0, 3.0]])
    # zip() used to cut the third number silently (and pad nothing for a row of one)
    with pytest.raises(ValueError, match=r"X\[0\] has 3 numbers but 2 are needed"):
        scaler.transform([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"others\[0\]\[1\] has 1 numbers but 2 are needed"):
        standardize([[0.0, 1.0], [2.0, 3.0]], [[1.0, 2.0], [1.0]])
    assert scaler.transform([]) == []


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: make_spirals(8, classes=20), ValueError, r"n \(8\) must be at least classes"),
        (lambda: make_blobs(2, centers=0), ValueError, "centers must be an int >= 1, got 0"),
        (lambda: make_moons(10, noise=math.inf), ValueError, r"noise must be in \[0, inf\)"),
        (lambda: make_blobs(10, std="0.5"), TypeError, "std must be a real number, got str"),
        (lambda: make_circles(10, factor=np.array([0.5])), TypeError, "factor must be a real"),
        (lambda: make_spirals(10, turns=math.nan), ValueError, "turns must be a finite number"),
        (lambda: make_sine(10**9), ValueError, "n must be an int <= 1000000"),
        (lambda: train_test_split([[1.0]] * 4, [1] * 4, test_size="0.5"), TypeError, "test_size"),
        (lambda: load_titanic(features="fare"), TypeError, "features must be a list, got str"),
        (lambda: load_titanic(features=[]), ValueError, "features is empty"),
        (lambda: load_titanic(features=["fare", 3]), TypeError, r"features\[1\] must be a str"),
        (lambda: load_titanic(test_size=0), ValueError, r"test_size must be in \(0, 1\)"),
    ],
)
def test_data_arguments_are_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("turns", [1e308, -1e308, 1.7976931348623157e308, 5e-324, -0.0])
def test_spirals_take_any_finite_number_of_turns(turns):
    X, y = make_spirals(10, turns=turns, noise=0.0)
    assert all(math.isfinite(v) for row in X for v in row) and len(X) == 10
    if abs(turns) > 2**53:  # whole turns: each arm is a straight line from the centre
        for point, label in zip(X, y):
            angle = 2 * math.pi * label / 2
            assert point[0] * math.sin(angle) == pytest.approx(
                point[1] * math.cos(angle), abs=1e-12
            )


def test_spirals_whole_turns_more_give_the_same_points():
    # make_spirals(12) has r = k / 7 along each arm: 7 turns more is k whole turns more
    base, _ = make_spirals(12, turns=0.5, noise=0.0)
    more, _ = make_spirals(12, turns=7.5, noise=0.0)
    assert [v for row in more for v in row] == pytest.approx(
        [v for row in base for v in row], abs=1e-12
    )


def test_fit_never_runs_the_cycle_collector_while_a_batchs_graph_is_alive():
    """fit() pauses the collector for a batch and frees the batch's graph before resuming it:
    a collection with the graph alive would traverse all of it (27% of a full-batch digits
    epoch) and promote it toward full collections. Every collection fit lets happen is checked
    (the threshold is lowered so that collections do happen)."""
    import gc
    import weakref

    X, y = make_moons(60, seed=0)
    model = MLP(2, [8, 1], seed=0)
    outputs: list[weakref.ref] = []
    alive_at: list[int] = []

    def watched_mse(out, targets):
        outputs.extend(weakref.ref(o) for o in out)
        return losses.mse(out, targets)

    def watch(phase, info):
        if phase == "start" and any(ref() is not None for ref in outputs):
            alive_at.append(info["generation"])

    was, threshold = gc.isenabled(), gc.get_threshold()
    gc.enable()
    gc.set_threshold(50, 2, 2)
    gc.callbacks.append(watch)
    try:
        for batch_size in (None, 20):
            fit(model, X, y, loss=watched_mse, epochs=3, batch_size=batch_size, progress=False)
    finally:
        gc.callbacks.remove(watch)
        gc.set_threshold(*threshold)
        (gc.enable if was else gc.disable)()
    assert outputs and alive_at == []


def test_fit_and_the_plain_loop_train_to_the_same_bits():
    """fit(batch_size=None) is the plain loop (zero_grad, mean loss, backward, step), bit for
    bit, whatever it does with the collector."""
    X, y = make_moons(40, seed=1)
    by_fit, by_hand = MLP(2, [6, 1], seed=3), MLP(2, [6, 1], seed=3)
    fit(by_fit, X, y, loss="mse", optimizer=SGD(by_fit.parameters(), lr=0.1), epochs=4,
        progress=False)  # fmt: skip
    optimizer = SGD(by_hand.parameters(), lr=0.1)
    for _ in range(4):
        optimizer.zero_grad()
        loss = losses.mse([by_hand(x) for x in X], y)
        loss.backward()
        optimizer.step()
    assert [p.data.hex() for p in by_fit.parameters()] == [
        p.data.hex() for p in by_hand.parameters()
    ]
