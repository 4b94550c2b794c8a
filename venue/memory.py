"""What this process has in use, beyond resident memory: RSS also holds memory freed but not returned
to the system, so a growing RSS alone does not tell a leak from the allocator's fragmentation."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                     "fordblks", "keepcost")
    ]  # fmt: skip


def _mallinfo2() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        function = libc.mallinfo2  # glibc 2.33 and later
    except (OSError, AttributeError):
        return None
    function.restype = _MallInfo2
    return function


_MALLINFO2 = _mallinfo2()


def malloc_in_use() -> int | None:
    """Bytes malloc has handed out and not had back (glibc's mallinfo2: heap chunks in use plus
    mmapped chunks), in all arenas; None where the C library is not glibc. Python's small objects live
    in pymalloc's own arenas and are not in this figure (``python_blocks``)."""
    if _MALLINFO2 is None:
        return None
    info = _MALLINFO2()
    return int(info.uordblks + info.hblkhd)


def python_blocks() -> int:
    """Memory blocks the interpreter has allocated and not freed (objects and their buffers)."""
    return sys.getallocatedblocks()
