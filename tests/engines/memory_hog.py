"""Planted bug: backward() asks for 3 GiB (past the checker's memory limit of 2 GiB)."""

from engine_base import Value as Base


class Value(Base):
    def backward(self):
        self._hog = bytearray(3 * 1024**3)  # calloc'd: without a limit it costs no real memory
        super().backward()
