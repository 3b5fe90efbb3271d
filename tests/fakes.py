"""A fake audio engine and a fake room controller, for fast tests of the window's logic.

They implement the window's protocols (:class:`~console.widgets.engine_protocol.
AudioEngineLike`, :class:`~console.widgets.controller_protocol.RoomControllerLike`) with no
sound card, no PortAudio and no room: the window's decisions (what it lists, shows, calls
and remembers) can then be tested in milliseconds. They are fakes for fast window-logic
tests BESIDE the real tests (``test_main_window.py``, ``test_room_window.py`` on the
virtual sound card and the sandbox), never instead of them: only those prove the sound.

Nothing here imports sounddevice or joins a room. The engine's value types (processing
config, capture/channel/output stats) are the real dataclasses, so a field the window reads
that the engine lacks fails here too; their modules import ``livekit.rtc`` (the module only).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
from collections import deque
from typing import TYPE_CHECKING, Any

from console.engine.apm import ProcessingConfig
from console.engine.capture import CaptureStats, MicMeters
from console.engine.channel import ChannelStats
from console.engine.devices import AudioDevice, DeviceError, DeviceNotFoundError
from console.engine.echo_metrics import EchoStats
from console.engine.input_gain import clamp_db
from console.engine.meter import FLOOR_DB, SILENT, MeterSnapshot
from console.engine.mic_state import OFF as MIC_OFF
from console.engine.mic_state import MicAction, MicState, MicStatus
from console.engine.output import OutputStats
from console.session.connection_view import ConnectionView, connection_view
from console.session.explain import Explanation
from console.session.model import ConnState, ParticipantView, SessionSnapshot, TrackView
from console.session.participant_prefs import ParticipantPrefs
from console.session.transcript import Transcript, TranscriptSnapshot
from console.session.turns import TurnsSnapshot

if TYPE_CHECKING:
    from console.session.join import JoinSpec
    from console.widgets.controller_protocol import RoomControllerLike
    from console.widgets.engine_protocol import AudioEngineLike

IDLE_ECHO = EchoStats(erle_db=math.nan, echo_delay_ms=math.nan, delay_confidence=0.0,
                      far_active=False, windows=())
BROKEN_MIC = "fake_mic_broken"
BROKEN_SPEAKER = "fake_speaker_broken"


def device(name: str, index: int, *, inputs: int = 0, outputs: int = 0,
           default: bool = False) -> AudioDevice:
    """A device as PortAudio would list it (``default``: the default of its direction)."""
    return AudioDevice(index=index, name=name, hostapi="Fake", max_input_channels=inputs,
                       max_output_channels=outputs, default_samplerate=48000.0,
                       is_default_input=default and inputs > 0,
                       is_default_output=default and outputs > 0)


def default_inputs() -> list[AudioDevice]:
    return [device("fake_mic_a", 0, inputs=1, default=True), device("fake_mic_b", 1, inputs=2),
            device(BROKEN_MIC, 2, inputs=1)]


def default_outputs() -> list[AudioDevice]:
    return [device("fake_speaker_a", 3, outputs=2, default=True),
            device("fake_speaker_b", 4, outputs=1), device(BROKEN_SPEAKER, 5, outputs=2)]


def channel(key: str, rms_db: float = FLOOR_DB, *, label: str | None = None) -> ChannelStats:
    """A playing channel's figures, its pre-fader meter at ``rms_db``."""
    meter = MeterSnapshot(peak_db=rms_db, hold_db=rms_db, rms_db=rms_db, clipped=False,
                          frames=1)
    return ChannelStats(key=key, label=label or key, muted=False, gain_db=0.0, meter=meter,
                        stream_queue_ms=0.0, channel_queue_ms=0.0, frames_received=0,
                        underruns=0, frames_dropped=0, samples_dropped=0, samples_inserted=0,
                        ended=False)


class FakeEngine:
    """An :class:`AudioEngineLike` whose devices, failures and readings a test sets.

    ``inputs`` / ``outputs`` are the device lists; opening a device named in ``broken``
    raises the project's :class:`DeviceError` with its message (a device that is listed but
    cannot be opened), an unknown name :class:`DeviceNotFoundError` like the real lookup.
    ``meter``, ``channels``, ``echo`` and ``capture`` are what the readings return; every
    call that changes something is appended to ``calls``.
    """

    def __init__(self, inputs: list[AudioDevice] | None = None,
                 outputs: list[AudioDevice] | None = None, *,
                 input_device: str | None = "fake_mic_a",
                 processing: ProcessingConfig | None = None) -> None:
        self.inputs = default_inputs() if inputs is None else inputs
        self.outputs = default_outputs() if outputs is None else outputs
        self.broken: dict[str, str] = {
            BROKEN_MIC: f"cannot open input {BROKEN_MIC!r}: Device unavailable [PaErrorCode -9985]",
            BROKEN_SPEAKER: f"cannot open output {BROKEN_SPEAKER!r}: Device unavailable "
                            "[PaErrorCode -9985]",
        }
        self.list_error: str | None = None      # listing devices raises DeviceError(this)
        self.processing_error: str | None = None  # set_processing raises DeviceError(this)
        self.calls: list[tuple[str, object]] = []
        self.refreshes = 0
        self.clip_resets = 0
        self.tones: list[tuple[float, float, float]] = []
        self.tone_playing = False
        self.meter: MeterSnapshot = SILENT
        self.channels: list[ChannelStats] = []
        self.echo: EchoStats = IDLE_ECHO
        self.capture: CaptureStats | None = None  # None: figures made from the state
        self.running = True  # False: the readings are the idle ones of an engine not started
        self._processing = processing if processing is not None else ProcessingConfig()
        self._gain_db = 0.0
        self._input: AudioDevice | None = None
        self._output: AudioDevice | None = None
        if input_device is not None:
            self._input = self._find(self.inputs, input_device, "input")

    # -- devices ------------------------------------------------------------------------------
    def _find(self, found: list[AudioDevice], spec: str | int | None, kind: str) -> AudioDevice:
        if spec is None:
            default = [d for d in found if d.is_default_input or d.is_default_output]
            if not default:
                raise DeviceNotFoundError(f"no default {kind} device")
            return default[0]
        for dev in found:
            if dev.index == spec or dev.name == spec:
                if dev.name in self.broken:
                    raise DeviceError(self.broken[dev.name])
                return dev
        names = ", ".join(d.name for d in found)
        raise DeviceNotFoundError(f"no {kind} device named {spec!r}; {kind} devices: {names}")

    def _list(self, found: list[AudioDevice], refresh: bool) -> list[AudioDevice]:
        if refresh:
            self.refreshes += 1
        if self.list_error is not None:
            raise DeviceError(self.list_error)
        return list(found)

    def input_devices(self, refresh: bool = False) -> list[AudioDevice]:
        return self._list(self.inputs, refresh)

    def output_devices(self, refresh: bool = False) -> list[AudioDevice]:
        return self._list(self.outputs, refresh)

    @property
    def input_device(self) -> AudioDevice | None:
        return self._input

    @property
    def output_device(self) -> AudioDevice | None:
        return self._output

    def set_input_device(self, spec: str | int | None) -> AudioDevice:
        self.calls.append(("set_input_device", spec))
        self._input = self._find(self.inputs, spec, "input")
        return self._input

    def start_output(self, spec: str | int | None = None,
                     channels: int | None = None) -> AudioDevice:
        self.calls.append(("start_output", spec))
        self._output = self._find(self.outputs, spec, "output")
        return self._output

    # -- processing and gain ------------------------------------------------------------------
    @property
    def processing(self) -> ProcessingConfig:
        return self._processing

    def set_processing(self, config: ProcessingConfig) -> None:
        self.calls.append(("set_processing", config))
        if self.processing_error is not None:
            raise DeviceError(self.processing_error)
        self._processing = config

    @property
    def input_gain_db(self) -> float:
        return self._gain_db

    def set_input_gain_db(self, db: float) -> None:
        self.calls.append(("set_input_gain_db", db))
        self._gain_db = clamp_db(db)

    def play_test_tone(self, hz: float = 440.0, dbfs: float = -18.0,
                       seconds: float = 1.0) -> None:
        self.tones.append((hz, dbfs, seconds))
        self.tone_playing = True

    @property
    def test_tone_playing(self) -> bool:
        return self.tone_playing

    # -- readings (like the real engine's, they never raise) ----------------------------------
    def mic_meter(self) -> MeterSnapshot:
        return self.meter

    def reset_mic_clip(self) -> None:
        self.clip_resets += 1
        self.meter = dataclasses.replace(self.meter, clipped=False)

    def capture_stats(self, latency: bool = True) -> CaptureStats:
        if self.capture is not None:
            return self.capture
        name = self._input.name if self._input is not None and self.running else None
        return CaptureStats(device=name, running=self.running, frames_captured=0,
                            frames_delivered=0, frames_dropped={}, status_flags={},
                            since_last_callback_s=None,
                            stalled=False, device_error=None, source_queue_ms=0.0,
                            apm_switches=0, input_gain_db=self._gain_db)

    def channel_stats(self) -> list[ChannelStats]:
        return list(self.channels)

    def echo_stats(self) -> EchoStats:
        return self.echo

    def output_stats(self) -> OutputStats:
        name = self._output.name if self._output is not None else None
        return OutputStats(device=name, device_channels=2 if name else 0,
                           ring_ms=0.0, device_latency_ms=0.0, underruns=0, overruns=0,
                           frames_played=0, frames_mixed=0, frames_limited=0,
                           samples_clipped=0, device_error=None, notice=self.output_notice)

    # -- the microphone's two meters and its state (fakes: set by the test) ------------------
    # ``heard`` is what mic_meters() reports as heard (``meter`` stays the sent one);
    # ``mic`` a MicState to report as it is (None: made from the open input, always live);
    # unplug() / replug() script the real engine's fallback and reopening in one step each.
    heard: MeterSnapshot = SILENT
    mic: MicState | None = None
    lists_version = 0
    output_notice: str | None = None  # the real engine's: the chosen output went away
    # the microphone check: what the test sets (the real engine's: tests/test_mic_test.py)
    mic_test: Any = None          # a MicTestState to report (None: idle)
    mic_tests_started = 0
    hearing_myself = False

    def start_mic_test(self, seconds: float = 5.0) -> None:
        from console.engine.mic_test import MicTestState, Phase

        self.mic_tests_started += 1
        self.mic_test = MicTestState(Phase.RECORDING, 0.0, seconds, float("nan"))

    def cancel_mic_test(self) -> None:
        self.mic_test = None

    def mic_test_state(self) -> Any:
        from console.engine.mic_test import IDLE_TEST

        return self.mic_test if self.mic_test is not None else IDLE_TEST

    def set_hear_myself(self, on: bool) -> None:
        self.hearing_myself = on

    def hear_myself_latency_ms(self) -> float:
        return 48.0 if self.hearing_myself else float("nan")

    def set_resting(self, wanted: bool) -> None:
        self.calls.append(("set_resting", wanted))

    def mic_meters(self) -> MicMeters:
        return MicMeters(self.heard, self.meter)

    def mic_state(self) -> MicState:
        if not self.running:
            return MIC_OFF
        if self.mic is not None:
            return self.mic
        name = self._input.name if self._input is not None else None
        return MicState(status=MicStatus.LIVE if name else MicStatus.NO_DEVICE, device=name,
                        chosen=name, missing=None, unplugged=False, action=MicAction.NONE,
                        since=None, error=None, message="")

    @property
    def device_lists_version(self) -> int:
        return self.lists_version

    def unplug(self, *, fallback: str | None = None) -> MicState:
        """The open input goes away: the engine falls back to ``fallback`` (or waits)."""
        from console.engine.mic_state import describe

        gone = self._input.name if self._input is not None else None
        self._input = self._find(self.inputs, fallback, "input") if fallback else None
        action = MicAction.FELL_BACK if fallback else MicAction.WAITING
        self.heard = SILENT if fallback is None else self.heard
        self.meter = SILENT if fallback is None else self.meter
        self.mic = MicState(
            status=MicStatus.LIVE if fallback else MicStatus.NO_DEVICE, device=fallback,
            chosen=gone, missing=gone, unplugged=True, action=action, since=0.0,
            error=None if fallback else f"input {gone!r} stopped delivering audio (unplugged?)",
            message=describe(gone, True, action, fallback))
        return self.mic

    def replug(self) -> MicState:
        """The chosen input came back and was reopened."""
        if self.mic is not None and self.mic.missing is not None:
            self._input = self._find(self.inputs, self.mic.missing, "input")
        self.mic = None
        return self.mic_state()


def participant(identity: str, *, name: str | None = None, muted: bool = False,
                speaking: bool = False, loss: tuple[int, int] = (0, 0),
                agent: bool = False, quality: str = "unknown",
                packets_per_s: float = math.nan, agent_state: str | None = None,
                state_since: float = math.nan) -> ParticipantView:
    """A remote participant publishing one track, played on the channel named ``identity``.

    ``loss``: packets (received, lost) of that track, for the status bar's loss figure.
    """
    from console.session.model import TrackStats

    stats = TrackStats(packets_received=loss[0], packets_lost=loss[1],
                       packets_per_s=packets_per_s)
    track = TrackView(sid=f"TR_{identity}", name="mic", muted=muted, channel_key=identity,
                      stats=stats)
    return ParticipantView(identity=identity, name=name or identity, sid=f"PA_{identity}",
                           tracks=(track,), speaking=speaking, is_agent=agent,
                           quality=quality, agent_state=agent_state,
                           agent_state_since=state_since)


class FakeSession:
    """The session calls the window makes, recorded in order in ``calls``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        # The session's real transcript model (pure Python): a test writes to it as the
        # session does when text streams arrive.
        self.transcript_model = Transcript()
        self.turns_snapshot = TurnsSnapshot()  # what the session measured (a test sets it)

    def transcript(self) -> TranscriptSnapshot:
        return self.transcript_model.snapshot()

    def turns(self) -> TurnsSnapshot:
        return self.turns_snapshot

    def set_self_muted(self, muted: bool) -> None:
        self.calls.append(("set_self_muted", (muted,)))

    def set_push_to_talk(self, enabled: bool) -> None:
        self.calls.append(("set_push_to_talk", (enabled,)))

    def set_talking(self, talking: bool) -> None:
        self.calls.append(("set_talking", (talking,)))

    def named(self, name: str) -> list[tuple[object, ...]]:
        """The arguments of every call of ``name``, in order."""
        return [args for called, args in self.calls if called == name]


class FakeController:
    """A :class:`RoomControllerLike` whose join outcome the test scripts.

    ``join`` records the spec and starts "connecting" (busy). Each :meth:`poll` then takes
    the next snapshot of the script (see :meth:`script`), or repeats the current one; like
    the real controller, a join is busy while connecting and a failed one's detail lands in
    :attr:`error`. Nothing runs in the background.
    """

    def __init__(self, participant_prefs: ParticipantPrefs | None = None) -> None:
        self.session = FakeSession()
        self.participant_prefs = participant_prefs or ParticipantPrefs()
        # As the real session does: told which participant's preferences changed.
        self.prefs_changed: list[tuple[str, float, bool]] = []
        self.participant_prefs.listeners.append(lambda identity: self.prefs_changed.append(
            (identity, self.participant_prefs.volume_db(identity),
             self.participant_prefs.muted(identity))))
        self.snapshot = SessionSnapshot()
        self.busy = False
        self.error = ""
        self.joins: list[JoinSpec] = []
        self.leaves = 0
        self.polls = 0
        self.closed = False
        self._script: deque[SessionSnapshot] = deque()

    def script(self, *steps: SessionSnapshot) -> None:
        """What the next polls return, one step per poll (the last one stays)."""
        self._script.extend(steps)

    def join(self, spec: JoinSpec) -> bool:
        if self.busy:
            return False
        self.joins.append(spec)
        self.error = ""
        self._apply(SessionSnapshot(state=ConnState.CONNECTING, room=spec.room or "",
                                    identity=spec.identity or ""))
        return True

    def leave(self) -> concurrent.futures.Future[None]:
        self.leaves += 1
        self._script.clear()
        self._apply(dataclasses.replace(self.snapshot, state=ConnState.DISCONNECTED,
                                        participants=()))
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        done.set_result(None)
        return done

    def poll(self) -> SessionSnapshot:
        self.polls += 1
        if self._script:
            self._apply(self._script.popleft())
        return self.snapshot

    def view(self, snap: SessionSnapshot | None = None) -> ConnectionView:
        """The real view function over the scripted state (it is pure)."""
        error = Explanation(self.error, self.error) if self.error else None
        return connection_view(snap or self.snapshot, joining=self.busy, error=error)

    def close(self) -> None:
        self.closed = True

    def _apply(self, snap: SessionSnapshot) -> None:
        self.snapshot = snap
        self.busy = snap.state is ConnState.CONNECTING
        if snap.state is ConnState.FAILED:
            self.error = snap.detail


def connected(room: str = "demo", identity: str = "me",
              *people: ParticipantView, rtt_ms: float = math.nan) -> SessionSnapshot:
    return SessionSnapshot(state=ConnState.CONNECTED, room=room, identity=identity,
                           participants=people, published=True, rtt_ms=rtt_ms)


def failed(detail: str) -> SessionSnapshot:
    return SessionSnapshot(state=ConnState.FAILED, detail=detail)


if TYPE_CHECKING:  # mypy checks that the fakes keep up with the window's protocols
    def _conforms(engine: FakeEngine, controller: FakeController) -> None:
        checked_engine: AudioEngineLike = engine
        checked_controller: RoomControllerLike = controller
        del checked_engine, checked_controller
