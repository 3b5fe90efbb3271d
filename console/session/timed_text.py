"""The words in a transcription stream's chunks, plain or as JSON ``TimedString`` objects.

Agents send plain text by default; configured for JSON, each chunk is one ``TimedString``
object (``{"text": ..., "start_time": ..., "end_time": ...}``). The SDK may split a large
write into several chunks, or a reader may see several objects in one, so JSON is taken as
a stream of objects, not one per chunk. A stream whose first words do not open an object is
plain text throughout; so is whatever follows an object that is not JSON after all.
"""

from __future__ import annotations

import json

MAX_PENDING = 64 * 1024   # an "object" this long that never closes is taken as text
_decoder = json.JSONDecoder()


class TimedTextDecoder:
    """Feed a stream's chunks in order; get the text each one adds."""

    def __init__(self) -> None:
        self._json: bool | None = None   # undecided until the first non-blank chunk
        self._pending = ""

    def feed(self, chunk: str) -> str:
        if self._json is None:
            head = chunk.lstrip()
            if not head:
                return chunk
            self._json = head.startswith("{")
        if not self._json:
            return chunk
        self._pending += chunk
        out: list[str] = []
        while True:
            rest = self._pending.lstrip()
            if not rest:
                self._pending = ""
                break
            if not rest.startswith("{"):
                self._json = False           # not JSON after all: the rest is text
                self._pending = ""
                out.append(rest)
                break
            try:
                value, end = _decoder.raw_decode(rest)
            except json.JSONDecodeError:
                self._pending = rest         # an object not complete yet
                if len(rest) > MAX_PENDING:
                    out.append(self.flush())
                break
            self._pending = rest[end:]
            out.append(text_of(value, rest[:end]))
        return "".join(out)

    def flush(self) -> str:
        """What is left at the end of the stream (an object never closed), as text."""
        rest, self._pending = self._pending, ""
        if rest:
            self._json = False
        return rest


def text_of(value: object, raw: str) -> str:
    """A TimedString's ``text``; any other JSON value stands as it was sent."""
    if isinstance(value, dict):
        text = value.get("text")
        if isinstance(text, str):
            return text
    return raw
