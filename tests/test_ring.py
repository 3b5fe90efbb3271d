"""The SPSC sample ring: wrap-around, overflow refusal, frame-ready times."""

from __future__ import annotations

import math

import numpy as np

from console.engine.ring import SampleRing


def test_frames_come_out_in_order_across_the_wrap() -> None:
    ring = SampleRing(1000)
    out = np.zeros(480, dtype=np.int16)
    seen: list[np.ndarray] = []
    counter = 0
    for block in range(20):
        data = np.arange(counter, counter + 240, dtype=np.int64).astype(np.int16)
        counter += 240
        assert ring.write(data, now=float(block))
        while ring.available() >= 480:
            ring.take(out, 48000)
            seen.append(out.copy())
    got = np.concatenate(seen)
    assert np.array_equal(got, np.arange(got.size).astype(np.int16))


def test_a_full_ring_refuses_the_block_instead_of_overwriting() -> None:
    ring = SampleRing(960)
    assert ring.write(np.ones(480, dtype=np.int16), 0.0)
    assert ring.write(np.full(480, 2, dtype=np.int16), 0.0)
    assert not ring.write(np.full(480, 3, dtype=np.int16), 0.0)
    out = np.zeros(480, dtype=np.int16)
    ring.take(out, 48000)
    assert (out == 1).all()
    ring.take(out, 48000)
    assert (out == 2).all()


def test_ready_time_is_when_the_frames_last_sample_arrived() -> None:
    ring = SampleRing(48000)
    # One 100 ms block (4800 samples) arriving at t=10.0: its first 10 ms frame was complete
    # 90 ms before the block arrived, its last frame at the arrival.
    ring.write(np.zeros(4800, dtype=np.int16), now=10.0)
    out = np.zeros(480, dtype=np.int16)
    times = [ring.take(out, 48000) for _ in range(10)]
    assert math.isclose(times[0], 10.0 - 0.09, abs_tol=1e-9)
    assert math.isclose(times[-1], 10.0, abs_tol=1e-9)
    # Blocks of 10 ms: ready time is the callback time itself.
    ring.write(np.zeros(480, dtype=np.int16), now=11.0)
    assert ring.take(out, 48000) == 11.0


def test_sample_fifo_keeps_order_across_the_wrap_and_drops_the_oldest_on_overflow() -> None:
    from console.engine.ring import SampleFifo

    fifo = SampleFifo(1000)
    fifo.push(np.arange(700, dtype=np.int16))
    assert np.array_equal(fifo.pop(600), np.arange(600))
    fifo.push(np.arange(700, 1500, dtype=np.int16))  # wraps; 900 fit, 0 dropped
    assert len(fifo) == 900
    assert np.array_equal(fifo.pop(900), np.arange(600, 1500))
    fifo.push(np.arange(1200, dtype=np.int16))  # 200 too many: the oldest go
    assert len(fifo) == fifo.capacity == 1000
    assert np.array_equal(fifo.pop(1000), np.arange(200, 1200))
    assert fifo.pop(5).size == 0
