"""Graph drawings (both renderers, real SVG parsed) and plots (what the figures contain)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from microgradx import Value, losses
from microgradx.data import make_moons
from microgradx.nn import MLP, Layer, Sequential
from microgradx.optim import Adam
from microgradx.train import fit
from microgradx.viz import (
    RendererNotFound,
    draw_graph,
    find_renderer,
    plots,
    render,
    trace_backward,
)
from microgradx.viz.style import lecture_text

SVG = "{http://www.w3.org/2000/svg}"


def _renderers() -> list[str]:
    """Both renderers; in CI (MICROGRADX_REQUIRE_RENDERERS=1) a missing one is a failure."""
    found = []
    beside = Path(sys.executable).parent / "graphviz-pure"
    for name, path in [
        ("dot", shutil.which("dot")),
        (
            "graphviz-pure",
            shutil.which("graphviz-pure") or (str(beside) if beside.exists() else None),
        ),
    ]:
        if path:
            found.append(path)
        elif os.environ.get("MICROGRADX_REQUIRE_RENDERERS") == "1":
            found.append(f"missing:{name}")
    return found


RENDERERS = _renderers()


@pytest.mark.parametrize(
    "renderer", [r for r in RENDERERS if r in ("missing:dot",) or Path(r).name == "dot"]
)
def test_the_readmes_graph_picture_is_what_the_demo_draws_now(renderer, tmp_path):
    """docs/images/neuron_graph.svg is `make demo`'s drawing (the README says so): the same
    texts in the same fonts as the demo's neuron drawn now by Graphviz's dot (the layout's
    coordinates may differ between Graphviz versions; what a reader sees may not)."""
    if renderer.startswith("missing:"):
        pytest.fail("dot is required in CI but not installed")
    from microgradx.cli import neuron

    o, _ = neuron()
    trace_backward(o)  # the demo's backward pass: the gradients drawn
    drawn = draw_graph(o, show_local_grads=True).save(tmp_path / "g.svg", renderer).read_text()
    docs = Path(__file__).resolve().parents[1] / "docs" / "images"
    copy = (docs / "neuron_graph.svg").read_text()

    def seen(svg: str) -> tuple[list[str], list[str]]:
        return _texts(svg), sorted(re.findall(r'font-family="([^"]*)"', svg))

    assert seen(copy) == seen(drawn), "regenerate it: microgradx demo --out DIR, copy the .svg"


def _texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # well-formed XML or an exception
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def _neuron():
    x, w, b = Value(2.0, label="x"), Value(-3.0, label="w"), Value(6.8813735870195432, label="b")
    n = x * w + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o


@pytest.mark.parametrize("renderer", RENDERERS, ids=lambda r: Path(r).name)
def test_every_node_label_is_in_the_rendered_svg(renderer):
    if renderer.startswith("missing:"):
        pytest.fail(f"{renderer[8:]} is required in CI but not installed")
    texts = _texts(draw_graph(_neuron()).svg(renderer))
    for expected in ["x", "w", "b", "n", "o", "tanh", "*", "+", "data 0.7071", "grad 0.5"]:
        assert expected in texts, expected


@pytest.mark.parametrize("renderer", RENDERERS, ids=lambda r: Path(r).name)
def test_labels_are_escaped_for_dot_svg_and_html(renderer):
    if renderer.startswith("missing:"):
        pytest.fail(f"{renderer[8:]} is required in CI but not installed")
    a = Value(1.0, label='<b>"x"</b>')
    b = Value(2.0, label="<script>alert(1)</script> & {|}")
    texts = _texts(draw_graph(a * b).svg(renderer))
    assert '<b>"x"</b>' in texts
    assert "<script>alert(1)</script> & {|}" in texts


def test_output_is_deterministic():
    assert draw_graph(_neuron()).source == draw_graph(_neuron()).source


def test_a_value_used_twice_by_one_op_has_two_edges():
    a = Value(3.0, label="a")
    source = draw_graph(a + a).source
    assert source.count("v0 -> o1") == 2


def test_local_gradients_label_the_edges():
    source = draw_graph(_neuron(), show_local_grads=True).source
    assert "label=0.5" in source  # d tanh / dn at n = 0.8814
    assert "label=-3" in source  # d(x*w)/dx = w


def test_highlight_marks_nodes_and_the_edges_between_them():
    x, w = Value(2.0, label="x"), Value(-3.0, label="w")
    xw = x * w
    source = draw_graph(xw.tanh(), highlight=[x, xw]).source
    assert source.count('COLOR="#d62728"') == 2
    assert 'v0 -> o2 [color="#d62728"' in source or 'v1 -> o2 [color="#d62728"' in source


def test_colour_by_gradient_has_a_legend():
    source = draw_graph(_neuron(), color_by="grad").source
    assert "legend" in source and "|grad|" in source


def test_roles_are_coloured():
    model = MLP(2, [2, 1])
    loss = losses.mse(model([1.0, 2.0]), 0.5)
    source = draw_graph(loss).source
    for colour in ("#cfe2ff", "#ffe08a", "#f1f1f1"):  # parameter, output, constant
        assert colour in source


def test_mlp_collapsed_by_layer_and_by_neuron():
    model = MLP(2, [16, 16, 1], seed=0)
    loss = losses.bce_with_logits(model([0.5, -1.0]), 1)
    loss.backward()
    by_layer = draw_graph(loss, level="layer")
    # named as the lectures name them, not by module (layers.0): layer l, a^l_j
    for name in ("layer 1", "layer 2", "layer 3"):
        assert by_layer.source.count(f"<TD>{name}</TD>") == 1
    assert by_layer.source.count("<TD>16 tanh neurons</TD>") == 2
    assert "<TD>1 linear neuron</TD>" in by_layer.source
    assert "layers." not in by_layer.source
    assert by_layer.nodes < 30
    by_neuron = draw_graph(loss, level="neuron")
    assert "layers." not in by_neuron.source
    for j in range(1, 17):
        assert by_neuron.source.count(f"<TD>{lecture_text(f'a2_{j}')}</TD>") == 1
    assert by_neuron.nodes < 60
    texts = _texts(by_layer.svg())
    assert "layer 2" in texts
    full = draw_graph(loss)
    assert full.nodes > 1000  # what collapsing saves


def test_too_many_nodes_suggests_a_coarser_level():
    model = MLP(2, [16, 16, 1])
    with pytest.raises(ValueError, match="level='layer'"):
        draw_graph(model([1.0, 1.0]), max_nodes=100)


def test_save_svg_png_and_dot(tmp_path):
    view = draw_graph(_neuron())
    assert view.save(tmp_path / "g.svg").read_text().startswith("<?xml")
    assert view.save(tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert view.save(tmp_path / "g.dot").read_text() == view.source
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.dot"):
        view.save(tmp_path / "g.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot", "g.png", "g.svg"]


def test_jupyter_display_gives_svg():
    bundle = draw_graph(_neuron())._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_no_renderer_gives_install_instructions(monkeypatch, tmp_path):
    monkeypatch.delenv("MICROGRADX_DOT", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(RendererNotFound) as info:
        find_renderer()
    message = str(info.value)
    for hint in (
        "apt-get install graphviz",
        "brew install graphviz",
        "conda install",
        "pip install",
    ):
        assert hint in message
    # asked for Graphviz by name: the instructions, not a traceback (nor another layout)
    bundle = draw_graph(_neuron(), layout="dot")._repr_mimebundle_()
    assert "apt-get install graphviz" in bundle["text/plain"]
    with pytest.raises(RendererNotFound, match="apt-get install graphviz"):
        draw_graph(_neuron(), layout="dot").svg()
    # by default: microgradx's own layout (tests/test_own_layout.py), but a PNG needs Graphviz
    assert "image/svg+xml" in draw_graph(_neuron())._repr_mimebundle_()
    with pytest.raises(RendererNotFound, match=r"a PNG needs a Graphviz program \(save g\.svg"):
        draw_graph(_neuron()).save(tmp_path / "g.png")
    assert not (tmp_path / "g.png").exists()


def test_microgradx_dot_overrides_the_choice(monkeypatch):
    pure = [r for r in RENDERERS if "graphviz-pure" in r and not r.startswith("missing:")]
    if not pure:
        pytest.skip("graphviz-pure is not installed (pip install graphviz-pure); CI installs it")
    monkeypatch.setenv("MICROGRADX_DOT", pure[0])
    assert find_renderer() == pure[0]
    assert "graphviz-pure" in render("digraph { a -> b }").decode()
    monkeypatch.setenv("MICROGRADX_DOT", "/no/such/dot")
    with pytest.raises(RendererNotFound, match="MICROGRADX_DOT"):
        find_renderer()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rankdir": "XY"}, "rankdir"),
        ({"color_by": "size"}, "color_by"),
        ({"level": "module"}, "level"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw_graph(_neuron(), **kwargs)
    with pytest.raises(TypeError, match=r"root must be a Value, got float 3\.0"):
        draw_graph(3.0)


@pytest.mark.parametrize("renderer", RENDERERS, ids=lambda r: Path(r).name)
def test_a_renderer_refusing_the_source_or_the_format_names_which(renderer):
    from microgradx.viz.graph import RenderError

    # It was a bare RuntimeError naming neither; it still is a RuntimeError, and a ValueError.
    with pytest.raises(RenderError, match=r"could not render source .*syntax error"):
        render("digraph { a -> }", "svg", renderer)
    with pytest.raises(ValueError, match=r"fmt='pnj' is not a format .* writes"):
        render("digraph { a -> b }", "pnj", renderer)
    with pytest.raises(RuntimeError):
        render("not dot", "svg", renderer)
    with pytest.raises(ValueError, match="fmt must be a Graphviz output format"):
        render("digraph { a -> b }", "svg -o out.svg", renderer)
    with pytest.raises(TypeError, match=r"renderer must be a str or a pathlib\.Path, got int 3"):
        render("digraph { a -> b }", "svg", 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source must be a str, got bytes"):
        render(b"digraph { a -> b }", "svg", renderer)  # type: ignore[arg-type]


def test_draw_graph_checks_every_argument_before_drawing():
    o = _neuron()
    x = o.children[0].children[0].children[0]
    import numpy as np

    for kwargs, error, message in [
        ({"show_grad": np.array([True])}, TypeError, "show_grad must be True or False"),
        ({"highlight": x}, TypeError, "highlight must be a list of Values, got Value"),
        ({"dimmed": [x, 1.0]}, TypeError, r"dimmed\[1\] must be a Value, got float"),
        ({"grads": {x: "1"}}, TypeError, r"grads\['x'\] must be a real number, got str"),
        ({"grads": {"x": 1.0}}, TypeError, "grads keys must be a Value, got str"),
        ({"max_nodes": 0}, ValueError, "max_nodes must be an int >= 1, got 0"),
        ({"level": np.array(["layer"])}, TypeError, "level must be one of 'op'"),
    ]:
        with pytest.raises(error, match=message):
            draw_graph(o, **kwargs)


# ---- plots --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained():
    X, y = make_moons(60, noise=0.1, seed=0)
    model = MLP(2, [8, 8, 1], "relu", seed=0)
    history = fit(
        model, X, y, loss="bce_with_logits", optimizer=Adam(model.parameters(), lr=0.05),
        epochs=8, batch_size=20, validation=(X[:20], y[:20]), progress=False,
    )  # fmt: skip
    return model, X, y, history


def test_decision_boundary_shows_regions_data_and_classes(trained):
    model, X, y, _ = trained
    fig = plots.decision_boundary(model, X, y, resolution=30)
    (ax,) = fig.axes
    x0, x1 = ax.get_xlim()
    assert x0 < min(p[0] for p in X) and x1 > max(p[0] for p in X)
    from matplotlib.collections import PathCollection
    from matplotlib.contour import ContourSet

    scatters = [c for c in ax.collections if type(c) is PathCollection]
    assert [len(c.get_offsets()) for c in scatters] == [y.count(0), y.count(1)]
    assert sum(isinstance(c, ContourSet) for c in ax.collections) == 2  # regions and the boundary
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]


def test_training_curves_plot_every_epoch(trained):
    *_, history = trained
    fig = plots.training_curves(history)
    loss_ax, acc_ax = fig.axes
    lines = loss_ax.get_lines()
    assert len(lines) == 2
    assert list(lines[0].get_ydata()) == history.loss
    assert list(lines[1].get_ydata()) == history.val_loss
    assert list(acc_ax.get_lines()[0].get_ydata()) == history.accuracy


def test_dead_relu_units_are_counted():
    layer = Layer(2, 4, "relu")
    layer.neurons[1].b.data = -100.0  # never active for inputs of size ~1
    layer.neurons[3].b.data = -100.0
    model = Sequential(layer, Layer(4, 1, None))
    X = [[0.5, -0.2], [1.0, 0.3], [-0.7, 0.9]]
    assert plots.dead_units(model, X)[0] == 2
    fig = plots.activation_histograms(model, X)
    assert "2 of 4 units dead" in fig.axes[0].get_title()


def test_gradient_histograms_count_zero_gradients(trained):
    model, X, y, _ = trained
    model.zero_grad()
    losses.bce_with_logits([model(x) for x in X], y).backward()
    fig = plots.gradient_histograms(model)
    assert len(fig.axes) == 3
    assert all("grads are 0" in ax.get_title() for ax in fig.axes)
    assert sum(p.get_height() for p in fig.axes[0].patches) > 0


def test_universal_approximation_fits_and_draws_each_unit():
    fig, model = plots.universal_approximation(hidden=6, epochs=150, points=25)
    (ax,) = fig.axes
    assert len(ax.get_lines()) == 1 + 6 + 1  # target, one line per hidden unit, the model
    xs = [-3.0 + 6.0 * i / 24 for i in range(25)]
    error = sum((model([x]).data - __import__("math").sin(x)) ** 2 for x in xs) / len(xs)
    assert error < 0.05


# ---- the network as teachers draw it ------------------------------------------------------------


def test_network_picture_has_a_circle_per_neuron_and_an_edge_per_weight():
    from microgradx.nn import MLP
    from microgradx.viz import NetworkPicture, draw, draw_network

    model = MLP(2, [3, 1], seed=0)
    picture = draw_network(model)
    svg = picture.svg()
    assert isinstance(picture, NetworkPicture) and draw(model).svg() == svg
    assert svg.count("<circle") == 2 + 3 + 1
    assert svg.count("<line") == 2 * 3 + 3 * 1 == picture.edges
    weights = [w for layer in model.layers for n in layer.neurons for w in n.w]
    widths = [float(x) for x in re.findall(r'stroke-width="([0-9.]+)"', svg)]
    biggest = max(abs(w.data) for w in weights)
    assert widths == [pytest.approx(0.4 + 5.0 * abs(w.data) / biggest, abs=0.01) for w in weights]
    colours = re.findall(r'<line[^>]*stroke="(#[0-9a-f]+)"', svg)
    assert colours == ["#1f77b4" if w.data >= 0 else "#d62728" for w in weights]
    assert "layers.0.neurons.2.w.1" in svg  # every edge's tooltip names its weight


def test_network_picture_shows_outputs_for_an_input_and_colours_by_gradient(tmp_path):
    from microgradx import losses
    from microgradx.nn import MLP
    from microgradx.viz import draw_network

    model = MLP(2, [3, 1], seed=0)
    out = model([0.5, -1.0])
    losses.mse(out, 1.0).backward()
    svg = draw_network(model, [0.5, -1.0], color_by="grad").svg()
    assert f">{out.data:.2f}<" in svg and ">-1.00<" in svg
    assert "|dL/dw|" in svg
    path = draw_network(model).save(tmp_path / "net.svg")
    assert path.read_text().startswith("<svg")
    with pytest.raises(ValueError, match=r"path must end in \.svg"):
        draw_network(model).save(tmp_path / "net.png")
    with pytest.raises(ValueError, match="color_by must be one of 'sign', 'grad'"):
        draw_network(model, color_by="size")
    with pytest.raises(TypeError, match="model must be an MLP, a Sequential"):
        draw_network(Value(1.0))  # type: ignore[arg-type]


def test_a_plot_shows_once_in_a_notebook(tmp_path):
    """The inline backend draws open figures at the end of a cell; the returned figure is drawn
    too. Plots detach their figure from pyplot, so the picture appears once, not twice."""
    import nbclient  # both come with nbmake, which the test extra installs
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(
        nbformat.v4.new_code_cell(
            "from microgradx.data import make_moons\n"
            "from microgradx.nn import MLP\n"
            "from microgradx.train import fit\n"
            "from microgradx.viz import plots\n"
            "X, y = make_moons(20, seed=0)\n"
            "model = MLP(2, [3, 1], seed=0)\n"
            "history = fit(model, X, y, loss='bce_with_logits', epochs=2, progress=False)\n"
            "plots.activation_histograms(model, X)"
        )
    )
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    images = [o for o in notebook.cells[0].outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1


def test_plots_take_numpy_arrays_and_check_their_arguments_by_name(trained):
    import numpy as np

    model, X, y, _ = trained
    fig = plots.decision_boundary(model, np.array(X), np.array(y), resolution=5)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["class 0", "class 1"]
    assert plots.dead_units(model, np.array(X)) == plots.dead_units(model, X)
    for call, error, message in [
        (lambda: plots.decision_boundary(model, X, y[:-1]), ValueError, "X has 60 rows but y"),
        (
            lambda: plots.decision_boundary(model, X, [0.5] * 60),
            TypeError,
            r"y\[0\] must be an int",
        ),
        (lambda: plots.dead_units(model, [[0.0, 1.0, 2.0]]), ValueError, r"X\[0\] has 3 numbers"),
        (lambda: plots.dead_units(model.layers[0], []), ValueError, "X is empty"),
        (lambda: plots.training_curves(fit), TypeError, "history must be a History"),
        (lambda: plots.scatter([[0.0, 1.0]], [0], line=(1.0, 0.0, 0.0)), ValueError, "a or b"),
        (lambda: plots.scatter([[0.0, 1.0]], [0], names=[1]), TypeError, r"names\[0\] must be"),
        (lambda: plots.curves({"a": ([1, 2], [1])}), ValueError, r"series\['a'\] has 2 xs"),
        (lambda: plots.curves({"a": ([1], [1])}, panels=[["b"]]), ValueError, r"panels\[0\]\[0\]"),
        (lambda: plots.image_grid([[0.0] * 4], side=3), ValueError, "not side \\* side"),
        (lambda: plots.image_grid([[0.0] * 4], side=2, cmap=3), TypeError, "cmap must be"),
        (lambda: plots.universal_approximation(str), TypeError, r"target\(-3\.14159\) must be"),
        (lambda: plots.universal_approximation(interval=(1, 1)), ValueError, "lo < hi"),
    ]:
        with pytest.raises(error, match=message):
            call()


def test_a_confusion_matrix_refuses_a_class_outside_instead_of_counting_it_elsewhere():
    # actual=-1 was counted in the last row (a list's -1), actual=2 an IndexError
    for bad in ([0, -1], [0, 2]):
        with pytest.raises(ValueError, match=r"actual\[1\] must be an int"):
            plots.confusion_matrix([0, 1], bad, 2)
    with pytest.raises(ValueError, match="predicted has 2 classes but actual has 1"):
        plots.confusion_matrix([0, 1], [0], 2)
    assert plots.confusion_matrix([0, 1], [0, 0], 2).matrix == [[1, 1], [0, 0]]


def test_draw_network_checks_its_input_and_draw_names_obj():
    from microgradx.viz import draw, draw_network

    model = MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match=r"x must hold 2 numbers \(one per input\), got 3"):
        draw_network(model, [0.5, -1.0, 2.0])
    with pytest.raises(TypeError, match=r"x\[1\] must be a real number, got str"):
        draw_network(model, [0.5, "1"])
    assert draw_network(model, [0.5, Value(-1.0)]).svg() == draw_network(model, [0.5, -1.0]).svg()
    with pytest.raises(TypeError, match="obj must be a Value or a microgradx Module, got str"):
        draw("model")


def test_drawings_read_a_gradient_cleared_to_none_as_0():
    # zero_grad() clears to None (torch's set_to_none=True); what shows a gradient reads it as
    # the 0 that backward() starts it from, as it showed the 0.0 of set_to_none=False
    from microgradx.viz import draw_network

    model = MLP(2, [3, 1], seed=0)
    model.zero_grad(set_to_none=False)
    zeros = (
        draw_network(model, [0.5, -1.0], color_by="grad").svg(),
        draw_graph(model([1, 2]), color_by="grad"),
    )
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    nones = (
        draw_network(model, [0.5, -1.0], color_by="grad").svg(),
        draw_graph(model([1, 2]), color_by="grad"),
    )
    assert nones[0] == zeros[0]
    assert nones[1].source == zeros[1].source
    fig = plots.gradient_histograms(model)
    assert all("grads are 0" in ax.get_title() for ax in fig.axes)


def test_draw_network_names_neurons_and_weights_as_the_step_through_does():
    from microgradx.viz import draw_network

    model = MLP(2, [3, 1], seed=0)
    svg = draw_network(model).svg()
    assert "<title>layers.1.neurons.0 = a2_1 (linear), b2_1 = " in svg
    assert re.search(r"<title>layers.0.neurons.2.w.1 = \S+, grad 0 \(w1_3_2\)</title>", svg)


# ---- the layout of both renderers: no text runs into another -------------------------------------

# The widest a character of a monospace font is drawn (DejaVu Sans Mono: 0.602 em; Courier and
# Liberation Mono: 0.6 em): the drawings' text is monospace, so a box sized for it fits it in
# any browser, whichever monospace font it has.
MONO_EM = 0.61


def _text_boxes(svg: str) -> tuple[list[tuple[str, tuple[float, ...]]], list[tuple[float, ...]]]:
    """Every text element's box (x0, y0, x1, y1) from its anchor, font size and characters in a
    monospace font, and every polygon's and ellipse's bounding box (the cells and circles)."""
    root = ET.fromstring(svg)
    texts, shapes = [], []
    for element in root.iter():
        tag = element.tag.removeprefix(SVG)
        if tag == "text":
            text = "".join(element.itertext())
            size = float(element.get("font-size", "14"))
            assert "monospace" in element.get("font-family", ""), element.get("font-family")
            width = len(text) * MONO_EM * size
            x, y = float(element.get("x", "0")), float(element.get("y", "0"))
            anchor = element.get("text-anchor", "start")
            x0 = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
            texts.append((text, (x0, y - 0.8 * size, x0 + width, y + 0.2 * size)))
        elif tag == "polygon" and element.get("fill") == "none":  # a cell's border
            points = [tuple(map(float, p.split(","))) for p in element.get("points", "").split()]
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            shapes.append((min(xs), min(ys), max(xs), max(ys)))
        elif tag == "ellipse":  # an op's circle
            cx, cy = float(element.get("cx", "0")), float(element.get("cy", "0"))
            rx, ry = float(element.get("rx", "0")), float(element.get("ry", "0"))
            shapes.append((cx - rx, cy - ry, cx + rx, cy + ry))
    return texts, shapes


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5


def _inside(inner: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    return (
        outer[0] - 0.5 <= inner[0]
        and inner[2] <= outer[2] + 0.5
        and outer[1] - 1 <= inner[1]
        and inner[3] <= outer[3] + 1
    )


def _labelled_network():
    from microgradx.nn import MLP

    model = MLP(2, [3, 1], activation="tanh", seed=0)
    x = [Value(0.5, label="x1"), Value(-1.0, label="x2")]
    loss = (model(x) - 1.0) ** 2
    loss.backward()
    return loss


def _batch_network():
    """A 2-16-16-1 network on two unlabelled examples: 32 neuron boxes ("neurons.45 ops" ran
    together in such boxes with graphviz-pure)."""
    model = MLP(2, [16, 16, 1], seed=0)
    loss = losses.bce_with_logits([model([0.5, -1.0]), model([1.0, 0.25])], [1, 0])
    loss.backward()
    return loss


@pytest.mark.parametrize("renderer", RENDERERS, ids=lambda r: Path(r).name)
@pytest.mark.parametrize("level", ["op", "neuron", "layer", "batch-neuron"])
def test_no_text_runs_into_another_and_each_fits_its_box_with_either_renderer(renderer, level):
    """Graphviz and graphviz-pure size a box from their font metrics; the text is drawn by the
    viewer's fonts. graphviz-pure's Helvetica metrics are narrower than the sans-serif fonts a
    browser falls back to ("neurons.45 ops" ran together): in a monospace font every renderer
    and every browser agree on the width. Each text's box (monospace widths) lies in its cell
    or circle, and no two overlap. (The same for microgradx's own layout, without Graphviz:
    tests/test_own_layout.py.)"""
    if renderer.startswith("missing:"):
        pytest.fail(f"{renderer[8:]} is required in CI but not installed")
    loss = _batch_network() if level == "batch-neuron" else _labelled_network()
    level = level.removeprefix("batch-")
    views = [draw_graph(loss, level=level, show_local_grads=level == "op")]
    if level == "op":
        views.append(trace_backward(loss).frame(2))  # a frame: its caption and marks too
    for view in views:
        texts, shapes = _text_boxes(view.svg(renderer))
        assert len(texts) > 10
        for k, (text, box) in enumerate(texts):
            for other, other_box in texts[k + 1 :]:
                assert not _overlap(box, other_box), f"{text!r} runs into {other!r}"
        for text, box in texts:
            around = [
                s
                for s in shapes
                if s[0] <= box[0] + 0.5 * (box[2] - box[0]) <= s[2]
                and s[1] <= (box[1] + box[3]) / 2 <= s[3]
            ]
            if not around:  # an edge's label or the caption: free-standing text
                continue
            smallest = min(around, key=lambda s: (s[2] - s[0]) * (s[3] - s[1]))
            assert _inside(box, smallest), f"{text!r} does not fit its box {smallest}"
