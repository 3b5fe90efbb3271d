"""Benchmarks: commands that print figures."""

from __future__ import annotations
