"""Planted bug: backward() never returns."""

from engine_base import Value as Base


class Value(Base):
    def backward(self):
        while True:
            pass
