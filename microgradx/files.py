"""Files and state changes that happen whole or not at all.

Writing: ``write_atomically`` writes a temporary file in the target's folder, then renames it over
the target. A reader (or a crash) never sees half a file: the path holds the old contents or the
new ones. If the write fails or is interrupted (an exception, Ctrl-C), the temporary file is
removed. Only a process killed outright (SIGKILL, power loss) can leave one behind: a hidden
``.name.*.tmp`` file next to the target, never the target itself half written.

Only regular files are written. A rename replaces whatever the name points at, so writing to a
FIFO, a device (``/dev/null``), a socket or a folder would destroy it; those are refused with
``NotARegularFileError``. A symbolic link is followed: its target file is replaced and the link
stays a link. (A file with other hard links gets a new file under this name; the other names keep
the old contents, as with any atomic replacement.)

Reading: ``open_regular`` / ``read_regular`` open only regular files. A FIFO is never opened for
reading in a way that waits for a writer, and a device is never read (``/dev/zero`` never ends).

State: ``deferred_interrupt`` lets a short block of assignments (an optimizer step, loading
weights) finish before a Ctrl-C that arrives during it is raised, so no half-applied state is left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import BinaryIO

NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows, if the system does not say


class NotARegularFileError(OSError):
    """The path names something other than a regular file (a folder, a FIFO, a device, a socket,
    a symbolic link that leads nowhere): it is not read, and never replaced by a write."""


def _kind(mode: int) -> str:
    """What a non-regular file is, for a message: ``a FIFO (named pipe)``, ``a folder``, ..."""
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISLNK, "a symbolic link that does not resolve (a loop?)"),
    )
    for test, name in kinds:
        if test(mode):
            return name
    return "not a regular file"


def _refuse(path: str | Path, mode: int, doing: str) -> NotARegularFileError:
    return NotARegularFileError(f"{path} is {_kind(mode)}, not a regular file: {doing}")


# ---- reading ------------------------------------------------------------------------------------


def open_regular(path: str | Path) -> BinaryIO:
    """``path`` opened for reading in binary mode, if it is a regular file (symbolic links are
    followed).

    Raises ``FileNotFoundError`` when nothing is there, ``NotARegularFileError`` for a folder, a
    FIFO, a device or a socket, and the ``OSError`` of a failed open otherwise (no permission).
    The type is checked before opening, so a device is never opened, and again on the open file
    (opened without waiting), so a FIFO swapped in between cannot make the reader hang.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "no such file", os.fspath(path)) from None
    if not stat.S_ISREG(mode):
        raise _refuse(path, mode, "only regular files are read")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise _refuse(path, mode, "only regular files are read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(descriptor, True)  # ordinary reads from here on
        return os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


class TooLargeError(ValueError):
    """A file (or what it decompresses to) holds more than its reader takes."""


def read_regular(path: str | Path, limit: int | None = None) -> bytes:
    """The contents of the regular file at ``path`` (errors as ``open_regular``).

    With a ``limit``, at most ``limit + 1`` bytes are read: a longer file raises
    ``TooLargeError`` naming the path and the limit, and is never held in memory whole.
    """
    with open_regular(path) as handle:
        data = handle.read() if limit is None else handle.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise TooLargeError(f"{path} is larger than {limit:,} bytes")
    return data


# ---- writing ------------------------------------------------------------------------------------


def write_target(path: str | Path) -> Path:
    """The file a write to ``path`` replaces: ``path`` with every symbolic link resolved.

    Raises ``NotARegularFileError`` if something other than a regular file is there (nothing
    there is fine: the write creates it), ``PermissionError`` if the file is read-only. Call it
    to check a path before long work.
    """
    target = Path(os.path.realpath(path))
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(mode):
        raise _refuse(path, mode, "refusing to replace it")
    # A rename replaces a file whatever its mode (and root may write any): a file without any
    # write permission was made read-only to keep it, so it is refused as open(path, "w") would
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target, os.W_OK):
        raise PermissionError(
            errno.EACCES, "the file is read-only: refusing to replace it", os.fspath(path)
        )
    return target


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, ValueError, OSError):  # no pathconf (Windows), or no answer
        return NAME_MAX


def _temporary_name(name: str, token: str, limit: int) -> str:
    """``.name.token.tmp``, with ``name`` shortened (never the token) to fit ``limit`` bytes: a
    target whose name is near the limit still gets a temporary name in the same folder."""
    suffix = f".{token}.tmp"
    room = limit - len(os.fsencode("." + suffix))
    while len(os.fsencode(name)) > room and name:
        name = name[:-1]  # characters, not bytes, so a UTF-8 sequence is never cut in two
    return f".{name}{suffix}"


def _same_owner_and_mode(descriptor: int, target: Path) -> None:
    """The new file gets the old one's permissions (and owner, where allowed): replacing a
    private 0600 file must not leave a world-readable one."""
    try:
        old = os.stat(target)
    except FileNotFoundError:
        return  # a new file: the umask decided its mode
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, stat.S_IMODE(old.st_mode))
    if hasattr(os, "fchown") and hasattr(os, "geteuid"):
        mine = os.fstat(descriptor)
        if (mine.st_uid, mine.st_gid) != (old.st_uid, old.st_gid):
            with contextlib.suppress(PermissionError):  # only root may give a file away
                os.fchown(descriptor, old.st_uid, old.st_gid)


def _sync_folder(folder: Path) -> None:
    """Flush the folder's entry for the renamed file to disk (so the rename survives a crash),
    where the system can open a folder for that."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename itself is done
    finally:
        os.close(descriptor)


def write_atomically(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace``; returns ``path``.

    ``path`` may be a new file, a regular file (its permissions are kept) or a symbolic link to
    one (the link's target is replaced; the link stays). Anything else is refused with
    ``NotARegularFileError``, and a read-only file with ``PermissionError``, before anything
    is written. An ``OSError`` of the write names
    ``path``, never the temporary file.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    shown = Path(path)
    target = write_target(shown)
    folder = target.parent
    # The name is chosen before the file exists, so an interruption at any later point knows
    # which file to remove.
    temporary = folder / _temporary_name(target.name, secrets.token_hex(6), _name_max(folder))
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(descriptor, "wb") as file:
            _same_owner_and_mode(file.fileno(), target)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the name points at it
        os.replace(temporary, target)
    except BaseException as error:
        with contextlib.suppress(OSError):  # the original error matters more than a leftover
            temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.errno is not None:
            raise OSError(error.errno, error.strerror, os.fspath(shown)) from None
        raise
    _sync_folder(folder)
    return shown


# ---- state that changes whole -------------------------------------------------------------------


@contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Run the block to its end even if Ctrl-C (SIGINT) arrives during it; the signal is then
    delivered right after the block, to whatever handler was installed.

    For short blocks that assign state which must change whole (every parameter of an optimizer
    step, every weight of a loaded file). Python raises ``KeyboardInterrupt`` only in the main
    thread, so elsewhere (and where the handler was installed outside Python) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # a handler installed from C: it cannot be put back, so leave it alone
        yield
        return
    arrived: list[int] = []

    def remember(signum: int, frame: FrameType | None) -> None:
        arrived.append(signum)

    signal.signal(signal.SIGINT, remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if arrived:
            signal.raise_signal(signal.SIGINT)  # to the handler that was there: Ctrl-C, late
