"""The Opus parameters livekit-server writes into its SDP, so senders keep DTX and FEC.

A WebRTC sender sets up its Opus encoder from the ``a=fmtp`` line of the other side's
description. aiortc writes none, and with none libwebrtc (browsers, the livekit SDKs)
switches discontinuous transmission and in-band FEC off: a silent microphone sent 50
packets/s through the sandbox against about 4.5 through livekit-server, and a lost packet
could not be rebuilt from the next one. So the sandbox writes what livekit-server writes:

- every Opus codec: ``minptime=10;useinbandfec=1`` (livekit-server's media engine);
- in the answer to a publisher's offer, per published track: ``usedtx=1`` unless the
  client asked for no DTX, and ``stereo=1;maxaveragebitrate=510000`` for a stereo track
  (livekit-server's ``configurePublisherAnswer``).

The descriptions are aiortc's own, rewritten through aiortc's SDP parser before
``setLocalDescription``, so what aiortc holds and what the client reads are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiortc.sdp import SessionDescription
from livekit.protocol import models

OPUS = "audio/opus"
STEREO_MAX_BITRATE = 510_000  # livekit-server's figure for a stereo track


@dataclass(frozen=True)
class OpusFeatures:
    """What a published audio track asked for, as far as the Opus parameters go."""

    dtx: bool = True
    stereo: bool = False

    @staticmethod
    def of(track: models.TrackInfo) -> OpusFeatures:
        """From a track's info: the old booleans or the newer ``audio_features`` list."""
        features = set(track.audio_features)
        return OpusFeatures(
            dtx=not (track.disable_dtx or models.AudioTrackFeature.TF_NO_DTX in features),
            stereo=track.stereo or models.AudioTrackFeature.TF_STEREO in features)


def fmtp(features: OpusFeatures | None) -> dict[str, int]:
    """The Opus fmtp parameters for one m-line; ``None``: a track the sandbox does not know
    (livekit-server then leaves its media engine's defaults alone)."""
    params = {"minptime": 10, "useinbandfec": 1}
    if features is not None:
        if features.dtx:
            params["usedtx"] = 1
        if features.stereo:
            params["stereo"] = 1
            params["maxaveragebitrate"] = STEREO_MAX_BITRATE
    return params


def rewrite(sdp: str, features_of: Callable[[str, str], OpusFeatures | None]) -> str:
    """``sdp`` with every audio m-line's Opus codec given its parameters;
    ``features_of(mid, msid)`` says what the track that m-line carries asked for (a new
    m-line of an offer has its mid only once aiortc sets the description, but its msid
    already names the track)."""
    description = SessionDescription.parse(sdp)
    for media in description.media:
        if media.kind != "audio":
            continue
        params = fmtp(features_of(media.rtp.muxId or "", media.msid or ""))
        for codec in media.rtp.codecs:
            if codec.mimeType.lower() == OPUS:
                codec.parameters = dict(params)
    return str(description)


def offered_track_ids(sdp: str) -> dict[str, str]:
    """The client's track id (its ``cid``) behind each audio m-line of an offer, by mid."""
    description = SessionDescription.parse(sdp)
    found: dict[str, str] = {}
    for media in description.media:
        if media.kind == "audio" and media.rtp.muxId and media.msid and " " in media.msid:
            found[media.rtp.muxId] = media.msid.split()[1]
    return found
