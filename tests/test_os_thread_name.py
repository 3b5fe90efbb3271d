"""Our threads carry their names to the OS (/proc/.../comm), so per-thread CPU is readable."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from console.engine.media_thread import MediaThread
from console.os_thread_name import name_this_thread

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
