"""``bulk_gc``: the collector tuned while thousands of objects are built, and restored after."""

from __future__ import annotations

import gc
import threading

from sqlassets.bulk import bulk_gc


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


def test_blocks_in_other_threads_count_as_nested() -> None:
    before = gc.get_threshold()
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with bulk_gc():
            inside.set()
            leave.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait()
    with bulk_gc():
        pass
    assert gc.get_threshold()[0] >= 20_000  # the other thread's block is still open
    leave.set()
    thread.join()
    assert gc.get_threshold() == before


def test_a_process_forked_inside_a_block_tunes_its_own() -> None:
    import multiprocessing

    with bulk_gc():
        context = multiprocessing.get_context("fork")
        with context.Pool(1) as pool:
            assert pool.apply(_depth_inside_a_block) == 1


def _depth_inside_a_block() -> int:
    from sqlassets import bulk

    with bulk_gc():
        return bulk._depth
