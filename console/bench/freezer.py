"""Freezes of a whole process, made on purpose: what a shared VM does to the console.

``freezing(every_s, ms)`` runs a child (``python -m console.bench.freezer``) that stops
this process with SIGSTOP every ``every_s`` seconds and lets it go ``ms`` milliseconds
later (SIGCONT): every thread stops at once, native ones too, while the sound server goes
on, as in the 15-100 ms freezes of this VM that ``bench aec`` and ``bench gui`` see. The
benchmarks compare their figures with and without, side by side.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def freezing(every_s: float, ms: float) -> Iterator[None]:
    """Freeze this process ``ms`` every ``every_s`` seconds while the block runs (nothing
    when ``every_s`` is 0)."""
    if every_s <= 0:
        yield
        return
    child = subprocess.Popen([sys.executable, "-m", "console.bench.freezer", "--pid",
                              str(os.getpid()), "--every", str(every_s), "--ms", str(ms)],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        child.terminate()  # it lets this process go first
        child.wait(5.0)


def _run(pid: int, every_s: float, ms: float) -> None:
    stopped = [False]

    def let_go(_sig: int, _frame: object) -> None:
        if stopped[0]:
            os.kill(pid, signal.SIGCONT)
        sys.exit(0)

    signal.signal(signal.SIGTERM, let_go)
    while True:
        time.sleep(every_s)
        stopped[0] = True
        os.kill(pid, signal.SIGSTOP)
        time.sleep(ms / 1000.0)
        os.kill(pid, signal.SIGCONT)
        stopped[0] = False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m console.bench.freezer")
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--every", type=float, required=True)
    parser.add_argument("--ms", type=float, required=True)
    args = parser.parse_args(argv)
    try:
        _run(args.pid, args.every, args.ms)
    except ProcessLookupError:  # the process ended
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
