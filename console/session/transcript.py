"""The room's transcript: segments that grow or are replaced in place, then are marked final.

Agents send a segment (``lk.segment_id``) in one of two shapes: one stream whose chunks are
appended as they are spoken, or a new short stream per update carrying the whole text so
far. One rule covers both: a stream carries its segment's text from the start, so its
chunks are appended, and a newer stream for the same segment replaces what older ones
wrote. Streams are ranked by the order they opened; anything a stream older than the
segment's current writer still delivers is stale and dropped (its reader task may run late).

Every update costs the same however long the transcript is (a dictionary lookup and one new
line): a flood of interim updates (hundreds a second) must not cost the room loop more per
update as the call goes on. Readers take :meth:`Transcript.snapshot`, an immutable value
built at most once per version, so a window redraws only when something changed and at its
own rate. Single-threaded: the session calls it on the room loop only.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

TOPIC_TRANSCRIPTION = "lk.transcription"
TOPIC_CHAT = "lk.chat"
MAX_LINES = 2000
KEEP_FINALS = 500


@dataclass(frozen=True)
class Speaker:
    """Whose words a stream carries, as the session attributed them."""

    identity: str
    name: str = ""
    local: bool = False   # the console's own user: shown as "you"

    @property
    def label(self) -> str:
        return "you" if self.local else (self.name or self.identity)


@dataclass(frozen=True)
class TranscriptLine:
    segment_id: str
    speaker: Speaker
    text: str
    final: bool
    started: float            # time.monotonic() of its first text
    updated: float            # ... of its last change
    topic: str = TOPIC_TRANSCRIPTION
    rev: int = 0              # the transcript's version when this line last changed
    finalized: float = math.nan   # when it was (last) marked final

    @property
    def identity(self) -> str:
        return self.speaker.identity

    @property
    def chat(self) -> bool:
        return self.topic == TOPIC_CHAT


@dataclass(frozen=True)
class FinalSegment:
    """A segment marked final at ``t``; ``seq`` grows by one per finalization."""

    seq: int
    segment_id: str
    speaker: Speaker
    text: str
    t: float
    topic: str = TOPIC_TRANSCRIPTION

    @property
    def identity(self) -> str:
        return self.speaker.identity


@dataclass(frozen=True)
class TranscriptSnapshot:
    """The transcript at one version: lines in the order their segments began."""

    version: int = 0
    lines: tuple[TranscriptLine, ...] = ()
    finals: tuple[FinalSegment, ...] = ()   # the last KEEP_FINALS, oldest first

    def changed_since(self, version: int) -> tuple[TranscriptLine, ...]:
        """Lines that changed after ``version`` (for a pane that redraws only those)."""
        return tuple(line for line in self.lines if line.rev > version)

    def finals_after(self, seq: int) -> tuple[FinalSegment, ...]:
        """Segments finalized after ``seq`` (the last one a reader saw; 0: all kept)."""
        finals = self.finals
        if not finals or finals[-1].seq <= seq:
            return ()
        return finals[max(0, seq - finals[0].seq + 1):]

    @property
    def last_final_seq(self) -> int:
        return self.finals[-1].seq if self.finals else 0


@dataclass
class _Stream:
    segment_id: str
    speaker: Speaker
    topic: str


@dataclass
class _Segment:
    line: TranscriptLine
    writer: int               # the newest stream that wrote to it (or closed it)


class Transcript:
    """The segments of the transcript; one thread only (the room loop)."""

    def __init__(self, max_lines: int = MAX_LINES, keep_finals: int = KEEP_FINALS) -> None:
        self.max_lines = max_lines
        self._segments: dict[str, _Segment] = {}
        self._lines: dict[str, TranscriptLine] = {}      # the same lines, in order
        self._order: deque[str] = deque()                # for dropping the oldest
        self._streams: dict[int, _Stream] = {}
        self._finals: deque[FinalSegment] = deque(maxlen=keep_finals)
        self._next_stream = 0
        self._final_seq = 0
        self.version = 0
        self.builds = 0                                  # snapshots built (tests count them)
        self._snap = TranscriptSnapshot()

    # -- streams --------------------------------------------------------------------------
    def open(self, segment_id: str, speaker: Speaker, topic: str = TOPIC_TRANSCRIPTION) -> int:
        """A stream for ``segment_id`` opened; the token ranks it against other streams."""
        self._next_stream += 1
        self._streams[self._next_stream] = _Stream(segment_id, speaker, topic)
        return self._next_stream

    def write(self, token: int, text: str, now: float) -> bool:
        """A chunk of stream ``token``; False when it changed nothing (stale or empty)."""
        stream = self._streams.get(token)
        if stream is None or not text:
            return False
        seg = self._segments.get(stream.segment_id)
        if seg is None:
            self._add(stream, token, text, now)
        elif token < seg.writer:
            return False                                 # a newer stream has the segment
        else:
            old = seg.line
            new_text = old.text + text if token == seg.writer else text
            self._replace(seg, token, stream, new_text, False, now, old.started)
        return True

    def close(self, token: int, *, final: bool, now: float) -> bool:
        """Stream ``token`` ended; ``final`` marks its segment final. False: nothing changed."""
        stream = self._streams.pop(token, None)
        if stream is None:
            return False
        seg = self._segments.get(stream.segment_id)
        if seg is None or token < seg.writer:
            return False                 # it never wrote (an empty segment), or it is stale
        old = seg.line
        if old.final == final and seg.writer == token:
            return False
        self._replace(seg, token, stream, old.text, final, now, old.started)
        if final:
            self._final_seq += 1
            self._finals.append(FinalSegment(self._final_seq, old.segment_id, stream.speaker,
                                             old.text, now, stream.topic))
        return True

    def abandon(self, token: int) -> None:
        """Stream ``token`` broke off (an error, leaving): its text stays, not final."""
        self._streams.pop(token, None)

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    # -- reading --------------------------------------------------------------------------
    def snapshot(self) -> TranscriptSnapshot:
        """The current transcript, built only when it changed since the last call."""
        if self._snap.version != self.version:
            self.builds += 1
            self._snap = TranscriptSnapshot(self.version, tuple(self._lines.values()),
                                            tuple(self._finals))
        return self._snap

    def clear(self) -> None:
        """Forget every line (streams still open start new segments)."""
        self._segments.clear()
        self._lines.clear()
        self._order.clear()
        self._finals.clear()
        self.version += 1

    # -- inside ---------------------------------------------------------------------------
    def _add(self, stream: _Stream, token: int, text: str, now: float) -> None:
        self.version += 1
        line = TranscriptLine(stream.segment_id, stream.speaker, text, False, now, now,
                              stream.topic, self.version)
        self._segments[stream.segment_id] = _Segment(line, token)
        self._lines[stream.segment_id] = line
        self._order.append(stream.segment_id)
        while len(self._order) > self.max_lines:
            oldest = self._order.popleft()
            self._segments.pop(oldest, None)
            self._lines.pop(oldest, None)

    def _replace(self, seg: _Segment, token: int, stream: _Stream, text: str, final: bool,
                 now: float, started: float) -> None:
        self.version += 1
        old = seg.line
        line = TranscriptLine(old.segment_id, stream.speaker, text, final, started, now,
                              stream.topic, self.version, now if final else math.nan)
        seg.line = line
        seg.writer = token
        self._lines[old.segment_id] = line
