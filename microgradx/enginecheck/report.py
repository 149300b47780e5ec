"""An ``EngineReport`` for people and for programs: a terminal summary, JSON, JUnit XML, HTML.

* ``to_text(report)``: a table (check, verdict, smallest failing input), one teaching block per
  failing finding (its message and its input), the behaviours next to IEEE-754's, and a last line
  with the counts and the seconds taken. No colour codes unless ``color=True``.
* ``to_json(report)`` / ``to_dict(report)``: the documented, versioned schema (``JSON_VERSION``;
  docs/check.md describes every field) for autograders.
* ``to_junit(report)``: JUnit XML, one ``<testsuite>``, one ``<testcase>`` per finding, for a
  course's CI.
* ``to_html(report)`` and ``view(report)`` (Jupyter displays it): a table, and for each failing
  finding the smallest failing expression drawn with ``draw_graph``, the node whose local rule
  disagrees highlighted in red (the formula as text when no Graphviz renderer is installed).

Everything the checked engine produced (messages, names, printed output, the target's text) is
untrusted: each string reaches the output through ``viz.markup`` exactly once, at the leaf where
it is written: ``visible`` for the terminal and XML (control characters such as ESC written out as
``\\x1b``, so nothing moves the cursor or clears the screen, and the XML stays well formed),
``escape`` for HTML; JSON is written ASCII-only, so no raw control character reaches a terminal
that prints it either.
"""

from __future__ import annotations

import base64
import json
import math
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from microgradx import checks
from microgradx.engine import Value, apply
from microgradx.enginecheck.findings import (
    BEHAVIOUR,
    KINDS,
    NOT_CHECKED,
    OK,
    UNSUPPORTED,
    EngineReport,
    Finding,
)
from microgradx.viz.graph import GraphView, RendererNotFound, draw_graph
from microgradx.viz.markup import escape, visible
from microgradx.viz.style import CURRENT

__all__ = [
    "JSON_VERSION",
    "ShownReport",
    "draw_finding",
    "summary",
    "to_dict",
    "to_html",
    "to_json",
    "to_junit",
    "to_text",
    "view",
]

JSON_VERSION = 1  # raised when a field changes meaning or goes; new fields keep the version
CELL = 60  # the widest cell of the terminal table (then "…")
_SKIPPED = frozenset({UNSUPPORTED, NOT_CHECKED})  # JUnit's and pytest's "skipped"
_VERDICT_COLOR = {"ok": "32", "wrong value": "31", "wrong gradient": "31", "crash": "31"}
_HTML_COLOR = {
    "ok": "#1a7f37",
    UNSUPPORTED: "#6e7781",
    NOT_CHECKED: "#6e7781",
    BEHAVIOUR: "#9a6700",
}


def _checked(report: object) -> EngineReport:
    return checks.instance(report, "report", EngineReport, "EngineReport")


def _plural(count: int, noun: str) -> str:
    if count == 1 or noun.endswith("ed"):
        return f"{count} {noun}"
    return f"{count} {noun}" + ("es" if noun.endswith(("sh", "s")) else "s")  # 2 crashes


def summary(report: EngineReport) -> str:
    """One line: how many findings of each kind, the seconds taken and the budget,
    e.g. ``"2 wrong gradients, 1 crash, 14 ok in 3.2 s (budget 30 s)"``."""
    report = _checked(report)
    counts = {kind: 0 for kind in KINDS}
    for finding in report.findings:
        counts[finding.kind] += 1
    parts = [
        _plural(counts[kind], kind)
        if kind not in (OK, NOT_CHECKED, UNSUPPORTED)
        else f"{counts[kind]} {kind}"
        for kind in KINDS
        if counts[kind]
    ]
    counted = ", ".join(parts) or "no findings"
    ran_out = "" if report.complete else "; the budget ran out before every check ran"
    return f"{counted} in {report.seconds:.1f} s (budget {report.budget:g} s){ran_out}"


# ---- the terminal -------------------------------------------------------------------------------


def _cell(text: str | None) -> str:
    # A table row is one line: an example's statements joined as Python reads them; an example
    # with a block (a loop) cannot be joined so, and its whole text follows in the finding's
    # block below the table.
    lines = (text or "").splitlines()
    if any(line[:1].isspace() or line.rstrip().endswith(":") for line in lines):
        return visible(lines[0] + " …", CELL)
    return visible("; ".join(lines), CELL)


def _paint(text: str, kind: str, color: bool) -> str:
    code = _VERDICT_COLOR.get(kind, "33")
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def _block(text: str) -> str:
    """Untrusted multi-line text, indented; control characters written out."""
    return "\n".join("    " + line for line in visible(text, newlines=True).splitlines())


def to_text(report: EngineReport, *, color: bool = False) -> str:
    """The report for a terminal: a table of every finding (check, verdict, smallest failing
    input), a teaching block per failing finding, the behaviours that differ from IEEE-754's,
    and the counts. ``color=True`` colours the verdicts (ANSI codes: red wrong, green ok)."""
    report = _checked(report)
    color = checks.flag(color, "color")
    lines = [f"microgradx check {visible(report.target, CELL)} (class {_cell(report.class_name)})"]
    rows = [(_cell(f.check), f.kind, _cell(f.example if f.failed else "")) for f in report.findings]
    wide = max([len("check"), *(len(row[0]) for row in rows)])
    verdict = max(len(kind) for kind in KINDS)
    lines.append(f"{'check':<{wide}}  {'verdict':<{verdict}}  smallest failing input")
    for check, kind, example in rows:
        shown = _paint(f"{kind:<{verdict}}", kind, color)
        lines.append(f"{check:<{wide}}  {shown}  {example}".rstrip())
    for finding in report.failures:
        lines += ["", f"{visible(finding.check)}: {_paint(finding.kind, finding.kind, color)}"]
        if finding.message:
            lines.append(_block(finding.message))
        if finding.example:
            lines += ["  smallest failing input:", _block(finding.example)]
    behaviours = [f for f in report.findings if f.kind == BEHAVIOUR and f.message]
    if behaviours:
        lines += ["", "Behaviour next to IEEE-754's (reported, not wrong):"]
        for finding in behaviours:
            lines += [f"  {visible(finding.check)}:", _block(finding.message)]
    if report.note:
        lines += ["", report.note]
    lines += ["", summary(report)]
    return "\n".join(lines) + "\n"


# ---- JSON ---------------------------------------------------------------------------------------


def _json_value(value: object) -> Any:
    """A detail as JSON: non-finite floats as the strings "inf", "-inf", "nan" (JSON has no such
    numbers), tuples as lists, anything else that JSON cannot hold as its ``str``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    return str(value)


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "check": finding.check,
        "category": finding.category,
        "kind": finding.kind,
        "failed": finding.failed,
        "message": finding.message,
        "example": finding.example,
        "expression": None if finding.expression is None else str(finding.expression),
        "node": finding.node,
        "details": _json_value(dict(finding.details)),
    }


def to_dict(report: EngineReport) -> dict[str, Any]:
    """The report as JSON-ready data, schema version ``JSON_VERSION`` (see docs/check.md)."""
    report = _checked(report)
    counts = {kind: 0 for kind in KINDS}
    for finding in report.findings:
        counts[finding.kind] += 1
    data = {
        "version": JSON_VERSION,
        "target": report.target,
        "class_name": report.class_name,
        "supported": list(report.supported),
        "ok": report.ok,
        "exit_code": report.exit_code,
        "complete": report.complete,
        "seconds": _json_value(report.seconds),
        "budget": _json_value(report.budget),
        "counts": counts,
        "findings": [_finding_dict(finding) for finding in report.findings],
    }
    if report.note:  # ran in-process: where, and what that loses (a child's report is unchanged)
        data |= {"isolation": report.isolation, "note": report.note}
    return data


def to_json(report: EngineReport, *, indent: int | None = 2) -> str:
    """``to_dict(report)`` as strict JSON text, ASCII only (control characters as ``\\u001b``)."""
    if indent is not None:
        indent = checks.count(indent, "indent", minimum=0)
    return json.dumps(to_dict(report), indent=indent, ensure_ascii=True, allow_nan=False)


# ---- JUnit XML ----------------------------------------------------------------------------------


def _xml(text: str | None) -> str:
    """Untrusted text for XML: characters XML 1.0 cannot hold written out (the library escapes
    ``& < >`` and quotes)."""
    return visible(text or "", newlines=True)


def to_junit(report: EngineReport) -> bytes:
    """JUnit XML (UTF-8, with its declaration): one ``<testsuite>`` named for the target, one
    ``<testcase>`` per finding (``classname`` ``microgradx.check.<category>``, ``name`` the
    check): a wrong value or gradient or a crash is a ``<failure>`` (``type`` the kind, the
    message and the smallest input as its text), an unsupported form or a check the budget did
    not reach is ``<skipped>``, and a behaviour's message is the test case's ``<system-out>``.
    """
    report = _checked(report)
    suite = ET.Element(
        "testsuite",
        {
            "name": _xml(f"microgradx check {report.target}"),
            "tests": str(len(report.findings)),
            "failures": str(len(report.failures)),
            "errors": "0",
            "skipped": str(sum(f.kind in _SKIPPED for f in report.findings)),
            "time": f"{report.seconds:.3f}",
        },
    )
    properties = ET.SubElement(suite, "properties")
    shown = [
        ("class", report.class_name),
        ("supported", " ".join(report.supported)),
        ("budget", f"{report.budget:g}"),
        ("complete", str(report.complete).lower()),
    ]
    if report.note:
        shown += [("isolation", report.isolation), ("note", report.note)]
    for name, value in shown:
        ET.SubElement(properties, "property", {"name": name, "value": _xml(value)})
    for finding in report.findings:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": f"microgradx.check.{finding.category}",
                "name": _xml(finding.check),
                "time": "0",
            },
        )
        if finding.failed:
            failure = ET.SubElement(
                case, "failure", {"message": _xml(finding.message), "type": finding.kind}
            )
            example = f"\nsmallest failing input: {finding.example}" if finding.example else ""
            failure.text = _xml(finding.message + example)
        elif finding.kind in _SKIPPED:
            reason = finding.message or finding.kind
            ET.SubElement(case, "skipped", {"message": _xml(f"{finding.kind}: {reason}")})
        elif finding.kind == BEHAVIOUR:
            ET.SubElement(case, "system-out").text = _xml(finding.message)
    tree = ET.ElementTree(suite)
    ET.indent(tree)
    data: bytes = ET.tostring(suite, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


# ---- Jupyter ------------------------------------------------------------------------------------


def draw_finding(finding: Finding) -> GraphView | None:
    """The finding's smallest failing expression drawn as microgradx computes it (values and
    gradients: the right ones, which the caption says), its inputs named ``x0, x1, ...`` and its
    steps ``v<k>`` as in the message, the node whose local rule disagrees (``finding.node``)
    highlighted in red. None when the finding has no expression. Needs the viz extra
    (ImportError otherwise)."""
    finding = checks.instance(finding, "finding", Finding, "Finding")
    expression = finding.expression
    if expression is None:
        return None
    nodes = [Value(x, label=f"x{i}") for i, x in enumerate(expression.inputs)]

    def step(op: Any, args: list[Value]) -> Value:
        node = apply(op, *args)
        node.label = f"v{len(nodes)}"
        nodes.append(node)
        return node

    root = expression.evaluate(list(nodes), step)
    root.backward()
    marked = (
        [nodes[finding.node]] if finding.node is not None and 0 <= finding.node < len(nodes) else []
    )
    # the numbers drawn are microgradx's, the right ones: say so, and what the engine got
    got = finding.details.get("got")
    caption = "values and gradients as they should be" + (
        f"; the engine got {got!r} at the red node" if isinstance(got, (int, float)) else ""
    )
    return draw_graph(root, highlight=marked, caption=caption)


def _picture(finding: Finding) -> str:
    """The drawing as an ``<img>`` (an SVG there runs no script), or the formula as text."""
    formula = f"<pre>{escape(str(finding.expression), newlines=True)}</pre>"
    try:
        drawn = draw_finding(finding)
        if drawn is None:
            return ""
        svg = drawn.svg()
    except (ImportError, RendererNotFound):  # no graphviz package or no renderer: the text
        return formula
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    alt = escape(str(finding.expression))
    return f'<img alt="{alt}" src="data:image/svg+xml;base64,{data}">'


def _html_cell(text: str | None, limit: int | None = None) -> str:
    return escape(text or "", limit, newlines=True)


def to_html(report: EngineReport, *, draw: bool = True) -> str:
    """The report as an HTML fragment: the table, then for each failing finding its message,
    its smallest input and (``draw=True``) that input's graph with the wrong node in red."""
    report = _checked(report)
    draw = checks.flag(draw, "draw")
    rows = []
    for finding in report.findings:
        colour = _HTML_COLOR.get(finding.kind, CURRENT)
        rows.append(
            f"<tr><td>{_html_cell(finding.check)}</td>"
            f'<td style="color:{colour}">{escape(finding.kind)}</td>'
            f"<td><code>{_html_cell(finding.example if finding.failed else '')}</code></td></tr>"
        )
    blocks = []
    for finding in report.failures:
        example = (
            f"<p>smallest failing input: <code>{_html_cell(finding.example)}</code></p>"
            if finding.example
            else ""
        )
        picture = _picture(finding) if draw and finding.expression is not None else ""
        blocks.append(
            f"<h4>{_html_cell(finding.check)}: {escape(finding.kind)}</h4>"
            f'<pre style="white-space:pre-wrap">{_html_cell(finding.message)}</pre>'
            f"{example}{picture}"
        )
    note = f"<p>{escape(report.note)}</p>" if report.note else ""
    return (
        '<div class="microgradx-check">'
        f"<p><b>microgradx check</b> {_html_cell(report.target)}"
        f" (class <code>{_html_cell(report.class_name)}</code>)</p>"
        "<table><thead><tr><th>check</th><th>verdict</th><th>smallest failing input</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
        f"{''.join(blocks)}{note}<p>{escape(summary(report))}</p></div>"
    )


@dataclass(frozen=True)
class ShownReport(EngineReport):
    """An ``EngineReport`` that Jupyter shows as ``to_html`` (the table, and each failing
    expression drawn with the wrong node in red) and ``print`` writes as ``to_text``.
    ``check_engine`` and ``check_target`` return one; ``view(report)`` makes one."""

    def __str__(self) -> str:
        return to_text(self)

    def _repr_html_(self) -> str:
        return to_html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        # IPython's plain-text display (a terminal, an export without HTML): the table, not
        # the dataclass's field-by-field repr
        printer.text(to_text(self))


def view(report: EngineReport) -> ShownReport:
    """``report`` for Jupyter (the table and the failing expressions drawn) and ``print``."""
    report = _checked(report)
    return ShownReport(**{f.name: getattr(report, f.name) for f in fields(EngineReport)})
