"""A private PulseAudio daemon with virtual speakers and loopback microphones.

Used by the test suite (a session fixture), by the app and by the benchmarks with
``--virtual-devices``, so everything runs on a machine with no sound card.

Each speaker is a ``module-null-sink``; each microphone is a ``module-remap-source`` of a
speaker's monitor, so what is played on speaker X is captured by mic X at unity gain.
Every device gets a named ALSA PCM in a private ``$HOME/.asoundrc`` so that PortAudio
(through sounddevice) lists it by name. PortAudio reads that file once, when
``sounddevice`` is imported: :meth:`VirtualSoundCard.apply` must run before that import.

The daemon runs with ``rescue-streams = no``: a microphone whose module is unloaded
stops its streams instead of silently moving them to another device (PulseAudio's default,
which the app would never hear of: no callback status, no error).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from console import parent_death
from console.engine.format import SAMPLE_RATE


@dataclass(frozen=True)
class VirtualSpeaker:
    """A null sink, and the ALSA device name sounddevice shows for it."""

    sink: str
    device: str
    description: str


@dataclass(frozen=True)
class VirtualMic:
    """A loopback microphone recording a speaker's monitor."""

    source: str
    device: str
    description: str
    speaker: str  # sink name whose monitor it records


@dataclass(frozen=True)
class VirtualHeadset:
    """A speaker and microphone plugged in during a run (:meth:`VirtualSoundCard.plug_headset`)."""

    sink: str
    source: str
    modules: tuple[int, ...]


SPEAKERS: tuple[VirtualSpeaker, ...] = (
    VirtualSpeaker("lkc_speaker_a", "lkc_speaker_a", "Virtual Speaker A"),
    VirtualSpeaker("lkc_speaker_b", "lkc_speaker_b", "Virtual Speaker B"),
)
MICS: tuple[VirtualMic, ...] = (
    VirtualMic("lkc_mic_a", "lkc_mic_a", "Virtual Mic A (hears Speaker A)", "lkc_speaker_a"),
    VirtualMic("lkc_mic_b", "lkc_mic_b", "Virtual Mic B (hears Speaker B)", "lkc_speaker_b"),
    # A third microphone for unplug tests: unloading it leaves A and B untouched.
    VirtualMic("lkc_mic_spare", "lkc_mic_spare", "Virtual Mic Spare (hears Speaker B)",
               "lkc_speaker_b"),
)

INSTALL_HINT = "apt-get install pulseaudio pulseaudio-utils libasound2-plugins libportaudio2"


class VirtualAudioError(RuntimeError):
    """The virtual sound card could not be started or changed."""


def _mic_module_line(mic: VirtualMic) -> str:
    return (
        f"load-module module-remap-source master={mic.speaker}.monitor "
        f"source_name={mic.source} channels=1 rate={SAMPLE_RATE} "
        f'source_properties="device.description=\'{mic.description}\'"'
    )


def _script() -> str:
    lines = ["load-module module-native-protocol-unix"]
    for spk in SPEAKERS:
        lines.append(
            f"load-module module-null-sink sink_name={spk.sink} rate={SAMPLE_RATE} channels=2 "
            f'sink_properties="device.description=\'{spk.description}\'"'
        )
    lines.extend(_mic_module_line(mic) for mic in MICS)
    # An idle null sink sleeps, and the next stream opened on it stalls for ~1.5 s:
    # a silent source looped into each sink keeps them awake.
    lines.append(f"load-module module-null-source source_name=lkc_keepawake rate={SAMPLE_RATE}")
    lines.extend(
        f"load-module module-loopback source=lkc_keepawake sink={spk.sink} latency_msec=20"
        for spk in SPEAKERS
    )
    lines.append(f"set-default-sink {SPEAKERS[0].sink}")
    lines.append(f"set-default-source {MICS[0].source}")
    return "\n".join(lines) + "\n"


def _asoundrc() -> str:
    out: list[str] = []
    for spk in SPEAKERS:
        out.append(
            f"pcm.{spk.device} {{ type asym playback.pcm {{ type pulse device \"{spk.sink}\" }}"
            f" hint {{ show on description \"{spk.description}\" }} }}"
        )
    for mic in MICS:
        out.append(
            f"pcm.{mic.device} {{ type asym capture.pcm {{ type pulse device \"{mic.source}\" }}"
            f" hint {{ show on description \"{mic.description}\" }} }}"
        )
    out.append("pcm.!default { type pulse }")
    out.append("ctl.!default { type pulse }")
    return "\n".join(out) + "\n"


_DAEMON_CONF = f"""\
default-sample-rate = {SAMPLE_RATE}
alternate-sample-rate = {SAMPLE_RATE}
default-fragments = 2
default-fragment-size-msec = 5
exit-idle-time = -1
flat-volumes = no
rescue-streams = no
avoid-resampling = yes
"""


class VirtualSoundCard:
    """Start, use and stop a private PulseAudio daemon.

    Usage::

        with VirtualSoundCard() as card:
            card.apply()          # before `import sounddevice`
            ...
    """

    def __init__(self, settle_s: float = 2.5) -> None:
        self._settle_s = settle_s
        self._root: Path | None = None
        self._pid: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._pid is not None

    @property
    def env(self) -> dict[str, str]:
        """The variables a child process of the card (daemon, pactl) runs with."""
        root = self._require_root()
        run = root / "run"
        return {
            "XDG_RUNTIME_DIR": str(run),
            "HOME": str(root / "home"),
            "PULSE_SERVER": f"unix:{run}/pulse/native",
            "XDG_CONFIG_HOME": str(root / "home" / ".config"),
        }

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the daemon and wait until its devices are usable."""
        if self._pid is not None:
            return
        if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
            raise VirtualAudioError(f"PulseAudio is not installed: {INSTALL_HINT}")
        root = Path(tempfile.mkdtemp(prefix="lkc-pulse-"))
        self._root = root
        (root / "run").mkdir(mode=0o700)
        conf_dir = root / "home" / ".config" / "pulse"
        conf_dir.mkdir(parents=True)
        (conf_dir / "daemon.conf").write_text(_DAEMON_CONF)
        (root / "home" / ".asoundrc").write_text(_asoundrc())
        script = root / "script.pa"
        script.write_text(_script())
        log = root / "pulseaudio.log"
        with log.open("wb") as log_file:
            # Not daemonized: our child, killed with us even when we die without cleaning up
            # (PR_SET_PDEATHSIG), so no daemon outlives a crashed or killed console.
            proc = subprocess.Popen(
                parent_death.command(
                    ["pulseaudio", "--daemonize=no", "-n", f"--file={script}",
                     "--exit-idle-time=-1", "--use-pid-file=yes", "--log-target=stderr"]),
                env=self._child_env(), stdin=subprocess.DEVNULL, stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        self._proc = proc
        self._pid = proc.pid
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:]
                self.stop()
                raise VirtualAudioError("PulseAudio did not start: " + " | ".join(tail))
            if self._pactl("info", check=False).returncode == 0:
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise VirtualAudioError("PulseAudio started but does not answer")
        # Let the null sinks and keep-awake loopbacks reach their running state.
        time.sleep(self._settle_s)

    def stop(self) -> None:
        """Stop the daemon by its pid and remove its files."""
        pid, self._pid = self._pid, None
        proc, self._proc = self._proc, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.02)
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2.0)
        self._cleanup_dir()

    def __enter__(self) -> VirtualSoundCard:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- use ---------------------------------------------------------------------------------
    def apply(self, environ: dict[str, str] | None = None) -> None:
        """Export the card's environment into this process (before importing sounddevice)."""
        if environ is None and "sounddevice" in sys.modules:
            raise VirtualAudioError(
                "sounddevice was imported before the virtual sound card was applied; "
                "PortAudio would not see the virtual devices"
            )
        target = os.environ if environ is None else environ
        # Our own HOME moves to the card (alsa-lib reads ~/.asoundrc), but the user's
        # configuration folder stays where it was, so the app's settings are remembered.
        config_home = target.get("XDG_CONFIG_HOME") or os.path.join(
            target.get("HOME") or os.path.expanduser("~"), ".config")
        target.update(self.env)
        target["XDG_CONFIG_HOME"] = config_home

    def unload_mic(self, source: str) -> None:
        """Unplug a microphone: unload its module (its streams stop, they are not rescued)."""
        for line in self._pactl("list", "short", "modules").stdout.splitlines():
            fields = line.split("\t")
            if (len(fields) >= 3 and fields[1] == "module-remap-source"
                    and f"source_name={source} " in fields[2] + " "):
                self._pactl("unload-module", fields[0])
                return
        raise VirtualAudioError(f"no loaded microphone named {source!r}")

    def suspend_mic(self, source: str, suspended: bool = True) -> None:
        """Suspend a microphone: it stays present but delivers nothing (a stalled device)."""
        self._pactl("suspend-source", source, "1" if suspended else "0")

    def load_mic(self, source: str) -> None:
        """Plug a microphone from :data:`MICS` back in."""
        mic = next((m for m in MICS if m.source == source), None)
        if mic is None:
            raise VirtualAudioError(f"unknown virtual microphone {source!r}")
        _, module, args = _mic_module_line(mic).split(" ", 2)
        self._pactl("load-module", module, args)

    def plug_headset(self, name: str, description: str) -> VirtualHeadset:
        """Plug in a new device pair as a USB headset appears on a desktop: a speaker
        ``name`` (a null sink) and a microphone ``name_mic`` hearing it, described as
        ``description`` (no ALSA name: only the sound server lists them)."""
        sink = self._load("module-null-sink", f"sink_name={name} rate={SAMPLE_RATE} "
                          f'channels=2 sink_properties="device.description=\'{description}\'"')
        # kept awake as the card's own speakers are (an idle null sink sleeps, and its
        # monitor then delivers nothing to a stream moved onto it)
        awake = self._load("module-loopback",
                           f"source=lkc_keepawake sink={name} latency_msec=20")
        mic = VirtualMic(f"{name}_mic", "", f"{description} Microphone", name)
        _, module, args = _mic_module_line(mic).split(" ", 2)
        return VirtualHeadset(name, mic.source, (self._load(module, args), awake, sink))

    def unplug(self, headset: VirtualHeadset) -> None:
        """Unplug it: its modules unloaded, the microphone first (its streams stop)."""
        for module in headset.modules:
            self._pactl("unload-module", str(module), check=False)

    @contextlib.contextmanager
    def rescuing(self) -> Iterator[None]:
        """Streams of a device that goes away are moved to the default meanwhile, as on a
        desktop (PulseAudio's module-rescue-streams; PipeWire does the same): the card
        itself runs without, so that the PortAudio path sees an unplug end its stream."""
        module = self._load("module-rescue-streams", "")
        try:
            yield
        finally:
            self._pactl("unload-module", str(module), check=False)

    def _load(self, module: str, args: str) -> int:
        return int(self._pactl("load-module", module, args).stdout.strip())

    # -- internals ---------------------------------------------------------------------------
    def _require_root(self) -> Path:
        if self._root is None:
            raise VirtualAudioError("the virtual sound card is not started")
        return self._root

    def _child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        for key in list(env):
            if key.startswith("PULSE_"):
                del env[key]
        env.update(self.env)
        return env

    def _pactl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["pactl", *args], env=self._child_env(), capture_output=True,
                              text=True, timeout=10, check=False)
        if check and proc.returncode != 0:
            raise VirtualAudioError(f"pactl {' '.join(args)}: {proc.stderr.strip()}")
        return proc

    def _cleanup_dir(self) -> None:
        root, self._root = self._root, None
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True

