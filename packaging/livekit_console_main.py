"""The bundle's entry point: ``console.cli:main``, plus ``-m MODULE`` for our own modules.

In the bundle ``sys.executable`` is the bundle's binary, not Python. Code that starts a
helper as ``sys.executable -m console ...`` (the benchmarks) therefore reaches this script
with ``-m``; it runs that module as ``python -m`` would.
"""

from __future__ import annotations

import runpy
import sys


def _main() -> int:
    if len(sys.argv) >= 3 and sys.argv[1] == "-m" and sys.argv[2].split(".")[0] == "console":
        module = sys.argv[2]
        sys.argv = [sys.argv[0], *sys.argv[3:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from console.cli import main

    return main()


if __name__ == "__main__":
    raise SystemExit(_main())
