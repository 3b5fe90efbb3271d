#!/usr/bin/env bash
# One script for the README's two commands, on a fresh Debian 12 machine as root:
#   ./dev.sh run [ARGS...]   install what is needed, then start the console window
#   ./dev.sh test            install what is needed, then ruff, mypy and the whole test suite
# It installs the apt packages, a virtualenv in .venv and the project (editable) by itself.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  python3 python3-venv python3-pip
  libportaudio2                                     # PortAudio for sounddevice
  desktop-file-utils appstream                      # validators for the desktop files
  pulseaudio pulseaudio-utils libasound2-plugins    # the virtual sound card
  libglib2.0-0 libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3   # Qt offscreen
  xvfb xauth libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1  # Qt on X / Xvfb
  libxcb-render-util0 libxcb-shape0 libxkbcommon-x11-0
  gnome-keyring dbus-daemon                         # a private Secret Service for the tests
  chromium                                          # the browser client of the sandbox tests
)
# npm fetches livekit-client for that browser's page. Debian's `nodejs npm` only where npm is
# missing: a NodeSource nodejs (which brings its own npm) conflicts with Debian's npm package.
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(nodejs npm)

install_system() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    echo "dev.sh: installing ${missing[*]}" >&2
    local sudo=""; [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

install_python() {
  local py="${PYTHON:-python3}"
  if [[ ! -x .venv/bin/python ]]; then
    "$py" -m venv .venv
  fi
  local stamp=".venv/.stamp-$(sha1sum pyproject.toml | cut -c1-12)"
  if [[ ! -f "$stamp" ]]; then
    local log=".venv/pip-install.log"
    if ! { .venv/bin/python -m pip install --upgrade pip \
           && .venv/bin/python -m pip install -e ".[dev]"; } >"$log" 2>&1; then
      tail -n 30 "$log" >&2; echo "dev.sh: pip install failed (full log: $log)" >&2; exit 1
    fi
    rm -f .venv/.stamp-*; touch "$stamp"
  fi
}

install_node() {
  # livekit-client for the browser tests' page (tests/browser), from the lock file, into
  # tests/browser/node_modules; again only when package.json or the lock file changed.
  local dir="tests/browser"
  local stamp="$dir/node_modules/.stamp-$(cat "$dir/package.json" "$dir/package-lock.json" \
                                          | sha1sum | cut -c1-12)"
  if [[ ! -f "$stamp" ]]; then
    local log; log="$(mktemp)"
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
      tail -n 30 "$log" >&2; echo "dev.sh: npm ci in $dir failed (full log: $log)" >&2; exit 1
    fi
    rm -f "$log" "$dir"/node_modules/.stamp-*; touch "$stamp"
  fi
}

cmd="${1:-run}"; shift || true
case "$cmd" in
  run)
    install_system; install_python
    if [[ -z "${DISPLAY:-}" && -z "${WAYLAND_DISPLAY:-}" && -z "${QT_QPA_PLATFORM:-}" ]]; then
      echo "dev.sh: no display; running under Xvfb (set DISPLAY to see the window)" >&2
      exec xvfb-run -a .venv/bin/python -m console "$@"
    fi
    exec .venv/bin/python -m console "$@"
    ;;
  test)
    install_system; install_python; install_node
    .venv/bin/ruff check console tests
    .venv/bin/mypy
    export QT_QPA_PLATFORM=offscreen
    exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
    ;;
  *)
    echo "usage: ./dev.sh run [ARGS...] | ./dev.sh test [PYTEST ARGS...]" >&2; exit 2 ;;
esac
