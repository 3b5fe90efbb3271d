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
from tests.audio_helpers import running_engine


@pytest.fixture
def sandbox() -> Iterator[SandboxThread]:
    """The sandbox server on a free port, in a thread of this process."""
    with SandboxThread(port=0) as server:
        yield server


@pytest.fixture
def engine(sound_card: object) -> Iterator[Any]:
    """A running engine on the virtual mic B (it hears speaker B), processing off."""
    with running_engine("lkc_mic_b") as eng:
        yield eng
