"""Writing files atomically: a temporary file in the same folder, then a rename.

A reader (or a crash) never sees half a file: the path holds the old contents or the new ones.
If the write fails or is interrupted (an exception, Ctrl-C), the temporary file is removed. Only a
process killed outright (SIGKILL, power loss) can leave one behind: a hidden ``.name.*.tmp`` file
next to the target, never the target itself half written.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomically(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``; returns the path."""
    path = Path(path)
    # The name is chosen before the file exists, so an interruption at any later point knows
    # which file to remove.
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the name points at it
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path
