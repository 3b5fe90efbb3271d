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


def count_and_seconds_parser(prog: str, count: str, count_default: int,
                             seconds_default: float) -> argparse.ArgumentParser:
    """``--<count> N --seconds S [--json]``; more options may be added before parsing."""
    parser = argparse.ArgumentParser(prog=f"livekit-console bench {prog}")
    parser.add_argument(f"--{count}", type=int, default=count_default)
    parser.add_argument("--seconds", type=float, default=seconds_default)
    parser.add_argument("--json", action="store_true")
    return parser


def parse_checked(parser: argparse.ArgumentParser, count: str,
                  argv: list[str] | None) -> argparse.Namespace:
    """Parse; both the count and the seconds must be at least 1."""
    args = parser.parse_args(argv)
    if int(getattr(args, count)) < 1 or args.seconds < 1:
        parser.error(f"--{count} and --seconds must be at least 1")
    return args


def parse_count_and_seconds(prog: str, count: str, count_default: int,
                            seconds_default: float,
                            argv: list[str] | None) -> tuple[int, float, bool]:
    """``--<count> N --seconds S [--json]``, both at least 1, for the benches that take them."""
    parser = count_and_seconds_parser(prog, count, count_default, seconds_default)
    args = parse_checked(parser, count, argv)
    return int(getattr(args, count)), float(args.seconds), bool(args.json)
