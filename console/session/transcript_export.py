"""The transcript as text and JSON: for Copy and Save in the window, and ``monitor --json``.

Times are written on a clock that starts at ``t0`` (a ``time.monotonic()`` value: the join,
for ``monitor``), so they line up with whatever else the caller writes on that clock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from console.session.transcript import FinalSegment, TranscriptLine

INTERIM_MARK = " …"


def _t(value: float, t0: float) -> float | None:
    return None if math.isnan(value) else round(value - t0, 3)


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    minutes, rest = divmod(seconds, 60.0)
    hours, minutes = divmod(int(minutes), 60)
    head = f"{hours}:{minutes:02d}" if hours else f"{minutes:02d}"
    return f"{head}:{rest:04.1f}"


def transcript_text(lines: Iterable[TranscriptLine], t0: float) -> str:
    """One line per segment: ``[mm:ss.s] who: words``; an interim one ends with " …",
    a chat message's speaker is followed by "(chat)"."""
    out = []
    for line in lines:
        who = line.speaker.label + (" (chat)" if line.chat else "")
        mark = "" if line.final else INTERIM_MARK
        text = " ".join(line.text.split())  # one segment, one line
        out.append(f"[{_clock(line.started - t0)}] {who}: {text}{mark}")
    return "\n".join(out) + ("\n" if out else "")


def line_record(line: TranscriptLine, t0: float) -> dict[str, Any]:
    return {"identity": line.identity, "name": line.speaker.label, "local": line.speaker.local,
            "topic": line.topic, "segment_id": line.segment_id, "text": line.text,
            "final": line.final, "t": _t(line.started, t0), "updated": _t(line.updated, t0),
            "final_t": _t(line.finalized, t0)}


def transcript_json(lines: Iterable[TranscriptLine], t0: float, *, indent: int | None = 2
                    ) -> str:
    """The whole transcript: a JSON array of :func:`line_record` objects."""
    return json.dumps([line_record(line, t0) for line in lines], indent=indent,
                      ensure_ascii=False)


def final_record(final: FinalSegment, t0: float) -> dict[str, Any]:
    """One entry of ``monitor --json``'s ``transcript``: ``t`` is when it was finalized."""
    return {"identity": final.identity, "text": final.text, "segment_id": final.segment_id,
            "final": True, "t": round(final.t - t0, 3)}


def final_records(finals: Iterable[FinalSegment], t0: float) -> list[dict[str, Any]]:
    return [final_record(f, t0) for f in finals]
