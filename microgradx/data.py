"""Small seeded datasets in pure Python, and the Titanic table.

Every generator takes a ``seed`` and returns ``(X, y)``: ``X`` a list of feature lists, ``y`` a list
of labels (0/1 or class indices; floats for ``make_sine``). The same seed gives the same data on
every machine, because only ``random.Random(seed)`` is used.

Arguments are checked before anything is drawn or built (``microgradx.checks``): ``n`` is an int
of at most ``MAX_SAMPLES`` (a million points) and ``classes``/``centers`` (and ``one_hot``'s
``classes``) at most ``MAX_CLASSES``, so a mistyped size is refused by name instead of
allocating gigabytes; ``noise`` and ``std`` are finite numbers >= 0 (one near the float
range, 1e308, draws some coordinates beyond it: those are infinite, as IEEE-754 rounds them);
``seed`` (here, in ``train_test_split`` and in ``load_titanic``) is an int >= 0
(``checks.seed``: a float or NaN seed would not give the same data on every run).
"""

from __future__ import annotations

import csv
import gzip
import math
import random
import re
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from microgradx import checks
from microgradx.files import NotARegularFileError, open_regular

Features = list[list[float]]

MAX_SAMPLES = 1_000_000  # points a generator makes in one call (a list of lists: ~150 MB)
MAX_CLASSES = 100_000  # classes, arms or centres (one_hot makes a list this long per label)


def _check_n(n: Any, minimum: int) -> int:
    return checks.count(n, "n", minimum, MAX_SAMPLES)


def _check_spread(x: Any, name: str) -> float:
    """A noise level or a standard deviation: a finite number >= 0."""
    return checks.in_range(x, name, 0, math.inf, high_open=True)


def _check_groups(n: Any, groups: Any, name: str) -> tuple[int, int]:
    """``n`` points shared among ``groups`` classes (arms, centres): at least one each."""
    k = checks.count(groups, name, 1, MAX_CLASSES)
    n = _check_n(n, 1)
    if n < k:
        raise ValueError(f"n ({n}) must be at least {name} ({k}): one point for each")
    return n, k


def _shuffled(X: Features, y: list[Any], rng: random.Random) -> tuple[Features, list[Any]]:
    order = list(range(len(X)))
    rng.shuffle(order)
    return [X[i] for i in order], [y[i] for i in order]


def _on_circle(radius: float, angle: float, noise: float, rng: random.Random) -> list[float]:
    """The point at ``angle`` (radians) on a circle of ``radius`` around the origin, plus
    Gaussian noise of standard deviation ``noise`` on each coordinate (x's draw first)."""
    return [
        radius * math.cos(angle) + rng.gauss(0, noise),
        radius * math.sin(angle) + rng.gauss(0, noise),
    ]


def make_moons(n: int = 100, noise: float = 0.1, seed: int = 0) -> tuple[Features, list[int]]:
    """Two interleaving half circles (scikit-learn's classic): class 0 above, class 1 below."""
    n = _check_n(n, 2)
    noise = _check_spread(noise, "noise")
    rng = random.Random(checks.seed(seed))
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
    n = _check_n(n, 2)
    noise = _check_spread(noise, "noise")
    factor = checks.in_range(factor, "factor", 0, 1, low_open=True, high_open=True)
    rng = random.Random(checks.seed(seed))
    X, y = [], []
    for i in range(n):
        t = 2 * math.pi * rng.random()
        radius, label = (1.0, 0) if i % 2 == 0 else (factor, 1)
        X.append(_on_circle(radius, t, noise, rng))
        y.append(label)
    return _shuffled(X, y, rng)


def make_xor(n: int = 4, noise: float = 0.0, seed: int = 0) -> tuple[Features, list[int]]:
    """XOR: label 1 where exactly one input is on. ``n=4``, ``noise=0`` is the truth table."""
    n = _check_n(n, 1)
    noise = _check_spread(noise, "noise")
    rng = random.Random(checks.seed(seed))
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
    """``classes`` interleaved spiral arms (CS231n's example): hard for a linear model.
    ``turns``: how many times each arm winds round (any finite number; negative winds the other
    way; beyond 2**53 every point's turns are a whole number, so each arm is a straight line)."""
    n, classes = _check_groups(n, classes, "classes")
    noise = _check_spread(noise, "noise")
    turns = checks.finite(turns, "turns")
    rng = random.Random(checks.seed(seed))
    X, y = [], []
    for i in range(n):
        label = i % classes
        r = (i // classes + 1) / (n // classes + 1)  # radius grows along the arm
        # The turns reduced to (-1, 1) first (fmod is exact): 2 pi times 1e308 turns would be
        # infinity, whose cosine is a domain error.
        t = 2 * math.pi * (math.fmod(turns * r, 1.0) + label / classes)
        X.append(_on_circle(r, t, noise, rng))
        y.append(label)
    return _shuffled(X, y, rng)


def make_blobs(
    n: int = 150, centers: int = 3, std: float = 0.5, seed: int = 0
) -> tuple[Features, list[int]]:
    """Gaussian blobs around ``centers`` points spread on a circle of radius 2."""
    n, centers = _check_groups(n, centers, "centers")
    std = _check_spread(std, "std")
    rng = random.Random(checks.seed(seed))
    X, y = [], []
    for i in range(n):
        label = i % centers
        angle = 2 * math.pi * label / centers
        X.append(_on_circle(2.0, angle, std, rng))
        y.append(label)
    return _shuffled(X, y, rng)


def make_sine(n: int = 100, noise: float = 0.0, seed: int = 0) -> tuple[Features, list[float]]:
    """Regression: x evenly spread in [-pi, pi], y = sin(x) + noise."""
    n = _check_n(n, 2)
    noise = _check_spread(noise, "noise")
    rng = random.Random(checks.seed(seed))
    xs = [-math.pi + 2 * math.pi * i / (n - 1) for i in range(n)]
    return [[x] for x in xs], [math.sin(x) + (rng.gauss(0, noise) if noise else 0.0) for x in xs]


def _check_test_size(test_size: Any) -> float:
    return checks.in_range(test_size, "test_size", 0, 1, low_open=True, high_open=True)


def _split(n: int, test_size: float, seed: int) -> tuple[list[int], list[int]]:
    """Shuffled row indices for the training and the test split."""
    test_size = _check_test_size(test_size)
    n_test = max(1, round(n * test_size))
    if n_test >= n:
        raise ValueError(f"cannot split {n} rows with test_size={test_size}")
    order = list(range(n))
    random.Random(checks.seed(seed)).shuffle(order)
    return order[n_test:], order[:n_test]


def train_test_split(
    X: Sequence[Sequence[float]], y: Sequence[Any], test_size: float = 0.25, seed: int = 0
) -> tuple[Features, Features, list[Any], list[Any]]:
    """Shuffle with ``seed`` and split: returns ``X_train, X_test, y_train, y_test``.

    ``X``: rows of numbers (a list of lists, a 2-D NumPy array), each row returned as a list of
    what it held; ``y``: one label per row. ``test_size``: the share of rows tested, in (0, 1).
    """
    checks.rows(X, "X")  # every row a list of numbers, all as long
    labels = checks.sequence(y, "y")
    _check_test_size(test_size)
    checks.seed(seed)
    if len(X) != len(labels):
        raise ValueError(f"X has {len(X)} rows but y has {len(labels)}")
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
        """Learn each column's mean and standard deviation from ``X`` (rows of numbers, at least
        one row of at least one number; a list of lists or a 2-D NumPy array)."""
        return self._fit(X, "X")

    def transform(self, X: Sequence[Sequence[float]]) -> Features:
        """``X`` scaled with the fitted statistics: each row must have as many numbers as the
        rows ``fit`` saw."""
        return self._transform(X, "X")

    def _fit(self, X: Any, name: str) -> Standardizer:
        table = checks.rows(X, name)
        if len(table[0]) == 0:
            raise ValueError(f"{name}[0] is empty: a row needs at least one number")
        statistics = [_mean_and_deviation(c) for c in zip(*table)]
        self.means = [m for m, _ in statistics]
        self.stds = [s or 1.0 for _, s in statistics]  # a constant column stays put
        return self

    def _transform(self, X: Any, name: str) -> Features:
        if not self.means:
            raise ValueError("call fit() before transform()")
        table = checks.rows(X, name, width=len(self.means), allow_empty=True)
        return [[_scaled(v, m, s) for v, m, s in zip(row, self.means, self.stds)] for row in table]


def _mean_and_deviation(column: Sequence[float]) -> tuple[float, float]:
    """The mean and the (population) standard deviation of ``column``, without overflow for any
    finite numbers: ``[1e200, -1e200]`` gives ``(0.0, 1e200)``, not an OverflowError from the
    squares or infinity from the sum.

    The mean is ``fsum`` (exact, rounded once) divided by n; where the exact sum is beyond the
    float range, the numbers are first scaled by a power of two at most 1/n (exact, but for bits
    below 2^-1074 times that power). The deviation is ``hypot`` of the differences (accurate to
    about an ULP, scaled inside) over sqrt(n), so it is right to a few ULPs; differences beyond
    the range are taken halved. Non-finite numbers give IEEE-754's answers (NaN, infinity).
    """
    n = len(column)
    if not all(math.isfinite(v) for v in column):
        mean = sum(column) / n
        return mean, math.sqrt(sum((v - mean) * (v - mean) for v in column) / n)
    try:
        mean = math.fsum(column) / n
    except OverflowError:  # an intermediate or the whole sum beyond the range: scale first
        power = 2.0 ** -n.bit_length()
        mean = math.fsum(v * power for v in column) / n / power
    factor = 1.0
    differences = [v - mean for v in column]
    if any(math.isinf(d) for d in differences):  # two numbers near the range's two ends
        factor = 2.0
        differences = [v / 2 - mean / 2 for v in column]
    length = math.hypot(*differences)
    if math.isinf(length):  # the root of the sum of squares is beyond the range, not the mean
        power = 2.0 ** -n.bit_length()
        return mean, math.hypot(*(d * power for d in differences)) / math.sqrt(n) / power * factor
    return mean, length / math.sqrt(n) * factor


def _scaled(v: float, mean: float, std: float) -> float:
    """``(v - mean) / std``; a difference beyond the float range is taken halved."""
    difference = v - mean
    if math.isinf(difference) and math.isfinite(v) and math.isfinite(mean):
        return (v / 2 - mean / 2) / std * 2
    return difference / std


def standardize(
    X_train: Sequence[Sequence[float]], *others: Sequence[Sequence[float]]
) -> tuple[Features, ...]:
    """Standardize with the training set's means and deviations, applied to it and to ``others``
    (never fit on test data: that would leak it into training). Every table is checked before
    any is transformed: rows of numbers, each as long as ``X_train``'s."""
    scaler = Standardizer()._fit(X_train, "X_train")
    for k, X in enumerate(others):
        checks.rows(X, f"others[{k}]", width=len(scaler.means), allow_empty=True)
    return (
        scaler._transform(X_train, "X_train"),
        *(scaler._transform(X, f"others[{k}]") for k, X in enumerate(others)),
    )


# ---- reading data files -------------------------------------------------------------------------


class DataFileError(ValueError):
    """A data file that cannot be read as the loader's format. The message names the file and,
    where it can, the line and the column: ``titanic.csv line 7, column age: 'nan' is not a
    number``."""


MAX_LINE = 1 << 16  # bytes: a longer line is no table row of ours
# A whole file, after gunzipping: the shipped files are 57 KB (Titanic, 892 lines) and 265 KB
# (digits, 1797 lines); a gzip of a few KB can unpack to gigabytes, so reading stops here.
MAX_TEXT_BYTES = 64 << 20
MAX_LINES = MAX_SAMPLES + 1  # a row per sample, and a header


def _capped_lines(source: IO[bytes] | gzip.GzipFile, path: Path, *, gunzipped: bool) -> list[bytes]:
    """The lines of ``source``, refused past ``MAX_LINE`` bytes a line, ``MAX_TEXT_BYTES`` in all
    or ``MAX_LINES`` lines: read line by line, so a small gzip that unpacks to gigabytes is
    refused after reading at most the limit."""
    lines: list[bytes] = []
    size = 0
    while True:
        raw = source.readline(MAX_LINE + 1)
        if not raw:
            return lines
        if len(raw) > MAX_LINE:
            raise DataFileError(
                f"{path} line {len(lines) + 1} is longer than {MAX_LINE} bytes: not a data table"
            )
        size += len(raw)
        if size > MAX_TEXT_BYTES or len(lines) == MAX_LINES:
            unpacked = " after gunzipping" if gunzipped else ""
            amount = (
                f"{MAX_TEXT_BYTES:,} bytes{unpacked}"
                if size > MAX_TEXT_BYTES
                else f"{MAX_LINES:,} lines"
            )
            raise DataFileError(
                f"{path} holds more than {amount}: larger than any data table microgradx reads"
            )
        lines.append(raw)


def _text_lines(path: Path, kind: str) -> list[str]:
    """The lines of a UTF-8 text file (a byte-order mark and CRLF endings are fine), gunzipped if
    it starts with gzip's magic bytes (whatever its name).

    Raises ``FileNotFoundError`` if there is no file, ``DataFileError`` for anything else: a
    folder, a FIFO or a device (never read), a truncated or corrupted gzip, bytes that are not
    UTF-8, a line longer than ``MAX_LINE`` bytes, more than ``MAX_TEXT_BYTES`` bytes (64 MiB,
    counted after gunzipping) or more than ``MAX_LINES`` lines in all. The file is read line by
    line, so a small gzip that unpacks to gigabytes is refused after reading at most the limit.
    """
    try:
        with open_regular(path) as handle:
            start = handle.read(2)
            handle.seek(0)
            source: IO[bytes] | gzip.GzipFile = handle
            if start == b"\x1f\x8b":
                source = gzip.GzipFile(fileobj=handle, mode="rb")
            lines = _capped_lines(source, path, gunzipped=source is not handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"{kind} not found at {path}") from None
    except NotARegularFileError as error:  # it names the path and what is there
        raise DataFileError(str(error)) from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataFileError(
            f"{path} is a damaged gzip file (truncated or corrupted?): {error}"
        ) from None
    except OSError as error:
        raise DataFileError(f"{path}: cannot read it: {error.strerror or error}") from None
    text = []
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise DataFileError(
                f"{path} line {number} is not UTF-8 text (byte {error.start} of the line)"
            ) from None
        text.append(line.removeprefix("\ufeff") if number == 1 else line)
    return text


def _shown(text: str) -> str:
    """A cell as a message shows it: quoted, and cut if long."""
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


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
    ``train.csv`` (``Survived, Pclass, Sex, Age, ...``): UTF-8, with or without a byte-order mark,
    LF or CRLF line endings, gzipped or not. ``sex`` becomes 1 for female, 0 for male.

    Missing values: an empty ``age`` cell is a missing age, filled with the median age of the
    *training* split, so nothing about the test passengers leaks into training. Every other
    cell must hold a finite number (``sex``: male or female; ``survived``: 0 or 1); ``nan``,
    ``inf`` or text in a number column, an empty cell outside ``age``, or a row with more or
    fewer cells than the header raises ``DataFileError`` naming the line and the column.
    Features are not scaled: see ``standardize``. Without a ``path``, the table shipped with
    microgradx (891 passengers, seaborn's headers).
    """
    path = _packaged("titanic.csv") if path is None else checks.path(path, "path")
    features = checks.texts(features, "features")
    if not features:
        raise ValueError("features is empty: name at least one column")
    unknown = [f for f in features if f.lower() not in TITANIC_FEATURES]
    if unknown:
        raise ValueError(
            f"unknown Titanic feature(s) {unknown} in features: use {', '.join(TITANIC_FEATURES)}"
        )
    _check_test_size(test_size)
    checks.seed(seed)  # before the file is read
    wanted = ["survived", *(f.lower() for f in features)]
    reader = csv.reader(_text_lines(path, "Titanic CSV"), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise DataFileError(f"{path} is empty: expected a header line and passengers")
        index = _titanic_columns(header, wanted, path)
        raw, labels = _titanic_rows(reader, header, index, features, path)
    except csv.Error as error:
        raise DataFileError(f"{path} line {reader.line_num}: not a CSV row: {error}") from None
    if not raw:
        raise DataFileError(f"{path} has no passengers")

    train, test = _split(len(raw), test_size, seed)
    medians = _training_medians(raw, train, features, path)

    def filled(i: int) -> list[float]:
        return [m if v is None else v for v, m in zip(raw[i], medians)]

    return (
        [filled(i) for i in train],
        [filled(i) for i in test],
        [labels[i] for i in train],
        [labels[i] for i in test],
    )


def _titanic_columns(header: list[str], wanted: list[str], path: Path) -> dict[str, int]:
    """Where each wanted column is in ``header`` (names compared in lower case)."""
    names = [name.strip().lower() for name in header]
    doubled = sorted({name for name in names if names.count(name) > 1 and name in wanted})
    if doubled:
        raise DataFileError(f"{path}: the header names column(s) {doubled} twice")
    missing = [c for c in wanted if c not in names]
    if missing:
        shown = ", ".join(_shown(name) for name in header[:20])
        raise DataFileError(
            f"{path} has no column(s) {missing} (seaborn's or Kaggle's Titanic headers);"
            f" its header is: {shown}"
        )
    return {name: names.index(name) for name in wanted}


def _titanic_rows(
    reader: Any, header: list[str], index: dict[str, int], features: list[str], path: Path
) -> tuple[list[list[float | None]], list[int]]:
    """Each passenger's features (None for a missing age) and label, from the CSV ``reader``."""
    raw: list[list[float | None]] = []
    labels: list[int] = []
    for record in reader:
        line = reader.line_num
        if not record or record == [""]:
            continue  # a blank line (one at the end is usual)
        if len(record) != len(header):
            raise DataFileError(
                f"{path} line {line} has {len(record)} cells, the header {len(header)}"
                " (a truncated or misquoted line?)"
            )

        def cell(column: str, record: list[str] = record, line: int = line) -> float | None:
            return _titanic_cell(record[index[column]], column, path, line)

        survived = cell("survived")
        if survived not in (0.0, 1.0):
            text = _shown(record[index["survived"]])
            raise DataFileError(f"{path} line {line}, column survived: must be 0 or 1, got {text}")
        labels.append(1 if survived == 1.0 else 0)
        raw.append([cell(f.lower()) for f in features])
    return raw, labels


def _training_medians(
    raw: list[list[float | None]], train: list[int], features: list[str], path: Path
) -> list[float]:
    """The median of each column over the training rows only (so nothing about the test
    passengers leaks into training): what a missing value is filled with."""
    medians = []
    for j, name in enumerate(features):
        known = sorted(v for v in (raw[i][j] for i in train) if v is not None)
        if not known:
            raise DataFileError(f"{path}: column {name} has no values in the training split")
        mid = len(known) // 2
        medians.append(known[mid] if len(known) % 2 else (known[mid - 1] + known[mid]) / 2)
    return medians


def _titanic_cell(text: str, column: str, path: Path, line: int) -> float | None:
    """One cell as a number; None for an empty age (filled later). See ``load_titanic``."""
    where = f"{path} line {line}, column {column}"
    text = text.strip()
    if column == "sex":
        if text.lower() not in ("male", "female"):
            raise DataFileError(f"{where}: must be male or female, got {_shown(text)}")
        return 1.0 if text.lower() == "female" else 0.0
    if text == "":
        if column == "age":
            return None
        raise DataFileError(
            f"{where} is empty: only age may be missing (it is filled with the training median)"
        )
    try:
        value = float(text)
    except ValueError:
        raise DataFileError(f"{where}: {_shown(text)} is not a number") from None
    if not math.isfinite(value):
        hint = " (leave a missing age empty)" if column == "age" else ""
        raise DataFileError(f"{where}: {_shown(text)} is not a finite number{hint}")
    return value


# ---- handwritten digits --------------------------------------------------------------------------

DIGIT_SIDE = 8
_DIGIT_FIELD = re.compile(r"\s*([0-9]{1,2})\s*")  # pixels 0..16 and labels 0..9: two digits at most


def load_digits(path: str | Path | None = None) -> tuple[Features, list[int]]:
    """1797 handwritten digits as ``X, y``: each image 64 pixels (8 rows of 8, row by row)
    scaled from 0..16 to [0, 1], each label 0..9. Split them with ``train_test_split``.

    Without a ``path``, the file shipped with microgradx: the test set of the UCI "Optical
    Recognition of Handwritten Digits" data (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0). A path
    may name the same format, gzipped or not (recognised by its first bytes): per line, 64
    integers 0..16 and the label, separated by commas; blank lines are skipped. Anything else
    raises ``DataFileError`` naming the line (and the column); no file, ``FileNotFoundError``.
    """
    path = _packaged("digits.csv.gz") if path is None else checks.path(path, "path")
    X: Features = []
    y: list[int] = []
    fields_per_line = DIGIT_SIDE * DIGIT_SIDE + 1
    for line, text in enumerate(_text_lines(path, "digits file"), start=1):
        if not text.strip():
            continue
        fields = text.strip().split(",")
        if len(fields) != fields_per_line:
            raise DataFileError(
                f"{path} line {line}: expected {fields_per_line} numbers, got {len(fields)}"
            )
        numbers = []
        for column, field in enumerate(fields, start=1):
            match = _DIGIT_FIELD.fullmatch(field)
            largest = 9 if column == fields_per_line else 16
            if match is None or int(match.group(1)) > largest:
                what = "the label" if column == fields_per_line else "a pixel"
                raise DataFileError(
                    f"{path} line {line}, column {column}: {what} must be an integer 0..{largest},"
                    f" got {_shown(field)}"
                )
            numbers.append(int(match.group(1)))
        *pixels, label = numbers
        X.append([p / 16.0 for p in pixels])
        y.append(label)
    if not X:
        raise DataFileError(f"{path} has no digits")
    return X, y


@checks.changed_call("one_hot(label, num_classes)", renamed={"classes": "num_classes"})
def one_hot(label: int, num_classes: int) -> list[float]:
    """``[0, .., 1, .., 0]``: 1 in place ``label``, the target the lectures write as t.

    ``label``: an int (NumPy's too) in ``0..num_classes - 1``; ``num_classes``: at most
    ``MAX_CLASSES``, or -1 for ``label + 1`` (as ``torch.nn.functional.one_hot``, which infers
    the classes from the largest label). ``num_classes`` has no default for one release: it was
    10 (``classes=10``), and torch's default -1 would silently shorten ``one_hot(3)``.
    """
    inferred = checks.is_int(num_classes)
    inferred = inferred and int(num_classes) == -1
    classes = MAX_CLASSES if inferred else checks.count(num_classes, "num_classes", 1, MAX_CLASSES)
    if not checks.is_int(label):
        raise TypeError(f"label must be an int in 0..{classes - 1}, got {checks.describe(label)}")
    place = int(label)
    if not 0 <= place < classes:
        shown = checks.describe(place) if place.bit_length() > 64 else repr(place)
        raise ValueError(f"label must be an int in 0..{classes - 1}, got {shown}")
    if inferred:
        classes = place + 1
    return [1.0 if k == place else 0.0 for k in range(classes)]
