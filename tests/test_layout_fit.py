"""The window fits the screen: 1024x640, 1600x1000 and scale 2, light and dark, on real X.

Each case starts its own Xvfb of that size and runs tests/layout_probe.py in a child
process (the scale factor must be set before Qt starts): the real window on the fake engine
and controller (tests/fakes.py; a layout needs no sound card, and the real engine's window
is screenshotted by tests/test_screenshot.py). The probe screenshots the screen and checks
that the window is within the screen and that every participant's name, meter, mute and
volume, and every control of the left column, is inside the visible area and not squeezed.
Before the layout work, 1024x700 ended the strips mid-meter (no mute, no volume) and
``QT_SCALE_FACTOR=2`` opened the window larger than the screen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CASES = [
    # (screen, QT_SCALE_FACTOR, theme)
    ("1024x640", "1", "light"),
    ("1024x640", "1", "dark"),
    ("1600x1000", "1", "dark"),
    ("1600x1000", "1", "light"),
    ("2048x1280", "2", "light"),
    ("3840x2160", "1", "dark"),
]


def probe(tmp_path: Path, screen: str, scale: str, theme: str, *extra: str) -> dict[str, object]:
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", f"{screen}x24",
                             "-nolisten", "tcp"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert xvfb.stdout is not None
        display = f":{xvfb.stdout.readline().strip()}"  # Xvfb picked a free one: ready
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb",
               "QT_SCALE_FACTOR": scale, "XDG_CONFIG_HOME": str(tmp_path)}
        env.pop("QT_QPA_PLATFORMTHEME", None)
        out = tmp_path / f"layout-{screen}-x{scale}-{theme}.png"
        done = subprocess.run(
            [sys.executable, "-m", "tests.layout_probe", "--out", str(out), "--theme", theme,
             *extra], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-3000:]
        report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        assert out.exists() and out.stat().st_size > 10_000
        return report
    finally:
        xvfb.terminate()
        xvfb.wait(10)


@pytest.mark.parametrize(("screen", "scale", "theme"), CASES)
def test_the_window_fits_the_screen(tmp_path, screen, scale, theme) -> None:
    report = probe(tmp_path, screen, scale, theme)
    assert report["problems"] == [], report
    assert report["strips"] == 10 and int(report["checked"]) >= 40  # type: ignore[call-overload]
    width, height = (int(v) for v in screen.split("x"))
    frame = report["frame"]
    assert isinstance(frame, list)
    assert frame[0] * int(scale) <= width and frame[1] * int(scale) <= height
    if screen == "1024x640":
        assert report["compact"] is True  # the meters moved under the names
    if screen == "3840x2160":
        assert report["compact"] is False


def test_a_window_asked_to_be_too_large_is_shrunk_to_the_screen(tmp_path) -> None:
    """A size remembered on a larger monitor (here asked directly) must not go off screen."""
    report = probe(tmp_path, "1024x640", "1", "light", "--geometry", "2400x1600")
    assert report["problems"] == [], report


def test_the_size_left_on_a_small_screen_comes_back_on_a_large_one(tmp_path) -> None:
    """Closed at 1024x640 (the window fitted to the screen), opened at 1600x1000: the size
    it was left at, not Qt's rescaling of it (which gave 627x377 for 1008x624)."""
    store = str(tmp_path / "kept.ini")
    small = probe(tmp_path, "1024x640", "1", "light", "--store", store)
    large = probe(tmp_path, "1600x1000", "1", "light", "--store", store)
    assert large["problems"] == [], large
    assert small["frame"] == large["frame"], (small["frame"], large["frame"])
