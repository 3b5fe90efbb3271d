"""Benchmarks: commands that print figures."""

from __future__ import annotations

import argparse
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


def parse_count_and_seconds(prog: str, count: str, count_default: int,
                            seconds_default: float,
                            argv: list[str] | None) -> tuple[int, float, bool]:
    """``--<count> N --seconds S [--json]``, both at least 1, for the benches that take them."""
    parser = argparse.ArgumentParser(prog=f"livekit-console bench {prog}")
    parser.add_argument(f"--{count}", type=int, default=count_default)
    parser.add_argument("--seconds", type=float, default=seconds_default)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    n = int(getattr(args, count))
    if n < 1 or args.seconds < 1:
        parser.error(f"--{count} and --seconds must be at least 1")
    return n, float(args.seconds), bool(args.json)
