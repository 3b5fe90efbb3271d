"""Text streams sent by the sandbox itself, packet for packet as an SDK sends them.

A text stream is a header (id, topic, attributes), chunks of UTF-8 text and a trailer
(whose attributes the receiving SDK merges into the stream's). The sandbox's agent has no
client SDK to do this, so it builds the DataPackets and hands them to every other
participant's data channel. A stream sent on behalf of another participant (a user's own
words, transcribed by the agent) carries that participant's identity on its header, with
``generated`` set, exactly as livekit-server forwards an agent's such header; chunks and
trailer carry the agent's identity, which the receiving SDK ignores (it keys them by
stream id).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from livekit.protocol import models

Deliver = Callable[[bytes], None]


class TextStreamOut:
    """One outgoing text stream: ``write`` as often as needed, then ``close``."""

    def __init__(self, deliver: Deliver, *, topic: str, sender: str,
                 on_behalf_of: str | None = None,
                 attributes: dict[str, str] | None = None) -> None:
        self._deliver = deliver
        self._sender = sender
        self.stream_id = str(uuid.uuid4())
        self._index = 0
        self.closed = False
        header = models.DataStream.Header(
            stream_id=self.stream_id, timestamp=int(time.time() * 1000), topic=topic,
            mime_type="text/plain",
            text_header=models.DataStream.TextHeader(
                operation_type=models.DataStream.OperationType.CREATE,
                generated=on_behalf_of is not None))
        header.attributes.update(attributes or {})
        self._send(models.DataPacket(stream_header=header), on_behalf_of or sender)

    def write(self, text: str) -> None:
        if self.closed or not text:
            return
        chunk = models.DataStream.Chunk(stream_id=self.stream_id, chunk_index=self._index,
                                        content=text.encode())
        self._index += 1
        self._send(models.DataPacket(stream_chunk=chunk), self._sender)

    def close(self, attributes: dict[str, str] | None = None) -> None:
        if self.closed:
            return
        self.closed = True
        trailer = models.DataStream.Trailer(stream_id=self.stream_id)
        trailer.attributes.update(attributes or {})
        self._send(models.DataPacket(stream_trailer=trailer), self._sender)

    def _send(self, packet: models.DataPacket, identity: str) -> None:
        packet.kind = models.DataPacket.Kind.RELIABLE
        packet.participant_identity = identity
        self._deliver(packet.SerializeToString())


def send_text(deliver: Deliver, text: str, *, topic: str, sender: str,
              on_behalf_of: str | None = None, attributes: dict[str, str] | None = None) -> str:
    """A whole text as one short stream (header, one chunk, trailer); its stream id."""
    stream = TextStreamOut(deliver, topic=topic, sender=sender, on_behalf_of=on_behalf_of,
                           attributes=attributes)
    stream.write(text)
    stream.close()
    return stream.stream_id
