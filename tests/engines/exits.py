"""Planted bug: backward() calls sys.exit(3)."""

import sys

from engine_base import Value as Base


class Value(Base):
    def backward(self):
        sys.exit(3)
