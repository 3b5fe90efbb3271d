"""Our threads carry their names to the OS (/proc/.../comm), so per-thread CPU is readable."""

from __future__ import annotations

import contextlib
import sys
import threading
from pathlib import Path

import pytest

from console.engine.media_thread import MediaThread
from console.os_thread_name import name_this_thread, naming

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")


def comm(thread: threading.Thread) -> str:
    return Path(f"/proc/self/task/{thread.native_id}/comm").read_text().strip()


def test_a_thread_names_itself_for_the_os() -> None:
    named = threading.Event()
    done = threading.Event()

    def run() -> None:
        name_this_thread("a-rather-long-thread-name")
        named.set()
        done.wait(5.0)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert named.wait(5.0)
        assert comm(thread) == "a-rather-long-t"  # the OS keeps 15 bytes
    finally:
        done.set()
        thread.join()


def test_the_engines_media_thread_is_called_media() -> None:
    media = MediaThread()
    media.start()
    try:
        thread = media._thread
        assert thread is not None and comm(thread) == "media"
    finally:
        media.close()


def test_a_callback_names_the_foreign_thread_it_first_runs_on() -> None:
    """PortAudio's callback threads are started in C: our callback names the thread on its
    first call, and is called with every argument, every time."""
    calls: list[tuple[int, str]] = []
    wrapped = naming("portaudio-out", lambda a, b: calls.append((a, b)))
    done = threading.Event()
    seen: list[str] = []

    def run() -> None:
        wrapped(1, "x")
        seen.append(comm(threading.current_thread()))
        wrapped(2, "y")
        done.set()

    thread = threading.Thread(target=run, name="not-this-name")
    thread.start()
    thread.join(5.0)
    assert done.is_set()
    assert seen == ["portaudio-out"]
    assert calls == [(1, "x"), (2, "y")]


@pytest.mark.audio
def test_portaudios_callback_threads_carry_our_names(sound_card: object) -> None:
    """The engine on PortAudio's devices: the threads its two streams call back on are
    named, so benchmarks tell their audio work from Qt's thread."""
    import time

    from tests.audio_helpers import running_engine

    def names() -> set[str]:
        found = set()
        for task in Path("/proc/self/task").iterdir():
            with contextlib.suppress(OSError):
                found.add((task / "comm").read_text().strip())
        return found

    with running_engine("lkc_mic_a", output_device="lkc_speaker_a") as engine:
        engine.play_test_tone(seconds=0.3)  # the output's stream plays (it dozes otherwise)
        deadline = time.monotonic() + 3.0
        while not {"portaudio-in", "portaudio-out"} <= names() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {"portaudio-in", "portaudio-out"} <= names(), names()
