"""The Room is handed only the FFI events it reads.

livekit's ``Room`` subscribes to every FFI event except the media streams' and reads four
kinds: room events, RPC invocations, and the answers to publishing and unpublishing a
track (its local participant waits for those through the Room). Every other event wakes
the Room's event loop for nothing and then waits on its broadcast queue: above all the
AudioSource's answer to each microphone frame, 100 a second for as long as we publish,
and each chunk of every text stream (a transcript flood). Narrowed to the four, the
room's loop wakes for what it uses (``bench idle``, docs/BENCHMARKS.md).

This reads livekit internals (``FfiQueue``'s subscriber list, ``Room._ffi_queue``), stable
across the 1.2 series that ``pyproject.toml`` pins; where they are not found nothing
changes.
"""

from __future__ import annotations

import logging

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2 as proto_ffi

_log = logging.getLogger(__name__)

ROOM_READS = frozenset({"room_event", "rpc_method_invocation", "publish_track",
                        "unpublish_track"})


def room_reads(event: proto_ffi.FfiEvent) -> bool:
    """Whether the Room's listener does anything with ``event``."""
    return event.WhichOneof("message") in ROOM_READS


def narrow(room: rtc.Room) -> bool:
    """Hand ``room`` only the events it reads, from now on; False where livekit's
    internals are not as expected (the Room then goes on hearing everything)."""
    ffi_queue = FfiClient.instance.queue
    mine = getattr(room, "_ffi_queue", None)
    subscribers = getattr(ffi_queue, "_subscribers", None)
    lock = getattr(ffi_queue, "_lock", None)
    if mine is None or subscribers is None or lock is None:
        _log.debug("livekit's event queue is not as expected: the Room hears everything")
        return False
    with lock:
        for i, (queue, loop, _wanted) in enumerate(subscribers):
            if queue is mine:
                subscribers[i] = (queue, loop, room_reads)
                return True
    return False
