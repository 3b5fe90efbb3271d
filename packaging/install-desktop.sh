#!/usr/bin/env bash
# Put the console in the desktop's application menu: the .desktop entry, the AppStream
# metainfo and the icon, under PREFIX/share (default ~/.local, no root needed).
#   packaging/install-desktop.sh [--prefix DIR] [--exec PATH] [--uninstall]
# Exec= points at --exec, else the bundle dist/livekit-console/livekit-console if it was
# built, else the livekit-console found on PATH (pipx / pip install).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
prefix="${HOME}/.local"
exe=""
uninstall=0
while (($#)); do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --exec) exe="$2"; shift 2 ;;
    --uninstall) uninstall=1; shift ;;
    *) echo "usage: $0 [--prefix DIR] [--exec PATH] [--uninstall]" >&2; exit 2 ;;
  esac
done

res="$root/resources"
apps="$prefix/share/applications"
meta="$prefix/share/metainfo"
icons="$prefix/share/icons/hicolor/scalable/apps"

if ((uninstall)); then
  rm -f "$apps/livekit-console.desktop" "$meta/io.livekit.Console.metainfo.xml" \
        "$icons/livekit-console.svg"
  echo "removed the desktop entry, metainfo and icon from $prefix/share"
  exit 0
fi

if [[ -z "$exe" ]]; then
  if [[ -x "$root/dist/livekit-console/livekit-console" ]]; then
    exe="$root/dist/livekit-console/livekit-console"
  elif command -v livekit-console >/dev/null; then
    exe="$(command -v livekit-console)"
  else
    echo "$0: no livekit-console to point at: build the bundle (packaging/build.sh)," \
         "pipx install ., or pass --exec PATH" >&2
    exit 1
  fi
fi
case "$exe" in
  *[[:space:]]*) echo "$0: the path to livekit-console must not contain spaces: $exe" >&2
                 exit 1 ;;
esac

mkdir -p "$apps" "$meta" "$icons"
sed "s|^Exec=.*|Exec=$exe|" "$res/livekit-console.desktop" >"$apps/livekit-console.desktop"
install -m 644 "$res/io.livekit.Console.metainfo.xml" "$meta/"
install -m 644 "$res/livekit-console.svg" "$icons/"
# Refresh the menu and icon caches where the tools exist (they are optional).
if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$apps" || true; fi
if command -v gtk-update-icon-cache >/dev/null && [[ -f "$prefix/share/icons/hicolor/index.theme" ]]; then
  gtk-update-icon-cache -q "$prefix/share/icons/hicolor" || true
fi
echo "installed livekit-console.desktop (Exec=$exe), its metainfo and icon under $prefix/share"
