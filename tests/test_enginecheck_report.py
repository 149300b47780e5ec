"""How a check of another engine reaches people: the terminal table, JSON, JUnit XML, Jupyter's
HTML, ``microgradx check`` and the pytest plugin (``pytest --engine=module:Value``).

The reports are built by hand here; the checker (``enginecheck.api``) is replaced by a fake
module that returns them, so these tests say what the renderers and the entry points do with any
report, hostile text included.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import sys
import types
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradx.cli import main
from microgradx.enginecheck import report as rp
from microgradx.enginecheck.findings import KINDS, EngineReport, Finding, TargetError
from microgradx.ops import OPS
from microgradx.strategies import Expression, Step
from microgradx.viz.markup import visible
from microgradx.viz.style import CURRENT

pytest_plugins = ["pytester"]

PLUGIN = "microgradx.enginecheck.pytest_plugin"
ROOT = Path(__file__).resolve().parent.parent
# A message an engine could print: markup, a terminal escape (clear screen), the end of a CDATA
# section, line breaks, a C1 control (CSI) and a right-to-left override.
HOSTILE = "<script>window.__pwned=1</script> \x1b[2J ]]> one\ntwo\r\n\u009b2J \u202egot"
# x0 = 0.5; v1 = tanh(x0); v2 = v1 * x0: the engine's tanh rule is wrong at v1
EXPRESSION = Expression((0.5,), (Step(OPS["tanh"], (0,)), Step(OPS["mul"], (1, 0))))


def _report(*findings: Finding, complete: bool = True) -> EngineReport:
    return EngineReport(
        target="nanograd.py:Value",
        class_name="Value",
        supported=("add", "mul", "tanh"),
        findings=findings,
        seconds=3.25,
        budget=30.0,
        complete=complete,
    )


WRONG_TANH = Finding(
    "op tanh",
    "ops",
    "wrong gradient",
    "v1 = tanh(x0): expected d v1/d x0 = 0.786448, got 0.5",
    "a = Value(0.5); y = a.tanh() * a",
    EXPRESSION,
    1,
    {"expected": 0.786448, "got": 0.5},
)
ADD_OK = Finding("op add", "ops", "ok")
EXP_BEHAVIOUR = Finding(
    "numerics exp(1000)",
    "numerics",
    "behaviour",
    "exp(1000) raised OverflowError where IEEE-754 gives inf",
    details={"ieee": float("inf")},
)
POW_UNSUPPORTED = Finding("reflected 2 ** x", "ops", "unsupported", "2 ** Value raises TypeError")
DEPTH_NOT_CHECKED = Finding("depth 100000", "depth", "not checked")
HOSTILE_CRASH = Finding("backward() twice", "semantics", "crash", HOSTILE, HOSTILE)
MIXED = _report(
    WRONG_TANH, ADD_OK, EXP_BEHAVIOUR, POW_UNSUPPORTED, DEPTH_NOT_CHECKED, HOSTILE_CRASH
)
ALL_OK = _report(ADD_OK, Finding("reuse a * a", "reuse", "ok"), POW_UNSUPPORTED, EXP_BEHAVIOUR)


# ---- the terminal -------------------------------------------------------------------------------


def test_text_is_a_table_of_every_check_its_verdict_and_smallest_failing_input():
    lines = rp.to_text(MIXED).splitlines()
    assert lines[0] == "microgradx check nanograd.py:Value (class Value)"
    assert re.fullmatch(r"check +verdict +smallest failing input", lines[1])
    rows = {line.split("  ")[0]: line for line in lines[2:8]}
    assert set(rows) == {f.check for f in MIXED.findings}
    assert re.fullmatch(
        r"op tanh +wrong gradient +a = Value\(0\.5\); y = a\.tanh\(\) \* a", rows["op tanh"]
    )
    assert re.fullmatch(r"op add +ok", rows["op add"])
    assert re.fullmatch(r"reflected 2 \*\* x +unsupported", rows["reflected 2 ** x"])
    assert re.fullmatch(r"depth 100000 +not checked", rows["depth 100000"])
    verdict_column = {line.index(f.kind) for line, f in zip(lines[2:8], MIXED.findings)}
    assert len(verdict_column) == 1  # one column
    # an example of several lines is one row, its lines joined as Python reads them
    lines_example = replace(WRONG_TANH, example="a = Value(0.5)\ny = a.tanh() * a")
    row = rp.to_text(_report(lines_example)).splitlines()[2]
    assert re.fullmatch(r"op tanh +wrong gradient +a = Value\(0\.5\); y = a\.tanh\(\) \* a", row)
    # ... unless it holds a block, which "; " would make invalid: its first line, and more below
    loop = replace(WRONG_TANH, example="y = x\nfor _ in range(1000):\n    y = y + x")
    text = rp.to_text(_report(loop, replace(ADD_OK, kind="crash"), replace(ADD_OK, kind="crash")))
    assert re.fullmatch(r"op tanh +wrong gradient +y = x …", text.splitlines()[2])
    assert "2 crashes" in text.splitlines()[-1]


def test_text_teaches_each_failing_finding_notes_behaviours_and_ends_with_counts():
    text = rp.to_text(MIXED)
    block = text.split("\n\nop tanh: wrong gradient\n", 1)[1]
    assert block.startswith(
        "    v1 = tanh(x0): expected d v1/d x0 = 0.786448, got 0.5\n"
        "  smallest failing input:\n"
        "    a = Value(0.5); y = a.tanh() * a\n"
    )
    assert "\nbackward() twice: crash\n" in text
    assert "op add: " not in text and "reflected 2 ** x: " not in text  # no blocks for those
    notes = text.split("Behaviour next to IEEE-754's (reported, not wrong):\n", 1)[1]
    assert notes.startswith("  numerics exp(1000):\n    exp(1000) raised OverflowError")
    assert text.endswith(
        "\n1 ok, 1 wrong gradient, 1 crash, 1 unsupported, 1 behaviour, 1 not checked"
        " in 3.2 s (budget 30 s)\n"
    )
    incomplete = rp.to_text(_report(DEPTH_NOT_CHECKED, complete=False))
    assert incomplete.endswith("the budget ran out before every check ran\n")


def test_text_has_colour_codes_only_when_asked():
    assert "\x1b" not in rp.to_text(MIXED)
    coloured = rp.to_text(MIXED, color=True)
    assert "\x1b[31mwrong gradient" in coloured and "\x1b[32mok" in coloured


def test_every_renderer_refuses_what_is_not_a_report_by_name():
    for render in (rp.to_text, rp.to_json, rp.to_junit, rp.to_html, rp.view, rp.summary):
        with pytest.raises(TypeError, match="report must be an EngineReport"):
            render(MIXED.findings)
    with pytest.raises(TypeError, match="color"):
        rp.to_text(MIXED, color="yes")


# ---- hostile text -------------------------------------------------------------------------------


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def test_a_hostile_message_is_inert_in_the_terminal_html_xml_and_json():
    text = rp.to_text(MIXED)
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]", text)  # nothing but \n
    assert "<script>window.__pwned=1</script> \\x1b[2J ]]> one" in text
    assert "\\u202egot" in text
    # HTML: the message is text, not elements
    page = _Elements()
    page.feed(rp.to_html(MIXED, draw=False))
    assert "script" not in page.tags
    assert any("<script>window.__pwned=1</script> \\x1b[2J ]]> one" in t for t in page.text)
    assert "\x1b" not in rp.to_html(MIXED, draw=False)
    # XML: well formed (no raw control character), the message as the CI reader will show it
    suite = ET.fromstring(rp.to_junit(MIXED))
    failure = suite.find("testcase[@name='backward() twice']/failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("<script>window.__pwned=1</script> \\x1b[2J ]]> one\ntwo\\x0d\n")
    assert failure.get("message", "").startswith("<script>window.__pwned=1</script> \\x1b[2J")
    # JSON: ASCII only (no raw control or bidi character reaches a terminal), reads back exactly
    written = rp.to_json(MIXED)
    assert written.isascii()
    assert json.loads(written)["findings"][5]["message"] == HOSTILE


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)  # controls, surrogates


@given(message=ANY_TEXT, check=ANY_TEXT, target=ANY_TEXT)
def test_any_text_an_engine_produces_is_inert_in_every_report(message, check, target):
    finding = Finding(check or "c", "semantics", "crash", message, message)
    report = EngineReport(target, check, (), (finding, EXP_BEHAVIOUR), 1.0, 30.0)
    text = rp.to_text(report)
    assert visible(text, newlines=True) == text  # no hidden character left to write out
    assert not set(text) & set("\x1b\r\x9b\u202e\x00")
    page = _Elements()
    page.feed(rp.to_html(report, draw=False))
    assert set(page.tags) <= {
        "div",
        "p",
        "b",
        "code",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "h4",
        "pre",
    }
    suite = ET.fromstring(rp.to_junit(report))  # well formed, whatever the text
    assert suite.find("testcase/failure") is not None
    written = rp.to_json(report)
    assert written.isascii()
    assert json.loads(written)["findings"][0]["message"] == message


# ---- JSON ---------------------------------------------------------------------------------------


def _strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_json_is_version_1_of_the_documented_schema():
    data = _strict(rp.to_json(MIXED))
    assert list(data) == [
        "version",
        "target",
        "class_name",
        "supported",
        "ok",
        "exit_code",
        "complete",
        "seconds",
        "budget",
        "counts",
        "findings",
    ]
    assert data["version"] == 1 == rp.JSON_VERSION
    assert data["target"] == "nanograd.py:Value" and data["class_name"] == "Value"
    assert data["supported"] == ["add", "mul", "tanh"]
    assert (data["ok"], data["exit_code"], data["complete"]) == (False, 1, True)
    assert (data["seconds"], data["budget"]) == (3.25, 30.0)
    assert data["counts"] == {kind: int(kind != "wrong value") for kind in KINDS}
    tanh = data["findings"][0]
    assert tanh == {
        "check": "op tanh",
        "category": "ops",
        "kind": "wrong gradient",
        "failed": True,
        "message": WRONG_TANH.message,
        "example": WRONG_TANH.example,
        "expression": "x0 = 0.5; v1 = tanh(x0); v2 = *(v1, x0)",  # the formula, not the object
        "node": 1,
        "details": {"expected": 0.786448, "got": 0.5},
    }
    assert data["findings"][2]["details"] == {"ieee": "inf"}  # JSON has no infinity
    assert data["findings"][1]["example"] is None and data["findings"][1]["failed"] is False
    assert _strict(rp.to_json(ALL_OK))["exit_code"] == 0
    assert "\n" not in rp.to_json(MIXED, indent=None)


def test_the_documented_schema_names_every_field_the_json_has():
    docs = (ROOT / "docs" / "check.md").read_text(encoding="utf-8")
    data = _strict(rp.to_json(MIXED))
    for field in [*data, *data["findings"][0]]:
        assert f"`{field}`" in docs, field
    for kind in KINDS:
        assert f"`{kind}`" in docs, kind


# ---- JUnit XML ----------------------------------------------------------------------------------


def test_junit_is_one_suite_with_one_test_case_per_finding():
    suite = ET.fromstring(rp.to_junit(MIXED))
    assert suite.tag == "testsuite"
    assert suite.get("name") == "microgradx check nanograd.py:Value"
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("6", "2", "0")
    assert (suite.get("skipped"), suite.get("time")) == ("2", "3.250")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [f.check for f in MIXED.findings]
    assert [c.get("classname") for c in cases][:3] == [
        "microgradx.check.ops",
        "microgradx.check.ops",
        "microgradx.check.numerics",
    ]
    outcome = {c.get("name"): [child.tag for child in c] for c in cases}
    assert outcome == {
        "op tanh": ["failure"],
        "op add": [],
        "numerics exp(1000)": ["system-out"],
        "reflected 2 ** x": ["skipped"],
        "depth 100000": ["skipped"],
        "backward() twice": ["failure"],
    }
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("type") == "wrong gradient"
    assert failure.text == f"{WRONG_TANH.message}\nsmallest failing input: {WRONG_TANH.example}"
    assert cases[2].findtext("system-out") == EXP_BEHAVIOUR.message
    skipped = cases[3].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "unsupported: 2 ** Value raises TypeError"
    assert rp.to_junit(MIXED).startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<testsuite")


# ---- Jupyter ------------------------------------------------------------------------------------


def _renderer_or_skip() -> None:
    if shutil.which("dot") is None and os.environ.get("MICROGRADX_REQUIRE_RENDERERS") != "1":
        pytest.skip("Graphviz's dot is not installed (CI installs it and requires it)")


def _drawings(page: str) -> list[ET.Element]:
    found = re.findall(
        r'<img alt="[^"]*" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)">', page
    )
    return [ET.fromstring(base64.b64decode(data)) for data in found]


SVG = "{http://www.w3.org/2000/svg}"


def test_html_draws_the_smallest_failing_expression_with_the_wrong_node_in_red():
    _renderer_or_skip()
    page = rp.to_html(MIXED)
    drawings = _drawings(page)
    assert len(drawings) == 1  # the crash has no expression; the passing findings none drawn
    svg = drawings[0]
    boxes = {}
    for group in svg.iter(f"{SVG}g"):
        if group.get("class") == "node":
            texts = " ".join("".join(t.itertext()) for t in group.iter(f"{SVG}text"))
            strokes = {p.get("stroke") for p in group.iter() if p.get("stroke")}
            boxes[texts] = strokes
    named = {text.split()[0]: strokes for text, strokes in boxes.items() if text}
    assert {"x0", "v1", "v2", "tanh", "*"} <= set(named)
    red = CURRENT.lower()
    assert red in {s.lower() for s in named["v1"]}  # the node whose local rule disagrees
    assert red in {s.lower() for s in named["tanh"]}  # and its op
    assert not any(red in {s.lower() for s in named[n]} for n in ("x0", "v2", "*"))
    texts = [" ".join(t.itertext()) for t in svg.iter(f"{SVG}text")]
    assert "data 0.4621" in texts  # tanh(0.5), as microgradx computes it
    caption = " ".join(
        texts
    )  # the numbers drawn are the right ones; the caption gives the engine's
    assert "as they should be; the engine got 0.5 at the red node" in caption


def test_html_shows_the_formula_when_no_renderer_is_installed(monkeypatch):
    monkeypatch.setenv("MICROGRADX_DOT", "no-such-graphviz-renderer")
    page = rp.to_html(MIXED)
    assert "<img" not in page
    assert "<pre>x0 = 0.5; v1 = tanh(x0); v2 = *(v1, x0)</pre>" in page


def test_html_is_a_table_and_a_block_per_failing_finding():
    page = rp.to_html(MIXED, draw=False)
    assert page.count("<tr>") == 1 + len(MIXED.findings)
    assert re.findall(r"<h4>(.*?)</h4>", page) == [
        "op tanh: wrong gradient",
        "backward() twice: crash",
    ]
    assert "<img" not in page and "1 ok, 1 wrong gradient" in page


def test_a_report_view_is_the_html_in_jupyter_and_the_table_when_printed():
    shown = rp.view(MIXED)
    assert shown._repr_html_() == rp.to_html(MIXED)
    assert str(shown) == rp.to_text(MIXED)
    printed: list[str] = []
    shown._repr_pretty_(SimpleNamespace(text=printed.append), False)
    assert printed == [rp.to_text(MIXED)]  # IPython's plain text: the table too
    assert isinstance(shown, EngineReport) and vars(shown) == vars(MIXED)  # the same report


# ---- microgradx check ---------------------------------------------------------------------------


@pytest.fixture
def checker(monkeypatch):
    """A fake ``microgradx.enginecheck.api``: ``checker.result`` is what ``check_target``
    returns (or raises); ``checker.calls`` what it was called with."""
    fake = types.ModuleType("microgradx.enginecheck.api")
    fake.calls = []
    fake.result = ALL_OK

    def check_target(target, **options):
        fake.calls.append((target, options))
        if isinstance(fake.result, Exception):
            raise fake.result
        return fake.result

    fake.check_target = check_target
    monkeypatch.setitem(sys.modules, "microgradx.enginecheck.api", fake)
    return fake


def test_check_exits_0_when_everything_holds_and_1_when_something_is_wrong(checker, capsys):
    assert main(["check", "nanograd.py"]) == 0
    assert capsys.readouterr().out == rp.to_text(ALL_OK)
    checker.result = MIXED
    assert main(["check", "nanograd.py"]) == 1
    out = capsys.readouterr()
    assert out.out == rp.to_text(MIXED) and out.err == ""


def test_check_exits_2_with_one_line_when_the_target_cannot_be_checked(checker, capsys):
    checker.result = TargetError("two Value-like classes in nano.py: Value, Tensor\x1b[2J\nx")
    assert main(["check", "nano.py"]) == 2
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == (
        "microgradx check: error: two Value-like classes in nano.py: Value, Tensor\\x1b[2J\\x0ax\n"
    )


def test_check_passes_its_options_to_the_checker(checker, capsys):
    main(["check", "pkg.nano:Value"])
    assert checker.calls[-1] == (
        "pkg.nano:Value",
        {"data_attr": None, "grad_attr": None, "backward": None, "budget": 30.0, "seed": 0},
    )
    main(
        [
            "check",
            "nano.py",
            "--data-attr",
            "val",
            "--grad-attr",
            "g",
            "--backward",
            "backprop",
            "--budget",
            "2.5",
            "--seed",
            "7",
        ]
    )
    assert checker.calls[-1] == (
        "nano.py",
        {"data_attr": "val", "grad_attr": "g", "backward": "backprop", "budget": 2.5, "seed": 7},
    )


@pytest.mark.parametrize(
    "arguments",
    [
        ["check"],
        ["check", "x.py", "--budget", "0"],
        ["check", "x.py", "--budget", "nan"],
        ["check", "x.py", "--budget", "inf"],
        ["check", "x.py", "--seed", "-1"],
        ["check", "x.py", "--data-attr", "not a name"],
        ["check", "x.py", "--frobnicate"],
    ],
)
def test_check_refuses_bad_arguments_with_status_2_before_checking(arguments, checker, capsys):
    with pytest.raises(SystemExit) as exit:
        main(arguments)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("microgradx") and "error:" in err and err.count("\n") == 1
    assert checker.calls == []


def test_check_json_prints_the_json_report_instead_of_the_table(checker, capsys):
    checker.result = MIXED
    assert main(["check", "nano.py", "--json"]) == 1
    assert capsys.readouterr().out == rp.to_json(MIXED) + "\n"


def test_check_junit_writes_the_xml_report_to_a_file(checker, capsys, tmp_path):
    checker.result = MIXED
    path = tmp_path / "report.xml"
    path.write_text("old")
    assert main(["check", "nano.py", "--junit", str(path)]) == 1
    assert path.read_bytes() == rp.to_junit(MIXED)
    assert capsys.readouterr().out == rp.to_text(MIXED)  # the table as well
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xml"]  # no temporary left


def test_check_junit_refuses_a_folder_a_fifo_and_a_missing_folder_before_checking(
    checker, capsys, tmp_path
):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for where, says in [
        (tmp_path, "folder"),
        (fifo, "FIFO"),
        (tmp_path / "nowhere" / "r.xml", "does not exist"),
    ]:
        assert main(["check", "nano.py", "--junit", str(where)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("microgradx check: error: --junit ") and says in err
        assert err.count("\n") == 1
    assert checker.calls == []


# ---- the pytest plugin --------------------------------------------------------------------------


def _run(pytester, *arguments):
    """pytest in this process with only the plugin loaded (installed, it is loaded anyway)."""
    pytester._monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester.runpytest_inprocess("-p", PLUGIN, "-p", "no:cacheprovider", "-rA", *arguments)


def test_pytest_engine_makes_each_finding_a_test_named_by_its_check(pytester, checker):
    checker.result = MIXED
    result = _run(pytester, "--engine=nanograd:Value")
    result.assert_outcomes(passed=2, failed=2, skipped=2)
    assert checker.calls[0][0] == "nanograd:Value"
    out = result.stdout.str()
    for verdict, check in [
        ("PASSED", "op add"),
        ("PASSED", "numerics exp(1000)"),
        ("FAILED", "op tanh"),
        ("FAILED", "backward() twice"),
    ]:
        assert f"{verdict} engine::{check}" in out
    assert "wrong gradient: v1 = tanh(x0): expected d v1/d x0 = 0.786448, got 0.5" in out
    assert "smallest failing input: a = Value(0.5); y = a.tanh() * a" in out
    assert "unsupported: 2 ** Value raises TypeError" in out  # the skip's reason
    assert "exp(1000) raised OverflowError where IEEE-754 gives inf" in out  # the behaviour
    assert "\x1b[2J" not in out and "\\x1b[2J" in out  # the engine's text written out
    assert "microgradx check nanograd.py:Value: 1 ok, 1 wrong gradient" in out
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_pytest_engine_passes_when_everything_holds_and_takes_the_options(pytester, checker):
    checker.result = ALL_OK
    result = _run(
        pytester,
        "--engine",
        "nano.py",
        "--engine-grad-attr",
        "g",
        "--engine-budget",
        "5",
        "--engine-seed",
        "3",
    )
    result.assert_outcomes(passed=3, skipped=1)
    assert result.ret == pytest.ExitCode.OK
    assert checker.calls == [
        (
            "nano.py",
            {"data_attr": None, "grad_attr": "g", "backward": None, "budget": 5.0, "seed": 3},
        )
    ]


def test_pytest_engine_in_the_configuration_file_is_the_one_line_a_course_adds(pytester, checker):
    checker.result = MIXED
    pytester.makeini("[pytest]\nengine = course.nanograd:Value\n")
    pytester.makepyfile(test_course="def test_own():\n    pass\n")
    result = _run(pytester, "-k", "tanh or own")
    result.assert_outcomes(passed=1, failed=1)  # -k selects among the checks too
    assert checker.calls[0][0] == "course.nanograd:Value"


def test_pytest_an_engine_that_cannot_be_checked_is_one_failing_test(pytester, checker):
    checker.result = TargetError("nano.py does not exist")
    result = _run(pytester, "--engine=nano.py")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*FAILED engine::target*"])
    assert "cannot check nano.py: nano.py does not exist" in result.stdout.str()


def test_pytest_without_an_engine_the_plugin_does_nothing(pytester, checker):
    pytester.makepyfile(test_course="def test_own():\n    pass\n")
    result = _run(pytester)
    result.assert_outcomes(passed=1)
    assert checker.calls == []
    assert "engine::" not in result.stdout.str()


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = text.split("[project.entry-points.pytest11]\n", 1)[1].split("\n[", 1)[0]
    entries = [line for line in section.splitlines() if line and not line.startswith("#")]
    assert entries == [f'microgradx = "{PLUGIN}"']


def test_the_learners_example_in_the_docs_is_what_the_command_prints():
    """docs/check.md shows a real check of a test engine; every line it shows (``...`` marks
    lines left out) is printed, in that order, by the command (the seconds aside)."""
    import subprocess
    import sys

    docs = (ROOT / "docs" / "check.md").read_text(encoding="utf-8")
    shown = docs.split("left out here):\n\n```\n")[1].split("```")[0].splitlines()
    assert shown[0] == "microgradx check tests/engines/wrong_tanh.py (class Value)"
    printed = subprocess.run(
        [sys.executable, "-m", "microgradx", "check", "tests/engines/wrong_tanh.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    ).stdout.splitlines()
    seconds = re.compile(r" in [0-9.]+ s ")
    rest = iter(seconds.sub(" in _ s ", line) for line in printed)
    for line in shown:
        if line != "...":
            assert seconds.sub(" in _ s ", line) in rest, line  # found, after the one before
