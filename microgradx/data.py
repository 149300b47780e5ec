"""Small seeded datasets in pure Python, and the Titanic table.

Every generator takes a ``seed`` and returns ``(X, y)``: ``X`` a list of feature lists, ``y`` a list
of labels (0/1 or class indices; floats for ``make_sine``). The same seed gives the same data on
every machine, because only ``random.Random(seed)`` is used.
"""

from __future__ import annotations

import csv
import gzip
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

Features = list[list[float]]


def _check_n(n: int, minimum: int = 1) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < minimum:
        raise ValueError(f"n must be an integer >= {minimum}, got {n!r}")


def _check_noise(noise: float) -> None:
    if not isinstance(noise, (int, float)) or not noise >= 0:
        raise ValueError(f"noise must be a number >= 0, got {noise!r}")


def _shuffled(X: Features, y: list[Any], rng: random.Random) -> tuple[Features, list[Any]]:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[Features, list[int]]:
    """Two interleaving half circles (scikit-learn's classic): class 0 above, class 1 below."""
    _check_n(n, 2)
    _check_noise(noise)
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2 == 0:
            point, label = [math.cos(t), math.sin(t)], 0
        else:
            point, label = [1 - math.cos(t), 0.5 - math.sin(t)], 1
        X.append([p + rng.gauss(0, noise) for p in point])
        y.append(label)
    return _shuffled(X, y, rng)


def make_circles(
    n: int = 100, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> tuple[Features, list[int]]:
    """A circle of class 0 around a smaller circle (radius ``factor``) of class 1."""
    _check_n(n, 2)
    _check_noise(noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1), got {factor!r}")
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        t = 2 * math.pi * rng.random()
        radius, label = (1.0, 0) if i % 2 == 0 else (factor, 1)
        X.append(
            [radius * math.cos(t) + rng.gauss(0, noise), radius * math.sin(t) + rng.gauss(0, noise)]
        )
        y.append(label)
    return _shuffled(X, y, rng)


def make_xor(n: int = 4, noise: float = 0.0, seed: int = 0) -> tuple[Features, list[int]]:
    """XOR: label 1 where exactly one input is on. ``n=4``, ``noise=0`` is the truth table."""
    _check_n(n, 1)
    _check_noise(noise)
    rng = random.Random(seed)
    corners = [([0.0, 0.0], 0), ([0.0, 1.0], 1), ([1.0, 0.0], 1), ([1.0, 1.0], 0)]
    X, y = [], []
    for i in range(n):
        point, label = corners[i % 4]
        X.append([p + rng.gauss(0, noise) if noise else p for p in point])
        y.append(label)
    return X, y


def make_spirals(
    n: int = 200, classes: int = 2, noise: float = 0.05, turns: float = 1.0, seed: int = 0
) -> tuple[Features, list[int]]:
    """``classes`` interleaved spiral arms (CS231n's example): hard for a linear model."""
    _check_n(n, classes)
    _check_noise(noise)
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        label = i % classes
        r = (i // classes + 1) / (n // classes + 1)  # radius grows along the arm
        t = 2 * math.pi * (turns * r + label / classes)
        X.append([r * math.cos(t) + rng.gauss(0, noise), r * math.sin(t) + rng.gauss(0, noise)])
        y.append(label)
    return _shuffled(X, y, rng)


def make_blobs(
    n: int = 150, centers: int = 3, std: float = 0.5, seed: int = 0
) -> tuple[Features, list[int]]:
    """Gaussian blobs around ``centers`` points spread on a circle of radius 2."""
    _check_n(n, centers)
    _check_noise(std)
    rng = random.Random(seed)
    X, y = [], []
    for i in range(n):
        label = i % centers
        angle = 2 * math.pi * label / centers
        X.append([2 * math.cos(angle) + rng.gauss(0, std), 2 * math.sin(angle) + rng.gauss(0, std)])
        y.append(label)
    return _shuffled(X, y, rng)


def make_sine(n: int = 100, noise: float = 0.0, seed: int = 0) -> tuple[Features, list[float]]:
    """Regression: x evenly spread in [-pi, pi], y = sin(x) + noise."""
    _check_n(n, 2)
    _check_noise(noise)
    rng = random.Random(seed)
    xs = [-math.pi + 2 * math.pi * i / (n - 1) for i in range(n)]
    return [[x] for x in xs], [math.sin(x) + (rng.gauss(0, noise) if noise else 0.0) for x in xs]


def _split(n: int, test_size: float, seed: int) -> tuple[list[int], list[int]]:
    """Shuffled row indices for the training and the test split."""
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    n_test = max(1, round(n * test_size))
    if n_test >= n:
        raise ValueError(f"cannot split {n} rows with test_size={test_size}")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return order[n_test:], order[:n_test]


def train_test_split(
    X: Sequence[Sequence[float]], y: Sequence[Any], test_size: float = 0.25, seed: int = 0
) -> tuple[Features, Features, list[Any], list[Any]]:
    """Shuffle with ``seed`` and split: returns ``X_train, X_test, y_train, y_test``."""
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
    train, test = _split(len(X), test_size, seed)
    return (
        [list(X[i]) for i in train],
        [list(X[i]) for i in test],
        [y[i] for i in train],
        [y[i] for i in test],
    )


class Standardizer:
    """Scales each feature to mean 0 and standard deviation 1, with statistics from ``fit``."""

    def __init__(self) -> None:
        self.means: list[float] = []
        self.stds: list[float] = []

    def fit(self, X: Sequence[Sequence[float]]) -> Standardizer:
        if not X:
            raise ValueError("cannot fit a Standardizer on no rows")
        columns = list(zip(*X))
        self.means = [sum(c) / len(c) for c in columns]
        self.stds = [
            math.sqrt(sum((v - m) ** 2 for v in c) / len(c)) or 1.0  # a constant column stays put
            for c, m in zip(columns, self.means)
        ]
        return self

    def transform(self, X: Sequence[Sequence[float]]) -> Features:
        if not self.means:
            raise ValueError("call fit() before transform()")
        return [[(v - m) / s for v, m, s in zip(row, self.means, self.stds)] for row in X]


def standardize(
    X_train: Sequence[Sequence[float]], *others: Sequence[Sequence[float]]
) -> tuple[Features, ...]:
    """Standardize with the training set's means and deviations, applied to it and to ``others``
    (never fit on test data: that would leak it into training)."""
    scaler = Standardizer().fit(X_train)
    return (scaler.transform(X_train), *(scaler.transform(X) for X in others))


# ---- the Titanic table ---------------------------------------------------------------------------

TITANIC_FEATURES = ("pclass", "sex", "age", "sibsp", "parch", "fare")


def _packaged(name: str) -> Path:
    """A data file shipped inside the package (see ``microgradx/datasets/README.md``)."""
    return Path(__file__).resolve().parent / "datasets" / name


def load_titanic(
    path: str | Path | None = None,
    features: Sequence[str] = ("fare", "age"),
    *,
    test_size: float = 0.2,
    seed: int = 0,
) -> tuple[Features, Features, list[int], list[int]]:
    """The Titanic passengers as ``X_train, X_test, y_train, y_test`` (y: 1 = survived).

    Reads seaborn's lower-case headers (``survived, pclass, sex, age, ...``) or Kaggle's
    ``train.csv`` (``Survived, Pclass, Sex, Age, ...``). ``sex`` becomes 1 for female, 0 for male.
    Missing ages are filled with the median age of the *training* split, so nothing about the
    test passengers leaks into training. Features are not scaled: see ``standardize``. Without a
    ``path``, the table shipped with microgradx (891 passengers, seaborn's headers).
    """
    path = _packaged("titanic.csv") if path is None else Path(path)
    unknown = [f for f in features if f.lower() not in TITANIC_FEATURES]
    if unknown or not features:
        raise ValueError(
            f"unknown Titanic feature(s) {unknown or list(features)}:"
            f" use {', '.join(TITANIC_FEATURES)}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"Titanic CSV not found at {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = {name.strip().lower(): name for name in (reader.fieldnames or [])}
        wanted = ["survived", *(f.lower() for f in features)]
        missing = [c for c in wanted if c not in columns]
        if missing:
            raise ValueError(f"{path} has no column(s) {missing}; it has {sorted(columns)}")
        rows = list(reader)
    if not rows:
        raise ValueError(f"{path} has no passengers")

    def number(text: str, column: str, line: int) -> float | None:
        text = text.strip()
        if column == "sex":
            if text.lower() not in ("male", "female"):
                raise ValueError(f"{path} line {line}: sex must be male or female, got {text!r}")
            return 1.0 if text.lower() == "female" else 0.0
        if text == "":
            return None
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{path} line {line}: {column} is not a number: {text!r}") from None

    raw: list[list[float | None]] = []
    labels: list[int] = []
    for line, record in enumerate(rows, start=2):
        survived = number(record[columns["survived"]], "survived", line)
        if survived not in (0.0, 1.0):
            raise ValueError(f"{path} line {line}: survived must be 0 or 1")
        labels.append(1 if survived == 1.0 else 0)
        raw.append([number(record[columns[f.lower()]], f.lower(), line) for f in features])

    train, test = _split(len(raw), test_size, seed)
    medians = []
    for j, name in enumerate(features):
        known = sorted(v for v in (raw[i][j] for i in train) if v is not None)
        if len(known) < len(train) and name.lower() != "age":
            raise ValueError(f"{path}: column {name} has missing values")
        if not known:
            raise ValueError(f"{path}: column {name} has no values in the training split")
        mid = len(known) // 2
        medians.append(known[mid] if len(known) % 2 else (known[mid - 1] + known[mid]) / 2)

    def filled(i: int) -> list[float]:
        return [m if v is None else v for v, m in zip(raw[i], medians)]

    return (
        [filled(i) for i in train],
        [filled(i) for i in test],
        [labels[i] for i in train],
        [labels[i] for i in test],
    )


# ---- handwritten digits --------------------------------------------------------------------------

DIGIT_SIDE = 8


def load_digits(path: str | Path | None = None) -> tuple[Features, list[int]]:
    """1797 handwritten digits as ``X, y``: each image 64 pixels (8 rows of 8, row by row)
    scaled from 0..16 to [0, 1], each label 0..9. Split them with ``train_test_split``.

    Without a ``path``, the file shipped with microgradx: the test set of the UCI "Optical
    Recognition of Handwritten Digits" data (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0). A path
    may name the same format, gzipped (``.gz``) or not: 64 integers 0..16 and the label, per line.
    """
    path = _packaged("digits.csv.gz") if path is None else Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"digits file not found at {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    X: Features = []
    y: list[int] = []
    with opener(path, "rt", encoding="utf-8") as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            fields = text.strip().split(",")
            if len(fields) != DIGIT_SIDE * DIGIT_SIDE + 1:
                raise ValueError(f"{path} line {line}: expected 65 numbers, got {len(fields)}")
            try:
                numbers = [int(field) for field in fields]
            except ValueError:
                raise ValueError(f"{path} line {line}: not all integers") from None
            *pixels, label = numbers
            if not all(0 <= p <= 16 for p in pixels) or not 0 <= label <= 9:
                raise ValueError(f"{path} line {line}: pixels must be 0..16 and the label 0..9")
            X.append([p / 16.0 for p in pixels])
            y.append(label)
    if not X:
        raise ValueError(f"{path} has no digits")
    return X, y


def one_hot(label: int, classes: int = 10) -> list[float]:
    """``[0, .., 1, .., 0]``: 1 in place ``label``, the target the lectures write as t."""
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < classes:
        raise ValueError(f"label must be an int in 0..{classes - 1}, got {label!r}")
    return [1.0 if k == label else 0.0 for k in range(classes)]
