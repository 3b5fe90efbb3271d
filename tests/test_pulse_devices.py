"""The sound server's devices (issue 17) on the virtual card, which is a PulseAudio daemon.

Real parts only: the private daemon the tests start, pulsectl, PortAudio's ``pulse`` device,
the engine's streams. A "USB headset" is plugged in and out during a run
(``VirtualSoundCard.plug_headset``: a null sink and a microphone hearing it, with
descriptions, and no ALSA name: only the server lists it), as a desktop's would appear.
What reaches a sink is read back from its monitor with ``parec`` (pulseaudio-utils).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from console.bench.devices import GapMeter
from console.engine import devices
from tests.audio_helpers import pulse_engine, wait_until

pytestmark = pytest.mark.audio

HEADSET = "usb_headset_test"
DESCRIPTION = "USB Headset Test"


@pytest.fixture
def pulse_backend(sound_card: Any) -> Iterator[None]:
    assert devices.use_backend("pulse") == "pulse"
    try:
        yield
    finally:
        devices.use_backend("portaudio")


@pytest.fixture
def engine(sound_card: Any) -> Iterator[Any]:
    # As on a desktop, the server moves the streams of a device that goes away (the card
    # runs without that for the PortAudio path's unplug tests); the engine must notice
    # from the server's events alone (a killed stream: tests/test_pulse_unplug.py).
    with pulse_engine(sound_card) as eng:
        yield eng


@pytest.fixture
def headset(sound_card: Any) -> Iterator[Any]:
    plugged: list[Any] = []

    def plug() -> Any:
        plugged.append(sound_card.plug_headset(HEADSET, DESCRIPTION))
        return plugged[-1]

    yield plug
    for h in plugged:
        sound_card.unplug(h)


def monitor_level(card: Any, sink: str, seconds: float = 0.6) -> float:
    """RMS (dBFS) of what plays on ``sink``, read from its monitor."""
    proc = subprocess.run(
        ["timeout", str(seconds), "parec", "-d", f"{sink}.monitor", "--raw",
         "--format=s16le", "--rate=48000", "--channels=1", "--latency-msec=20"],
        env=card._child_env(), capture_output=True, check=False)
    x = np.frombuffer(proc.stdout, dtype=np.int16).astype(np.float64) / 32768.0
    x = x[len(x) // 4:]  # past the stream's start
    return float(10 * np.log10(np.mean(x * x) + 1e-12)) if x.size else -120.0


def test_the_lists_are_the_servers_devices_by_description(pulse_backend: None) -> None:
    outs = {d.name: d for d in devices.output_devices()}
    ins = {d.name: d for d in devices.input_devices()}
    assert outs["lkc_speaker_a"].label == "Virtual Speaker A"
    assert ins["lkc_mic_b"].label == "Virtual Mic B (hears Speaker B)"
    assert {d.backend for d in [*outs.values(), *ins.values()]} == {"pulse"}
    # the server's defaults (the card sets speaker A and mic A), monitors hidden
    assert [d.name for d in outs.values() if d.is_default_output] == ["lkc_speaker_a"]
    assert [d.name for d in ins.values() if d.is_default_input] == ["lkc_mic_a"]
    assert not [n for n in ins if n.endswith(".monitor")]
    # PortAudio's ALSA names are not in these lists; a choice finds a device by either name
    assert "pulse" not in outs and "default" not in ins
    assert devices.find_device("Virtual Speaker B", "output").name == "lkc_speaker_b"
    assert devices.find_device(None, "input").name == "lkc_mic_a"


def test_devices_json_says_the_backend_and_description(sound_card: Any) -> None:
    env = dict(os.environ)
    env.update(sound_card.env)
    for backend, name, description in (("pulse", "lkc_speaker_a", "Virtual Speaker A"),
                                       ("portaudio", "lkc_speaker_a", "")):
        out = subprocess.run([sys.executable, "-m", "console", "devices", "--json",
                              "--backend", backend], env=env, capture_output=True,
                             text=True, timeout=60, check=True).stdout
        found = json.loads(out)
        assert {d["backend"] for d in found} == {backend}, found
        speaker = next(d for d in found if d["name"] == name)
        assert speaker["description"] == description or (backend == "portaudio"
                                                         and "description" in speaker)


def test_a_plugged_headset_is_listed_at_once_and_nothing_that_plays_stops(
        sound_card: Any, engine: Any, headset: Any) -> None:
    engine.play_test_tone(440.0, -18.0, 4.0)
    time.sleep(0.3)
    stream = engine.output.stream_index
    before = engine.output_stats()
    version = engine.device_lists_version
    t0 = time.monotonic()
    plugged = headset()
    assert wait_until(lambda: HEADSET in {d.name for d in engine.output_devices()}, 1.0)
    seen_after = time.monotonic() - t0
    assert HEADSET + "_mic" in {d.name for d in engine.input_devices()}
    assert engine.device_lists_version > version  # the window lists them again
    labels = {d.label for d in engine.output_devices()}
    assert DESCRIPTION in labels, labels
    time.sleep(0.5)
    after = engine.output_stats()
    # the same stream plays on: no PortAudio re-initialisation, no reopening, no underrun
    assert engine.output.stream_index == stream
    assert after.underruns == before.underruns and after.device_error is None
    assert engine.output_device.name == "lkc_speaker_a"
    print(f"listed {seen_after * 1000:.0f} ms after the plug-in; {plugged}")


def test_the_output_moves_to_the_chosen_sink_without_a_gap_and_falls_back_when_unplugged(
        sound_card: Any, engine: Any, headset: Any) -> None:
    plugged = headset()
    assert wait_until(lambda: HEADSET in {d.name for d in engine.output_devices()}, 1.0)
    engine.play_test_tone(440.0, -18.0, 8.0)  # peak -18 dBFS: RMS -21 dBFS
    time.sleep(0.3)
    before = engine.output_stats().underruns
    with GapMeter(("lkc_speaker_a", HEADSET), env=sound_card._child_env()) as meter:
        t0 = time.perf_counter()
        assert engine.start_output(DESCRIPTION).name == HEADSET  # chosen by its description
        switch_ms = (time.perf_counter() - t0) * 1000
    # what a listener of both hears: the tone goes on, silent no longer than the switch
    assert meter.silence_ms <= switch_ms + 20, (meter.silence_ms, switch_ms)
    assert monitor_level(sound_card, HEADSET) == pytest.approx(-21.0, abs=1.5)
    assert monitor_level(sound_card, "lkc_speaker_a") < -60.0
    # the new stream's first requests take a burst from the ring: at most a block or two
    # runs short there, concealed (the silence heard is measured above)
    assert engine.output_stats().underruns <= before + 2
    # Unplugged while playing: said at once, the default plays in its place.
    t0 = time.monotonic()
    sound_card.unplug(plugged)
    assert wait_until(lambda: engine.output_stats().notice is not None, 0.5)
    reported = time.monotonic() - t0
    notice = engine.output_stats().notice
    assert f"{DESCRIPTION} went away: playing on Virtual Speaker A" in notice, notice
    assert wait_until(lambda: engine.output_device is not None
                      and engine.output_device.name == "lkc_speaker_a", 1.0)
    assert monitor_level(sound_card, "lkc_speaker_a") == pytest.approx(-21.0, abs=1.5)
    # Back again: it plays there again, and the notice is gone.
    headset()  # reopened once its events have settled (audio_engine.SETTLE_BACK_S)
    assert wait_until(lambda: engine.output_device is not None
                      and engine.output_device.name == HEADSET
                      and engine.output_stats().notice is None, 4.0)
    print(f"switched in {switch_ms:.1f} ms, longest silence {meter.silence_ms} ms; "
          f"reported {reported * 1000:.0f} ms after the unplug")


def test_the_microphone_opens_a_new_source_of_the_server(
        sound_card: Any, engine: Any, headset: Any) -> None:
    """Unplugged in use, again and again on a busy machine: tests/test_pulse_unplug.py."""
    plugged = headset()
    assert wait_until(lambda: HEADSET + "_mic" in {d.name for d in engine.input_devices()},
                      1.0)
    dev = engine.set_input_device(HEADSET + "_mic")
    assert dev.label == f"{DESCRIPTION} Microphone"
    # what plays on the headset is what its microphone hears
    engine.start_output(HEADSET)
    engine.play_test_tone(440.0, -18.0, 3.0)
    assert wait_until(lambda: engine.mic_meters().heard.rms_db > -24.0, 2.0)
    # unplugged while both are in use: the defaults take over, and it is said
    sound_card.unplug(plugged)
    # (the notice is set just after the default opens: waited for with it)
    assert wait_until(lambda: engine.mic_state().device == "lkc_mic_a"
                      and engine.output_device is not None
                      and engine.output_device.name == "lkc_speaker_a"
                      and "went away" in (engine.output_stats().notice or ""), 2.0)
    assert engine.mic_state().missing == HEADSET + "_mic"


def test_the_window_lists_the_servers_devices_and_follows_a_plug_in(
        qtbot: Any, tmp_path: Any, sound_card: Any, engine: Any, headset: Any) -> None:
    from console import settings
    from console.widgets.main_window import MainWindow
    from tests.fakes import FakeController  # no room here: its join panel is not used

    window = MainWindow(engine, settings.open_store(str(tmp_path / "c.ini")),
                        controller=FakeController())
    qtbot.addWidget(window)
    window.show()
    combo = window.mic.picker.combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert "Virtual Mic A (hears Speaker A) (default)" in texts, texts
    assert "Virtual Mic B (hears Speaker B)" in texts and not any("ALSA" in t for t in texts)
    assert window.mic.picker.info.text() == "48 kHz, 1 channel"
    assert window.output is not None
    t0 = time.monotonic()
    plugged = headset()
    qtbot.waitUntil(lambda: HEADSET in window.output.picker.names(), timeout=1000)
    qtbot.waitUntil(lambda: HEADSET + "_mic" in window.mic.picker.names(), timeout=1000)
    shown = time.monotonic() - t0
    assert window.output.picker.combo.findText(DESCRIPTION) >= 0
    sound_card.unplug(plugged)
    qtbot.waitUntil(lambda: HEADSET not in window.output.picker.names(), timeout=1000)
    window.close()
    print(f"in the pickers {shown * 1000:.0f} ms after the plug-in")
