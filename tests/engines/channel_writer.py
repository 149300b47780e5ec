"""Hostile: backward() writes fake answers into every file descriptor it can, the checker's
channel among them."""

import contextlib
import os

from engine_base import Value as Base


class Value(Base):
    def backward(self):
        for fd in range(3, 20):
            with contextlib.suppress(OSError):
                os.write(fd, b'{"ok": true}\n')
        super().backward()
