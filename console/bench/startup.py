"""``bench startup``: process start to the first painted window, in fresh processes.

Each run launches ``python -m console`` (offscreen, with an empty settings directory)
with the launcher's CLOCK_MONOTONIC time in ``LKC_STARTUP_PROBE``; the app prints the
time of its first paint and quits. Without a sound card the engine starts on silence,
which is part of what a user on such a machine waits for.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

from console.bench import emit

GOAL_S = 1.5


def one_run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
        env.update(QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=home,
                   LKC_STARTUP_PROBE=repr(time.monotonic()))
        done = subprocess.run([sys.executable, "-m", "console"], capture_output=True,
                              text=True, timeout=60, env=env)
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    raise RuntimeError(f"the app printed no first-paint time (exit {done.returncode}): "
                       f"{done.stderr.strip()[-300:]}")


def run(runs: int = 5) -> dict[str, Any]:
    results = [one_run() for _ in range(runs)]
    times = [r["first_paint_s"] for r in results]
    median = statistics.median(times)
    return {
        "benchmark": "startup",
        "runs": runs,
        "first_paint_s_median": round(median, 3),
        "first_paint_s_min": round(min(times), 3),
        "first_paint_s_max": round(max(times), 3),
        "first_paint_s": [round(t, 3) for t in times],
        "pyqtgraph_loaded_at_first_paint": any(r["pyqtgraph_loaded"] for r in results),
        "goals": {"first_paint_le_1_5_s": median <= GOAL_S},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench startup")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return emit(run(args.runs), args.json)
