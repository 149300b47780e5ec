"""Text that users wrote (labels, names, form input) into pages, pictures, DOT and JSON, safely.

Every string a user can influence reaches a page, an SVG or a DOT file through one of these
functions, exactly once, at the leaf where it is written (never into a template that something
scans again):

* ``visible(text)``: what a reader can see. Every character that ``repr()`` would write out
  (``str.isprintable()`` is false: control characters, lone surrogates, line and paragraph
  separators, bidirectional overrides and marks, zero-width spaces, the byte-order mark,
  unassigned code points and noncharacters) is written out the way ``repr()`` writes it
  (``\\x07``, ``\\u202e``, ``\\udc80``), except spaces and the zero-width joiners; text longer
  than ``limit`` is cut with an ellipsis. The result is valid XML 1.0 character data and can be
  encoded as UTF-8.
* ``escape(text)``: ``visible`` text escaped for HTML and XML, as element text or as a quoted
  attribute value (``& < > " '`` become references).
* ``dot_escape(text)``: ``visible`` text for a cell of a Graphviz HTML-like label (``<...>``):
  escaped as ``escape`` does, and each backslash doubled, since Graphviz reads ``\\N``, ``\\G``
  and ``\\\\`` in a label even after entities are decoded.
* ``script_json(data)``: JSON for ``<script type="application/json">`` (and anything a browser
  parses): strict JSON (``allow_nan=False``), ASCII only, and ``<``, ``>``, ``&``, U+2028 and
  U+2029 written as ``\\u003c`` and so on, so no ``</script>``, ``<!--`` or ``<script`` can
  appear in it, whatever the data.
* ``browser_json(data)``: ``script_json`` after writing every NaN and infinity as ``null``
  (JSON has no such numbers; the caller says why in a field of its own).
* ``picture_html(svg, zoom)``: an SVG picture as an ``<img>`` for a notebook output, fitted to
  the output's width (``zoom=None``) or at ``zoom`` times its natural size in a box that scrolls
  (an SVG in an ``<img>`` runs no script, whatever its text).
* ``label_of(node)``: a node's label, checked to be a str (the engine checks it in the
  constructor, but ``node.label`` can be assigned anything later).

And the numbers that set how big a picture is drawn (``zoom``, a layout's gaps), checked once
for every drawing function: ``measure(x, name, low, high)`` (a finite number in a range, never a
bool) and ``zoom_factor(zoom)`` (``None``, or ``MIN_ZOOM`` to ``MAX_ZOOM`` times the natural
size: below, the picture is a few pixels or none, ``zoom=1e-320`` drew 0 px; above, it is
astronomically wide).
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from microgradx import checks
from microgradx.checks import describe
from microgradx.engine import Value

MIN_ZOOM = 0.05  # times a picture's natural size: a 100 px box drawn 5 px wide, no smaller
MAX_ZOOM = 20.0
LABEL_CHARS = 80  # the longest name a picture or an equation shows (then "…")
ELLIPSIS = "…"

# Kept although str.isprintable() says no: spaces (U+00A0, U+3000, ...) and the zero-width
# (non-)joiners that emoji sequences and several scripts need.
_KEPT = "\u200c\u200d"
_ESCAPE = re.compile(r"(\\x[0-9a-f]{2}|\\u[0-9a-f]{4}|\\U[0-9a-f]{8})")


def _written_out(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _write_out(text: str, newlines: bool) -> str:
    out = []
    for char in text:
        if (
            char.isprintable()
            or char in _KEPT
            or (char == "\n" and newlines)
            or unicodedata.category(char) == "Zs"
        ):
            out.append(char)
        else:
            out.append(_written_out(char))
    return "".join(out)


def visible(text: str, limit: int | None = None, *, newlines: bool = False) -> str:
    """``text`` with every hidden or unsafe character written out, cut to ``limit`` characters.

    ``newlines=True`` keeps ``\\n`` (multi-line text: an equation, a table). Cutting keeps whole
    escapes and ends with ``…``, so the result has at most ``limit`` characters.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {describe(text)}")
    if limit is not None and (type(limit) is not int or limit < 1):  # most calls: no check
        limit = checks.count(limit, "limit")  # (True as a limit is a mistake, not 1)
    if limit is not None and len(text) > limit:
        text = text[: limit + 1]  # enough to know it is cut; bounds the work for huge labels
    shown = text if text.isprintable() else _write_out(text, newlines)
    if limit is None or len(shown) <= limit:
        return shown
    kept: list[str] = []
    room = limit - len(ELLIPSIS)
    for k, piece in enumerate(_ESCAPE.split(shown)):  # odd k: an escape, kept whole or not at all
        if len(piece) <= room:
            kept.append(piece)
            room -= len(piece)
            continue
        if k % 2 == 0:
            kept.append(piece[:room])
        break
    return "".join(kept) + ELLIPSIS


def escape(text: str, limit: int | None = None, *, newlines: bool = False) -> str:
    """``visible(text)`` as HTML/XML text or a double- or single-quoted attribute value."""
    return html.escape(visible(text, limit, newlines=newlines), quote=True)


def dot_escape(text: str, limit: int | None = LABEL_CHARS) -> str:
    """``visible(text)`` for a Graphviz HTML-like label: entities, and backslashes doubled."""
    return escape(text, limit).replace("\\", "\\\\")


def script_json(data: Any) -> str:
    """``data`` as strict JSON that is safe inside ``<script>`` and any HTML element.

    Raises ValueError for NaN or an infinity (JSON has neither: use ``browser_json``).
    """
    text = json.dumps(data, allow_nan=False, ensure_ascii=True, separators=(",", ":"))
    # These characters occur only inside JSON strings, where \\u003c means the same "<".
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, code)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")  # (ASCII: none left)


def finite_or_none(data: Any) -> Any:
    """``data`` (dicts, lists, tuples of JSON values) with every NaN and infinity as None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, Mapping):
        return {key: finite_or_none(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_none(value) for value in data]
    return data


def browser_json(data: Any) -> str:
    """``script_json`` of ``data`` with NaN and infinities as ``null``."""
    return script_json(finite_or_none(data))


def label_of(node: Value) -> str:
    """``node.label``, or "" for none; TypeError if something other than a str was assigned."""
    label = node.label
    if label is None:
        return ""
    if not isinstance(label, str):
        raise TypeError(
            f"a Value's label must be a str or None, got {describe(label)}"
            f" (on the Value with data {node.data!r})"
        )
    return label


_SVG_WIDTH = re.compile(r"<svg\b[^>]*?\swidth=\"([0-9.]+)(pt|px)?\"")


def natural_width(svg: str) -> float:
    """The width in CSS px an SVG document asks for (its root's ``width``; Graphviz writes pt,
    and 1 pt = 4/3 px); ValueError if it gives none."""
    found = _SVG_WIDTH.search(svg)
    if found is None:
        raise ValueError("svg must be an SVG document whose root has a width, got none")
    return float(found.group(1)) * (4 / 3 if found.group(2) == "pt" else 1)


def measure(x: Any, name: str, low: float = -math.inf, high: float = math.inf) -> float:
    """``x`` as a finite float in ``[low, high]``: a number that sets how a picture is drawn (a
    size, a zoom, a threshold). TypeError for a bool (``True`` as a zoom is a mistake, not 1)
    or a non-number; ValueError, naming ``name``, for NaN, an infinity or a value outside (so
    no picture is drawn 0 px wide or astronomically large)."""
    kind = type(x)
    if isinstance(x, bool) or (kind.__module__ == "numpy" and kind.__name__ in ("bool_", "bool")):
        raise TypeError(f"{name} must be a number, not a bool, got {describe(x)}")
    return checks.in_range(checks.finite(x, name), name, low, high)


def zoom_factor(zoom: Any, name: str = "zoom") -> float | None:
    """``zoom`` checked: ``None`` (fit the width), or a number of times the natural size in
    ``[MIN_ZOOM, MAX_ZOOM]`` (``measure``)."""
    return None if zoom is None else measure(zoom, name, MIN_ZOOM, MAX_ZOOM)


def picture_html(svg: str, zoom: float | None = None, alt: str = "a drawing") -> str:
    """``svg`` as an ``<img>`` for a notebook output or a page: with ``zoom=None`` it fits the
    width of what holds it (never wider, never enlarged past its natural size); with a number
    it is drawn at ``zoom`` times its natural width (``natural_width``) in a box that scrolls
    sideways. The picture travels as a ``data:`` URL: an image runs no script. ``zoom`` is
    checked (``zoom_factor``), and ValueError if the picture would be drawn under 1 px wide."""
    zoom = zoom_factor(zoom)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    if zoom is None:
        size = "max-width: 100%; height: auto"
    else:
        natural = natural_width(svg)
        if round(natural * zoom) < 1:
            raise ValueError(
                f"zoom={zoom!r} draws this {natural:g} px wide picture {natural * zoom:.2g} px"
                " wide: give a larger zoom (or None to fit the width)"
            )
        size = f"width: {natural * zoom:.0f}px; max-width: none; height: auto"
    return (
        '<div class="mgx-picture" style="max-width: 100%; overflow-x: auto">'
        f'<img alt="{escape(alt)}" style="{size}" src="data:image/svg+xml;base64,{data}">'
        "</div>"
    )
