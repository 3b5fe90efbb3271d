"""Packaging: the desktop files validate, the PyInstaller bundle runs, ``pip install .`` works.

The bundle is built once for this module with the documented command (``packaging/build.sh``)
into a temporary folder; building it takes a few minutes, so those tests get 15 minutes.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import time
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
DESKTOP = RESOURCES / "livekit-console.desktop"
METAINFO = RESOURCES / "io.livekit.Console.metainfo.xml"
ICON = RESOURCES / "livekit-console.svg"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SLOW = pytest.mark.timeout(900)

pytestmark = [pytest.mark.packaging, pytest.mark.filterwarnings("ignore::UserWarning")]


def _tool(binary: str, package: str) -> str:
    path = shutil.which(binary)
    if path is None:  # ./dev.sh installs both, so this only happens outside it
        pytest.skip(f"{binary} is not installed (apt-get install {package}; ./dev.sh does)")
    return path


def _desktop_entry(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    assert lines[0] == "[Desktop Entry]"
    return dict(line.split("=", 1) for line in lines[1:] if "=" in line)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEKIT_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env


def test_desktop_entry_is_valid() -> None:
    tool = _tool("desktop-file-validate", "desktop-file-utils")
    done = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout + done.stderr == ""  # not even a hint
    entry = _desktop_entry(DESKTOP)
    assert entry["Exec"] == "livekit-console"
    assert (RESOURCES / f"{entry['Icon']}.svg").is_file()


def test_metainfo_is_valid() -> None:
    tool = _tool("appstreamcli", "appstream")
    done = subprocess.run([tool, "validate", "--no-net", str(METAINFO)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    issues = [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:", "I:")]
    assert issues == []  # only pedantic remarks (the upper-case C in the id) are left
    component = ET.parse(METAINFO).getroot()
    assert component.findtext("id") == METAINFO.name.removesuffix(".metainfo.xml")
    assert component.findtext("launchable") == DESKTOP.name
    assert next(r.get("version") for r in component.iter("release")) == VERSION


def test_install_desktop_puts_the_files_where_desktops_look(tmp_path: Path) -> None:
    prefix = tmp_path / "usr"
    exe = "/opt/livekit-console/livekit-console"
    done = subprocess.run([str(ROOT / "packaging" / "install-desktop.sh"), "--prefix",
                           str(prefix), "--exec", exe], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    desktop = prefix / "share" / "applications" / DESKTOP.name
    assert _desktop_entry(desktop)["Exec"] == exe
    assert (prefix / "share" / "metainfo" / METAINFO.name).read_text() == METAINFO.read_text()
    icon = prefix / "share" / "icons" / "hicolor" / "scalable" / "apps" / ICON.name
    assert icon.read_bytes() == ICON.read_bytes()
    if shutil.which("desktop-file-validate"):
        checked = subprocess.run(["desktop-file-validate", str(desktop)], capture_output=True,
                                 text=True, timeout=30)
        assert checked.returncode == 0 and checked.stdout == "", checked.stdout
    if shutil.which("appstreamcli"):  # the metainfo finds its .desktop and icon in the tree
        tree = subprocess.run(["appstreamcli", "validate-tree", "--no-net", str(tmp_path)],
                              capture_output=True, text=True, timeout=60)
        assert tree.returncode == 0, tree.stdout + tree.stderr
    done = subprocess.run([str(ROOT / "packaging" / "install-desktop.sh"), "--prefix",
                           str(prefix), "--uninstall"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and not desktop.exists() and not icon.exists()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``packaging/build.sh`` into a temporary folder; the bundle's top folder."""
    out = tmp_path_factory.mktemp("bundle")
    start = time.monotonic()
    done = subprocess.run(
        [str(ROOT / "packaging" / "build.sh"), "--dist", str(out / "dist"), "--work",
         str(out / "work")],
        capture_output=True, text=True, timeout=840, env=_env(PYTHON=sys.executable))
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    print(f"bundle built in {time.monotonic() - start:.0f} s: {done.stdout.strip()}")
    top = (out / "dist" / "livekit-console").resolve()
    assert (top / "livekit-console").is_file()
    return top


@SLOW
def test_the_bundle_carries_its_native_libraries_and_resources(bundle: Path) -> None:
    inside = bundle / "_internal"
    assert (inside / "livekit" / "rtc" / "resources" / "liblivekit_ffi.so").is_file()
    assert (inside / "libportaudio.so.2").is_file()
    plugins = {p.name for p in inside.glob("PySide6/Qt/plugins/platforms/*.so")}
    assert {"libqoffscreen.so", "libqxcb.so"} <= plugins
    for name in (DESKTOP.name, METAINFO.name, ICON.name):
        assert (inside / "resources" / name).read_bytes() == (RESOURCES / name).read_bytes()
    assert not list(inside.glob("libasound.so*"))  # ALSA stays the system's (see the spec)
    assert not list(inside.glob("**/_tkinter*")) and not (inside / "pytest").exists()


@SLOW
def test_the_bundle_reports_its_version(bundle: Path) -> None:
    for args in (["--version"], ["-m", "console", "--version"]):
        done = subprocess.run([str(bundle / "livekit-console"), *args], capture_output=True,
                              text=True, timeout=60, env=_env())
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"livekit-console {VERSION}"


@SLOW
def test_the_bundled_window_paints_offscreen_and_on_x11(bundle: Path, tmp_path: Path) -> None:
    exe = bundle / "livekit-console"
    # bench startup starts the window as `sys.executable -m console`: the entry point's -m.
    done = subprocess.run([str(exe), "bench", "startup", "--runs", "1", "--json"],
                          capture_output=True, text=True, timeout=120, env=_env())
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert 0 < result["first_paint_s_median"] < 30
    assert result["pyqtgraph_loaded_at_first_paint"] is False
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:  # ./dev.sh installs xvfb
        pytest.skip("xvfb-run is not installed: the window was not tried on X11")
    # LKC_STARTUP_PROBE makes the window print its first paint and quit.
    probe = _env(QT_QPA_PLATFORM="xcb", XDG_CONFIG_HOME=str(tmp_path),
                 LKC_STARTUP_PROBE=repr(time.monotonic()))
    # -a looks for a free display from -n on; start away from :99 (other runs of xvfb-run)
    display = str(200 + os.getpid() % 20000)
    done = subprocess.run([xvfb, "-a", "-n", display, str(exe)], capture_output=True,
                          text=True, timeout=120, env=probe)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["first_paint_s"] > 0


@SLOW
@pytest.mark.audio
def test_the_bundle_lists_the_sound_cards_devices(bundle: Path, sound_card: object) -> None:
    done = subprocess.run([str(bundle / "livekit-console"), "devices", "--json",
                           "--backend", "pulse"],
                          capture_output=True, text=True, timeout=60, env=_env())
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)
    names = {d["name"] for d in listed}
    assert {"lkc_mic_a", "lkc_speaker_a"} <= names
    # the sound server's own lists, through pulsectl in the bundle and the system's libpulse
    assert {d["backend"] for d in listed} == {"pulse"}, listed
    assert {"Virtual Mic A (hears Speaker A)", "Virtual Speaker A"} <= {
        d["description"] for d in listed}


WATCHED = ("libportaudio.so.2", "liblivekit_ffi.so", "QtOpenGL.abi3.so")


def _libraries_and_children(pid: int) -> tuple[set[str], set[int]]:
    """The WATCHED files mapped into ``pid`` and the processes it started, right now."""
    libraries: set[str] = set()
    children: set[int] = set()
    with contextlib.suppress(OSError):  # it has just exited
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            path = line.split(maxsplit=5)[-1]
            if path.endswith(WATCHED):
                libraries.add(path)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:  # its parent
                children.add(int(stat.parent.name))
    return libraries, children


def _run_watched(args: list[str], timeout: float = 120.0
                 ) -> tuple[subprocess.CompletedProcess[str], set[str], set[str]]:
    """Run ``args``; also the WATCHED libraries it loaded and its children's executables."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    libraries: set[str] = set()
    children: dict[int, str] = {}
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        found, kids = _libraries_and_children(proc.pid)
        libraries |= found
        for kid in kids - set(children):
            with contextlib.suppress(OSError):  # gone already
                children[kid] = os.readlink(f"/proc/{kid}/exe")
        time.sleep(0.2)
    try:
        stdout, stderr = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = subprocess.CompletedProcess(args, proc.returncode, stdout, stderr)
    return done, libraries, set(children.values())


@SLOW
@pytest.mark.audio
def test_the_bundled_monitor_hears_the_local_sandbox(bundle: Path, sound_card: object) -> None:
    exe = bundle / "livekit-console"
    done, libraries, children = _run_watched(
        [str(exe), "monitor", "--duration", "3", "--json", "--no-publish", "--voices", "3",
         "--output-device", "lkc_speaker_a"])
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    # The native libraries came from the bundle, and the sandbox ran as the bundle too.
    assert {Path(p).name for p in libraries} == {"libportaudio.so.2", "liblivekit_ffi.so"}
    assert all(Path(p).is_relative_to(bundle) for p in libraries), libraries
    assert str(exe) in children, children
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert 3 <= len(lines) <= 4
    last = lines[-1]
    assert last["state"] == "connected" and last["room"] == "demo"
    assert last["mic"]["published"] is False
    assert last["output"]["device"] == "lkc_speaker_a"
    people = {p["identity"]: p for p in last["participants"]}
    assert set(people) == {"tone-440", "speech-loud", "clipper"}
    assert people["tone-440"]["rms_dbfs"] == pytest.approx(-20.0, abs=1.0)
    assert people["clipper"]["peak_dbfs"] > -0.5
    assert people["speech-loud"]["peak_dbfs"] > -40.0
    assert all(p["underruns"] >= 0 and p["queue_ms"] > 0 for p in people.values())


@SLOW
@pytest.mark.audio
def test_the_bundled_window_joins_with_its_queue_plot(bundle: Path, sound_card: object) -> None:
    """bench gui: the whole window joined to the sandbox; its queue plot loads pyqtgraph."""
    done, libraries, children = _run_watched(
        [str(bundle / "livekit-console"), "bench", "gui", "--participants", "2", "--seconds",
         "3", "--json"])
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    result = json.loads(done.stdout)
    assert result["strips"] == 2 and result["display_fps"] > 10
    # pyqtgraph imports QtOpenGL by a computed name: the spec must have collected it.
    assert any(Path(p).name == "QtOpenGL.abi3.so" and Path(p).is_relative_to(bundle)
               for p in libraries), libraries
    assert str(bundle / "livekit-console") in children


@SLOW
@pytest.mark.audio
def test_pip_install_gives_working_entry_points(tmp_path: Path, sound_card: object) -> None:
    """A non-editable ``pip install .`` into a fresh virtualenv (PyPI for the dependencies)."""
    src = tmp_path / "src"  # a copy: building in place would write into the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "console", src / "console",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    # The sound card moves HOME; keep pip's wheel cache where it is between runs.
    cache = os.environ.get("PIP_CACHE_DIR") or os.path.join(
        pwd.getpwuid(os.getuid()).pw_dir, ".cache", "pip")
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
         "--disable-pip-version-check", str(src)],
        capture_output=True, text=True, timeout=780, env=_env(PIP_CACHE_DIR=cache))
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    version = subprocess.run([str(venv / "bin" / "livekit-console"), "--version"],
                             capture_output=True, text=True, timeout=60, env=_env())
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"livekit-console {VERSION}"
    devices = subprocess.run([str(venv / "bin" / "livekit-console-cli"), "devices", "--json"],
                             capture_output=True, text=True, timeout=60, env=_env())
    assert devices.returncode == 0, devices.stderr
    assert {"lkc_mic_a", "lkc_speaker_a"} <= {d["name"] for d in json.loads(devices.stdout)}
