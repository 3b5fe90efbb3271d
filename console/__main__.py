"""``python -m console``."""

from __future__ import annotations

from console.cli import main

raise SystemExit(main())
