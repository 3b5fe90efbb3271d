"""``bench startup`` launches the real app and reads its first-paint time."""

from __future__ import annotations

import json
import math
import subprocess
import sys


def test_bench_startup_reports_a_first_paint_without_pyqtgraph() -> None:
    done = subprocess.run([sys.executable, "-m", "console", "bench", "startup", "--runs", "1",
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    result = json.loads(done.stdout)
    first = result["first_paint_s_median"]
    assert math.isfinite(first) and 0.05 < first < 10.0
    assert result["pyqtgraph_loaded_at_first_paint"] is False  # imported lazily
