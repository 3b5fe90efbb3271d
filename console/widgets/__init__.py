"""Qt widgets of the console; they read engine snapshots and never run audio work."""

from __future__ import annotations
