"""LiveKit audio console: join a LiveKit room from the desktop and watch its audio."""

from __future__ import annotations

__version__ = "0.1.0"
