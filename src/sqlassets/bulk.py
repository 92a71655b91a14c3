"""Garbage collection tuned for building thousands of objects at once."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0
"""How many ``bulk_gc`` blocks are open in this process (any thread)."""
_saved: tuple[int, ...] = ()
"""The collector's thresholds before the first open block tuned them."""
_lock = threading.Lock()


def _forked() -> None:
    # A child forked inside a block starts with none open and the usual thresholds
    # (its inherited heap stays frozen: collecting it would copy the parent's pages).
    global _depth, _lock
    if _depth:
        gc.set_threshold(*_saved)
    _depth, _lock = 0, threading.Lock()


os.register_at_fork(after_in_child=_forked)


@contextmanager
def bulk_gc() -> Iterator[None]:
    """Collect less often while thousands of objects are made and dropped.

    Freezing what is already loaded and raising the first threshold keeps the
    cyclic collector from rescanning the heap for every few parse trees or
    cache entries: loading a project, and Dagster building its definitions (a
    fifth of that time otherwise; BENCHMARKS.md). Blocks nest, in one thread
    or several: the first to open tunes the collector, the last to close
    restores it.
    """
    global _depth, _saved
    pid = os.getpid()
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(_saved[0], 20_000), *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        if os.getpid() == pid:  # a forked child has its own state (``_forked``)
            with _lock:
                _depth -= 1
                if _depth == 0:
                    gc.set_threshold(*_saved)
                    gc.unfreeze()


@contextmanager
def frozen() -> Iterator[None]:
    """The heap frozen for the block (before forking workers), then as it was.

    Inside a ``bulk_gc`` block it stays frozen after: that block unfreezes it.
    """
    gc.freeze()
    try:
        yield
    finally:
        with _lock:
            if _depth == 0:
                gc.unfreeze()
