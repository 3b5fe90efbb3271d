"""Audio engine: devices, capture, processing, metering. Never imports Qt."""

from __future__ import annotations
