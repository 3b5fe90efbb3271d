"""Fixtures of the tests that join a room: a sandbox server and an engine on mic B.

tests/conftest.py loads this module as a plugin; a module that defines its own ``sandbox``
or ``engine`` (another device, processing on) keeps its own. The engine is imported inside
the fixture: PortAudio must not be loaded before the virtual sound card is applied.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from console.sandbox.server import SandboxThread


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    """The sandbox server on a free port, in a thread of this process."""
    with SandboxThread(port=0) as server:
        yield server


@pytest.fixture
def engine(sound_card: object) -> Iterator[Any]:
    """A running engine on the virtual mic B (it hears speaker B), processing off."""
    from console.engine.apm import ProcessingConfig
    from console.engine.audio_engine import AudioEngine

    eng = AudioEngine(input_device="lkc_mic_b", processing=ProcessingConfig.off())
    eng.start()
    try:
        yield eng
    finally:
        eng.stop()
