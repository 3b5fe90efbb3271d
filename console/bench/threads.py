"""Where a process's CPU goes, by thread name, from /proc (Linux): ``media``, ``pulse-in``,
Qt's main thread ``python``, livekit's ``tokio-rt-worker`` ... summed over threads of one
name. Benchmarks report it beside their whole-process figure."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any


def thread_ticks() -> Counter[str]:
    """CPU clock ticks of this process's threads, summed by thread name (empty off Linux)."""
    out: Counter[str] = Counter()
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the thread ended meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat.rsplit(")", 1)[1].split()
        out[name] += int(fields[11]) + int(fields[12])
    return out


class ThreadShares:
    """Each thread name's share of a core between construction and :meth:`percent`."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()
        self._ticks0 = thread_ticks()

    def percent(self) -> dict[str, float]:
        """Busiest first; names that used nothing are left out."""
        wall = time.monotonic() - self._t0
        per_tick = 100.0 / os.sysconf("SC_CLK_TCK") / wall
        now = thread_ticks()
        shares = {name: round((now[name] - self._ticks0.get(name, 0)) * per_tick, 1)
                  for name in now}
        return dict(sorted(((k, v) for k, v in shares.items() if v > 0),
                           key=lambda kv: -kv[1]))


# livekit's native threads (its Rust runtime and WebRTC's), by the names /proc shows
# (cut at 15 characters). What they cost is the floor under any app on the SDK.
LIVEKIT_THREADS = ("tokio-rt-worker", "SyntheticAudioD", "worker_thread", "network_thread",
                   "signaling_threa", "AudioEncoderQue", "AudioSourceCapt", "livekit-audio")


def livekit_percent(shares: dict[str, float]) -> float:
    """The part of ``shares`` (from :meth:`ThreadShares.percent`) that is livekit's own."""
    return round(sum(v for name, v in shares.items() if name.startswith(LIVEKIT_THREADS)), 1)


def livekit_floor(ours: dict[str, float] | None, theirs: dict[str, float] | None,
                  ref_cpu: float | None) -> dict[str, Any]:
    """livekit's threads on each side, and ours against the reference's whole: the share of
    a CPU goal (``x`` times the reference) they take before any code of ours runs. Empty
    when a side has no figures."""
    if not ours or not theirs or not ref_cpu:
        return {}
    native = livekit_percent(ours)
    return {"livekit_threads_percent": native,
            "reference_livekit_threads_percent": livekit_percent(theirs),
            "livekit_threads_ratio_vs_reference": round(native / ref_cpu, 2)}
