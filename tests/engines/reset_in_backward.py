"""Planted bug: backward() sets each gradient to this pass's instead of adding to it."""

from engine_base import Value as Base


class Value(Base):
    def _store(self, node, g):
        node.grad = g
