"""``bulk_gc``: the collector tuned while thousands of objects are built, and restored after."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlassets.bulk import bulk_gc, frozen


def test_the_collector_is_tuned_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    with bulk_gc():
        assert gc.get_threshold()[0] >= 20_000
        assert gc.get_freeze_count() > frozen
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen


def test_a_nested_block_leaves_the_outer_one_in_charge() -> None:
    before = gc.get_threshold()
    with bulk_gc():
        tuned, frozen = gc.get_threshold(), gc.get_freeze_count()
        with bulk_gc():
            pass
        # The inner block neither unfroze the heap nor restored the threshold.
        assert (gc.get_threshold(), gc.get_freeze_count()) == (tuned, frozen)
    assert gc.get_threshold() == before


def test_an_error_inside_still_restores_the_collector() -> None:
    before = gc.get_threshold()
    try:
        with bulk_gc():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


@contextmanager
def _block_in_another_thread() -> Iterator[None]:
    """A ``bulk_gc`` block open in another thread for the duration of this one."""
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with bulk_gc():
            inside.set()
            leave.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait()
    try:
        yield
    finally:
        leave.set()
        thread.join()


def test_blocks_in_other_threads_count_as_nested() -> None:
    before = gc.get_threshold()
    with _block_in_another_thread():
        with bulk_gc():
            pass
        assert gc.get_threshold()[0] >= 20_000  # the other thread's block is still open
    assert gc.get_threshold() == before


def test_a_process_forked_inside_a_block_tunes_its_own() -> None:
    import multiprocessing

    usual = gc.get_threshold()
    with bulk_gc():
        context = multiprocessing.get_context("fork")
        with context.Pool(1) as pool:
            depth, before, after = pool.apply(_inside_a_block)
    assert depth == 1  # the parent's open block is not the child's
    assert before == after == usual  # nor are its thresholds


def _inside_a_block() -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    from sqlassets import bulk

    before = gc.get_threshold()
    with bulk_gc():
        depth = bulk._depth
    return depth, before, gc.get_threshold()


def test_a_child_leaving_an_inherited_block_leaves_its_state_alone() -> None:
    import os

    reader, writer = os.pipe()
    with bulk_gc():
        child = os.fork()
    if child == 0:  # the child has left the parent's block too
        from sqlassets import bulk

        with bulk_gc():
            tuned = gc.get_threshold()[0]
        os.write(writer, f"{bulk._depth} {tuned}".encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader) as answer:
        assert answer.read() == "0 20000"


def test_the_last_block_to_close_restores_whichever_thread_opened_first() -> None:
    before = gc.get_threshold()
    block = bulk_gc()
    block.__enter__()  # this thread opens first
    with _block_in_another_thread():
        block.__exit__(None, None, None)  # ... and closes first
        assert gc.get_threshold()[0] >= 20_000
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_frozen_for_a_fork_unfreezes_after_unless_a_block_is_open() -> None:
    with frozen():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    with bulk_gc():
        with frozen():
            pass
        assert gc.get_freeze_count() > 0  # the block's own freeze holds
    assert gc.get_freeze_count() == 0
