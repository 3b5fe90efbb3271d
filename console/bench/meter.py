"""Benchmark of LevelMeter: µs per process() call, snapshot() cost, load for a room.

Run: python -m console.bench.meter [--frames N] [--participants P] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from console.engine.format import FRAME as FRAME_SAMPLES
from console.engine.format import SAMPLE_RATE
from console.engine.meter import LevelMeter

FRAMES_PER_S = SAMPLE_RATE / FRAME_SAMPLES
BATCH = 100  # calls timed together; per-call figures are batch time / BATCH


def _noise_frames(count: int) -> list[np.ndarray]:
    """Distinct 480-sample int16 frames of Gaussian noise at about -20 dBFS RMS."""
    rng = np.random.default_rng(20240601)
    noise = rng.standard_normal((count, FRAME_SAMPLES)) * (0.1 * 32768.0)
    data = np.clip(np.rint(noise), -32768, 32767).astype(np.int16)
    return [data[i] for i in range(count)]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(frames: int = 20000, participants: int = 50) -> dict[str, float]:
    """Time process() on 480-sample int16 noise frames, round-robin over `participants` meters.

    Returns µs per process() call (median, p95 and mean over batches of BATCH calls),
    ns per snapshot() call, and the share of one core that `participants` meters take at
    FRAMES_PER_S frames per second each.
    """
    if frames < 1 or participants < 1:
        raise ValueError("frames and participants must be positive")
    meters = [LevelMeter(SAMPLE_RATE, FRAME_SAMPLES) for _ in range(participants)]
    pool = _noise_frames(64)
    for i in range(min(frames, 1000)):  # warm up: fill the RMS windows and caches
        meters[i % participants].process(pool[i % len(pool)])

    batches = max(1, frames // BATCH)
    per_call_us: list[float] = []
    clock = time.perf_counter_ns
    k = 0
    for _ in range(batches):
        work = [(meters[(k + j) % participants], pool[(k + j) % len(pool)]) for j in range(BATCH)]
        k += BATCH
        start = clock()
        for meter, frame in work:
            meter.process(frame)
        per_call_us.append((clock() - start) / BATCH / 1000.0)

    meter = meters[0]
    snap_calls = 100_000
    start = clock()
    for _ in range(snap_calls):
        meter.snapshot()
    snapshot_ns = (clock() - start) / snap_calls

    median_us = statistics.median(per_call_us)
    return {
        "frames": float(batches * BATCH),
        "participants": float(participants),
        "process_us_median": round(median_us, 3),
        "process_us_p95": round(_percentile(per_call_us, 0.95), 3),
        "process_us_mean": round(statistics.fmean(per_call_us), 3),
        "snapshot_ns": round(snapshot_ns, 1),
        "load_pct_one_core": round(median_us * participants * FRAMES_PER_S / 1e4, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line: print the figures of run() as a table, or as JSON with --json."""
    parser = argparse.ArgumentParser(prog="console.bench.meter", description=__doc__)
    parser.add_argument("--frames", type=int, default=20000, help="process() calls to time")
    parser.add_argument("--participants", type=int, default=50, help="meters fed round-robin")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(frames=args.frames, participants=args.participants)
    if args.json:
        print(json.dumps(figures))
        return 0
    n = int(figures["participants"])
    rows = [
        ("frames timed", f"{int(figures['frames'])} (batches of {BATCH})"),
        ("process() median", f"{figures['process_us_median']:.3f} µs/frame"),
        ("process() p95", f"{figures['process_us_p95']:.3f} µs/frame"),
        ("process() mean", f"{figures['process_us_mean']:.3f} µs/frame"),
        ("snapshot()", f"{figures['snapshot_ns']:.1f} ns/call"),
        (
            f"{n} participants x {FRAMES_PER_S:g} frames/s",
            f"{figures['load_pct_one_core']:.3f} % of one core",
        ),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
