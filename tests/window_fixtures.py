"""Fixtures of the fast window tests (test_window_logic.py, test_window_panels.py).

The window on the fake engine and controller of tests/fakes.py, its settings in a temporary
INI file, with neither the environment's LIVEKIT_* nor a keyring leaking in. tests/conftest.py
loads this module as a plugin; a module that defines its own ``ini`` or ``make_window``
keeps its own, and a module of window tests marks itself with
``pytest.mark.usefixtures("no_environment_or_keyring")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from console import settings
from console.settings import Settings
from console.widgets.main_window import MainWindow
from tests.fakes import FakeController, FakeEngine

MakeWindow = Callable[..., MainWindow]


@pytest.fixture
def no_environment_or_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """The join panel reads LIVEKIT_* and the keyring: neither may leak into these tests."""
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


@pytest.fixture
def ini(tmp_path: Path) -> Path:
    return tmp_path / "livekit-console.ini"


@pytest.fixture
def make_window(qtbot: QtBot, ini: Path) -> Iterator[MakeWindow]:
    def make(engine: FakeEngine, controller: FakeController | None = None, *,
             initial: Settings | None = None, show: bool = False) -> MainWindow:
        window = MainWindow(engine, settings.open_store(ini), initial=initial,
                            controller=controller)
        qtbot.addWidget(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
            window.activateWindow()
            qtbot.waitUntil(window.isActiveWindow, timeout=2000)
        return window

    yield make
