"""Planted bug: tanh calls a function that does not exist (a typo), so it always raises."""

import math

from engine_base import Value as Base


class Value(Base):
    def tanh(self):
        t = math.tanhh(self.data)  # the bug
        return self._new(t, (self,), (1.0 - t * t,))
