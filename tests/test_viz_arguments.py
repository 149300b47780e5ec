"""Every number that sets how a drawing or a step-through is drawn is checked by name.

A ``bool`` is an ``int`` in Python, so ``draw_graph(root, zoom=True)`` used to draw at zoom 1,
and ``zoom=1e-320`` gave a picture 0 px wide. Each public function of ``microgradx.viz`` that
takes such a number (a zoom, a layout's gap, a step's place, a text's length, a plot's
threshold, rate or line) refuses bools and values that give an empty or absurd picture (zero,
negative, subnormal, infinite, NaN, astronomically large) with a TypeError/ValueError naming
the argument, and changes nothing.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from microgradx import Value
from microgradx.nn import MLP
from microgradx.viz import (
    GraphView,
    NetworkPicture,
    draw_graph,
    draw_network,
    plots,
    trace_backward,
)
from microgradx.viz.layout import MAX_COLUMN_GAP, layered
from microgradx.viz.markup import MAX_ZOOM, MIN_ZOOM, dot_escape, picture_html, visible
from microgradx.viz.page import standalone_svg
from microgradx.viz.scene import Box, Edge

# (value, the error it gives): every kind of zoom that draws nothing, or nothing readable
BAD_ZOOMS = [
    (True, TypeError),
    (False, TypeError),
    (np.bool_(True), TypeError),
    ("2", TypeError),
    (0, ValueError),
    (0.0, ValueError),
    (-1.0, ValueError),
    (1e-320, ValueError),  # subnormal: the finding's 0 px picture
    (5e-324, ValueError),
    (MIN_ZOOM / 2, ValueError),
    (MAX_ZOOM * 1.01, ValueError),
    (1e308, ValueError),
    (10**400, ValueError),  # an int too large for a float
    (math.inf, ValueError),
    (-math.inf, ValueError),
    (math.nan, ValueError),
]
IDS = [repr(v)[:20] for v, _ in BAD_ZOOMS]


def _graph() -> Value:
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    loss = a * b + a
    loss.label = "L"
    loss.backward()
    return loss


def _network_picture() -> NetworkPicture:
    return draw_network(MLP(2, [3, 1], seed=0))


def _zoom_takers():
    """Every public way to give a zoom: (name, function of the zoom)."""
    view = draw_graph(_graph(), layout="python")
    picture = _network_picture()
    trace = trace_backward(_graph())
    return {
        "draw_graph": lambda z: draw_graph(_graph(), zoom=z),
        "GraphView.zoomed": view.zoomed,
        "GraphView": lambda z: GraphView(view.source, view.nodes, z),
        "frame": lambda z: trace.frame(0, zoom=z, layout="python"),
        "NetworkPicture.zoomed": picture.zoomed,
        "NetworkPicture": lambda z: NetworkPicture(picture.svg(), 1, 1, z),
        "picture_html": lambda z: picture_html(view.svg(), z),
    }


TAKERS = list(_zoom_takers())


@pytest.mark.parametrize("taker", TAKERS)
@pytest.mark.parametrize(("zoom", "error"), BAD_ZOOMS, ids=IDS)
def test_every_zoom_refuses_bools_and_sizes_that_draw_nothing_or_too_much(taker, zoom, error):
    with pytest.raises(error, match="zoom"):
        _zoom_takers()[taker](zoom)


@pytest.mark.parametrize("taker", TAKERS)
@pytest.mark.parametrize("zoom", [None, MIN_ZOOM, 1, 2.5, MAX_ZOOM, np.float32(0.5)])
def test_every_zoom_takes_none_and_numbers_from_min_to_max_zoom(taker, zoom):
    _zoom_takers()[taker](zoom)


def test_a_refused_zoom_leaves_the_view_as_it_was():
    view = draw_graph(_graph(), layout="python").zoomed(2.0)
    with pytest.raises(TypeError, match="zoom must be a number, not a bool"):
        view.zoomed(True)
    assert view.zoom == 2.0
    picture = _network_picture().zoomed(3)
    with pytest.raises(ValueError, match=r"zoom must be in \[0.05, 20\], got 1e-320"):
        picture.zoomed(1e-320)
    assert picture.zoom == 3.0


def test_a_zoom_is_a_float_however_given():
    assert draw_graph(_graph(), zoom=np.float32(0.5)).zoom == 0.5
    assert type(draw_graph(_graph(), zoom=2).zoom) is float


def test_a_zoom_set_on_a_picture_afterwards_is_checked_where_it_is_drawn():
    picture = _network_picture()
    picture.zoom = True  # type: ignore[assignment]
    with pytest.raises(TypeError, match="zoom"):
        picture._repr_mimebundle_()


def test_a_picture_drawn_under_one_pixel_wide_is_refused_naming_zoom():
    tiny = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"></svg>'
    with pytest.raises(ValueError, match=r"zoom=0\.05 draws this 8 px wide picture"):
        picture_html(tiny, MIN_ZOOM)
    assert "width: 16px" in picture_html(tiny, 2.0)
    empty = '<svg xmlns="http://www.w3.org/2000/svg" width="0" height="0"></svg>'
    with pytest.raises(ValueError, match="zoom"):
        picture_html(empty, 1.0)


# ---- the own layout's gap --------------------------------------------------------------------

BAD_GAPS = [
    (True, TypeError),
    (np.bool_(False), TypeError),
    (None, TypeError),
    (-1.0, ValueError),
    (-5e-324, ValueError),
    (MAX_COLUMN_GAP + 1, ValueError),
    (1e308, ValueError),
    (math.inf, ValueError),
    (math.nan, ValueError),
]


@pytest.mark.parametrize(("gap", "error"), BAD_GAPS, ids=[repr(g) for g, _ in BAD_GAPS])
def test_the_own_layouts_column_gap_is_checked_before_any_box_moves(gap, error):
    boxes = [Box("a", ["a"]), Box("b", ["b"])]
    with pytest.raises(error, match="column_gap"):
        layered(boxes, [Edge("a", "b")], column_gap=gap)
    assert (boxes[0].x, boxes[0].y, boxes[1].x) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize("gap", [0, 0.0, 36.0, MAX_COLUMN_GAP])
def test_the_own_layouts_column_gap_takes_zero_to_its_maximum(gap):
    placed = layered([Box("a", ["a"]), Box("b", ["b"])], [Edge("a", "b")], column_gap=gap)
    assert placed.width > 0 and placed.height > 0


# ---- a step's place ----------------------------------------------------------------------------

BAD_STEPS = [
    (True, TypeError),
    (False, TypeError),
    (1.0, TypeError),
    (math.nan, TypeError),
    ("0", TypeError),
    (10**6, ValueError),
    (-(10**6), ValueError),
]


@pytest.mark.parametrize(("i", "error"), BAD_STEPS, ids=[repr(i) for i, _ in BAD_STEPS])
@pytest.mark.parametrize("where", ["frame", "frame_text", "state", "scene.state", "look", "svg"])
def test_every_step_place_is_an_int_among_the_steps(where, i, error):
    trace = trace_backward(_graph())
    data = trace.page_data(layout="python")
    call = {
        "frame": lambda: trace.frame(i, layout="python"),
        "frame_text": lambda: trace.frame_text(i),
        "state": lambda: data.state(i),
        "scene.state": lambda: data.scene.state(i),
        "look": lambda: data.scene.look(data.scene.boxes[0].id, i),
        "svg": lambda: standalone_svg(data, i),
    }[where]
    with pytest.raises(error, match=r"\bi\b"):
        call()


def test_a_step_place_counts_from_the_end_as_a_list_does():
    data = trace_backward(_graph()).page_data(layout="python")
    last = len(data.steps) - 1
    assert data.state(-1) == data.state(last)
    assert standalone_svg(data, -1) == standalone_svg(data, last)
    box = data.scene.boxes[0].id
    assert data.scene.look(box, -1) == data.scene.look(box, last)
    with pytest.raises(ValueError, match="element"):
        data.scene.look("no such box", 0)


# ---- a text's length ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "error"),
    [(True, TypeError), (2.5, TypeError), (0, ValueError), (-3, ValueError)],
)
@pytest.mark.parametrize("function", [visible, dot_escape])
def test_a_text_limit_is_a_count_of_characters(function, limit, error):
    with pytest.raises(error, match="limit"):
        function("a long label", limit)


def test_a_text_limit_of_one_leaves_the_ellipsis():
    assert visible("abc", 1) == "…"
    assert visible("abc", None) == "abc"


# ---- the plots' numbers ------------------------------------------------------------------------


def _model_and_points():
    return MLP(2, [3, 1], seed=0), [[0.0, 1.0], [1.0, 0.0]], [0, 1]


BAD_NUMBERS = [(True, TypeError), (np.bool_(True), TypeError), (math.nan, ValueError)]
BAD_NUMBERS += [(math.inf, ValueError), (-math.inf, ValueError), (10**400, ValueError)]


NUMBER_IDS = [repr(v)[:12] for v, _ in BAD_NUMBERS]


@pytest.mark.parametrize(("value", "error"), BAD_NUMBERS, ids=NUMBER_IDS)
@pytest.mark.parametrize("where", ["threshold", "lr", "interval[0]", "interval[1]", "line[1]"])
def test_the_plots_numbers_refuse_bools_and_non_finite_values_by_name(where, value, error):
    model, X, y = _model_and_points()
    call = {
        "threshold": lambda: plots.decision_boundary(model, X, y, threshold=value),
        "lr": lambda: plots.universal_approximation(lr=value),
        "interval[0]": lambda: plots.universal_approximation(interval=(value, 4.0)),
        "interval[1]": lambda: plots.universal_approximation(interval=(-4.0, value)),
        "line[1]": lambda: plots.scatter(X, y, line=(0.0, value, 1.0)),
    }[where]
    with pytest.raises(error, match=re.escape(where)):
        call()


@pytest.mark.parametrize("lr", [0, 0.0, -0.1])
def test_a_learning_rate_must_be_positive(lr):
    with pytest.raises(ValueError, match="lr"):
        plots.universal_approximation(lr=lr)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("resolution", True, TypeError),
        ("resolution", 1, ValueError),
        ("resolution", plots.MAX_RESOLUTION + 1, ValueError),
        ("resolution", 60.0, TypeError),
    ],
)
def test_a_decision_boundarys_resolution_is_a_bounded_count(name, value, error):
    model, X, y = _model_and_points()
    with pytest.raises(error, match=name):
        plots.decision_boundary(model, X, y, **{name: value})


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("side", True, TypeError),
        ("side", 0, ValueError),
        ("columns", True, TypeError),
        ("columns", 0, ValueError),
        ("columns", plots.MAX_COLUMNS + 1, ValueError),
    ],
)
def test_an_image_grids_sizes_are_bounded_counts(name, value, error):
    with pytest.raises(error, match=name):
        plots.image_grid([[0.0] * 4], **{"side": 2, name: value})


@pytest.mark.parametrize("bins", [True, 0, -1, plots.MAX_BINS + 1, 2.0])
def test_a_histograms_bins_are_a_bounded_count(bins):
    with pytest.raises((TypeError, ValueError), match="bins"):
        plots.gradient_histograms(MLP(2, [3, 1], seed=0), bins=bins)


def test_an_image_grid_of_fewer_images_than_columns_is_one_row_of_just_them():
    figure = plots.image_grid([[0.0, 1.0, 1.0, 0.0]] * 3, side=2, columns=10)
    assert len(figure.axes) == 3  # not ten places, seven of them empty
    assert figure.get_size_inches()[0] == pytest.approx(3 * 0.9)
