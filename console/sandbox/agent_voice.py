"""The sandbox agent's replies: a few phrases as speech-like audio, encoded to Opus once.

There is no text-to-speech here: each word becomes one or two voiced syllables (a pitch
contour, harmonics shaped by the formants of the word's vowels, a breath of noise for a
leading consonant) with short pauses between words and longer ones at commas and full
stops. It sounds like someone talking behind a wall, which is what a meter, a speaking dot
and a voice detector need; the words' start times let the reply's transcript follow its
audio word by word, as an agent's does. Each reply starts voiced in its first packet, so
its first packet is also its first audible one.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from console.sandbox.server_voices import PACKET, encode_clip
from console.signals import SAMPLE_RATE

REPLIES = (
    "Sure, I can help with that.",
    "Let me check that for you. One moment.",
    "Got it. Is there anything else?",
    "Thanks, that is clear. Tell me a little more.",
    "I hear you. This is the sandbox's scripted agent.",
)
REPLY_RMS_DBFS = -20.0
SYLLABLE_S = (0.13, 0.21)
WORD_GAP_S = 0.06
COMMA_GAP_S = 0.2
STOP_GAP_S = 0.32
TAIL_S = 0.12                # silence closing each reply (the encoder settles on it)
VOWEL_FORMANTS = {           # F1, F2, F3 in Hz (adult speaker, rounded)
    "a": (730.0, 1090.0, 2440.0), "e": (530.0, 1840.0, 2480.0),
    "i": (300.0, 2200.0, 3000.0), "o": (570.0, 840.0, 2410.0),
    "u": (320.0, 900.0, 2240.0), "y": (300.0, 2000.0, 2900.0),
}
_encoding = threading.Lock()


@dataclass(frozen=True)
class Phrase:
    """One reply: its text, its words with the packet each starts in, and its packets."""

    text: str
    words: tuple[str, ...]           # with their trailing space: joined, they are the text
    word_packets: tuple[int, ...]    # index of the packet in which each word starts
    payloads: tuple[bytes, ...]      # 20 ms Opus packets
    levels: tuple[int, ...]          # each packet's level in -dBov

    @property
    def duration_s(self) -> float:
        return len(self.payloads) * PACKET / SAMPLE_RATE


def _syllables(word: str) -> list[str]:
    """The vowel of each syllable (one per group of vowels; at least one)."""
    groups = re.findall(r"[aeiouy]+", word.lower())
    return [g[0] for g in groups[:3]] or ["a"]


def synthesize(text: str, seed: int = 0) -> tuple[npt.NDArray[np.int16], list[float]]:
    """Speech-like samples for ``text`` and each word's start time in seconds."""
    rng = np.random.default_rng(seed)
    pieces: list[npt.NDArray[np.float64]] = []
    starts: list[float] = []
    pos = 0
    words = text.split()
    for w, word in enumerate(words):
        starts.append(pos / SAMPLE_RATE)
        vowels = _syllables(word)
        for s, vowel in enumerate(vowels):
            n = int(rng.uniform(*SYLLABLE_S) * SAMPLE_RATE)
            # A falling phrase contour, a small accent on each word's first syllable.
            f0 = 135.0 - 25.0 * (w / max(1, len(words) - 1)) + (12.0 if s == 0 else 0.0)
            pieces.append(_syllable(n, f0, VOWEL_FORMANTS[vowel], rng,
                                    breath=s == 0 and w > 0 and word[0].lower() not in "aeiou"))
            pos += n
        gap = STOP_GAP_S if word[-1] in ".?!" else COMMA_GAP_S if word[-1] in ",;:" else WORD_GAP_S
        if w == len(words) - 1:
            gap = TAIL_S
        pieces.append(np.zeros(int(gap * SAMPLE_RATE)))
        pos += int(gap * SAMPLE_RATE)
    x = np.concatenate(pieces)
    active = np.abs(x) > 1e-6
    rms = float(np.sqrt(np.mean(x[active] ** 2))) if active.any() else 1.0
    x *= 10 ** (REPLY_RMS_DBFS / 20) * 32768 / rms
    return np.clip(x, -32768, 32767).astype(np.int16), starts


def _syllable(n: int, f0: float, formants: tuple[float, float, float],
              rng: np.random.Generator, *, breath: bool) -> npt.NDArray[np.float64]:
    """Harmonics of a gliding pitch weighted by three formant bumps, under an envelope
    with a 10 ms attack (so a reply is audible from its first packet)."""
    t = np.arange(n) / SAMPLE_RATE
    pitch = f0 * (1.0 + 0.06 * np.sin(np.pi * t / t[-1]))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    x = np.zeros(n)
    for k in range(1, int(3800 / f0)):
        weight = sum(np.exp(-(((k * f0 - fc) / (60.0 + 0.08 * fc)) ** 2)) for fc in formants)
        x += (0.15 + weight) / k ** 0.7 * np.sin(k * phase)
    attack = min(n, int(0.01 * SAMPLE_RATE))
    env = np.ones(n)
    env[:attack] = np.linspace(0.0, 1.0, attack)
    release = n // 3
    env[n - release:] = np.cos(0.5 * np.pi * np.arange(release) / release) ** 2
    x *= env
    if breath:
        burst = min(n, int(0.03 * SAMPLE_RATE))
        x[:burst] += rng.normal(0.0, 0.5 * np.std(x), burst) * np.linspace(1.0, 0.0, burst)
    return x


@functools.lru_cache(maxsize=1)
def _phrases() -> tuple[Phrase, ...]:
    out = []
    for i, text in enumerate(REPLIES):
        samples, starts = synthesize(text, seed=i)
        encoded = encode_clip(samples)
        words = text.split()
        out.append(Phrase(
            text=text, words=tuple(w + " " if j < len(words) - 1 else w
                                   for j, w in enumerate(words)),
            word_packets=tuple(int(s * SAMPLE_RATE) // PACKET for s in starts),
            payloads=encoded.payloads, levels=encoded.levels))
    return tuple(out)


def phrases() -> tuple[Phrase, ...]:
    """The replies, rendered on first use (about a second of CPU; call it off the loop)."""
    with _encoding:
        return _phrases()
