"""A service tunes the garbage collector once it is set up (``tune_gc``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from courtbus.runtime.config import GC_THRESHOLDS, tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_freezes_what_start_up_made_and_raises_the_thresholds() -> None:
    made_at_start = [object() for _ in range(3)] + [{"schema": "x"}]
    tune_gc()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
    # the start-up objects are frozen: a full collection no longer tracks them in a generation
    assert not any(made_at_start[-1] is o for gen in (0, 1, 2) for o in gc.get_objects(gen))
