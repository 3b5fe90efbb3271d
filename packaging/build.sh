#!/usr/bin/env bash
# Build the one-folder desktop bundle: dist/livekit-console/livekit-console (PyInstaller).
#   packaging/build.sh [--dist DIR] [--work DIR]
# Uses the project's .venv (./dev.sh makes it; PYTHON=... to use another interpreter that
# has the project's dependencies) and installs PyInstaller into it if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-.venv/bin/python}"
dist="dist"
work="build/pyinstaller"
while (($#)); do
  case "$1" in
    --dist) dist="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    *) echo "usage: packaging/build.sh [--dist DIR] [--work DIR]" >&2; exit 2 ;;
  esac
done
if [[ ! -x "$py" ]]; then
  echo "build.sh: $py not found: run ./dev.sh test (or set PYTHON)" >&2; exit 1
fi
"$py" -m pip install -q --disable-pip-version-check "pyinstaller>=6.10,<7"
start=$SECONDS
"$py" -m PyInstaller --noconfirm --log-level WARN --distpath "$dist" --workpath "$work" \
  packaging/livekit-console.spec
exe="$dist/livekit-console/livekit-console"
QT_QPA_PLATFORM=offscreen "$exe" --version >/dev/null
echo "build.sh: built $exe ($(du -sh "$dist/livekit-console" | cut -f1), $((SECONDS - start)) s)"
