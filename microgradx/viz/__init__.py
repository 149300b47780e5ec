"""Seeing what the engine does: compute-graph drawings (``viz.graph``) and plots (``viz.plots``).

Needs the extras: ``pip install 'microgradx[viz]'`` for graphs, ``'microgradx[plot]'`` for plots.
"""

from microgradx.viz.graph import GraphView, RendererNotFound, draw_graph, find_renderer, render

__all__ = ["GraphView", "RendererNotFound", "draw_graph", "find_renderer", "render"]
