"""Voice activity in a stream of timed 10 ms frames: when speech started and when it ended.

Turn latency is measured from two edges: the end of the user's speech on the microphone as
sent, and the first audible frame of an agent's reply arriving at its channel. Both come
from a :class:`VoiceActivity`, fed one frame at a time (by the microphone's thread or the
mixer's), which turns a frame detector's yes/no into spans of speech: a span starts with a
voiced frame confirmed by ``min_speech_s`` of voice within :data:`PENDING_GAP_S`, and ends
``hangover_s`` after its last voiced frame. A span's times come from the frames' own stamps
(the capture time of the device for the microphone, the arrival from livekit for a channel),
never the moment the decision was taken, so the hangover adds nothing to the figures; within
the edge frame the start and the end are placed to the millisecond by level (a frame's stamp
is when its last sample came: unplaced, each edge is up to 10 ms off, on a frame grid that
differs from the sender's); the detector's own bias on an edge (measured by ``bench agent``)
is subtracted where it is known.

Detectors (chosen by measurement, see docs/BENCHMARKS.md): :class:`EnergyDetector` (RMS
over the frame against a threshold: about 2 µs a frame, sharp on the edges, blind to what
the sound is) and :class:`WebRtcDetector` (``webrtcvad``, the GMM detector of WebRTC:
about 15 µs a frame, knows speech from a hum, but marks frames voiced for tens of ms
after the end and often fires on loud noise). :class:`GatedDetector` requires both.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from console.engine.format import FRAME, SAMPLE_RATE

FRAME_S = FRAME / SAMPLE_RATE
SUB = SAMPLE_RATE // 1000   # an edge is placed to the millisecond within its frame
SUB_S = SUB / SAMPLE_RATE
PENDING_GAP_S = 0.2      # a start not confirmed within this gap is forgotten
KEEP_SPANS = 64
# Span numbers are unique in the process (a reader keeping the last it used never mistakes
# a new detector's first span, a reopened channel's, for one it has seen).
_span_numbers = itertools.count(1)


class Detector(Protocol):
    """Says whether one 10 ms int16 mono frame holds voice."""

    name: str

    def voiced(self, frame: npt.NDArray[np.int16]) -> bool: ...


def frame_dbfs(frame: npt.NDArray[np.int16]) -> float:
    """Mean-square level of a frame in dBFS (full-scale square = 0), floor -120."""
    x = frame.astype(np.float32)
    ms = float(np.dot(x, x)) / (x.shape[0] * 32768.0 * 32768.0) if x.shape[0] else 0.0
    return 10.0 * math.log10(ms) if ms > 1e-12 else -120.0


def loud_ms(frame: npt.NDArray[np.int16], threshold_dbfs: float) -> tuple[int, int] | None:
    """The first and last millisecond of a 10 ms frame whose RMS reaches the threshold
    (indices 0..9), or None. A frame over the threshold as a whole always has one."""
    n = frame.shape[0] // SUB
    if n == 0:
        return None
    x = frame[:n * SUB].astype(np.float32).reshape(n, SUB)
    ms = np.einsum("ij,ij->i", x, x) / (SUB * 32768.0 * 32768.0)
    loud = np.flatnonzero(ms >= 10 ** (threshold_dbfs / 10))
    if loud.size == 0:
        return None
    return int(loud[0]), int(loud[-1])


class EnergyDetector:
    """Voiced when the frame's RMS is at least ``threshold_dbfs`` (the sandbox agent's
    own rule: -45 dBFS)."""

    def __init__(self, threshold_dbfs: float = -45.0) -> None:
        self.threshold_dbfs = threshold_dbfs
        self.name = f"energy {threshold_dbfs:g} dBFS"
        self._ms = 10 ** (threshold_dbfs / 10) * FRAME * 32768.0 * 32768.0

    def voiced(self, frame: npt.NDArray[np.int16]) -> bool:
        x = frame.astype(np.float32)
        return bool(float(np.dot(x, x)) * FRAME / max(1, x.shape[0]) >= self._ms)


class WebRtcDetector:
    """WebRTC's voice detector (``webrtcvad-wheels``); mode 0 (least) .. 3 (most aggressive
    at calling a frame unvoiced)."""

    def __init__(self, mode: int = 2) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(mode)
        self.name = f"webrtcvad mode {mode}"

    def voiced(self, frame: npt.NDArray[np.int16]) -> bool:
        return bool(self._vad.is_speech(frame.tobytes(), SAMPLE_RATE))


class GatedDetector:
    """Voiced when every detector says so (an energy gate in front of webrtcvad)."""

    def __init__(self, *detectors: Detector) -> None:
        self._detectors = detectors
        self.name = " + ".join(d.name for d in detectors)

    def voiced(self, frame: npt.NDArray[np.int16]) -> bool:
        return all(d.voiced(frame) for d in self._detectors)


@dataclass(frozen=True, slots=True)
class VoiceSpan:
    """One stretch of speech: ``start`` is the stamp of its first voiced frame, ``end`` of
    its last (``nan`` while it goes on), each placed to the millisecond within its frame
    with ``VadOptions.refine_dbfs``; ``detail`` is what the feeder stamped on the first
    frame (a channel: how long the start waits before it is heard)."""

    seq: int
    start: float
    end: float = math.nan
    detail: float = math.nan

    @property
    def open(self) -> bool:
        return math.isnan(self.end)


@dataclass(frozen=True)
class VadOptions:
    min_speech_s: float = 0.06   # voiced this long before a span counts as started
    hangover_s: float = 0.25     # unvoiced this long after the last voiced frame: ended
    start_bias_s: float = 0.0    # the detector's measured lag on an onset (subtracted)
    end_bias_s: float = 0.0      # ... and on an end (subtracted)
    # Place the edges to the millisecond: the start at the first millisecond of the first
    # voiced frame at this level, the end after the last of the last (None: frame stamps).
    # A frame is stamped with when its last sample came, so a frame's stamp alone is up
    # to 10 ms off the edge: on the two ends of a turn that is up to 20 ms.
    refine_dbfs: float | None = None


class VoiceActivity:
    """Spans of voice in timed frames: one writer at a time (the microphone's thread, or
    the mixer), any reader.

    Readers get :meth:`spans`, an immutable tuple replaced on change, so reading needs no
    lock; ``seq`` grows with each span (unique in the process), and an open span is
    replaced by its closed form.
    """

    def __init__(self, detector: Detector, options: VadOptions | None = None,
                 keep: int = KEEP_SPANS) -> None:
        self.detector = detector
        self.options = options or VadOptions()
        self._spans: deque[VoiceSpan] = deque(maxlen=keep)
        self._published: tuple[VoiceSpan, ...] = ()
        self._first = math.nan     # stamp of the first voiced frame of the current stretch
        self._detail = math.nan
        self._last = math.nan      # stamp of its last voiced frame
        self._last_frame: npt.NDArray[np.int16] | None = None   # (to place the end)
        self._voiced = 0.0
        self._confirmed = False
        self.frames = 0

    def spans(self) -> tuple[VoiceSpan, ...]:
        """The last spans, oldest first; the newest may still be open."""
        return self._published

    @property
    def speaking(self) -> bool:
        return self._confirmed

    def frame(self, samples: npt.NDArray[np.int16], t: float,
              detail: float = math.nan) -> None:
        """One 10 ms frame stamped ``t`` (longer blocks: call once per 10 ms of it)."""
        self.frames += 1
        if self.detector.voiced(samples):
            self._voice(samples, t, detail)
        else:
            self.silence(t)

    def _edge(self, samples: npt.NDArray[np.int16], t: float, *, start: bool) -> float:
        """When the voice starts (ends) in a frame stamped ``t``: its first (after its
        last) loud millisecond, or the stamp itself without refinement."""
        level = self.options.refine_dbfs
        loud = loud_ms(samples, level) if level is not None else None
        if loud is None:
            return t
        frame_start = t - samples.shape[0] / SAMPLE_RATE
        return float(frame_start + (loud[0] if start else loud[1] + 1) * SUB_S)

    def _voice(self, samples: npt.NDArray[np.int16], t: float, detail: float) -> None:
        if not math.isnan(self._last) and not self._confirmed \
                and t - self._last > PENDING_GAP_S:
            self._forget()
        if math.isnan(self._first):
            self._first, self._detail = self._edge(samples, t, start=True), detail
            if self._first < t:
                # ``detail`` is how long the frame's first sample waits to be heard; the
                # placed start is a frame before its stamp, and is heard that much later.
                self._detail += samples.shape[0] / SAMPLE_RATE
        self._last = t
        if self.options.refine_dbfs is not None:
            self._last_frame = samples.copy()
        self._voiced += FRAME_S
        if not self._confirmed and self._voiced >= self.options.min_speech_s - 1e-9:
            self._confirmed = True
            self._push(VoiceSpan(next(_span_numbers), self._first - self.options.start_bias_s,
                                 detail=self._detail))

    def silence(self, t: float) -> None:
        """An unvoiced frame (or no frame at all) at ``t``: a span may end here."""
        if math.isnan(self._last):
            return
        gap = t - self._last
        if self._confirmed and gap >= self.options.hangover_s - 1e-9:
            span = self._spans.pop()
            last = self._last_frame
            end = self._edge(last, self._last, start=False) if last is not None else self._last
            self._push(VoiceSpan(span.seq, span.start, end - self.options.end_bias_s,
                                 span.detail))
            self._forget()
        elif not self._confirmed and gap > PENDING_GAP_S:
            self._forget()

    def _push(self, span: VoiceSpan) -> None:
        self._spans.append(span)
        self._published = tuple(self._spans)

    def _forget(self) -> None:
        self._first = self._last = self._detail = math.nan
        self._last_frame = None
        self._voiced = 0.0
        self._confirmed = False


# What the engine uses (see docs/BENCHMARKS.md, "Turn latency"): the same rule as the
# sandbox agent's ears for the microphone; -50 dBFS (the speaking dot's level) on a channel,
# where a reply starts voiced and comfort noise between replies sits far below.
MIC_THRESHOLD_DBFS = -45.0
CHANNEL_THRESHOLD_DBFS = -50.0


def mic_voice() -> VoiceActivity:
    """The detector for the user's speech on the microphone as sent."""
    return VoiceActivity(EnergyDetector(MIC_THRESHOLD_DBFS),
                         VadOptions(min_speech_s=0.08, hangover_s=0.25,
                                    refine_dbfs=MIC_THRESHOLD_DBFS))


def channel_voice() -> VoiceActivity:
    """The detector for a remote voice arriving at a channel: its first audible 10 ms."""
    return VoiceActivity(EnergyDetector(CHANNEL_THRESHOLD_DBFS),
                         VadOptions(min_speech_s=0.03, hangover_s=0.2,
                                    refine_dbfs=CHANNEL_THRESHOLD_DBFS))
