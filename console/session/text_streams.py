"""The room's ``lk.transcription`` and ``lk.chat`` text streams, read into the transcript.

Each stream is read by a task of its own on the room loop: chunk by chunk into the
:class:`~console.session.transcript.Transcript` (the delta shape shows words as they come),
its end marking the segment final when ``lk.transcription_final`` says so, which the SDK
merges in from the stream's trailer once it is read. A chat message is one final line.

Who spoke is the session's call (``attribute``): the transcribed track's owner, else the
sender. Streams whose sender is the console itself are kept: an agent sends the user's own
words under the user's identity.

Readers see :meth:`TranscriptFeed.snapshot`, replaced on the room loop at most every
``publish_every_s`` (the display rate), however many updates arrive: a flood of interim
segments costs the loop one line per update and one snapshot per period.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Protocol

from livekit import rtc

from console.session.timed_text import TimedTextDecoder
from console.session.transcript import (
    TOPIC_CHAT,
    TOPIC_TRANSCRIPTION,
    Speaker,
    Transcript,
    TranscriptSnapshot,
)

log = logging.getLogger(__name__)
TOPICS = (TOPIC_TRANSCRIPTION, TOPIC_CHAT)
ATTR_SEGMENT_ID = "lk.segment_id"
ATTR_FINAL = "lk.transcription_final"
ATTR_TRACK_ID = "lk.transcribed_track_id"
PUBLISH_EVERY_S = 1 / 30

# (transcribed track sid or None, sender identity) -> whose words they are
Attribute = Callable[[str | None, str], Speaker]


class StreamInfo(Protocol):
    @property
    def stream_id(self) -> str: ...

    @property
    def attributes(self) -> dict[str, str] | None: ...


class TextReader(Protocol):
    """What is read of ``rtc.TextStreamReader`` (tests give plain objects)."""

    @property
    def info(self) -> StreamInfo: ...

    def __aiter__(self) -> AsyncIterator[str]: ...

    def close(self) -> None: ...


def segment_final(topic: str, attributes: dict[str, str]) -> bool:
    """A stream's end finalizes its segment unless it says ``lk.transcription_final=false``
    (a chat message always)."""
    if topic == TOPIC_CHAT:
        return True
    return attributes.get(ATTR_FINAL, "true").lower() == "true"


class TranscriptFeed:
    """The transcript and the tasks that fill it; lives as long as the session (a rejoin
    keeps the transcript). Every method but :meth:`snapshot` runs on the room loop."""

    def __init__(self, publish_every_s: float = PUBLISH_EVERY_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.model = Transcript()
        self._snap = self.model.snapshot()
        self._every = publish_every_s
        self._clock = clock
        self._published_at = -math.inf
        self._pending: asyncio.TimerHandle | None = None
        self.publishes = 0     # snapshots handed to readers (tests count them)

    # -- any thread -----------------------------------------------------------------------
    def snapshot(self) -> TranscriptSnapshot:
        return self._snap

    # -- room loop ------------------------------------------------------------------------
    def attach(self, room: rtc.Room, *, alive: Callable[[], bool],
               spawn: Callable[[Coroutine[Any, Any, None]], None],
               attribute: Attribute) -> None:
        """Read ``room``'s transcription and chat streams (before it connects, so none is
        missed); ``alive()`` is False once the room was left, ``spawn`` runs a reader task
        the session cancels when it leaves."""
        for topic in TOPICS:
            room.register_text_stream_handler(
                topic, self.handler(topic, alive=alive, spawn=spawn, attribute=attribute))

    def handler(self, topic: str, *, alive: Callable[[], bool],
                spawn: Callable[[Coroutine[Any, Any, None]], None],
                attribute: Attribute) -> Callable[[Any, str], None]:
        def opened(reader: TextReader, sender: str) -> None:
            if not alive():
                reader.close()   # a reader never read holds an FFI subscription
                return
            spawn(self.read(reader, sender, topic, attribute))
        return opened

    async def read(self, reader: TextReader, sender: str, topic: str,
                   attribute: Attribute) -> None:
        """One stream, chunk by chunk, into the transcript."""
        info = reader.info
        attributes = info.attributes or {}
        segment = attributes.get(ATTR_SEGMENT_ID) or info.stream_id
        token = -1
        try:
            speaker = attribute(attributes.get(ATTR_TRACK_ID) or None, sender)
            token = self.model.open(segment, speaker, topic)
            decoder = TimedTextDecoder()
            async for chunk in reader:
                if self.model.write(token, decoder.feed(chunk), self._clock()):
                    self.changed()
            self.model.write(token, decoder.flush(), self._clock())
            final = segment_final(topic, reader.info.attributes or {})  # trailer merged
            self.model.close(token, final=final, now=self._clock())
            self.changed()
        except rtc.StreamError as exc:  # the sender aborted, or we left mid-stream
            log.info("transcript: stream %s from %s broke off: %s", info.stream_id, sender,
                     exc)
        except Exception:  # a bug here must not take a task's exception unseen
            log.exception("transcript: reading stream %s from %s failed", info.stream_id,
                          sender)
        finally:
            self.model.abandon(token)   # nothing if it was closed
            reader.close()

    def changed(self) -> None:
        """Something changed: publish now if the last snapshot is a period old, else once
        when the period is over."""
        if self._pending is not None:
            return
        wait = self._published_at + self._every - self._clock()
        if wait <= 0:
            self.flush()
        else:
            self._pending = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        """Publish the transcript as it is now."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        self._published_at = self._clock()
        snap = self.model.snapshot()
        if snap is not self._snap:
            self._snap = snap
            self.publishes += 1

    def clear(self) -> None:
        self.model.clear()
        self.flush()
