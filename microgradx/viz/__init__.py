"""Seeing what the engine does: compute-graph drawings (``viz.graph``) and plots (``viz.plots``).

Needs the extras: ``pip install 'microgradx[viz]'`` for graphs, ``'microgradx[plot]'`` for plots.
"""

from microgradx.viz.graph import GraphView, RendererNotFound, draw_graph, find_renderer, render
from microgradx.viz.trace import BackwardTrace, ForwardTrace, trace_backward, trace_forward

__all__ = [
    "BackwardTrace",
    "ForwardTrace",
    "GraphView",
    "RendererNotFound",
    "draw_graph",
    "find_renderer",
    "render",
    "trace_backward",
    "trace_forward",
]
