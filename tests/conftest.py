"""Shared fixtures: the private virtual sound card, offscreen Qt."""

from __future__ import annotations

import gc
import os
import tempfile
import threading
from collections.abc import Callable, Iterator

import pytest

# Qt draws offscreen unless a test session asks for a real display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The app's log file (and anything else kept in the XDG state directory) goes to a folder of
# this test run's, never to the user's own log, for the tests' processes and their children.
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="lkc-test-state-")

# The fast window tests' fixtures (the window on the fakes), shared by their modules.
pytest_plugins = ["tests.window_fixtures", "tests.room_fixtures"]



@pytest.fixture(autouse=True)
def _qt_garbage_on_the_gui_thread(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test with Qt widgets, collect its cycles here, on the GUI thread.

    Left for later, a window caught in a reference cycle (a lambda connected to its own
    signal) is freed by whichever thread's allocation triggers the next collection, a
    worker's or livekit's callback thread, and Qt objects deleted off the GUI thread can
    crash it: the full runs met an intermittent segfault in Qt's event loop a few tests on.
    """
    yield
    if "qtbot" in request.fixturenames:
        gc.collect()


# What starts the sound card or a room. A test, or any fixture it uses, that refers to one
# of these needs ``audio``: the marker is added at collection, so ``-m "not audio"`` (the
# fast run) can never start PulseAudio or a sandbox by forgetting it.
AUDIO_FIXTURES = frozenset({"sound_card"})
ROOM_STARTERS = frozenset({
    "console.virtual_audio.VirtualSoundCard",
    "console.sandbox.server.SandboxThread",
    "console.session.local_sandbox.LocalSandbox",
    "tests.sandbox_helpers.join",       # the helpers' clients need a room to join
    "tests.sandbox_helpers.Publisher",
    "tests.sandbox_helpers.Listener",
})
ROOM_MODULES = frozenset({"console.virtual_audio", "console.session.local_sandbox",
                          "console.sandbox.server"})


def _refers_to_a_room(func: Callable[..., object] | None) -> bool:
    """``func`` (or a function nested in it) names a sound card or room starter."""
    import inspect
    import types

    if func is None:
        return False
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    found: dict[str, object] = getattr(func, "__globals__", {})
    stack = [code] if isinstance(code, types.CodeType) else []
    while stack:
        current = stack.pop()
        for name in current.co_names:
            if name in ROOM_MODULES:  # imported inside the function
                return True
            value = found.get(name)
            qualified = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', '')}"
            if qualified in ROOM_STARTERS or _script_starts_a_room(value):
                return True
        if any(_script_starts_a_room(c) for c in current.co_consts):
            return True
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return False


def _script_starts_a_room(value: object) -> bool:
    """A script the test runs in a child process (``python -c``) starts one."""
    return isinstance(value, str) and any(
        f"{starter.rsplit('.', 1)[1]}(" in value for starter in ROOM_STARTERS
        if starter.startswith("console."))


def _needs_audio(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))  # the closure: fixtures of fixtures too
    if names & AUDIO_FIXTURES:
        return True
    if _refers_to_a_room(getattr(item, "function", None)):
        return True
    params = getattr(getattr(item, "callspec", None), "params", {})
    if any(_script_starts_a_room(v) for v in params.values()):
        return True
    info = getattr(item, "_fixtureinfo", None)
    defs = getattr(info, "name2fixturedefs", {})
    return any(_refers_to_a_room(d.func) for name in names for d in defs.get(name, ()))


@pytest.hookimpl(tryfirst=True)  # before -m deselects by the markers
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark what needs the sound card or a room ``audio``; the fast run skips ``packaging``.

    Building the bundle takes minutes: the fast run (``-m "not audio"``) leaves the
    ``packaging`` tests out too unless its expression names them (``-m "not audio or
    packaging"``). ``-m audio``, ``-m packaging`` and a run without ``-m`` are unchanged.
    """
    import re

    for item in items:
        if item.get_closest_marker("audio") is None and _needs_audio(item):
            item.add_marker(pytest.mark.audio)
    expression = config.getoption("markexpr", "") or ""
    if re.search(r"\bnot\s+audio\b", expression) and "packaging" not in expression:
        kept = [i for i in items if i.get_closest_marker("packaging") is None]
        if len(kept) != len(items):
            config.hook.pytest_deselected(
                items=[i for i in items if i.get_closest_marker("packaging") is not None])
            items[:] = kept


@pytest.fixture(scope="session")
def sound_card() -> Iterator[object]:
    """A private PulseAudio daemon with virtual speakers and loopback mics.

    Started once per session, before anything imports sounddevice (PortAudio reads the
    ALSA device list once, at import), and stopped by its pid at the end.
    """
    from console.virtual_audio import VirtualSoundCard

    card = VirtualSoundCard()
    card.start()
    try:
        card.apply()
        yield card
    finally:
        card.stop()


_exit_status = 0
GRACE_S = 10.0  # how long threads still stopping may take once the tests are done
GRACE_ENV = "LKC_TEST_THREAD_GRACE_S"  # overrides GRACE_S (the leak test's own run)
LEAK_EXIT_STATUS = 3  # pytest's INTERNAL_ERROR: not a failed test, a broken session


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)  # after every other plugin has finished
def pytest_unconfigure(config: pytest.Config) -> None:
    """Nothing may hang the exit (and CI) once the results are printed.

    Python joins every non-daemon thread at exit, and livekit's exit hook waits on its
    native runtime: either can wait for ever. A non-daemon thread still running after a
    grace period is a leak (something was not stopped): it is reported and fails the run
    (exit status LEAK_EXIT_STATUS unless the tests already failed). None is allowed: a run
    of real tests leaves only daemon threads (livekit's ``livekit-buffer-reaper``, the
    ``Dummy-N`` entries of native threads that called into Python), which the exit does
    not wait for. Then the process leaves, skipping exit hooks.
    """
    import sys
    import time

    status = _exit_status
    deadline = time.monotonic() + float(os.environ.get(GRACE_ENV, GRACE_S))
    while True:
        stray = [t for t in threading.enumerate()
                 if t is not threading.main_thread() and not t.daemon and t.is_alive()]
        if not stray:
            break
        if time.monotonic() >= deadline:
            _report(stray)
            status = status or LEAK_EXIT_STATUS
            break
        time.sleep(0.1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _report(stray: list[threading.Thread]) -> None:
    import sys
    import traceback

    frames = sys._current_frames()
    print(f"\nconftest: {len(stray)} non-daemon thread(s) leaked, still running after the "
          "tests (this fails the run):", file=sys.stderr)
    for thread in stray:
        print(f"--- {thread.name}", file=sys.stderr)
        frame = frames.get(thread.ident or -1)
        if frame is not None:
            traceback.print_stack(frame, file=sys.stderr)
