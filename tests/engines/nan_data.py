"""Planted bug: every op's result holds NaN (the class still makes Values)."""

from engine_base import Value as Base


class Value(Base):
    def _new(self, data, children, local):
        out = super()._new(data, children, local)
        out.data = float("nan")
        return out
