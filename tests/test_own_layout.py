"""draw_graph and trace.frame without Graphviz: microgradx's own layout and SVG.

Without a Graphviz program (a plain ``pip install microgradx``, a browser's Python) every drawing
is laid out by ``viz.layout.layered`` and written as the step-through's SVG. Checked here on the
SVG itself, parsed: well-formed, every box's texts (the same as Graphviz draws), boxes apart,
texts inside their boxes and apart from each other, the marks and colours, the width a page
scales, and one note saying Graphviz was not used.
"""

from __future__ import annotations

import base64
import random
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx import Value, losses
from microgradx.nn import MLP
from microgradx.viz import RendererNotFound, draw_graph, trace_backward
from microgradx.viz import graph as graph_module
from microgradx.viz import layout as layout_module
from microgradx.viz.graph import OWN_LAYOUT_NOTE
from microgradx.viz.markup import natural_width
from microgradx.viz.style import CURRENT, DIMMED_FILL, GROUP_FILL, HEAT, ROLE_COLORS

from .test_viz import RENDERERS

SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parent.parent
MONO_EM = 0.61  # the widest a monospace font draws a character (as tests/test_viz.py)
FONT = {"": 11.0, "op": 10.0, "edge-label": 9.0}  # px, as viz.layout.PICTURE_CSS writes them


@pytest.fixture
def no_graphviz(monkeypatch, tmp_path):
    """No Graphviz program anywhere, and no graphviz Python package either."""
    monkeypatch.delenv("MICROGRADX_DOT", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz: ImportError


def _network(sizes=(3, 1)):
    model = MLP(2, list(sizes), activation="tanh", seed=0)
    x = [Value(0.5, label="x1"), Value(-1.0, label="x2")]
    loss = (model(x) - 1.0) ** 2
    loss.backward()
    return loss


def _unlabelled_batch():
    """A 2-16-16-1 network on two unlabelled examples: 32 neuron boxes, shared parameters."""
    model = MLP(2, [16, 16, 1], seed=0)
    loss = losses.bce_with_logits([model([0.5, -1.0]), model([1.0, 0.25])], [1, 0])
    loss.backward()
    return loss


def _views():
    """Every kind of drawing: op level with local gradients and the heat legend, a frame (its
    caption and marks), neuron and layer level, a wide network by neuron on a mini-batch, and
    a graph whose edge labels need wider columns."""
    loss = _network()
    return {
        "op": draw_graph(loss, show_local_grads=True, color_by="grad"),
        "frame": trace_backward(loss).frame(2),
        "neuron": draw_graph(loss, level="neuron"),
        "layer": draw_graph(loss, level="layer"),
        "batch-neuron": draw_graph(_unlabelled_batch(), level="neuron"),
        # 2-4-4-1 by op with local gradients: too crowded for its labels at first (wider then)
        "op-crowded": draw_graph(_network((4, 4, 1)), show_local_grads=True),
    }


def _geometry(svg: str):
    """(root, shapes, texts): every box or circle as (id, (x0, y0, x1, y1)), every text as
    (its box's id or "", text, (x0, y0, x1, y1)) from its anchor and a monospace width."""
    root = ET.fromstring(svg)
    shapes, texts = [], []

    def text_box(element, size):
        text = "".join(element.itertext())
        width = len(text) * MONO_EM * size
        x, y = float(element.get("x")), float(element.get("y"))
        x0 = x - width / 2 if element.get("text-anchor") == "middle" else x
        return text, (x0, y - 0.8 * size, x0 + width, y + 0.2 * size)

    for element in root.iter(f"{SVG}text"):
        if element.get("class") == "edge-label":
            texts.append(("", *text_box(element, FONT["edge-label"])))
    for group in root.iter(f"{SVG}g"):
        classes = (group.get("class") or "").split()
        if "node" not in classes:
            continue
        box_id = group.get("data-id")
        rect, circle = group.find(f"{SVG}rect"), group.find(f"{SVG}circle")
        if rect is not None:
            x, y = float(rect.get("x")), float(rect.get("y"))
            shapes.append(
                (box_id, (x, y, x + float(rect.get("width")), y + float(rect.get("height"))))
            )
        else:
            cx, cy, r = (float(circle.get(k)) for k in ("cx", "cy", "r"))
            shapes.append((box_id, (cx - r, cy - r, cx + r, cy + r)))
        size = FONT["op"] if "op" in classes else FONT[""]
        texts += [(box_id, *text_box(t, size)) for t in group.iter(f"{SVG}text")]
    return root, shapes, texts


def _overlap(a, b, slack=0.5):
    return (
        a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack
    )


def _inside(inner, outer):
    return (
        outer[0] - 0.5 <= inner[0]
        and inner[2] <= outer[2] + 0.5
        and outer[1] - 1 <= inner[1]
        and inner[3] <= outer[3] + 1
    )


def _check_layout(svg: str) -> list[str]:
    """The own layout's picture is well-formed and readable; returns its texts."""
    root, shapes, texts = _geometry(svg)
    width, height = float(root.get("width")), float(root.get("height"))
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    for k, (name, box) in enumerate(shapes):
        assert box[0] >= 0 and box[2] <= width + 0.5 and box[1] >= 0 and box[3] <= height + 0.5
        for other, other_box in shapes[k + 1 :]:
            assert not _overlap(box, other_box), f"box {name} overlaps box {other}"
    where = dict(shapes)
    for k, (owner, text, box) in enumerate(texts):
        if owner:
            assert _inside(box, where[owner]), f"{text!r} does not fit its box {owner}"
        else:  # an edge's label: on no box
            assert not any(_overlap(box, s) for _, s in shapes), f"label {text!r} on a box"
        for _, other, other_box in texts[k + 1 :]:
            assert not _overlap(box, other_box), f"{text!r} runs into {other!r}"
    return [text for _, text, _ in texts]


# ---- without Graphviz ---------------------------------------------------------------------------


def test_every_drawing_falls_back_to_the_own_layout_and_is_readable(no_graphviz):
    for kind, view in _views().items():
        assert view.layout_used() == "python", kind
        svg = view.svg()
        texts = _check_layout(svg)
        assert texts.count(OWN_LAYOUT_NOTE) == 1, kind  # said once, in the picture
        drawn = [c for s in view.drawing.shapes for c in s.cells] + [
            a.label for a in view.drawing.arrows if a.label
        ]
        drawn += [view.drawing.caption] if view.drawing.caption else []
        assert Counter(texts) == Counter([*drawn, OWN_LAYOUT_NOTE]), kind
        # in a notebook: an image fitted to the output's width, the same picture
        bundle = view._repr_mimebundle_()
        assert bundle["image/svg+xml"] == svg
        assert 'style="max-width: 100%; height: auto"' in bundle["text/html"]
        encoded = re.search(r'base64,([A-Za-z0-9+/=]+)"', bundle["text/html"]).group(1)
        assert base64.b64decode(encoded).decode() == svg
        zoomed = view.zoomed(2.0)._repr_mimebundle_()["text/html"]
        assert f"width: {natural_width(svg) * 2:.0f}px" in zoomed


def test_the_own_layout_shows_names_values_grads_colours_and_marks(no_graphviz):
    loss = _network()
    texts = _check_layout(draw_graph(loss).svg())
    for expected in ["x1", "x2", "L", "a²₁", "a¹₃", "z¹₂", "tanh", "**2", "data 0.5", "grad 1"]:
        assert expected in texts, expected
    root = ET.fromstring(draw_graph(loss).svg())
    fills = {g.get("data-id"): g.find(f"{SVG}rect") for g in root.iter(f"{SVG}g")}
    fills = {k: r.get("fill") for k, r in fills.items() if r is not None}
    assert ROLE_COLORS["parameter"] in fills.values() and ROLE_COLORS["input"] in fills.values()
    assert ROLE_COLORS["output"] in fills.values()
    # a frame: the current step's box red (class current), its edges red, unreached boxes grey
    trace = trace_backward(loss)
    frame = ET.fromstring(trace.frame(2).svg())
    current = [g for g in frame.iter(f"{SVG}g") if "current" in (g.get("class") or "").split()]
    assert len(current) >= 2  # the value's box and its op's circle
    assert frame.findall(f".//{SVG}path[@class='on']")
    assert CURRENT in frame.find(f"{SVG}defs").find(f"{SVG}style").text
    assert DIMMED_FILL in {r.get("fill") for r in frame.iter(f"{SVG}rect")}
    assert "step 3 of" in "".join(frame.itertext())
    # by gradient: the legend's cells in the heat colours
    heat = ET.fromstring(draw_graph(loss, color_by="grad").svg())
    legend = [g for g in heat.iter(f"{SVG}g") if (g.get("data-id") or "").startswith("legend")]
    assert [t.text for t in legend[0].iter(f"{SVG}text")] == ["|grad|"]
    assert [g.find(f"{SVG}rect").get("fill") for g in legend[1:]] == HEAT
    # collapsed: neuron boxes in the group colour, named as the lectures name them
    by_neuron = ET.fromstring(draw_graph(loss, level="neuron").svg())
    groups = [g for g in by_neuron.iter(f"{SVG}g") if "group" in (g.get("class") or "")]
    assert [g.find(f"{SVG}rect").get("fill") for g in groups] == [GROUP_FILL] * 4
    assert {"".join(g.find(f"{SVG}text").itertext()) for g in groups} == {
        "a¹₁",
        "a¹₂",
        "a¹₃",
        "a²₁",
    }
    titles = sorted("".join(g.find(f"{SVG}title").itertext()) for g in groups)
    assert titles[0] == "layers.0.neurons.0"  # the module's name: the tooltip


def test_graphviz_asked_for_by_name_is_an_error_not_the_own_layout(no_graphviz, monkeypatch):
    loss = _network()
    with pytest.raises(RendererNotFound, match="pip install 'microgradx\\[viz\\]'"):
        draw_graph(loss, layout="dot").svg()
    with pytest.raises(RendererNotFound, match="cannot run"):
        draw_graph(loss).svg(renderer=Path(sys.executable).parent / "no-such-dot")
    with pytest.raises(RendererNotFound):
        trace_backward(loss).frame(0, layout="dot").layout_used()
    monkeypatch.setenv("MICROGRADX_DOT", "no-such-dot")  # a program named, and missing
    with pytest.raises(RendererNotFound, match="MICROGRADX_DOT='no-such-dot'"):
        draw_graph(loss).svg()
    with pytest.raises(ValueError, match="layout must be one of 'auto', 'dot', 'python'"):
        draw_graph(loss, layout="neato")


def test_a_plain_install_draws_in_a_fresh_interpreter_without_site_packages(tmp_path):
    """As after ``pip install microgradx`` with no extras: no site-packages (no graphviz
    package), no program on the PATH or beside the interpreter (the base Python, not the
    virtual environment's, which has graphviz-pure); the drawing and a frame still display."""
    python = getattr(sys, "_base_executable", sys.executable)
    code = (
        "import sys, xml.etree.ElementTree as ET; sys.path.insert(0, sys.argv[1])\n"
        "from microgradx import Value\n"
        "from microgradx.nn import MLP\n"
        "from microgradx.viz import draw_graph, trace_backward\n"
        "assert 'graphviz' not in sys.modules\n"
        "loss = (MLP(2, [3, 1], seed=0)([Value(0.5), Value(-1.0)]) - 1.0) ** 2\n"
        "loss.backward()\n"
        "for view in (draw_graph(loss, level='neuron'), trace_backward(loss).frame(0)):\n"
        "    bundle = view._repr_mimebundle_()\n"
        "    ET.fromstring(bundle['image/svg+xml'])\n"
        "    print(view.layout_used(), bundle['text/html'][:30])\n"
    )
    result = subprocess.run(
        [python, "-I", "-S", "-c", code, str(ROOT)],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['python <div class="mgx-picture" style'] * 2


def test_the_own_layout_can_be_asked_for_and_saved(tmp_path):
    view = draw_graph(_network(), level="neuron", layout="python")
    assert view.layout_used() == "python"
    texts = _check_layout(view.svg())
    assert OWN_LAYOUT_NOTE not in texts  # asked for: nothing to explain
    assert view.save(tmp_path / "g.svg").read_text(encoding="utf-8") == view.svg()
    assert view.zoomed(3.0).layout == "python"


# ---- the same drawing as Graphviz's -------------------------------------------------------------


@pytest.mark.parametrize("renderer", RENDERERS, ids=lambda r: Path(r).name)
def test_the_own_layout_shows_the_texts_graphviz_shows(renderer):
    if renderer.startswith("missing:"):
        pytest.fail(f"{renderer[8:]} is required in CI but not installed")
    for kind, view in _views().items():
        graphviz = ET.fromstring(view.svg(renderer))
        theirs = ["".join(t.itertext()).replace("\xa0", " ") for t in graphviz.iter(f"{SVG}text")]
        ours = _check_layout(graph_module.replace(view, layout="python").svg())
        assert Counter(ours) == Counter(t for t in theirs if t.strip()), kind


def test_collapsed_drawings_name_inputs_and_shared_parameters_as_the_lectures_do():
    """By neuron on a mini-batch the parameters every example reads are drawn outside the boxes:
    w²₁₃ and b²₁ (as the step-through names them), not their labels (layers.1.neurons.0.w.2,
    kept as the tooltip); unlabelled inputs are x1, x2 (per example: x1[2])."""
    model = MLP(2, [3, 1], seed=0)
    loss = losses.mse([model([0.5, -1.0]), model([1.0, 2.0])], [1.0, 0.0])
    loss.backward()
    installed = [r for r in RENDERERS if not r.startswith("missing:")]
    for renderer in [None, *installed]:  # None: the own layout
        view = draw_graph(loss, level="neuron", layout="python" if renderer is None else "dot")
        names = {s.cells[0] for s in view.drawing.shapes}
        assert {"w²₁₃", "b²₁", "w¹₂₁", "x1[1]", "x2[2]", "a²₁[2]"} <= names
        assert not any("neurons" in name for name in names)
        root = ET.fromstring(view.svg(renderer))
        texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
        assert "w²₁₃" in texts and "x2[2]" in texts
        assert not any("neurons" in text for text in texts)
    own = ET.fromstring(draw_graph(loss, level="neuron", layout="python").svg())
    titles = ["".join(t.itertext()) for t in own.iter(f"{SVG}title")]
    assert "layers.1.neurons.0.w.2" in titles  # the model's name: the tooltip


def test_each_use_of_a_value_is_its_own_edge_in_the_own_layout():
    a = Value(3.0, label="a")
    root = ET.fromstring(draw_graph(a + a, layout="python").svg())
    paths = [p.get("d") for p in root.find(f"{SVG}g[@class='mgx-edges']")]
    assert len(paths) == 3 and len(set(paths)) == 3  # a to + twice, apart; + to its value


# ---- placing edge labels: near-linear, the same answers -----------------------------------------


def _op_graph(ops: int) -> Value:
    """A deep op-level graph of about ``2 * ops + 8`` nodes, all drawn: each op reads the
    value before it and one of the last 20 (seeded); every edge labelled with its local
    gradient when drawn (``show_local_grads``)."""
    rng = random.Random(0)
    nodes = [Value(rng.uniform(-1, 1), label=f"x{i}") for i in range(8)]
    for k in range(ops):
        a, b = nodes[-1], rng.choice(nodes[-20:])
        nodes.append(a * b if k % 2 else a + b)
    nodes[-1].backward()
    return nodes[-1]


def _label_comparisons(monkeypatch, ops: int) -> tuple[int, int, int]:
    """(pairs of areas compared, spots asked about, labels drawn) while drawing
    ``_op_graph(ops)``'s own layout."""
    grids: list[Any] = []

    class Counted(layout_module.Occupied):
        def __init__(self) -> None:
            super().__init__()
            self.asked = 0
            grids.append(self)

        def free(self, area: Any) -> bool:
            self.asked += 1
            return super().free(area)

    monkeypatch.setattr(layout_module, "Occupied", Counted)
    view = draw_graph(_op_graph(ops), show_local_grads=True, layout="python", max_nodes=10**5)
    labels = view.svg().count('class="edge-label"')
    return sum(g.compared for g in grids), sum(g.asked for g in grids), labels


def test_placing_edge_labels_compares_each_spot_with_the_areas_near_it_not_every_one(monkeypatch):
    # Counted, not timed. Compared with every area placed before it, a spot was compared with
    # hundreds of areas on a graph of a few hundred nodes (half the areas on average), and
    # eight times the graph made about sixty-four times the comparisons: the 3,200-node graph
    # took seconds. With the grid, a spot meets the few areas near it, whatever the size.
    small, small_asked, small_labels = _label_comparisons(monkeypatch, 100)
    large, large_asked, large_labels = _label_comparisons(monkeypatch, 800)
    assert large_labels >= 8 * small_labels  # (a denser graph: more labels per op)
    assert small / small_asked < 8 and large / large_asked < 8, (small, large)
    assert large / large_asked < 2 * small / small_asked  # no growth with the graph's size


_AREA = st.tuples(*[st.integers(-300, 300)] * 4).map(
    lambda a: (min(a[0], a[2]) / 2, min(a[1], a[3]) / 2, max(a[0], a[2]) / 2, max(a[1], a[3]) / 2)
)


@settings(max_examples=200)
@given(placed=st.lists(_AREA, max_size=30), asked=st.lists(_AREA, min_size=1, max_size=10))
def test_the_grid_of_placed_areas_answers_as_comparing_with_every_area_would(placed, asked):
    """Areas on cells' borders (multiples of 64 px, and of 32), touching, inside one another,
    and of no width: ``Occupied.free`` says what the all-pairs test says."""
    grid = layout_module.Occupied()
    for area in placed:
        grid.add(area)
    for area in asked:
        expected = not any(
            a[0] < area[2] and area[0] < a[2] and a[1] < area[3] and area[1] < a[3] for a in placed
        )
        assert grid.free(area) == expected, (area, placed)
