"""Planted bug: a recursive topological sort (as micrograd's), one frame per node."""

from engine_base import Value as Base


class Value(Base):
    def _topo(self):
        order, seen = [], set()

        def build(v):
            if id(v) not in seen:
                seen.add(id(v))
                for child in v._children:
                    build(child)
                order.append(v)

        build(self)
        return order
