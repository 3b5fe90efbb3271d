"""Benchmarks: commands that print figures."""

from __future__ import annotations

import json
from typing import Any


def emit(result: dict[str, Any], as_json: bool) -> int:
    """Print a benchmark's figures: JSON, or one aligned line per figure."""
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:36} {value}")
    return 0
