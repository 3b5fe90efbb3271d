"""The README's screenshot: the real window, joined to the local sandbox with demo voices.

``LKC_SCREENSHOT=resources/screenshot.png pytest tests/test_screenshot.py`` writes the file
the README shows; without it the picture goes to a temporary file. Either way the test
checks that it shows a joined room: every voice's strip and live meters.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.audio, pytest.mark.filterwarnings("ignore::UserWarning")]
VOICES = 8


def test_screenshot_of_the_window_in_the_sandbox_room(sound_card, qtbot, tmp_path,
                                                      monkeypatch) -> None:
    from console import settings
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine
    from console.session.controller import RoomController
    from console.widgets.main_window import MainWindow

    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    engine = AudioEngine(input_device="lkc_mic_b", processing=ProcessingConfig())
    engine.start()
    store = settings.open_store(tmp_path / "console.ini")
    store.setValue("audio/output_device", "lkc_speaker_a")
    store.setValue("room/identity", "you")
    controller = RoomController(engine, sandbox_voices=VOICES)
    window = MainWindow(engine, store, controller=controller)
    qtbot.addWidget(window)
    try:
        window.resize(1240, 660)
        window.show()
        qtbot.waitExposed(window)
        window.join_panel.join_button.click()
        qtbot.waitUntil(lambda: len(window.participants.strips) == VOICES, timeout=20000)
        strips = window.participants.strips
        try:
            qtbot.waitUntil(lambda: strips["tone-440"].meter.rms_db > -25, timeout=8000)
        except Exception:
            print({k: round(v.meter.rms_db, 1) for k, v in strips.items()},
                  [(c.key, round(c.meter.rms_db, 1), c.underruns) for c in engine.channel_stats()])
            raise
        end = time.monotonic() + 2.0  # meters and speaking dots settle
        while time.monotonic() < end:
            qtbot.wait(50)
        image = window.grab().toImage()
        target = Path(os.environ.get("LKC_SCREENSHOT") or tmp_path / "screenshot.png")
        assert image.save(str(target))
        assert image.width() >= 1200 and image.height() >= 600
        assert strips["agent"].badge.isVisible()
        assert strips["clipper"].meter.clipped
        assert strips["silent"].meter.rms_db < -90
    finally:
        window.close()
        controller.close()
        engine.stop()
