"""``bench soak``: the window in a room for minutes, voices coming and going, the UI stalled.

The app as a user keeps it open (window offscreen, APM on, the engine on the sound server's
devices) joins the local sandbox; N demo voices in a process of their own
(:mod:`console.bench.soak_waves`) join it, and every ``--period`` seconds half of them
leave and come back. The Qt thread is blocked for 200 ms every 2 s, as in ``bench gui``.

Every 10 s a sample of the curve: the process's resident memory (from /proc), its
threads, the channels, strips and native track streams open, the underruns so far (channel
underruns summed over every channel the run saw: a closed channel's count is kept), split
into those during a UI stall (from its start to 100 ms after it ends) and outside, how many
in all followed a freeze of the whole host, and those that neither a UI stall nor a host
freeze explains. At the end the voices leave,
then the window, and what is left over is counted: threads that were not there after a
first stay (the window joins and leaves once before the soak: what the first room starts for
the whole process, livekit's runtime and WebRTC's threads, is the baseline, and listed),
channels, native streams, tasks of the session or of a channel on the media loop.

Goals (issue 18): resident memory at the end within 20 MB of minute 2; nothing left over;
no underrun outside the stalls (the UI's, and the host's: a freeze longer than the device's
buffer empties it whatever the app does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from console.bench import emit
from console.bench.gui import MIC, SPEAKER, STALL_EVERY_S, STALL_S, _join_then, _open_window

SAMPLE_S = 10.0
AFTER_STALL_S = 0.1   # a stall's underruns are those up to this long after it ends
RSS_GROWTH_MB = 20.0
LEAVE_S = 20.0
# After leaving, what the room started ends on its own time: the window's next tick hands the
# room's objects back to the collector (gc_pauses.release), and livekit's native source ends
# its thread after that. Leftovers are read until none is left, for at most this long.
LEFTOVER_WAIT_S = 5.0


def rss_mb() -> float:
    """This process's resident memory, from /proc."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class Underruns:
    """Underruns over every channel seen (a channel closes with its count), and the
    output's, split by when they happened: during a UI stall or outside."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._channels: dict[str, tuple[int, int]] = {}
        self.during = 0             # underruns during a UI stall
        self.during_after_host = 0  # of those, after a host freeze

    def outside_any_stall(self, total: int, after_host: int) -> int:
        """Of ``total`` underruns (``after_host`` of them after a host freeze, as
        :meth:`total` gives them), those neither during a UI stall nor after a freeze of
        the whole host (the process stopped longer than the device's buffer: nothing in it
        can play)."""
        return total - self.during - (after_host - self.during_after_host)

    def total(self) -> tuple[int, int]:
        """(underruns, of which after a host freeze) so far."""
        for c in self._engine.channel_stats():
            self._channels[c.key] = (c.underruns, c.underruns_after_stall)
        out = self._engine.output_stats()
        return (out.underruns + sum(n for n, _ in self._channels.values()),
                out.underruns_after_stall + sum(a for _, a in self._channels.values()))

    def channels_seen(self) -> int:
        return len(self._channels)


def _thread_names() -> Counter[str]:
    """The process's threads by name, native ones too (livekit's and WebRTC's), from /proc."""
    names: Counter[str] = Counter()
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm", encoding="utf-8") as comm:
                names[comm.read().strip()] += 1
        except OSError:  # ended meanwhile
            continue
    return names


def start_waves(url: str, room: str, voices: int, period: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "console.bench.soak_waves", "--url", url, "--room", room,
         "--voices", str(voices), "--period", str(period)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def run(minutes: float = 10.0, voices: int = 8, period: float = 30.0, mic: str = MIC,
        speaker: str = SPEAKER) -> dict[str, Any]:
    from PySide6.QtCore import QTimer

    from console.engine.track_tap import open_taps

    app, engine, home, controller, window = _open_window(0, mic, speaker, backend="auto")
    at_start = _thread_names()
    result: dict[str, Any] = {}
    curve: list[dict[str, Any]] = []
    counts = Underruns(engine)
    state: dict[str, Any] = {"waves": None, "stalls": 0}

    def sample() -> None:
        total, after_host = counts.total()
        curve.append({
            "t_s": round(time.monotonic() - state["t0"], 1),
            "rss_mb": round(rss_mb(), 1),
            "threads": threading.active_count(),
            "os_threads": sum(_thread_names().values()),
            "channels": len(engine.channel_stats()),
            "strips": len(window.participants.strips),
            "native_streams": open_taps(),
            "underruns_during_ui_stalls": counts.during,
            "underruns_outside_ui_stalls": total - counts.during,
            "of_which_after_host_freezes": after_host,
            "underruns_outside_any_stall": counts.outside_any_stall(total, after_host),
            "output_ring_underruns": engine.output_stats().underruns,
        })

    def stall() -> None:
        before, before_host = counts.total()
        time.sleep(STALL_S)  # the Qt thread freezes; the audio must not care
        state["stalls"] += 1

        def after() -> None:
            total, after_host = counts.total()
            counts.during += total - before
            counts.during_after_host += after_host - before_host
        QTimer.singleShot(int(AFTER_STALL_S * 1000), after)

    sampler, staller = QTimer(), QTimer()
    sampler.setInterval(int(SAMPLE_S * 1000))
    sampler.timeout.connect(sample)
    staller.setInterval(int(STALL_EVERY_S * 1000))
    staller.timeout.connect(stall)

    def connected(then: Callable[[], None]) -> Callable[[], None]:
        """``then`` once the session is connected (polled); a failure ends the run."""
        from console.session.model import ConnState

        def poll() -> None:
            if controller.session.snapshot().state is ConnState.CONNECTED:
                state.pop("join_deadline", None)
                then()
            elif controller.error or time.monotonic() > state.setdefault(
                    "join_deadline", time.monotonic() + 60.0):
                result["error"] = controller.error or "not connected after 60 s"
                app.quit()
            else:
                QTimer.singleShot(100, poll)
        return poll

    def warmed_up() -> None:
        """A first stay, joined and left: what the first room starts for the whole process
        (livekit's runtime, WebRTC's threads) is then part of the baseline."""
        leaving = controller.leave()

        def poll() -> None:
            if not leaving.done():
                QTimer.singleShot(100, poll)
                return
            state["baseline"] = _thread_names()
            window.join_panel.join_button.click()
            connected(joined)()
        poll()

    def joined() -> None:
        """Connected again (see ``connected``): the voices join, the soak begins."""
        sandbox = controller.sandbox
        if sandbox is None:
            result["error"] = "no local sandbox"
            app.quit()
            return
        waves = state["waves"] = start_waves(sandbox.url, sandbox.room, voices, period)
        line = waves.stdout.readline() if waves.stdout is not None else ""
        if '"ready"' not in line:
            result["error"] = "the voices did not join"
            app.quit()
            return
        state["t0"] = time.monotonic()
        sample()
        sampler.start()
        staller.start()
        QTimer.singleShot(int(minutes * 60_000), finish)

    def finish() -> None:
        staller.stop()
        sampler.stop()

        def last() -> None:
            sample()
            app.quit()
        QTimer.singleShot(int(STALL_S * 1000), last)

    _join_then(app, window, controller, result, 0, connected(warmed_up))
    leftovers: dict[str, Any] = {}
    try:
        app.exec()
        waves = state["waves"]
        if waves is not None:
            out, _ = waves.communicate(timeout=60.0)  # stdin closed: all leave
            result["voices"] = _last_json(out)
        if "error" not in result:
            deadline = time.monotonic() + LEAVE_S
            while window.participants.strips and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.05)
            controller.leave().result(LEAVE_S)
            left_at = time.monotonic()
            while True:
                app.processEvents()
                leftovers = _leftovers(engine, state["baseline"], open_taps())
                waited = time.monotonic() - left_at
                if not any(leftovers.values()) or waited >= LEFTOVER_WAIT_S:
                    break
                time.sleep(0.1)
            result["leftovers_gone_after_s"] = round(waited, 1)
            leftovers["process_wide_threads_started"] = sorted(
                (state["baseline"] - at_start).elements())
    finally:
        sampler.stop()
        staller.stop()
        if state["waves"] is not None and state["waves"].poll() is None:
            state["waves"].kill()
        window.close()
        controller.close()
        engine.stop()
        home.cleanup()
    at_2 = next((s["rss_mb"] for s in curve if s["t_s"] >= 120.0), None)
    end = curve[-1] if curve else {}
    growth = round(end["rss_mb"] - at_2, 1) if at_2 is not None and end else None
    return {
        "benchmark": "soak",
        "minutes": minutes,
        "voices": voices,
        "period_s": period,
        "note": (f"this process only (window offscreen, engine on the sound server's devices, "
                 f"APM on, microphone {mic}, output {speaker}); the sandbox and the voices run "
                 "in child processes"),
        **result,
        "stalls_injected": state["stalls"],
        "channels_seen": counts.channels_seen(),
        "rss_mb_at_minute_2": at_2,
        "rss_mb_at_end": end.get("rss_mb"),
        "rss_growth_mb_since_minute_2": growth,
        "leftovers_after_leaving": leftovers,
        "curve": curve,
        "goals": {
            "rss_within_20_mb_of_minute_2": growth is not None and growth <= RSS_GROWTH_MB,
            "nothing_left_over": bool(leftovers) and not any(
                v for k, v in leftovers.items() if k != "process_wide_threads_started"),
            "no_underrun_outside_ui_stalls": bool(end)
            and end["underruns_outside_ui_stalls"] == 0,
            "no_underrun_outside_ui_or_host_stalls": bool(end)
            and end["underruns_outside_any_stall"] == 0,
        },
    }


def _leftovers(engine: Any, baseline: Counter[str], native: int) -> dict[str, Any]:
    """What the room left behind after leaving: every figure should be empty or zero.
    ``baseline``: the threads after a first stay was left."""
    async def tasks() -> list[str]:
        return sorted(t.get_name() for t in asyncio.all_tasks()
                      if t is not asyncio.current_task())

    names = engine.run(tasks())
    return {
        "threads": sorted((_thread_names() - baseline).elements()),
        "channels": len(engine.channel_stats()),
        "native_streams": native,
        "media_loop_tasks": [n for n in names if n.startswith(("session-", "channel-"))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="livekit-console bench soak")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--voices", type=int, default=8)
    parser.add_argument("--period", type=float, default=30.0,
                        help="seconds between waves (half the voices leave and come back)")
    parser.add_argument("--input", default=MIC, help="the app's microphone")
    parser.add_argument("--output", default=SPEAKER, help="its speaker")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.voices < 1 or args.period < 2:
        parser.error("--minutes must be positive, --voices at least 1, --period at least 2")
    return emit(run(args.minutes, args.voices, args.period, args.input, args.output),
                args.json)


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.exit(main())
