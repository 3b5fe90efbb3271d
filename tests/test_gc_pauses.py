"""Freezing long-lived objects out of full collections, and giving them back."""

from __future__ import annotations

import gc
import weakref

from console import gc_pauses


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


def test_a_settled_cycle_is_kept_until_released() -> None:
    node = Node()
    ref = weakref.ref(node)
    gc_pauses.settle()
    assert gc.get_freeze_count() > 0
    del node
    gc.collect()
    assert ref() is not None  # frozen: full collections no longer walk it
    gc_pauses.release()
    assert ref() is None  # given back and collected
    assert gc.get_freeze_count() > 0  # what is still alive is frozen again


def test_settle_without_collecting_freezes_garbage_too_and_release_frees_it() -> None:
    node = Node()
    ref = weakref.ref(node)
    del node  # garbage already, but no collection runs before the freeze
    gc_pauses.settle(collect=False)
    gc.collect()
    assert ref() is not None
    gc_pauses.release()
    assert ref() is None
