"""Planted bug: the edges are keyed by child (a set of children), so a + a counts a once."""

from engine_base import Value as Base


class Value(Base):
    def _edges(self):
        return dict(zip(self._children, self._local)).items()
