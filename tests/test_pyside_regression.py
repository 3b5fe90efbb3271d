"""PySide6 6.12.0 aborts CPython 3.11 ("Fatal Python error: none_dealloc") after a few
thousand calls of wrapped methods that return None. Paint a few hundred thousand times in a
child process, so that an abort fails this test instead of killing pytest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

CALLS = 300_000

SCRIPT = textwrap.dedent(f"""
    import sys
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen

    app = QGuiApplication(sys.argv[:1])
    image = QImage(64, 16, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    color = QColor(40, 170, 60)
    pen = QPen(color)
    rect = QRect(0, 0, 10, 8)
    calls = 0
    none_refs = sys.getrefcount(None)
    for i in range({CALLS} // 3):
        color.setAlpha(i & 0xFF)                 # returns None
        painter.setPen(pen)                      # returns None
        painter.fillRect(rect, color)            # returns None
        calls += 3
    painter.end()
    print(f"calls={{calls}} none_ref_drift={{none_refs - sys.getrefcount(None)}}", flush=True)
""")


def test_hundreds_of_thousands_of_none_returning_calls_do_not_abort():
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=110, check=False)
    assert proc.returncode == 0, (
        f"PySide6 painting loop died with {proc.returncode}: {proc.stderr[-2000:]}"
    )
    assert f"calls={CALLS} " in proc.stdout
    # The bug over-releases None once per call: a leak towards the abort shows as a drift.
    drift = int(proc.stdout.rsplit("none_ref_drift=", 1)[1].split()[0])
    assert drift < 1000, f"None lost {drift} references in {CALLS} calls"
