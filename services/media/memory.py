"""Keeping the render process's memory flat, however long the story.

ImageMagick (through Wand) allocates and frees tens of megabytes per picture, from several
threads. glibc's malloc gives every thread that contends for memory an arena of its own and
keeps what is freed in it for later, so the process's resident size grows with the number of
threads and, slowly, with the number of parts. Fewer arenas and handing freed memory back after
each part keep it near the peak of the work itself. Both are glibc calls (Linux); elsewhere,
or without glibc, they do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache
from typing import Any

M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)


@lru_cache(maxsize=1)
def _libc() -> Any | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc only: musl and macOS lack them
    except (OSError, AttributeError):
        return None
    return libc


def limit_malloc_arenas(count: int) -> None:
    """At most `count` malloc arenas for threads created from now on."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(M_ARENA_MAX, count)


def return_free_memory() -> None:
    """Give memory that malloc holds but nobody uses back to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
