"""The capture outbox: catch-up after a stall, drops beyond its limit, exact accounting."""

from __future__ import annotations

import numpy as np

from console.engine.format import FRAME
from console.engine.outbox import CATCH_UP, KEEP_AFTER_DROP, MAX_CATCH_UP, MAX_FRAMES, Outbox


def _frame(value: int) -> np.ndarray:
    return np.full(FRAME, value, dtype=np.int16)


def test_one_frame_passes_unchanged() -> None:
    box = Outbox()
    samples = np.arange(FRAME, dtype=np.int16)
    box.push(samples, 1.5, silent=False)
    out = box.next_frame()
    assert out is not None
    assert np.array_equal(out.samples, samples)
    assert (out.ready, out.real, out.silent) == (1.5, FRAME, 0)
    assert box.next_frame() is None


def test_backlog_is_caught_up_faster_when_longer_and_accounted() -> None:
    box = Outbox()
    for i in range(4):
        box.push(_frame(i), float(i), silent=False)
    first = box.next_frame()
    assert first is not None
    # three frames behind: the most it may speed up
    assert first.real == FRAME + MAX_CATCH_UP
    assert first.samples.shape == (FRAME,)
    sent = first.real
    frames = 1
    while (item := box.next_frame()) is not None:
        sent += item.real
        frames += 1
        assert item.real >= FRAME  # never slower than real time while behind
    left = len(box)
    assert sent + left == 4 * FRAME
    assert frames < 4  # the backlog shrank: fewer frames went out than came in
    assert box.packed == sent - frames * FRAME
    assert box.dropped_real == 0


def test_beyond_the_limit_the_oldest_frames_are_dropped_and_counted() -> None:
    box = Outbox()
    pushed = MAX_FRAMES + 6
    for i in range(pushed):
        box.push(_frame(i), float(i), silent=(i == 0))
    out = box.next_frame()
    assert out is not None
    dropped_frames = pushed - KEEP_AFTER_DROP
    assert box.dropped_real + box.dropped_silent == dropped_frames * FRAME
    assert box.dropped_silent == FRAME  # the synthetic silence frame is counted apart
    # what goes out is the newest audio, not the oldest
    assert out.samples[0] == pushed - KEEP_AFTER_DROP
    # one frame behind, it packs a few samples of the newest frame, whose mark it reports
    assert out.real == FRAME + CATCH_UP
    assert out.ready == float(pushed - 1)
