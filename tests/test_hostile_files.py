"""Every file reader and writer against hostile files.

Readers: ``io.load``, ``io.load_weights``, ``data.load_titanic``, ``data.load_digits`` and the
command line's ``--data``. Each bad file (empty, truncated, binary, not UTF-8, wrong JSON types,
huge numbers, deep nesting, huge declared sizes, a folder, a FIFO, a device, a socket, a symbolic
link that leads nowhere) raises the reader's own error naming the file and what is wrong, and
changes nothing. A FIFO must never make a reader wait: see ``_fifo``.

Writers: ``files.write_atomically`` (under ``save``, pictures and pages) refuses to replace
anything but a regular file, writes through a symbolic link to its target, keeps the target's
permissions, and copes with a file name near the system's limit.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import stat
import tempfile
import threading
from pathlib import Path

import pytest

from microgradx import ModelFileError, load, load_weights, save
from microgradx import nn as nn_module
from microgradx.data import DataFileError, load_digits, load_titanic
from microgradx.files import NotARegularFileError, write_atomically
from microgradx.nn import MLP, Linear, Sequential
from tests.conftest import Tripwire, ctrl_c_raises_keyboard_interrupt

SHIPPED = Path(__file__).resolve().parents[1] / "microgradx" / "datasets"


def _gzip(data: bytes) -> bytes:
    """gzip with a fixed timestamp: the same bytes in every process (test ids are built from
    them, and pytest-xdist's workers must collect the same tests)."""
    return gzip.compress(data, mtime=0)


# ---- special files ------------------------------------------------------------------------------


@contextlib.contextmanager
def _fifo(path: Path):
    """A FIFO at ``path`` with a writer waiting to send it garbage.

    A reader that opened it would get the garbage and fail on its contents (a clear test failure,
    never a hang); a reader that refuses FIFOs leaves the writer waiting, and it is released
    on the way out by opening the read end without waiting, through a second name (so even a
    writer that wrongly replaced ``path`` cannot leave the thread waiting). Events, no timers.
    """
    os.mkfifo(path)
    keep = path.with_name(path.name + ".keep")
    os.link(path, keep)
    done = threading.Event()

    def writer():
        with open(keep, "wb") as end:  # waits here until someone opens the read end
            end.write(b"garbage, not a model or a table\n")
        done.set()

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        if not done.is_set():
            release = os.open(keep, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer's open return
            thread.join()
            os.close(release)
        thread.join()
        keep.unlink()


def _device(path: Path) -> Path:
    """A character device node like /dev/null, made in the test's folder (so a writer that
    replaced it would only destroy this copy)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD); CI runs as root")
    return path


@contextlib.contextmanager
def _socket():
    """A Unix socket in a short folder (socket paths are limited to about 100 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="mgx"))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(folder / "s"))
        yield folder / "s"
    finally:
        server.close()
        (folder / "s").unlink(missing_ok=True)
        folder.rmdir()


@contextlib.contextmanager
def _special(kind: str, tmp_path: Path):
    """A path of the given kind, none of them a regular file."""
    if kind == "folder":
        (tmp_path / "folder").mkdir()
        yield tmp_path / "folder"
    elif kind == "fifo":
        with _fifo(tmp_path / "fifo") as path:
            yield path
    elif kind == "device":
        yield _device(tmp_path / "null")
    elif kind == "socket":
        with _socket() as path:
            yield path
    elif kind == "symlink loop":
        (tmp_path / "a").symlink_to(tmp_path / "b")
        (tmp_path / "b").symlink_to(tmp_path / "a")
        yield tmp_path / "a"
    else:
        raise AssertionError(kind)


SPECIAL = {
    "folder": "a folder",
    "fifo": "a FIFO",
    "device": "a character device",
    "socket": "a socket",
    "symlink loop": "symbolic links|symbolic link",
}


# ---- model files: everything a reader can be handed -------------------------------------------


def _model():
    return MLP(2, [3, 1], seed=0)


def _document():
    model = _model()
    return json.loads(json.dumps({
        "format": "microgradx-model",
        "version": 1,
        "architecture": model.config(),
        "parameters": {name: p.data for name, p in model.named_parameters()},
    }))  # fmt: skip


def _with(change):
    document = _document()
    change(document)
    return json.dumps(document).encode()


def _last_weight(text):
    document = _document()
    last = list(document["parameters"])[-1]
    return (
        json.dumps(document)
        .replace(
            json.dumps(last) + ": " + json.dumps(document["parameters"][last]),
            json.dumps(last) + ": " + text,
        )
        .encode()
    )


def _set(path, value):
    def change(document):
        *parents, last = path
        for key in parents:
            document = document[key]
        document[last] = value

    return change


# Deep enough for the parser's recursion (about 1000 levels), with fewer brackets than the cap on
# modules allows (more are refused before the depth is looked at).
DEEP = 10_000
BAD_MODEL_FILES = {
    "empty": (b"", "not valid JSON"),
    "truncated": (json.dumps(_document()).encode()[:150], "not valid JSON"),
    "binary garbage": (bytes(range(256)) * 4, "not UTF-8"),
    "not UTF-8": (
        json.dumps(_document()).encode().replace(b"layers", b"l\xe4yers", 1),
        "not UTF-8",
    ),
    "a list": (b"[]", "not a microgradx model file"),
    "a string": (b'"model"', "not a microgradx model file"),
    "a number": (b"1", "not a microgradx model file"),
    "format is a number": (_with(_set(["format"], 5)), "not a microgradx model file"),
    "version is a string": (_with(_set(["version"], "1")), "format version '1'"),
    "version is true": (_with(_set(["version"], True)), "format version True"),
    "version 2": (_with(_set(["version"], 2)), "format version 2"),
    "parameters is a list": (_with(_set(["parameters"], [1.0])), "'parameters' must map"),
    "a weight is a string": (_last_weight('"0.5"'), "'parameters' must map names to numbers"),
    "a weight is true": (_last_weight("true"), "'parameters' must map names to numbers"),
    "a weight is null": (_last_weight("null"), "'parameters' must map names to numbers"),
    "a weight is 10**400": (_last_weight(str(10**400)), "too large for a float"),
    "a weight of 5000 digits": (_last_weight("7" * 5000), "an integer of 5000 digits"),
    "a size of 5000 digits": (
        _with(_set(["architecture", "nin"], 1)).replace(b'"nin": 1', b'"nin": ' + b"9" * 5000),
        "an integer of 5000 digits",
    ),
    "a weight nested deep": (_last_weight("[" * DEEP + "]" * DEEP), "nested more than 64"),
    "an object nested deep": (_last_weight('{"a":' * DEEP + "1" + "}" * DEEP), "nested more"),
    # an unterminated string full of escaped quotes, after enough brackets to be scanned
    "a string of escaped quotes never closed": (
        b"[]" * 65 + b'"' + b'\\"' * 30_000,
        "not valid JSON",
    ),
    "a weight given twice": (
        json.dumps(_document())
        .replace('"layers.0.neurons.0.w.1"', '"layers.0.neurons.0.w.0"')
        .encode(),
        "gives 'layers.0.neurons.0.w.0' twice",
    ),
    "a weight missing": (
        _with(lambda d: d["parameters"].pop("layers.1.neurons.0.b")),
        "declares 13 weights but the file holds 12",
    ),
    "a weight renamed": (
        json.dumps(_document()).replace('"layers.1.neurons.0.b"', '"bias"').encode(),
        "does not match the model",
    ),
    "architecture is a string": (_with(_set(["architecture"], "MLP")), "not a module"),
    "unknown module type": (_with(_set(["architecture", "type"], "Transformer")), "unknown"),
    "nin is a string": (_with(_set(["architecture", "nin"], "two")), "bad nin: str 'two'"),
    "nin is true": (_with(_set(["architecture", "nin"], True)), "bad nin: bool True"),
    "nin is 2.0": (_with(_set(["architecture", "nin"], 2.0)), "bad nin: float 2.0"),
    "nin is 0": (_with(_set(["architecture", "nin"], 0)), "bad nin: int 0"),
    "nin is 10**300": (
        _with(_set(["architecture", "nin"], 10**300)),
        r"declares about 10\^300 weights",
    ),
    "sizes is empty": (_with(_set(["architecture", "sizes"], [])), "bad sizes"),
    "sizes is a string": (_with(_set(["architecture", "sizes"], "3,1")), "bad sizes"),
    "activation is a string": (
        _with(_set(["architecture", "activation"], "tanh")),
        "architecture.activation is not a module description",
    ),
    "activation is a layer": (
        _with(_set(["architecture", "activation"], {"type": "Linear", "nin": 1, "nout": 1})),
        "must be an activation",
    ),
    "an unknown setting": (_with(_set(["architecture", "rng"], "x")), "unknown settings: 'rng'"),
    "a setting missing": (_with(lambda d: d["architecture"].pop("sizes")), "lacks sizes"),
    "seed is negative": (_with(_set(["architecture", "seed"], -1)), "bad seed"),
    "init is unknown": (_with(_set(["architecture", "init"], "zeros")), "bad init"),
}


def _write(tmp_path, content: bytes) -> Path:
    path = tmp_path / "model.json"
    path.write_bytes(content)
    return path


def _state(model):
    return [(p.data, p.grad) for p in model.parameters()]


@pytest.mark.parametrize("case", sorted(BAD_MODEL_FILES))
def test_every_bad_model_file_is_a_model_file_error_naming_it_and_changes_nothing(case, tmp_path):
    content, message = BAD_MODEL_FILES[case]
    path = _write(tmp_path, content)
    model = _model()
    for p in model.parameters():
        p.data, p.grad = p.data + 1.0, 0.25  # not the file's weights, and a gradient to keep
    before = _state(model)
    generator = nn_module._generator.getstate()
    with pytest.raises(ModelFileError, match=message) as info:
        load(path)
    assert str(path) in str(info.value)
    with pytest.raises(ModelFileError, match=message) as info:
        load_weights(model, path)
    assert str(path) in str(info.value)
    assert _state(model) == before
    assert nn_module._generator.getstate() == generator


def test_a_diverged_model_round_trips_and_a_float_beyond_the_range_is_infinity(tmp_path):
    import math

    model = _model()
    model.parameters()[0].data = math.inf
    model.parameters()[1].data = -math.inf
    model.parameters()[2].data = math.nan
    save(model, tmp_path / "m.json")
    loaded = [p.data for p in load(tmp_path / "m.json").parameters()]
    assert loaded[:2] == [math.inf, -math.inf] and math.isnan(loaded[2])
    path = _write(tmp_path, _last_weight("-1e400"))
    assert load(path).parameters()[-1].data == -math.inf


def test_the_good_file_of_the_table_above_loads(tmp_path):
    """The table's files are one change away from a good file: this one."""
    path = _write(tmp_path, json.dumps(_document()).encode())
    assert [p.data for p in load(path).parameters()] == [p.data for p in _model().parameters()]
    # an editor's byte-order mark and pretty-printing are fine
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(_document(), indent=4).encode())
    assert [p.data for p in load(path).parameters()] == [p.data for p in _model().parameters()]


def test_the_depth_check_sees_strings_and_escapes_as_json_does():
    from microgradx import io

    deep = "[" * 70 + "]" * 70
    inside = '["' + '\\"' + deep + '"]'  # brackets inside a string that holds \"
    io._check_depth(inside)
    assert json.loads(inside)[0].endswith("]")
    after = '["\\\\", ' + deep + "]"  # the string holds one backslash and ends: then 71 deep
    with pytest.raises(io._Refused, match="nested more than 64"):
        io._check_depth(after)
    assert io.MAX_DEPTH < 71


def test_the_depth_check_looks_at_each_character_once(monkeypatch):
    """Structural, not timed: one scan of the text, each special character seen once, for a
    string of escaped quotes that a whole-string pattern would rescan from every quote."""
    from microgradx import io

    text = "[]" * 65 + '"' + '\\"' * 5000
    seen = []
    real = io._SPECIAL

    class Counting:
        def finditer(self, string):
            seen.append(0)
            for match in real.finditer(string):
                seen[-1] += 1
                yield match

    monkeypatch.setattr(io, "_SPECIAL", Counting())
    io._check_depth(text)
    assert seen == [130 + 1 + 2 * 5000]  # one scan, each bracket, quote and backslash once


def test_a_model_file_beyond_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    from microgradx import io

    path = _write(tmp_path, json.dumps(_document()).encode())
    monkeypatch.setattr(io, "MAX_BYTES", path.stat().st_size - 1)
    model = _model()
    before = _state(model)
    for reader in (load, lambda p: load_weights(model, p)):
        with pytest.raises(ModelFileError, match=f"{path} is larger than .* bytes"):
            reader(path)
    assert _state(model) == before
    monkeypatch.setattr(io, "MAX_BYTES", path.stat().st_size)
    load(path)


def test_the_last_weight_10_to_the_400_changes_no_parameter(tmp_path):
    # The report: 9 of 13 parameters were overwritten, then a raw OverflowError.
    model = Sequential(Linear(3, 3), Linear(3, 1))
    save(model, tmp_path / "m.json")
    document = json.loads((tmp_path / "m.json").read_text())
    assert len(document["parameters"]) == 16
    last = list(document["parameters"])[-1]
    text = json.dumps(document).replace(
        json.dumps(last) + ": " + json.dumps(document["parameters"][last]),
        json.dumps(last) + ": " + str(10**400),
    )
    (tmp_path / "m.json").write_text(text)
    target = Sequential(Linear(3, 3), Linear(3, 1))
    before = _state(target)
    with pytest.raises(ModelFileError, match="too large for a float"):
        load_weights(target, tmp_path / "m.json")
    assert _state(target) == before


def test_a_126_byte_file_declaring_30_million_weights_is_refused_before_building(
    tmp_path, monkeypatch
):
    content = (
        b'{"format":"microgradx-model","version":1,'
        b'"architecture":{"type":"Linear","nin":30000000,"nout":1},"parameters":{}}'
    )
    path = _write(tmp_path, content)

    def no_building(*args, **kwargs):
        raise AssertionError("a module was built before the sizes were checked")

    monkeypatch.setattr(nn_module.Neuron, "__init__", no_building)
    with pytest.raises(ModelFileError, match="declares 30000001 weights, more than 4,000,000"):
        load(path)
    # Maxout and MLP declare sizes too
    for architecture, declared in (
        ({"type": "Maxout", "nin": 10**6, "nout": 10**3, "pieces": 10}, "10000010000"),
        ({"type": "MLP", "nin": 10**6, "sizes": [10**6, 1], "activation": {"type": "Tanh"},
          "output_activation": {"type": "Identity"}}, "1000002000001"),
        ({"type": "Sequential", "layers": [{"type": "Linear", "nin": 4, "nout": 4}] * 1000},
         "20000"),
    ):  # fmt: skip
        path.write_text(json.dumps({
            "format": "microgradx-model", "version": 1, "architecture": architecture,
            "parameters": {"w": 1.0},
        }))  # fmt: skip
        cap = "but the file" if declared == "20000" else "more than 4,000,000"
        with pytest.raises(ModelFileError, match=f"declares {declared} weights, {cap}|"
                           f"declares {declared} weights {cap}"):  # fmt: skip
            load(path)


def _declaring(architecture):
    return json.dumps({
        "format": "microgradx-model", "version": 1, "architecture": architecture,
        "parameters": {},
    })  # fmt: skip


def test_a_model_file_declaring_too_many_modules_is_refused_before_building(tmp_path, monkeypatch):
    from microgradx import io

    def no_building(*args, **kwargs):
        raise AssertionError("a module was built before the counts were checked")

    monkeypatch.setattr(io, "_build", no_building)
    path = tmp_path / "deep.json"
    cap = io.MAX_MODULES
    many = [{"type": "Tanh"}] * cap  # with the Sequential: one more than the cap
    for architecture in (
        {"type": "Sequential", "layers": many},
        {"type": "Sequential", "layers": [{"type": "Sequential", "layers": many[: cap // 2]}] * 2},
        {"type": "MLP", "nin": 1, "sizes": [1] * cap, "activation": {"type": "Tanh"},
         "output_activation": {"type": "Identity"}},
    ):  # fmt: skip
        path.write_text(_declaring(architecture))
        with pytest.raises(ModelFileError, match=f"more than {cap:,} modules") as info:
            load(path)
        assert str(path) in str(info.value)
    # 200,000 layers (the report: 2 s and 155 MB to load) are refused before parsing
    path.write_text(_declaring({"type": "Sequential", "layers": [{"type": "Tanh"}] * 200_000}))
    monkeypatch.setattr(io.json, "loads", no_building)
    with pytest.raises(ModelFileError, match=f"{cap:,} modules \\(MAX_MODULES\\)") as info:
        load(path)
    assert str(path) in str(info.value) and "JSON objects and lists" in str(info.value)


def test_a_model_file_declaring_too_many_weights_is_refused_before_building(tmp_path, monkeypatch):
    from microgradx import io

    path = tmp_path / "wide.json"
    layer = {"type": "Linear", "nin": 999, "nout": 1000}  # a million weights, as nn's cap
    path.write_text(_declaring({"type": "Sequential", "layers": [layer] * 5}))
    monkeypatch.setattr(io, "_build", lambda *a: pytest.fail("built before the counts"))
    with pytest.raises(ModelFileError, match="declares 5000000 weights, more than 4,000,000"):
        load(path)
    # values beyond what such a model holds are refused before parsing
    monkeypatch.setattr(io, "MAX_MODEL_WEIGHTS", 10)
    monkeypatch.setattr(io, "MAX_MODULES", 1)
    path.write_text(_declaring({"type": "Tanh"})[:-1] + ', "x": [' + "0," * 30 + "0]}")
    with pytest.raises(ModelFileError, match=r"more than 34 values; .* at most 10 weights"):
        load(path)


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_model_readers_refuse_special_files_without_waiting(kind, tmp_path):
    model = _model()
    before = _state(model)
    with _special(kind, tmp_path) as path:
        with pytest.raises(ModelFileError, match=SPECIAL[kind]) as info:
            load(path)
        assert str(path) in str(info.value)
        with pytest.raises(ModelFileError, match=SPECIAL[kind]):
            load_weights(model, path)
    assert _state(model) == before


def test_a_device_is_never_opened_and_a_fifo_swapped_in_after_the_check_is_refused(
    tmp_path, monkeypatch
):
    from microgradx.files import open_regular

    opened = []
    real_open = os.open

    def recording_open(path, *args, **kwargs):
        opened.append(str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    device = _device(tmp_path / "tape")  # opening some devices has effects (a tape rewinds)
    with pytest.raises(ModelFileError, match="a character device"):
        load(device)
    with pytest.raises(DataFileError, match="a character device"):
        load_digits(device)
    assert str(device) not in opened
    # A FIFO that appears between the check and the open: the open file is checked again.
    with _fifo(tmp_path / "fifo") as fifo:
        real_stat = os.stat

        def looks_regular(path, *args, **kwargs):
            if str(path) == str(fifo):
                return os.stat_result((stat.S_IFREG | 0o644, 0, 0, 1, 0, 0, 10, 0, 0, 0))
            return real_stat(path, *args, **kwargs)

        monkeypatch.setattr(os, "stat", looks_regular)
        with pytest.raises(NotARegularFileError, match="is a FIFO"):
            open_regular(fifo)
        assert str(fifo) in opened


def test_model_readers_follow_symbolic_links_and_report_missing_files(tmp_path):
    save(_model(), tmp_path / "real.json")
    (tmp_path / "link.json").symlink_to("real.json")
    assert len(load(tmp_path / "link.json").parameters()) == 13
    (tmp_path / "dangling.json").symlink_to("nowhere.json")
    for missing in (tmp_path / "dangling.json", tmp_path / "absent.json"):
        with pytest.raises(FileNotFoundError, match=f"no model file at {missing}"):
            load(missing)
        with pytest.raises(FileNotFoundError, match="no model file"):
            load_weights(_model(), missing)


def test_loading_draws_nothing_from_the_default_generator(tmp_path):
    # A Sequential of Linear layers (no seed) is built by drawing initial weights; the file's
    # weights replace them, and the generator is put back, so loading changes nothing else.
    save(Sequential(Linear(2, 4), Linear(4, 1)), tmp_path / "m.json")
    nn_module.manual_seed(3)
    expected = [p.data for p in Linear(2, 2).parameters()]
    nn_module.manual_seed(3)
    load(tmp_path / "m.json")
    assert [p.data for p in Linear(2, 2).parameters()] == expected


def test_ctrl_c_during_a_weight_copy_lets_it_finish_first(tmp_path):
    source, target = MLP(2, [3, 1], seed=1), MLP(2, [3, 1], seed=2)
    save(source, tmp_path / "m.json")
    wire = Tripwire(0.0)
    target.layers[0].neurons[1].w[0] = wire  # the 4th of 13 weights: Ctrl-C comes with it
    assert target.parameters()[3] is wire
    wire.armed = True
    with ctrl_c_raises_keyboard_interrupt(), pytest.raises(KeyboardInterrupt):
        load_weights(target, tmp_path / "m.json")
    assert [p.data for p in target.parameters()] == [p.data for p in source.parameters()]


# ---- data files: the Titanic table and the digits ------------------------------------------------

HEADER = "survived,pclass,sex,age,sibsp,parch,fare"
ROWS = [
    "0,3,male,22.0,1,0,7.25",
    "1,1,female,38.0,1,0,71.2833",
    "1,3,female,,0,0,7.925",
    "1,1,female,35.0,1,0,53.1",
    "0,3,male,35.0,0,0,8.05",
]


def _titanic(rows=ROWS, header=HEADER):
    return "\n".join([header, *rows]) + "\n"


def _row(i, column, value):
    """ROWS with one cell of row ``i`` replaced (``column`` by name)."""
    names = HEADER.split(",")
    rows = [r.split(",") for r in ROWS]
    rows[i][names.index(column)] = value
    return [",".join(r) for r in rows]


BAD_TITANIC = {
    "empty": (b"", "is empty: expected a header"),
    "only a header": (HEADER.encode() + b"\n", "has no passengers"),
    "wrong header": (
        _titanic(header=HEADER.replace("fare", "price")).encode(),
        r"no column\(s\) \['fare'\]",
    ),
    "a column named twice": (
        _titanic(header=HEADER + ",Age", rows=[r + ",1" for r in ROWS]).encode(),
        r"names column\(s\) \['age'\] twice",
    ),
    "nan age": (
        _titanic(_row(1, "age", "nan")).encode(),
        "line 3, column age: 'nan' is not a finite number",
    ),
    "nan fare": (
        _titanic(_row(4, "fare", "NaN")).encode(),
        "line 6, column fare: 'NaN' is not a finite",
    ),
    "inf fare": (
        _titanic(_row(0, "fare", "inf")).encode(),
        "line 2, column fare: 'inf' is not a finite",
    ),
    "1e400 fare": (
        _titanic(_row(0, "fare", "1e400")).encode(),
        "column fare: '1e400' is not a finite",
    ),
    "5000 digits": (
        _titanic(_row(0, "fare", "9" * 5000)).encode(),
        r"column fare: '9+\.\.\.' is not a finite",
    ),
    "text in a number column": (
        _titanic(_row(2, "fare", "cheap")).encode(),
        "line 4, column fare: 'cheap' is not a number",
    ),
    "an empty fare": (
        _titanic(_row(3, "fare", "")).encode(),
        "line 5, column fare is empty: only age may be missing",
    ),
    "an unknown sex": (
        _titanic(_row(0, "sex", "m")).encode(),
        "line 2, column sex: must be male or female, got 'm'",
    ),
    "survived 2": (
        _titanic(_row(0, "survived", "2")).encode(),
        "line 2, column survived: must be 0 or 1, got '2'",
    ),
    "an extra cell": (
        _titanic([*ROWS[:2], ROWS[2] + ",9"]).encode(),
        "line 4 has 8 cells, the header 7",
    ),
    "a missing cell": (
        _titanic([*ROWS[:3], "1,1,female"]).encode(),
        "line 5 has 3 cells, the header 7",
    ),
    "truncated": (_titanic().encode()[:-12], "line 6 has 4 cells, the header 7"),
    "binary garbage": (bytes(range(256)) * 4, "line 2 is not UTF-8"),
    "not UTF-8": (
        _titanic().replace("female", "f\xe9male").encode("latin-1"),
        "line 3 is not UTF-8",
    ),
    "a damaged gzip": (_gzip(_titanic().encode())[:-20], "damaged gzip file"),
    "a gzip of garbage": (b"\x1f\x8b" + bytes(100), "damaged gzip file"),
    "a line of a megabyte": (b"x" * (1 << 20), "line 1 is longer than 65536 bytes"),
    "a quote never closed": (
        _titanic([*ROWS[:2], '1,1,"female,,0,0,7.9']).encode(),
        "line 4|cells",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TITANIC))
def test_every_bad_titanic_file_is_a_data_file_error_naming_the_place(case, tmp_path):
    content, message = BAD_TITANIC[case]
    path = tmp_path / "titanic.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=message) as info:
        load_titanic(path, features=("fare", "age", "sex"), test_size=0.4)
    assert str(info.value).startswith(str(path))
    assert "\n" not in str(info.value)


def test_a_nan_in_a_test_passenger_is_caught_too(tmp_path):
    # Missing values were only checked in the training split; a test passenger's empty fare
    # went through as None.
    path = tmp_path / "titanic.csv"
    for i in range(len(ROWS)):
        path.write_text(_titanic(_row(i, "fare", "")))
        with pytest.raises(DataFileError, match=f"line {i + 2}, column fare is empty"):
            load_titanic(path, test_size=0.4)


def test_titanic_files_as_other_tools_write_them_give_the_same_data(tmp_path):
    path = tmp_path / "titanic.csv"
    path.write_text(_titanic())
    expected = load_titanic(path, features=("fare", "age", "sex"), test_size=0.4)
    variants = {
        "crlf": _titanic().replace("\n", "\r\n").encode(),
        "bom": b"\xef\xbb\xbf" + _titanic().encode(),
        "gzip": _gzip(_titanic().encode()),
        "blank lines at the end": (_titanic() + "\n\n").encode(),
        "Kaggle's capitals and spaces": _titanic(header=HEADER.title().replace(",", ", ")).encode(),
        "quoted cells": _titanic([",".join(f'"{c}"' for c in r.split(",")) for r in ROWS]).encode(),
    }
    for name, content in variants.items():
        path.write_bytes(content)
        got = load_titanic(path, features=("fare", "age", "sex"), test_size=0.4)
        assert got == expected, name
    X_train, X_test, y_train, y_test = expected
    assert len(X_train) + len(X_test) == 5 and sorted(y_train + y_test) == [0, 0, 1, 1, 1]
    assert all(len(row) == 3 and None not in row for row in X_train + X_test)


DIGIT = ",".join(["16"] * 64 + ["7"])
BAD_DIGITS = {
    "empty": (b"", "has no digits"),
    "blank lines only": (b"\n\n  \n", "has no digits"),
    "a truncated gzip": (_gzip((DIGIT + "\n").encode() * 50)[:-30], "damaged gzip file"),
    "a gzip header only": (_gzip(b"")[:10], "damaged gzip file"),
    "binary garbage": (bytes(range(256)) * 4, "not UTF-8|expected 65 numbers"),
    "not UTF-8": (
        DIGIT.encode() + b"\n" + DIGIT.replace("7", "\xe9").encode("latin-1"),
        "line 2 is not UTF-8",
    ),
    "nan": (
        DIGIT.replace("16", "nan", 1).encode(),
        "line 1, column 1: a pixel must be an integer 0..16, got 'nan'",
    ),
    "inf": (DIGIT.replace("16", "inf", 1).encode(), "column 1: a pixel must be an integer"),
    "a float": (DIGIT.replace("16", "1.5", 1).encode(), "column 1: a pixel"),
    "5000 digits": (DIGIT.replace("16", "1" * 5000, 1).encode(), r"got '1+\.\.\.'"),
    "a negative pixel": (DIGIT.replace("16", "-1", 1).encode(), "column 1: a pixel"),
    "an Arabic-Indic digit": (DIGIT.replace("16", "\u0661", 1).encode(), "column 1: a pixel"),
    "an extra column": ((DIGIT + ",1").encode(), "expected 65 numbers, got 66"),
    "a missing column": (DIGIT.rsplit(",", 1)[0].encode(), "expected 65 numbers, got 64"),
    "a truncated last line": ((DIGIT + "\n" + DIGIT[:40]).encode(), "line 2: expected 65 numbers"),
    "a header": (("p" + ",p" * 63 + ",label\n" + DIGIT).encode(), "line 1, column 1"),
    "a line of a megabyte": (b"1," * (1 << 19), "line 1 is longer than 65536 bytes"),
}


@pytest.mark.parametrize("case", sorted(BAD_DIGITS))
def test_every_bad_digits_file_is_a_data_file_error_naming_the_place(case, tmp_path):
    content, message = BAD_DIGITS[case]
    path = tmp_path / "digits.csv.gz"  # the name says gzip; only the content decides
    path.write_bytes(content)
    with pytest.raises(DataFileError, match=message) as info:
        load_digits(path)
    assert str(info.value).startswith(str(path))


def test_digits_files_as_other_tools_write_them(tmp_path):
    path = tmp_path / "digits.txt"
    expected = ([[1.0] * 64] * 2, [7, 7])
    for content in (
        f"{DIGIT}\r\n{DIGIT}\r\n".encode(),  # CRLF
        b"\xef\xbb\xbf" + f"{DIGIT}\n{DIGIT}".encode(),  # a byte-order mark, no final newline
        _gzip(f"{DIGIT}\n\n{DIGIT}\n".encode()),  # gzip without .gz, a blank line
        f" {DIGIT.replace(',', ' , ')} \n{DIGIT}\n".encode(),  # spaces around numbers
    ):
        path.write_bytes(content)
        assert load_digits(path) == expected


def test_a_small_gzip_of_millions_of_blank_lines_is_refused_at_the_line_limit(
    tmp_path, monkeypatch
):
    """The reported file: 58 KB of gzip, 60 MB of blank lines (it took 21 s and 3.8 GB)."""
    from microgradx import data

    path = tmp_path / "digits.gz"
    path.write_bytes(_gzip(b" \n" * 30_000_000))
    read = []
    real = data.gzip.GzipFile

    class Counting(real):
        def readline(self, size=-1):
            line = super().readline(size)
            read.append(len(line))
            return line

    monkeypatch.setattr(data.gzip, "GzipFile", Counting)  # the lines read: where it stops
    with pytest.raises(DataFileError, match=f"{path} holds more than 1,000,001 lines"):
        load_digits(path)
    assert len(read) == data.MAX_LINES + 1  # it stopped at the limit, not at the end


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("loader", [load_titanic, load_digits])
def test_data_files_beyond_the_byte_limit_are_refused_naming_it(
    loader, gzipped, monkeypatch, tmp_path
):
    from microgradx import data

    shipped = SHIPPED / ("titanic.csv" if loader is load_titanic else "digits.csv.gz")
    size = len(gzip.decompress(shipped.read_bytes()) if loader is load_digits else b"")
    size = size or shipped.stat().st_size
    assert size * 100 < data.MAX_TEXT_BYTES  # the shipped files are far below the limit
    monkeypatch.setattr(data, "MAX_TEXT_BYTES", size - 1)
    path = tmp_path / "file"
    content = shipped.read_bytes()
    if gzipped != content.startswith(b"\x1f\x8b"):
        content = _gzip(content) if gzipped else gzip.decompress(content)
    path.write_bytes(content)
    after = " after gunzipping" if gzipped else ""
    with pytest.raises(DataFileError, match=f"{path} holds more than {size - 1:,} bytes{after}:"):
        loader(path)
    monkeypatch.setattr(data, "MAX_TEXT_BYTES", size)
    loader(path)


@pytest.mark.parametrize("kind", sorted(SPECIAL))
@pytest.mark.parametrize("loader", [load_titanic, load_digits])
def test_data_loaders_refuse_special_files_without_waiting(loader, kind, tmp_path):
    with _special(kind, tmp_path) as path:
        with pytest.raises(DataFileError, match=SPECIAL[kind]) as info:
            loader(path)
        assert str(path) in str(info.value)


def test_data_loaders_follow_symbolic_links_and_report_missing_files(tmp_path):
    (tmp_path / "t.csv").symlink_to(SHIPPED / "titanic.csv")
    (tmp_path / "d.gz").symlink_to(SHIPPED / "digits.csv.gz")
    assert load_titanic(tmp_path / "t.csv") == load_titanic()
    assert load_digits(tmp_path / "d.gz") == load_digits()
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="Titanic CSV not found at"):
        load_titanic(tmp_path / "dangling")
    with pytest.raises(FileNotFoundError, match="digits file not found at"):
        load_digits(tmp_path / "dangling")


# ---- the command line's --data and --save -------------------------------------------------------


def _command_error(argv, capsys):
    from microgradx.cli import main

    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("dataset", "content", "message"),
    [
        ("digits", _gzip((DIGIT + "\n").encode() * 50)[:-30], "is a damaged gzip file"),
        ("digits", b"", "has no digits"),
        ("titanic", _titanic(_row(1, "age", "nan")).encode(), "line 3, column age: 'nan'"),
        ("titanic", bytes(range(256)), "line 2 is not UTF-8"),
    ],
    ids=["truncated gzip", "empty", "nan", "binary"],
)
def test_train_names_the_file_and_what_is_wrong_with_it(
    dataset, content, message, tmp_path, capsys
):
    path = tmp_path / "data.gz"
    path.write_bytes(content)
    line = _command_error(["train", "--dataset", dataset, "--data", str(path), "--quiet"], capsys)
    assert line.startswith(f"microgradx train: error: {path}")
    assert message in line
    assert "learning rate" not in line  # the data's fault, not the step size's


@pytest.mark.parametrize("kind", ["fifo", "device", "socket", "symlink loop"])
def test_train_refuses_special_files_for_data_and_save_before_training(
    kind, tmp_path, capsys, monkeypatch
):
    import microgradx.train

    def no_training(*args, **kwargs):
        raise AssertionError("training started before the paths were checked")

    monkeypatch.setattr(microgradx.train, "fit", no_training)
    with _special(kind, tmp_path) as path:
        line = _command_error(["train", "--dataset", "digits", "--data", str(path)], capsys)
        assert f"--data {path}" in line and ("is a" in line or "symbolic link" in line)
        if kind != "symlink loop":
            line = _command_error(["train", "--save", str(path)], capsys)
            assert f"--save {path} is {SPECIAL[kind]}" in line
            assert not Path(path).is_file()  # still what it was


def test_train_saves_through_a_symbolic_link(tmp_path, capsys):
    from microgradx.cli import main

    (tmp_path / "models").mkdir()
    (tmp_path / "latest.json").symlink_to("models/xor.json")  # not there yet
    argv = ["train", "--dataset", "xor", "--hidden", "4", "--epochs", "2", "--quiet"]
    assert main([*argv, "--save", str(tmp_path / "latest.json")]) == 0
    assert (tmp_path / "latest.json").is_symlink()
    assert len(load(tmp_path / "models" / "xor.json").parameters()) == 17


# ---- writing: only regular files, through symbolic links, any name length ----------------------


@pytest.mark.parametrize("kind", ["folder", "fifo", "device", "socket", "symlink loop"])
def test_writers_refuse_what_is_not_a_regular_file_and_leave_it_alone(kind, tmp_path):
    with _special(kind, tmp_path) as path:
        before = os.lstat(path)
        with pytest.raises(NotARegularFileError, match=SPECIAL[kind]) as info:
            save(_model(), path)
        assert str(path) in str(info.value)
        with pytest.raises(NotARegularFileError):
            write_atomically(path, b"data")
        after = os.lstat(path)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (
            before.st_mode, before.st_ino, before.st_rdev
        )  # fmt: skip
        leftovers = [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
        assert leftovers == []


def test_a_symbolic_link_to_a_special_file_is_refused_too(tmp_path):
    with _special("fifo", tmp_path) as fifo:
        (tmp_path / "link").symlink_to(fifo)
        with pytest.raises(NotARegularFileError, match=r"link is a FIFO"):
            save(_model(), tmp_path / "link")
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_a_write_through_a_symbolic_link_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "data").mkdir()
    target = tmp_path / "data" / "model.json"
    target.write_text("old")
    link = tmp_path / "model.json"
    link.symlink_to("data/model.json")  # relative, as people make them
    chain = tmp_path / "chain.json"
    chain.symlink_to(link)  # a link to a link
    save(_model(), chain)
    assert link.is_symlink() and chain.is_symlink()
    assert os.readlink(link) == "data/model.json"
    assert len(load(target).parameters()) == 13
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["model.json"]
    # a link to a file that does not exist yet: the file is made, the link kept
    (tmp_path / "new.json").symlink_to("data/new.json")
    assert write_atomically(tmp_path / "new.json", b"{}") == tmp_path / "new.json"
    assert (tmp_path / "new.json").is_symlink()
    assert (tmp_path / "data" / "new.json").read_bytes() == b"{}"


@pytest.mark.parametrize("length", [200, 237, 238, 250, 255])
def test_file_names_up_to_the_systems_limit_can_be_written(length, tmp_path):
    # The temporary name is 18 characters longer than the target's; a 238-character name failed.
    name = ("m" * length)[: length - 5] + ".json"
    path = tmp_path / name
    save(_model(), path)
    save(_model(), path)  # and replaced
    assert len(load(path).parameters()) == 13
    assert [p.name for p in tmp_path.iterdir()] == [name]
    wide = tmp_path / (("é" * 126) + ".j")  # 254 bytes in UTF-8: the shortened temporary name
    write_atomically(wide, b"x")  # its temporary name is shortened without cutting an "é"
    assert wide.read_bytes() == b"x"


def test_a_name_beyond_the_limit_fails_naming_the_users_path(tmp_path):
    path = tmp_path / ("m" * 256)
    with pytest.raises(OSError, match="File name too long") as info:
        write_atomically(path, b"x")
    assert info.value.filename == str(path)
    assert list(tmp_path.iterdir()) == []


def test_a_write_keeps_the_files_permissions(tmp_path):
    path = tmp_path / "private.json"
    path.write_text("old")
    path.chmod(0o600)
    save(_model(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o640)
    write_atomically(path, b"new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("point", ["fchmod", "fsync", "replace"])
def test_ctrl_c_at_each_point_of_a_write_keeps_the_old_file_and_no_temp_file(
    point, tmp_path, monkeypatch
):
    path = tmp_path / "page.html"
    write_atomically(path, b"old")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, point, interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_a_write_error_names_the_users_path_not_the_temporary_file(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "model.json"

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device", "/somewhere/.model.json.x.tmp")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left") as info:
        save(_model(), path)
    assert info.value.filename == str(path) and ".tmp" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


# ---- the demo's pictures ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "device"])
@pytest.mark.parametrize(
    "name", ["decision_boundary.png", "neuron_graph.svg", "neuron_backprop.html"]
)
def test_the_demo_refuses_a_special_file_where_an_output_goes_before_any_work(
    name, kind, tmp_path, capsys
):
    from microgradx.cli import main

    out = tmp_path / "out"
    out.mkdir()
    with _special(kind, tmp_path) as special:
        (out / name).symlink_to(special)
        before = os.lstat(special)
        with pytest.raises(SystemExit) as info:
            main(["demo", "--out", str(out)])
        assert info.value.code == 2
        error = capsys.readouterr()
        assert f"{out / name} is {SPECIAL[kind]}" in error.err
        assert "microgradx demo" not in error.out  # refused before the walk-through began
        after = os.lstat(special)
        assert (after.st_mode, after.st_ino, after.st_rdev) == (
            before.st_mode, before.st_ino, before.st_rdev
        )  # fmt: skip


def test_the_decision_boundary_png_goes_through_the_atomic_writer(tmp_path):
    """The picture is rendered to bytes and written by write_atomically: a link to a device
    (savefig(path) would write into it) is refused, and a link to a file has its target
    replaced whole."""
    import io as text_io

    from microgradx.cli import neuron, pictures
    from microgradx.data import make_moons

    output, _ = neuron()
    output.backward()
    X, y = make_moons(10, seed=0)
    model = MLP(2, [2, 1], seed=0)
    device = _device(tmp_path / "null")
    (tmp_path / "decision_boundary.png").symlink_to(device)
    with pytest.raises(NotARegularFileError, match=r"decision_boundary\.png is a character device"):
        pictures(output, model, X, y, tmp_path, text_io.StringIO())
    assert stat.S_ISCHR(os.stat(device).st_mode)
    (tmp_path / "decision_boundary.png").unlink()
    (tmp_path / "picture.png").write_bytes(b"old")
    (tmp_path / "decision_boundary.png").symlink_to("picture.png")
    pictures(output, model, X, y, tmp_path, text_io.StringIO())
    assert (tmp_path / "picture.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "decision_boundary.png").is_symlink()


def test_save_refuses_what_load_would_refuse_and_writes_nothing(tmp_path):
    from microgradx import nn, save

    # 14,000 Layers are 28,000 modules (each with its activation): saved, then refused by load
    model = nn.Sequential(*[nn.Layer(1, 1) for _ in range(14_000)])
    target = tmp_path / "big.json"
    with pytest.raises(ValueError, match=r"model cannot be saved: .*20,000 modules.*load\(\)"):
        save(model, target)
    assert not target.exists()
