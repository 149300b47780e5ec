"""Labels that try to break out of every page, picture and DOT file this package writes.

Plain Python: the escaping functions (JSON in a script, text in HTML/XML, labels in DOT), every
SVG well-formed, every drawing function refusing a non-str label by name. Chromium (one launch for
the module): the step-through page (``to_html``), the notebook output (inline as in an nbconvert
export, inserted as JupyterLab inserts it, and with scripts off), ``draw_graph``'s SVG and
``draw_network``'s SVG, each with the labels of ``tests/hostile.py``: no payload runs, every
label is shown as text, and the step-through still steps.
"""

from __future__ import annotations

import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microgradx import Value
from microgradx.nn import MLP
from microgradx.viz import draw_graph, draw_network, trace_backward, trace_forward
from microgradx.viz.markup import (
    ELLIPSIS,
    LABEL_CHARS,
    browser_json,
    dot_escape,
    escape,
    script_json,
    visible,
)
from microgradx.viz.page import fragment, standalone_svg
from microgradx.viz.style import lecture_text

from .browser import launch, require_browser
from .hostile import (
    HOSTILE,
    ROOT_LABEL,
    SHOWN,
    Watch,
    hostile_graph,
    names_in_picture,
    steps_through,
)
from .test_viz import RENDERERS

# Both Graphviz programs, and microgradx's own layout (what draws without them): "own"
DRAWERS = [*RENDERERS, "own"]


def _graph_svg(renderer: str, level: str = "op") -> str:
    """The hostile graph drawn by ``renderer`` (a program, or "own": no Graphviz at all)."""
    if renderer.startswith("missing:"):
        pytest.fail(f"{renderer[8:]} is required in CI but not installed")
    if renderer == "own":
        view = draw_graph(hostile_graph(), layout="python", caption=ROOT_LABEL)
        assert view.layout_used() == "python"
        return view.svg()
    return draw_graph(hostile_graph()).svg(renderer)


SVG = "{http://www.w3.org/2000/svg}"
ANY_CHARACTER = st.characters(exclude_categories=())  # surrogates and controls included


def _svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # well-formed XML, or an exception
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


# ---- the escaping functions ---------------------------------------------------------------------


@given(st.text(ANY_CHARACTER, max_size=200), st.integers(min_value=1, max_value=120))
def test_visible_text_is_printable_valid_xml_and_at_most_limit_long(text, limit):
    shown = visible(text, limit)
    assert len(shown) <= limit
    assert visible(shown, limit) == shown  # drawing a drawn name again changes nothing
    shown.encode("utf-8")  # no lone surrogates
    for char in shown:
        assert char.isprintable() or char in "\u200c\u200d" or unicodedata.category(char) == "Zs", (
            repr(char)
        )
    ET.fromstring(f"<a>{escape(text, limit)}</a>")  # XML 1.0 character data
    ET.fromstring(f'<a b="{escape(text, limit)}"/>')  # and an attribute value


@given(st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=LABEL_CHARS))
def test_visible_leaves_ordinary_text_alone(text):
    assert visible(text, LABEL_CHARS) == text


def test_visible_writes_out_hidden_characters_and_cuts_long_text():
    assert visible("a\x07b\x00\n") == "a\\x07b\\x00\\x0a"
    assert visible("a\nb", newlines=True) == "a\nb"
    assert visible("\u202eevil\u2028") == "\\u202eevil\\u2028"
    assert visible("\udc80") == "\\udc80"
    assert visible("x" * 100_000, 80) == "x" * 79 + ELLIPSIS
    assert visible("\x07" * 30, 10) == "\\x07\\x07" + ELLIPSIS  # whole escapes or none


@pytest.mark.parametrize("label", [ROOT_LABEL, *HOSTILE])
def test_script_json_has_no_markup_characters_and_reads_back(label):
    data = {"e": label, "list": [label, 1.5, None, True]}
    text = script_json(data)
    for char in "<>&\u2028\u2029":
        assert char not in text
    assert not re.search(r"[^\x20-\x7e]", text)  # ASCII only
    assert json.loads(text) == data


def test_script_json_refuses_nan_and_browser_json_writes_null():
    with pytest.raises(ValueError):
        script_json({"loss": float("nan")})
    text = browser_json({"losses": [0.5, float("nan"), float("inf"), -float("inf")]})
    assert json.loads(text, parse_constant=pytest.fail) == {"losses": [0.5, None, None, None]}


def test_dot_escape_makes_text_that_is_neither_markup_nor_a_graphviz_escape():
    assert dot_escape("<b>&\"'") == "&lt;b&gt;&amp;&quot;&#x27;"
    assert dot_escape("\\N") == "\\\\N"  # Graphviz reads \N as the node's name
    assert dot_escape("a\x07") == "a\\\\x07"


# ---- every drawing of a hostile graph, in Python ------------------------------------------------


def test_every_picture_of_a_hostile_graph_is_well_formed_and_shows_the_labels():
    root = hostile_graph()
    trace = trace_backward(root)
    data = trace.page_data(layout="python")
    for svg in (data.layout.svg(), standalone_svg(data, 3)):
        names = set(_svg_texts(svg))
        assert set(SHOWN.values()) <= names
    page = trace.html_page(layout="python")
    page.encode("utf-8")
    # the picture's data block and the JSON block hold no user "<" at all
    block = re.search(r'<script type="image/svg\+xml"[^>]*>(.*?)</script>', page, re.S)
    assert block is not None
    assert set(SHOWN.values()) <= set(_svg_texts(block.group(1)))
    (data_block,) = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S)
    assert "<" not in data_block
    steps = json.loads(data_block)["steps"]
    assert [s["e"] for s in steps] == [
        visible(trace.equation(i), newlines=True) for i in range(len(trace))
    ]
    assert len(re.findall(r"<script", page)) == 3  # the picture, the data, the script: no more
    str(trace_forward(root))  # the forward trace names its nodes the same way


@pytest.mark.parametrize("renderer", DRAWERS, ids=lambda r: Path(r).name)
def test_draw_graph_of_hostile_labels_renders_each_label_literally(renderer):
    texts = [t.replace("\xa0", " ") for t in _svg_texts(_graph_svg(renderer))]
    for label, shown in SHOWN.items():
        assert shown in texts, (label[:40], shown)


def test_long_and_control_labels_are_drawn_clipped_and_written_out(tmp_path):
    x = Value(1.0, label="a\x07b")
    y = Value(2.0, label="y" * 100_000)
    z = x * y
    z.label = "\x00"
    source = draw_graph(z).source
    assert "a\\\\x07b" in source and "y" * 79 + ELLIPSIS in source and "y" * 81 not in source
    assert draw_graph(z).save(tmp_path / "g.dot").read_text(encoding="utf-8") == source
    svg = draw_graph(z).svg()
    assert "a\\x07b" in _svg_texts(svg)
    own = _svg_texts(draw_graph(z, layout="python").svg())  # without Graphviz: the same
    assert "a\\x07b" in own and "\\x00" in own and "y" * 79 + ELLIPSIS in own
    assert trace_backward(z).equation(0).startswith("d(\\x00)/d(a\\x07b) += ")


def _weights(model):
    return [w for layer in model.layers for neuron in layer.neurons for w in neuron.w]


def test_network_picture_of_hostile_names_is_well_formed_and_shows_them():
    model = MLP(2, [3, 1], seed=0)
    for parameter, label in zip(model.parameters(), HOSTILE):
        parameter.label = label
    svg = draw_network(model, [0.5, -1.0], input_names=[ROOT_LABEL, HOSTILE[-1]]).svg()
    root = ET.fromstring(svg)
    titles = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert SHOWN[ROOT_LABEL] in titles and SHOWN[HOSTILE[-1]] in titles  # the input circles
    without_x = _svg_texts(draw_network(model, input_names=[ROOT_LABEL, HOSTILE[-1]]).svg())
    assert SHOWN[ROOT_LABEL] in without_x and SHOWN[HOSTILE[-1]] in without_x
    for weight in _weights(model):  # every edge's tooltip names its weight
        assert any(t.startswith(SHOWN[weight.label] + " = ") for t in titles)


def test_a_label_that_is_not_a_str_is_refused_by_name():
    x = Value(1.0, label="x")
    y = x * 2
    x.label = 5  # type: ignore[assignment]  # the constructor checks; an assignment is not
    for draw in (draw_graph, trace_backward, trace_forward):
        with pytest.raises(TypeError, match="label must be a str or None, got int 5"):
            draw(y)
    model = MLP(2, [1], seed=0)
    model.parameters()[0].label = b"w"  # type: ignore[assignment]
    with pytest.raises(TypeError, match="label must be a str or None, got bytes"):
        draw_network(model)
    with pytest.raises(TypeError, match=r"input_names\[1\] must be a str, got int 7"):
        draw_network(MLP(2, [1], seed=0), input_names=["a", 7])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="input_names must be a list"):
        draw_network(MLP(2, [1], seed=0), input_names="ab")


def test_fragment_refuses_an_id_that_is_not_a_plain_name():
    data = trace_backward(hostile_graph()).page_data(layout="python")
    with pytest.raises(ValueError, match="uid must be a letter"):
        fragment(data, uid='x"><script>window.__pwned=1</script>')
    assert 'id="mine-1"' in fragment(data, uid="mine-1")


# ---- in Chromium --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch(p)
        yield chromium
        chromium.close()


def _open(browser, path: Path, **options):
    page = browser.new_page(viewport={"width": 1000, "height": 800}, **options)
    watch = Watch(page, path.as_uri())
    page.goto(path.as_uri())
    return page, watch


def _equations(trace) -> list[str]:
    """Each step's equation as the page writes it (the lectures' names with raised and lowered
    indices: a²₁ for a2_1), invisible characters written out."""
    return [visible(lecture_text(trace.equation(i)), newlines=True) for i in range(len(trace))]


def _hostile_mlp_loss():
    """A network's loss whose inputs carry hostile labels (they are in every level's text)."""
    model = MLP(2, [3, 1], seed=0)
    x = [Value(0.5, label=HOSTILE[0]), Value(-1.0, label=ROOT_LABEL)]
    return (model(x) - 1.0) ** 2


def test_the_step_through_page_of_hostile_labels_runs_no_script_and_steps(browser, tmp_path):
    root = hostile_graph()
    trace = trace_backward(root)
    page, watch = _open(browser, trace.to_html(tmp_path / "hostile.html"))
    assert names_in_picture(page, "#mgx-page") >= set(SHOWN.values())
    title = f"backward pass of {SHOWN[ROOT_LABEL]}, op by op"
    assert page.title() == title and page.locator(".mgx-title").text_content() == title
    table = page.locator(".mgx-table pre").text_content()
    assert table == visible(str(trace), newlines=True)
    steps_through(page, "#mgx-page", _equations(trace))
    watch.check(page)
    page.close()
    for level in ("op", "neuron", "layer"):  # the texts of every level, with hostile inputs
        trace = trace_backward(_hostile_mlp_loss(), level=level)
        page, watch = _open(browser, trace.to_html(tmp_path / f"{level}.html"))
        equations = _equations(trace)
        assert any(SHOWN[HOSTILE[0]] in e for e in equations)
        steps_through(page, "#mgx-page", equations, clicks=10)
        watch.check(page)
        page.close()


# How JupyterLab puts a trusted output's HTML in place (rendermime's evalInnerHTMLScriptTags):
# innerHTML, then every script replaced by a fresh one with the same attributes and text.
_AS_JUPYTERLAB = """(markup) => {
  const host = document.getElementById("output");
  host.innerHTML = markup;
  for (const script of Array.from(host.getElementsByTagName("script"))) {
    if (!script.parentNode) continue;
    const clone = document.createElement("script");
    for (const { name, value } of Array.from(script.attributes)) clone.setAttribute(name, value);
    clone.textContent = script.textContent;
    script.parentNode.replaceChild(clone, script);
  }
}"""


def test_the_notebook_output_of_hostile_labels_runs_no_script_and_steps(browser, tmp_path):
    trace = trace_backward(hostile_graph())
    equations = _equations(trace)
    bundle = trace._repr_mimebundle_()
    widget = trace.widget()._repr_mimebundle_()
    assert set(_svg_texts(bundle["image/svg+xml"])) >= set(SHOWN.values())
    assert bundle["text/plain"] == visible(str(trace), newlines=True)
    # inline in a page, as an nbconvert export has it: two outputs of one trace
    outputs = [bundle["text/html"], widget["text/html"]]
    path = tmp_path / "notebook.html"
    path.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>notebook</title></head><body>'
        + "".join(f'<div class="output">{o}</div>' for o in outputs)
        + '<div id="output"></div></body></html>',
        encoding="utf-8",
    )
    page, watch = _open(browser, path)
    uids = [re.search(r'id="(mgx-[0-9a-f]+)"', o).group(1) for o in outputs]
    for uid in uids:
        assert names_in_picture(page, f"#{uid}") >= set(SHOWN.values())
        steps_through(page, f"#{uid}", equations, clicks=10)  # every step: the page's test
    assert page.locator(".mgx-static").count() == 0  # the live part replaced the still one
    # as JupyterLab inserts a trusted output
    third = trace.widget()._repr_mimebundle_()["text/html"]
    page.evaluate(_AS_JUPYTERLAB, third)
    uid = re.search(r'id="(mgx-[0-9a-f]+)"', third).group(1)
    assert names_in_picture(page, f"#{uid}") >= set(SHOWN.values())
    steps_through(page, f"#{uid}", equations, clicks=10)
    watch.check(page)
    page.close()
    # with scripts off (an untrusted notebook, a sanitizer): step 0 and the table, as text
    page, watch = _open(browser, path, java_script_enabled=False)
    still = page.locator(f"#{uids[0]} .mgx-static")
    assert still.locator(".mgx-equation").text_content() == equations[0]
    assert still.locator("img").evaluate("img => img.complete && img.naturalWidth > 100")
    assert page.locator(f"#{uids[0]} .mgx-table pre").text_content() == bundle["text/plain"]
    assert watch.dialogs == watch.errors == watch.requests == []
    page.close()


@pytest.mark.parametrize("renderer", DRAWERS, ids=lambda r: Path(r).name)
def test_draw_graph_svg_of_hostile_labels_in_a_page_runs_no_script(browser, tmp_path, renderer):
    svg = _graph_svg(renderer)
    svg = svg[svg.index("<svg") :]  # inline, without the XML declaration and doctype
    path = tmp_path / "graph.html"
    path.write_text(f'<!DOCTYPE html><meta charset="utf-8"><body>{svg}</body>', encoding="utf-8")
    page, watch = _open(browser, path)
    texts = page.locator("svg text").evaluate_all("ts => ts.map(t => t.textContent)")
    texts = [t.replace("\xa0", " ") for t in texts]
    for label, shown in SHOWN.items():
        assert shown in texts, label[:40]
    watch.check(page)
    page.close()


def test_draw_network_svg_of_hostile_names_in_a_page_runs_no_script(browser, tmp_path):
    model = MLP(2, [3, 1], seed=0)
    labels = [ROOT_LABEL, *HOSTILE]
    for parameter, label in zip(model.parameters(), labels):
        parameter.label = label
    picture = draw_network(model, [0.5, -1.0], input_names=labels[-2:])
    path = tmp_path / "network.html"
    path.write_text(
        f'<!DOCTYPE html><meta charset="utf-8"><body>{picture.svg()}</body>', encoding="utf-8"
    )
    page, watch = _open(browser, path)
    titles = page.locator("svg title").evaluate_all("ts => ts.map(t => t.textContent)")
    for weight in _weights(model):  # every edge's tooltip names its weight
        assert any(t.startswith(SHOWN[weight.label] + " = ") for t in titles)
    assert SHOWN[labels[-2]] in titles and SHOWN[labels[-1]] in titles
    watch.check(page)
    page.close()


def _printable(text: str) -> bool:
    return all(line.isprintable() for line in text.split("\n"))


def test_a_hostile_op_name_reaches_no_terminal_text_raw():
    """An op's name and symbol are user text: an escape sequence or U+202E in one printed raw in
    gradcheck's report and the traces, and could hide a FAILED verdict."""
    import math

    from microgradx import Op, apply, gradcheck

    evil = "bad\x1b[2J\x1b[32mgradcheck passed\x1b[0m\u202e"
    op = Op(name=evil, symbol=evil, arity=1, forward=math.sin, local_grads=lambda x, out: (2.0,),
            math="sin", derivative="cos")  # a wrong rule, so the report names the op  # fmt: skip
    report = str(gradcheck(lambda x: apply(op, x), [Value(0.5)], raise_exception=False))
    assert "FAILED" in report or "failed" in report
    out = apply(op, Value(0.5, label="x")) * 2
    backward, forward = trace_backward(out), trace_forward(out)
    texts = [report, str(backward), str(forward), backward.frame_text(0)]
    for text in texts:
        assert _printable(text) and "\x1b" not in text and "\u202e" not in text, text
    assert any("bad\\x1b[2J" in text for text in texts[1:])
