"""Seeing what the engine does: compute graphs (``viz.graph``), networks drawn as teachers draw
them (``viz.network``), backprop step by step (``viz.trace``: recorded once, pictured by one
scene, ``viz.scene``, that the page and the text frames render; names and colours in
``viz.style``) and plots (``viz.plots``).

Graphs are laid out by Graphviz when a program is installed (``pip install 'microgradx[viz]'``
brings graphviz-pure), and by microgradx's own layout otherwise (in a browser too); the
step-through page and the network picture need nothing either; plots need ``'microgradx[plot]'``.
"""

from microgradx.viz.graph import (
    GraphView,
    RendererNotFound,
    RenderError,
    draw_graph,
    find_renderer,
    render,
)
from microgradx.viz.network import NetworkPicture, draw, draw_network
from microgradx.viz.trace import BackwardTrace, ForwardTrace, trace_backward, trace_forward

__all__ = [
    "BackwardTrace",
    "ForwardTrace",
    "GraphView",
    "NetworkPicture",
    "RenderError",
    "RendererNotFound",
    "draw",
    "draw_graph",
    "draw_network",
    "find_renderer",
    "render",
    "trace_backward",
    "trace_forward",
]
