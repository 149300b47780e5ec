"""Planted bug: tanh's local derivative is 1 - t instead of 1 - t**2."""

import math

from engine_base import Value as Base


class Value(Base):
    def tanh(self):
        t = math.tanh(self.data)
        return self._new(t, (self,), (1.0 - t,))
