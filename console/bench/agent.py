"""Benchmark of turn latency: the console's figure against the sandbox agent's ground truth.

Run: python -m console bench agent [--turns 20] [--json] [--virtual-devices]

Three parts:
- **Detectors, offline**: each candidate (energy, webrtcvad modes 0, 2, 3) on two minutes
  of speech-like audio with known edges: its cost per 10 ms frame, its bias on the end and
  the start of speech (stamp of the last/first voiced frame minus the true edge) and its
  decision delay (the end is known a hangover after the last voiced frame), and its false
  starts on 20 s of white noise at -45 and -35 dBFS.
- **Echo**: the engine on the virtual card (mic B hears speaker B) plays the agent's five
  replies through its own mixer, all processing on, then with echo cancellation off: the
  spans the microphone's detector finds in what is sent are false starts (a console that
  took them for the user would count interruptions that never were).
- **A conversation**: the sandbox's agent in this process, a recording in place of the
  microphone (voiced bursts, ``--turns`` of them), the real session. Each turn's latency
  against the agent's own (its user_end to reply_start) plus the path delays, measured
  apart: level edges of the same audio at both ends of each direction (``path_delay``:
  ends of speech on the way up, onsets on the way down).
  CPU: the process during the conversation, and the media thread's share for the
  agent features (the detectors per frame and the tracker's updates).
- **CPU with and without the agent features**: the same conversation with the sandbox and
  its agent in a child process, so this process holds only the console; its whole CPU
  with the features (transcript, turns) and without (``RoomSession(agent_features=False)``),
  alternating, ``--cpu-rounds`` of each; medians.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from console.engine.format import FRAME, SAMPLE_RATE
from console.engine.vad import (
    CHANNEL_THRESHOLD_DBFS,
    SUB,
    SUB_S,
    Detector,
    EnergyDetector,
    VadOptions,
    VoiceActivity,
    WebRtcDetector,
    frame_dbfs,
    mic_voice,
)

EDGE_DB = -45.0
# One 10 ms frame as seen at one end of a path: the stamp of its last sample
# (time.monotonic()), its level and the level of each of its milliseconds (dBFS).
Level = tuple[float, float, npt.NDArray[np.float64]]
Levels = list[Level]


# -- the path, measured apart from the turn code ------------------------------------------
def ms_levels(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float64]:
    n = samples.shape[0] // SUB
    x = samples[:n * SUB].astype(np.float64).reshape(n, SUB) / 32768.0
    db: npt.NDArray[np.float64] = 10 * np.log10(np.maximum(np.mean(x * x, axis=1), 1e-12))
    return db


def frame_level(samples: npt.NDArray[np.int16], t: float) -> Level:
    return (t, frame_dbfs(samples), ms_levels(samples))


def _placed(level: Level, threshold: float, *, start: bool) -> float:
    """An edge in a frame placed as the turn code places it (``VadOptions.refine_dbfs``):
    the start of its first, or the end of its last, millisecond at ``threshold``."""
    t, _, ms = level
    loud = np.flatnonzero(ms >= threshold)
    if loud.size == 0:
        return t
    first = t - len(ms) * SUB_S
    return float(first + (loud[0] if start else loud[-1] + 1) * SUB_S)


def edges(levels: Levels, threshold: float = EDGE_DB) -> list[tuple[float, bool]]:
    """(time, rising) where the 10 ms level crosses ``threshold`` and stays 50 ms on that
    side, placed to the millisecond within the edge's frame (as the turn code does, so
    frame grids that differ at the two ends of a path do not show as delay)."""
    out: list[tuple[float, bool]] = []
    above = False
    for i, (_, db, _) in enumerate(levels):
        now = db >= threshold
        if now != above and all((lv[1] >= threshold) == now for lv in levels[i:i + 5]):
            edge = levels[i] if now else levels[i - 1]
            out.append((_placed(edge, threshold, start=now), now))
            above = now
    return out


def path_delay(near: Levels, far: Levels, around: float, *, rising: bool,
               span_s: float = 2.0) -> float:
    """Median time from a level edge at the near end to the same edge at the far end,
    over the edges of one kind (``rising``: onsets, else ends: the kind of edge a turn is
    timed by) within ``span_s`` of ``around``; NaN if none matches."""
    far_edges = [f for f, r in edges(far) if r == rising]
    delays = []
    for t, r in edges(near):
        if r != rising or abs(t - around) > span_s:
            continue
        match = [f - t for f in far_edges if 0 <= f - t < 0.5]
        if match:
            delays.append(min(match))
    return float(np.median(delays)) if delays else math.nan


def reply_delay(downlink: Levels, arrived: Levels, onset: float) -> float:
    """The downlink's delay for a reply's first onset (at ``onset`` as the sandbox forwards
    it), not the median over the reply's onsets as on the way up: the jitter buffer's
    delay moves within a talk spurt (a reply's first onset read up to 20 ms off the median
    of its later ones on a loaded machine), and the first is the one a turn is timed by."""
    return path_delay(downlink, arrived, onset, rising=True, span_s=0.1)


def speech_end(uplink: Levels, user_end: float) -> float:
    """The end of the user's speech as the agent heard it, to the millisecond: placed in
    the 10 ms block the agent stamped ``user_end`` (its last voiced one)."""
    near = [lv for lv in uplink if abs(lv[0] - user_end) < 0.002]
    return _placed(near[0], EDGE_DB, start=False) if near else user_end


def reply_onset(downlink: Levels, reply_start: float) -> float:
    """The agent's first audible millisecond of a reply as the sandbox forwards it: in the
    first block at the channel detector's threshold from the reply's first packet on.

    The agent stamps the 20 ms packet it hands on (``reply_start``); ``forwarded`` stamps
    each 10 ms block as the packet's time less the block after it, and ``path_delay``
    measures the downlink between edges so stamped: the reference onset must be in the
    same terms, and at the channel's threshold, as the console's."""
    for lv in downlink:
        if lv[0] >= reply_start - 0.0105 and lv[1] >= CHANNEL_THRESHOLD_DBFS:
            return _placed(lv, CHANNEL_THRESHOLD_DBFS, start=True)
    return math.nan


class Recording(VoiceActivity):
    """A channel's detector that also notes every 10 ms's level (the near end downlink)."""

    def __init__(self, base: VoiceActivity) -> None:
        super().__init__(base.detector, base.options)
        self.levels: Levels = []

    def frame(self, samples: npt.NDArray[np.int16], t: float,
              detail: float = math.nan) -> None:
        self.levels.append(frame_level(samples, t))
        super().frame(samples, t, detail)


def forwarded(sandbox: Any, fanout: Any) -> Levels:
    """Levels of each millisecond of a track's packets as the sandbox forwards them,
    grouped in its 10 ms blocks stamped as its agent stamps what it hears (the packet's time
    less the blocks after it)."""
    from console.sandbox.agent_ears import BLOCK_S, OpusLevels

    levels: Levels = []
    decoder = OpusLevels(block=SUB)
    per_block = BLOCK_S / SUB_S

    def on_packet(payload: bytes) -> None:
        now = time.monotonic()
        ms = np.asarray(decoder.levels(payload))
        blocks = int(len(ms) // per_block)
        for i in range(blocks):
            part = ms[int(i * per_block):int((i + 1) * per_block)]
            db = 10 * math.log10(max(float(np.mean(10 ** (part / 10))), 1e-12))
            levels.append((now - (blocks - 1 - i) * BLOCK_S, db, part))

    sandbox.run(fanout.listen, on_packet)
    return levels


def burst(seconds: float, rms_dbfs: float = -20.0) -> npt.NDArray[np.float32]:
    """A voiced burst with crisp 10 ms edges: a 140 Hz buzz swinging at 4 Hz."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = sum(np.sin(2 * np.pi * 140.0 * k * t) / k for k in range(1, 10))
    x = x * (0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t))
    x *= 10 ** (rms_dbfs / 20) / np.sqrt(np.mean(x ** 2))
    ramp = int(0.01 * SAMPLE_RATE)
    x[:ramp] *= np.linspace(0, 1, ramp)
    x[-ramp:] *= np.linspace(1, 0, ramp)
    return np.asarray(x, dtype=np.float32)


class Reference(NamedTuple):
    """A turn's reference, measured apart from the turn code: the agent's own time from
    the end of the user's speech to its reply (both placed to the millisecond) and the
    path delays each way; ``latency_s`` is what the console should measure."""

    heard_end: float
    onset: float
    up: float
    down: float

    @property
    def latency_s(self) -> float:
        return self.onset - self.heard_end + self.up + self.down


class Paths:
    """Both ends of both directions of a conversation with the sandbox's agent, recorded
    from now on: our microphone as sent and as the sandbox forwards it (up), the agent's
    voice as it enters the forwarder and as our channel ``key`` receives it (down)."""

    def __init__(self, engine: Any, session: Any, sandbox: Any, room: str, identity: str,
                 agent: Any, key: str) -> None:
        from console.engine.vad import channel_voice

        sent: Levels = []
        engine.chain.add_sent_tap(lambda x, t: sent.append(frame_level(x, t)))
        channel = engine.channel(key)
        self.sent = sent
        self.recording = Recording(channel.voice or channel_voice())
        channel.set_voice(self.recording)
        # Our track is published in the sandbox once its media has arrived there.
        mic_sid = session.snapshot().mic_track_sid
        _wait(lambda: sandbox.run(
            lambda: mic_sid in sandbox.server.room(room).peers[identity].published), 5.0)
        self.uplink = forwarded(
            sandbox, sandbox.server.room(room).peers[identity].published[mic_sid].fanout)
        self.downlink = forwarded(sandbox, agent._pub.fanout)

    def reference(self, user_end: float, reply_start: float) -> Reference:
        """The reference for the agent's turn (its ground truth ``user_end`` and
        ``reply_start``)."""
        onset = reply_onset(self.downlink, reply_start)
        return Reference(speech_end(self.uplink, user_end), onset,
                         path_delay(self.sent, self.uplink, user_end, rising=False),
                         reply_delay(self.downlink, self.recording.levels, onset))


# -- detectors, offline --------------------------------------------------------------------
def _candidates() -> list[Detector]:
    return [EnergyDetector(-45.0), EnergyDetector(-50.0), WebRtcDetector(0),
            WebRtcDetector(2), WebRtcDetector(3)]


def detector_figures() -> list[dict[str, Any]]:
    from console.signals import speech_like

    x = speech_like(120.0, -20.0, seed=3)
    nz = np.flatnonzero(x != 0)
    gaps = np.flatnonzero(np.diff(nz) > 0.25 * SAMPLE_RATE)
    true_ends, true_starts = nz[gaps] / SAMPLE_RATE, nz[gaps + 1] / SAMPLE_RATE
    frames = x[:len(x) // FRAME * FRAME].reshape(-1, FRAME)
    rng = np.random.default_rng(0)
    out = []
    for det in _candidates():
        options = VadOptions()
        va = VoiceActivity(det, options)
        t0 = time.perf_counter()
        for i, f in enumerate(frames):
            va.frame(f, (i + 1) * FRAME / SAMPLE_RATE)
        us = (time.perf_counter() - t0) / len(frames) * 1e6
        spans = va.spans()
        ends = np.array([s.end for s in spans if not s.open])
        starts = np.array([s.start for s in spans])
        end_bias = [float(ends[np.argmin(abs(ends - t))] - t) for t in true_ends]
        start_bias = [float(starts[np.argmin(abs(starts - t))] - t) for t in true_starts]
        noise = {}
        for level in (-45, -35):
            nv = VoiceActivity(det, options)
            n = (rng.normal(0, 1, SAMPLE_RATE * 20) * 10 ** (level / 20) * 32768)
            pcm = n.clip(-32768, 32767).astype(np.int16)
            for i, f in enumerate(pcm.reshape(-1, FRAME)):
                nv.frame(f, i * 0.01)
            noise[f"{level}dBFS"] = len(nv.spans())
        out.append({
            "detector": det.name, "us_per_frame": round(us, 2),
            "spans": len(spans), "utterances": len(true_ends),
            "end_bias_ms": round(statistics.mean(end_bias) * 1000, 1),
            "end_bias_sd_ms": round(statistics.pstdev(end_bias) * 1000, 1),
            "start_bias_ms": round(statistics.mean(start_bias) * 1000, 1),
            "decision_delay_ms": round((statistics.mean(end_bias) + options.hangover_s)
                                       * 1000, 1),
            "false_starts_white_noise_20s": noise,
        })
    return out


# -- echo ----------------------------------------------------------------------------------
def echo_figures() -> dict[str, Any]:
    """False starts of the microphone's detector on the agent's replies played here."""
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine
    from console.sandbox.agent_voice import REPLIES, synthesize

    out: dict[str, Any] = {}
    replies = [synthesize(text, seed=i)[0] for i, text in enumerate(REPLIES)]
    for aec in (True, False):
        engine = AudioEngine(input_device="lkc_mic_b", output_device="lkc_speaker_b",
                             processing=ProcessingConfig(echo_cancellation=aec))
        engine.start()
        try:
            engine.watch_mic_voice(True)
            time.sleep(1.0)  # the canceller's first second
            played = 0.0
            for pcm in replies:
                engine.mixer.play_cue(pcm.astype(np.float32))
                time.sleep(len(pcm) / SAMPLE_RATE + 0.5)
                played += len(pcm) / SAMPLE_RATE
            spans = engine.mic_voice_spans()
        finally:
            engine.stop()
        out["aec_on" if aec else "aec_off"] = {"replies_s": round(played, 1),
                                               "false_starts": len(spans)}
    return out


# -- a conversation ------------------------------------------------------------------------
def conversation(turns: int) -> dict[str, Any]:
    import soundfile

    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine
    from console.sandbox.agent import AgentOptions
    from console.sandbox.server import SandboxThread
    from console.session.join import JoinSpec, resolve
    from console.session.room_session import RoomSession

    script = _script(np.random.default_rng(7), turns)
    engine = AudioEngine(input_device="lkc_mic_b", output_device="lkc_speaker_b",
                         processing=ProcessingConfig())
    engine.start()
    errors: list[float] = []
    rows = []
    cpu = math.nan
    with tempfile.TemporaryDirectory() as tmp, SandboxThread(port=0) as sandbox:
        wav = Path(tmp) / "user.wav"
        soundfile.write(str(wav), script, SAMPLE_RATE)
        sandbox.run(sandbox.server.register_agent, "helper", AgentOptions(think_s=0.3))
        session = RoomSession(engine)
        try:
            snap = session.join(resolve(JoinSpec(url=sandbox.url, api_key="devkey",
                                                 api_secret="secret", room="bench",
                                                 identity="me", agent="helper")))
            if snap.state.value != "connected":
                raise RuntimeError(f"join failed: {snap.detail}")
            _wait(lambda: bool(sandbox.server.agents("bench"))
                  and sandbox.server.agents("bench")[0].linked == "me", 10.0)
            agent = sandbox.server.agents("bench")[0]
            _wait(lambda: bool(session.snapshot().voice_keys(agent.identity)), 10.0)
            key = session.snapshot().voice_keys(agent.identity)[0]
            paths = Paths(engine, session, sandbox, "bench", "me", agent, key)
            cpu0, wall0 = time.process_time(), time.monotonic()
            engine.set_input_file(wav)
            total = len(script) / SAMPLE_RATE
            _wait(lambda: session.turns().n + session.turns().unanswered >= turns, total + 10)
            cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100.0
            ours = session.turns()
        finally:
            session.leave()
        truth = sandbox.server.agent_turns("bench")
    engine.stop()
    for mine, gt in zip(ours.turns, truth, strict=False):
        if gt.reply_start is None or not mine.answered:
            continue
        ref = paths.reference(gt.user_end, gt.reply_start)
        err = mine.latency_s - ref.latency_s
        errors.append(err * 1000)
        rows.append({"latency_ms": round(mine.latency_s * 1000, 1),
                     "truth_ms": round((ref.onset - ref.heard_end) * 1000, 1),
                     "uplink_ms": round(ref.up * 1000, 1),
                     "downlink_ms": round(ref.down * 1000, 1),
                     "error_ms": round(err * 1000, 1),
                     # the error's two halves: our end of the user's speech against the
                     # agent's (moved by the uplink), our reply onset against the agent's
                     "end_error_ms": round(
                         (mine.user_end + ref.up - ref.heard_end) * 1000, 1),
                     "onset_error_ms": round(
                         (mine.agent_audio - ref.onset - ref.down) * 1000, 1),
                     "to_ear_ms": round(mine.to_ear_s * 1000, 1)})
    known = [e for e in errors if not math.isnan(e)]
    return {
        "turns_measured": ours.n, "turns_truth": len(truth),
        "interruptions": ours.interruptions, "unanswered": ours.unanswered,
        "error_mean_ms": round(statistics.mean(known), 1) if known else None,
        "error_abs_max_ms": round(max(abs(e) for e in known), 1) if known else None,
        "p50_ms": round(ours.p50_ms, 1), "p95_ms": round(ours.p95_ms, 1),
        "process_cpu_percent": round(cpu, 1),
        "turns": rows,
    }


def feature_cost() -> dict[str, float]:
    """The media thread's share of a core for the agent features: the microphone's and
    one agent channel's detectors (100 frames/s each) and 20 tracker updates a second."""
    from console.session.turns import TurnTracker
    from console.signals import speech_like

    x = speech_like(10.0, -20.0)
    frames = x[:len(x) // FRAME * FRAME].reshape(-1, FRAME)
    va = mic_voice()
    t0 = time.perf_counter()
    for i, f in enumerate(frames):
        va.frame(f, i * 0.01)
    vad_us = (time.perf_counter() - t0) / len(frames) * 1e6
    tracker = TurnTracker()
    spans = va.spans()
    t0 = time.perf_counter()
    for i in range(2000):
        tracker.update(100.0 + i * 0.05, spans, [("a", "a/k", spans)], ())
    update_us = (time.perf_counter() - t0) / 2000 * 1e6
    share = (2 * 100 * vad_us + 20 * update_us) / 1e6 * 100.0
    return {"vad_us_per_frame": round(vad_us, 2), "tracker_update_us": round(update_us, 1),
            "media_thread_percent": round(share, 3)}


def _script(rng: np.random.Generator, turns: int) -> npt.NDArray[np.float32]:
    """The scripted user: voiced bursts of 0.6-1.4 s, each followed by 4.6 s of silence."""
    script = [np.zeros(int(0.6 * SAMPLE_RATE), np.float32)]
    for _ in range(turns):
        script += [burst(float(rng.uniform(0.6, 1.4))),
                   np.zeros(int(4.6 * SAMPLE_RATE), np.float32)]
    return np.concatenate(script)


def feature_cpu(rounds: int, seconds: float) -> dict[str, Any]:
    """This process's CPU in a conversation with the sandbox's agent (in a child process),
    with the agent features and without, alternating: ``rounds`` of ``seconds`` each."""
    import soundfile

    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine
    from console.session.join import JoinSpec, resolve
    from console.session.local_sandbox import LocalSandbox
    from console.session.room_session import RoomSession

    engine = AudioEngine(input_device="lkc_mic_b", output_device="lkc_speaker_b",
                         processing=ProcessingConfig())
    engine.start()
    cpu: dict[bool, list[float]] = {True: [], False: []}
    turns: list[int] = []
    try:
        with tempfile.TemporaryDirectory() as tmp, \
                LocalSandbox(voices=0, room="cpu", agents=("helper",)) as sandbox:
            wav = Path(tmp) / "user.wav"
            soundfile.write(str(wav), _script(np.random.default_rng(11), 4), SAMPLE_RATE)
            engine.set_input_file(wav, loop=True)
            for _ in range(rounds):
                for features in (True, False):
                    # the microphone stays watched once a session has watched it
                    engine.watch_mic_voice(features)
                    session = RoomSession(engine, agent_features=features)
                    try:
                        snap = session.join(resolve(JoinSpec(
                            url=sandbox.url, api_key="devkey", api_secret="secret",
                            room="cpu", identity="me", agent="helper")))
                        if snap.state.value != "connected":
                            raise RuntimeError(f"join failed: {snap.detail}")
                        _wait(lambda s=session: bool(s.snapshot().agents), 10.0)
                        time.sleep(1.0)  # the agent's voice opens, the first turn starts
                        cpu0, wall0 = time.process_time(), time.monotonic()
                        time.sleep(seconds)
                        cpu[features].append((time.process_time() - cpu0)
                                             / (time.monotonic() - wall0) * 100.0)
                        if features:
                            turns.append(session.turns().n)
                    finally:
                        session.leave()
    finally:
        engine.stop()
    on, off = statistics.median(cpu[True]), statistics.median(cpu[False])
    return {"rounds": rounds, "seconds": seconds,
            "cpu_percent_with": [round(c, 1) for c in cpu[True]],
            "cpu_percent_without": [round(c, 1) for c in cpu[False]],
            "cpu_percent_with_median": round(on, 1),
            "cpu_percent_without_median": round(off, 1),
            "features_cost_percent": round(on - off, 1),
            "turns_measured_with": turns}


def _wait(predicate: Any, timeout: float) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError("the conversation did not get there in time")
        time.sleep(0.05)


def run(turns: int, cpu_rounds: int = 3, cpu_seconds: float = 20.0) -> dict[str, Any]:
    out = {"detectors": detector_figures(), "echo": echo_figures(),
           "feature_cost": feature_cost(), "conversation": conversation(turns)}
    if cpu_rounds > 0:
        out["feature_cpu"] = feature_cpu(cpu_rounds, cpu_seconds)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench agent")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--cpu-rounds", type=int, default=3,
                        help="rounds of the CPU comparison with and without the agent "
                             "features (0: skip it)")
    parser.add_argument("--cpu-seconds", type=float, default=20.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.turns < 1:
        parser.error("--turns must be at least 1")
    result = run(args.turns, args.cpu_rounds, args.cpu_seconds)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
