"""Opening files PyChat did not create, without blocking and without surprises.

A path in the models folder or given as a config file may be a FIFO (opening it waits for
a writer), a device, a folder, or a link that loops or leads nowhere. These helpers look
with ``stat`` first and open only regular files, non-blocking.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from pychat.text import inert_line


def file_problem(path: Path) -> str:
    """Why ``path`` cannot be opened as a model file ("" when it is a regular file or a
    link to one). Looks with stat only: a FIFO or a device is never opened."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop"
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return f"a broken link (to {inert_line(os.readlink(path))})"
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return ""
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    kind = next((name for check, name in kinds if check(mode)), "a special file")
    return f"not a regular file ({kind})"


def open_regular(path: Path) -> int:
    """A read-only descriptor for a regular file; raises OSError otherwise. O_NONBLOCK: a
    file swapped for a FIFO after the check cannot make the open wait for a writer."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file")
    return fd


def read_regular(path: Path, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``. Raises OSError (with a reason
    for the user in ``strerror``) for anything else."""
    problem = file_problem(path)
    if problem:
        raise OSError(errno.EINVAL, problem)
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise OSError(errno.EFBIG, f"the file is too large ({size} bytes; at most "
                                       f"{max_bytes} are read)")
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
            if sum(map(len, chunks)) > max_bytes:
                raise OSError(errno.EFBIG, "the file grew while it was read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_only(path: Path) -> bool:
    """True when the user made ``path`` (a file or a folder) read-only — no write bit at
    all — or when this process may not write it. The mode bits count even for root, who
    could write anything."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_IMODE(mode) & 0o222 or not os.access(path, os.W_OK)
