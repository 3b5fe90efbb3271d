"""The engine's facade before start and after stop: queries answer one idle state, commands
that need the media thread say plainly that the engine is not running.

A real AudioEngine that is never started needs neither the sound card nor livekit's
runtime, so this runs with the fast tests.
"""

from __future__ import annotations

import math

import pytest

from console.engine.audio_engine import AudioEngine, EngineNotRunning
from console.engine.meter import SILENT


def test_an_engine_not_started_answers_every_query_with_idle_values() -> None:
    engine = AudioEngine()
    assert not engine.running
    capture = engine.capture_stats()
    assert not capture.running and capture.device is None and capture.device_error is None
    output = engine.output_stats()
    assert output.device is None and output.underruns == 0 and output.device_error is None
    echo = engine.echo_stats()
    assert math.isnan(echo.erle_db) and not echo.far_active
    assert engine.mic_meter() == SILENT
    assert engine.channel_stats() == [] and engine.channel_meters() == {}
    assert not engine.has_channel("alice/TR_x")
    assert engine.set_channel_gain_db("alice/TR_x", -6.0) is False
    assert engine.set_channel_muted("alice/TR_x", True) is False
    assert engine.input_device is None and engine.output_device is None


def test_commands_that_need_the_media_thread_raise_one_clear_error() -> None:
    engine = AudioEngine()

    async def nothing() -> int:
        return 1

    coro = nothing()
    with pytest.raises(EngineNotRunning, match="the audio engine is not running"):
        engine.run(coro)
    assert coro.cr_frame is None  # closed, so no "never awaited" warning
    with pytest.raises(EngineNotRunning):
        engine.submit(nothing())
    with pytest.raises(EngineNotRunning):
        engine.call_soon(print)
    with pytest.raises(EngineNotRunning):
        engine.set_input_device("anything")
    with pytest.raises(EngineNotRunning):
        engine.start_output("anything")


def test_settings_given_before_start_are_kept_for_it() -> None:
    from console.engine.apm import ProcessingConfig

    engine = AudioEngine(processing=ProcessingConfig.off())
    engine.set_input_gain_db(6.0)
    engine.set_mic_gate(False)
    engine.set_processing(ProcessingConfig(noise_suppression=True, echo_cancellation=False,
                                           auto_gain_control=False, high_pass_filter=True))
    assert engine.input_gain_db == 6.0
    assert not engine.mic_gate_open
    assert engine.processing.noise_suppression and not engine.processing.echo_cancellation
    engine.stop()  # stopping an engine that never started is harmless
    assert not engine.running
