"""Garbage collection tuned for building thousands of objects at once."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0
"""How many ``bulk_gc`` blocks are open: only the outermost changes the collector."""
_lock = threading.Lock()


def _forked() -> None:
    # A worker forked inside a block starts with none of its own open.
    global _depth, _lock
    _depth, _lock = 0, threading.Lock()


os.register_at_fork(after_in_child=_forked)


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Collect less often while thousands of objects are made and dropped.

    Freezing what is already loaded and raising the first threshold keeps the
    cyclic collector from rescanning the heap for every few parse trees or
    cache entries: loading a project, and Dagster building its definitions (a
    fifth of that time otherwise; BENCHMARKS.md). Nested blocks (in any
    thread) leave it to the outermost one.
    """
    global _depth
    with _lock:
        _depth += 1
        outermost = _depth == 1
        if outermost:
            threshold = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(threshold[0], 20_000), *threshold[1:])
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if outermost:
                gc.set_threshold(*threshold)
                gc.unfreeze()
