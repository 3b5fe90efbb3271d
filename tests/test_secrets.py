"""Secrets per server URL in a REAL keyring: GNOME Keyring's Secret Service on a private bus.

The module starts its own D-Bus session and ``gnome-keyring-daemon`` (unlocked with a
password on stdin, data under a temporary HOME) and stops both by their pids: the user's
keyring is never touched. The window is real (offscreen) over a stand-in engine and a real
RoomController whose session only records the join: no sound card, no server.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from console import settings
from console.secrets import SERVICE, SecretStore, find_keyring
from tests.fakes import FakeEngine

API_KEY = "APIkeyForTests7"
SECRET = "s3cr3t-api-secret-Xq9ZpL2v8"  # distinctive: found anywhere means leaked
URL = "wss://keyring-test.example.invalid"


def _collections() -> list[tuple[str, bool]]:
    """Each collection's label and whether it is locked (for a failure message)."""
    import secretstorage

    try:
        connection = secretstorage.dbus_init()
        try:
            return [(c.get_label(), c.is_locked())
                    for c in secretstorage.get_all_collections(connection)]
        finally:
            connection.close()
    except Exception as exc:
        return [(repr(exc), True)]


# -- the private Secret Service ------------------------------------------------------------
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>{address}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@pytest.fixture(scope="module")
def secret_service(tmp_path_factory) -> Iterator[dict[str, str]]:
    """dbus-daemon + gnome-keyring-daemon of this module; yields the client's environment."""
    missing = [p for p in ("dbus-daemon", "gnome-keyring-daemon") if not shutil.which(p)]
    if missing:
        pytest.fail(f"{' and '.join(missing)} not installed (./dev.sh installs gnome-keyring)")
    home = tmp_path_factory.mktemp("keyring-home")
    run = home / "run"
    run.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_RUNTIME_DIR": str(run)}
    # A session bus that starts no service on demand: the system's service files would let
    # our first look-up start a second gnome-keyring (locked, no password) before ours owns
    # the name, whenever ours is slow to come up.
    config = home / "bus.conf"
    config.write_text(BUS_CONFIG.format(address=f"unix:path={run}/bus"))
    bus = subprocess.Popen(["dbus-daemon", f"--config-file={config}", "--nofork",
                            "--print-address=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    daemon = None
    try:
        assert bus.stdout is not None
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        log = (home / "gnome-keyring.log").open("w")
        daemon = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE, stdout=log, stderr=log, text=True, env=env)
        log.close()
        assert daemon.stdin is not None
        daemon.stdin.write("test-login-password")  # creates and unlocks the login keyring
        daemon.stdin.close()
        _wait_unlocked(env["DBUS_SESSION_BUS_ADDRESS"], home / "gnome-keyring.log")
        yield {"DBUS_SESSION_BUS_ADDRESS": env["DBUS_SESSION_BUS_ADDRESS"],
               "keyring_dir": str(home / "data" / "keyrings")}
    finally:
        for proc in (daemon, bus):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)


def _wait_unlocked(address: str, log: Path, timeout: float = 15.0) -> None:
    import secretstorage

    old = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
    deadline, last = time.monotonic() + timeout, None
    try:
        while time.monotonic() < deadline:
            try:
                connection = secretstorage.dbus_init()
                try:
                    if not secretstorage.get_default_collection(connection).is_locked():
                        return
                finally:
                    connection.close()
            except Exception as exc:
                last = exc
            time.sleep(0.1)
        pytest.fail(f"the test's Secret Service did not come up: {last!r}; "
                    f"collections {_collections()}; its log: {log.read_text()!r}")
    finally:
        if old is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = old


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No user keyring, keyring config or LIVEKIT_* variable reaches a test; no D-Bus."""
    for name in ("PYTHON_KEYRING_BACKEND", "LIVEKIT_URL", "LIVEKIT_API_KEY",
                 "LIVEKIT_API_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))  # keyringrc.cfg
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))      # plaintext keyrings
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")


@pytest.fixture
def on_secret_service(secret_service, monkeypatch):
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    return secret_service


def secret_service_entry(url: str) -> dict[str, str] | None:
    """What the Secret Service holds for ``url``, read with a backend of our own."""
    from keyring.backends.SecretService import Keyring

    raw = Keyring().get_password(SERVICE, url)
    return None if raw is None else json.loads(raw)


# -- a window with no sound card and no server ----------------------------------------------
class RecordingSession:
    """RoomSession's part the controller uses: records each join and refuses it."""

    def __init__(self) -> None:
        from console.session.model import SessionSnapshot

        self.joins: list = []
        self._snap = SessionSnapshot()
        self.aborts = 0
        self.on_lost = None

    def abort(self) -> None:
        self.aborts += 1

    def join(self, resolved, aborts=None):
        from console.session.model import ConnState

        self.joins.append(resolved)
        return self._snap.__class__(state=ConnState.FAILED, detail="refused by the test")

    def leave(self) -> None:
        pass

    def snapshot(self):
        return self._snap


@pytest.fixture
def ini(tmp_path) -> Path:
    return tmp_path / "livekit-console.ini"


@pytest.fixture
def make_window(qtbot, ini):
    from console.session.controller import RoomController
    from console.widgets.main_window import MainWindow

    made = []

    def make():
        engine = FakeEngine(inputs=[], outputs=[], input_device=None)  # no devices here
        session = RecordingSession()
        controller = RoomController(engine, session=session)  # type: ignore[arg-type]
        window = MainWindow(engine, settings.open_store(ini), controller=controller)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        made.append((window, controller))
        return window, session

    yield make
    for window, controller in made:
        window.close()
        controller.close()


def join_server(qtbot, window, session, **fields: str) -> None:
    """Type a server URL and secrets as a user would, press Join, wait for the attempt."""
    panel = window.join_panel
    qtbot.mouseClick(panel.server_mode, Qt.MouseButton.LeftButton)
    for name, edit in (("url", panel.url), ("token", panel.token), ("api_key", panel.api_key),
                       ("api_secret", panel.api_secret)):
        if name in fields:
            edit.clear()
            qtbot.keyClicks(edit, fields[name])
    before = len(session.joins)
    qtbot.mouseClick(panel.join_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(session.joins) > before or panel.error.isVisible(),
                    timeout=5000)
    qtbot.waitUntil(lambda: panel.join_button.isEnabled(), timeout=5000)


def files_containing(root: Path, needle: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle.encode() in p.read_bytes()]


# -- tests ------------------------------------------------------------------------------------
def test_the_secret_service_is_found_and_plaintext_files_are_not(on_secret_service,
                                                                 monkeypatch):
    ring, why_not = find_keyring()
    assert type(ring).__module__ == "keyring.backends.SecretService", (ring, why_not)

    # no Secret Service: keyrings.alt's plaintext file is viable, yet not "usable"
    from keyrings.alt.file import PlaintextKeyring

    assert PlaintextKeyring.priority > 0
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    ring, why_not = find_keyring()
    assert ring is None and "no system keyring" in why_not

    # ... unless it is chosen explicitly; fail and null never are
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    assert isinstance(find_keyring()[0], PlaintextKeyring)
    for off in ("keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"):
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", off)
        ring, why_not = find_keyring()
        assert ring is None and "switched off" in why_not
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "no.such.Backend")
    ring, why_not = find_keyring()
    assert ring is None and "PYTHON_KEYRING_BACKEND" in why_not


def test_an_api_secret_is_kept_in_the_keyring_offered_back_and_forgotten(
        on_secret_service, make_window, qtbot, ini, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    first, session = make_window()
    panel = first.join_panel
    assert "system keyring when you join" in panel.keyring_note.text()
    assert not panel.forget_button.isEnabled()
    join_server(qtbot, first, session, url=URL + "/", api_key=API_KEY, api_secret=SECRET)
    assert session.joins and session.joins[-1].url == URL  # the join used what was typed

    # in the Secret Service under the URL; not in the settings file, a log or any file
    assert secret_service_entry(URL) == {"api_key": API_KEY, "api_secret": SECRET}
    text = ini.read_text()
    assert URL in text  # the settings were written: their lack of the secret means something
    assert SECRET not in text
    # The key only names the key (every token carries it in the clear, as its issuer); it is
    # remembered with the URL so the window offers it back even without a keyring.
    assert f"api_key={API_KEY}" in text
    assert SECRET not in caplog.text
    assert any("kept in the system keyring" in r.getMessage() for r in caplog.records)
    assert files_containing(tmp_path, SECRET) == []
    keyrings = Path(on_secret_service["keyring_dir"])
    assert list(keyrings.glob("*.keyring")) and files_containing(keyrings, SECRET) == []
    assert panel.forget_button.isEnabled()
    first.close()

    # a new window on the same settings offers it back, masked
    second, _ = make_window()
    panel = second.join_panel
    assert panel.url.text() == URL
    assert panel.api_secret.text() == SECRET and panel.api_key.text() == API_KEY
    assert panel.api_secret.echoMode() == QLineEdit.EchoMode.Password
    assert SECRET not in panel.api_secret.displayText()
    assert "come from the system keyring" in panel.keyring_note.text()

    # Forget: gone from the keyring and the fields
    assert panel.forget_button.isEnabled()
    qtbot.mouseClick(panel.server_mode, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.forget_button, Qt.MouseButton.LeftButton)
    assert secret_service_entry(URL) is None
    assert panel.api_secret.text() == "" and panel.api_key.text() == ""
    assert not panel.forget_button.isEnabled()
    assert SECRET not in caplog.text


def test_a_token_is_offered_for_its_url_only(on_secret_service, make_window, qtbot, caplog):
    from console.session.join import mint_token

    caplog.set_level(logging.DEBUG)
    url = "wss://token-test.example.invalid:7443"
    token = mint_token(API_KEY, "minting-secret-only-here", "demo", "ann")
    first, session = make_window()
    join_server(qtbot, first, session, url=url, token=token)
    assert session.joins and session.joins[-1].token == token
    assert secret_service_entry(url) == {"token": token}
    assert token not in caplog.text
    first.close()

    second, _ = make_window()
    panel = second.join_panel
    assert panel.token.text() == token
    assert panel.token.echoMode() == QLineEdit.EchoMode.Password

    # another server: the token is not left in the field for it; back: offered again
    qtbot.mouseClick(panel.server_mode, Qt.MouseButton.LeftButton)

    def choose(text: str) -> None:
        panel.url.setFocus()
        qtbot.waitUntil(panel.url.hasFocus, timeout=2000)
        panel.url.selectAll()
        qtbot.keyClicks(panel.url, text)
        qtbot.keyClick(panel.url, Qt.Key.Key_Tab)  # leaving the field: editingFinished

    choose("wss://other.example.invalid")
    assert panel.token.text() == ""
    assert not panel.forget_button.isEnabled()
    choose(url)
    assert panel.token.text() == token
    assert panel.forget_button.isEnabled()
    # what the user types is theirs: choosing a URL does not overwrite it
    panel.token.setText("typed-by-the-user")
    choose("wss://other.example.invalid")
    assert panel.token.text() == "typed-by-the-user"
    qtbot.mouseClick(panel.forget_button, Qt.MouseButton.LeftButton)  # nothing kept there
    choose(url)
    assert panel.token.text() == "typed-by-the-user"
    assert secret_service_entry(url) == {"token": token}
    SecretStore.open().forget(url)
    assert secret_service_entry(url) is None


def test_without_a_usable_keyring_the_window_says_so(make_window, qtbot, ini, tmp_path,
                                                    caplog, monkeypatch):
    """No Secret Service: keyrings.alt's plaintext file is installed but never used."""
    caplog.set_level(logging.DEBUG)
    window, session = make_window()
    panel = window.join_panel
    qtbot.mouseClick(panel.server_mode, Qt.MouseButton.LeftButton)
    assert panel.keyring_note.isVisible()
    assert "will not be remembered" in panel.keyring_note.text()
    assert "no system keyring" in panel.keyring_note.text()  # not "it failed"
    join_server(qtbot, window, session, url=URL, api_key=API_KEY, api_secret=SECRET)
    assert session.joins  # the join goes on
    assert panel.api_secret.text() == SECRET  # what was typed is kept
    assert "will not be remembered" in panel.keyring_note.text()
    assert not (tmp_path / "data" / "python_keyring").exists()  # no plaintext keyring file
    assert files_containing(tmp_path, SECRET) == []
    assert SECRET not in ini.read_text() and SECRET not in caplog.text
    window.close()
    again, _ = make_window()
    assert again.join_panel.url.text() == URL and again.join_panel.api_secret.text() == ""

    # keyring switched off explicitly: same notice
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    third, _ = make_window()
    qtbot.mouseClick(third.join_panel.server_mode, Qt.MouseButton.LeftButton)
    assert "will not be remembered" in third.join_panel.keyring_note.text()


def test_an_explicitly_chosen_file_backend_is_used(make_window, qtbot, tmp_path, monkeypatch):
    from keyrings.alt.file import PlaintextKeyring

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    window, session = make_window()
    join_server(qtbot, window, session, url=URL, api_key=API_KEY, api_secret=SECRET)
    raw = PlaintextKeyring().get_password(SERVICE, URL)
    assert raw is not None and json.loads(raw)["api_secret"] == SECRET
    assert (tmp_path / "data" / "python_keyring").is_dir()


class BrokenKeyring:
    """A backend that fails every call, as a dead D-Bus service would."""

    def get_password(self, service: str, username: str) -> str | None:
        raise RuntimeError("org.freedesktop.DBus.Error.NoReply")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"cannot store {password}")  # a backend that echoes: scrubbed

    def delete_password(self, service: str, username: str) -> None:
        raise RuntimeError("org.freedesktop.DBus.Error.NoReply")


def test_a_failing_keyring_neither_crashes_nor_loses_what_was_typed(qtbot, caplog):
    from console.widgets.join_panel import JoinPanel

    caplog.set_level(logging.DEBUG)
    panel = JoinPanel(secrets=SecretStore(BrokenKeyring()))  # type: ignore[arg-type]
    qtbot.addWidget(panel)
    panel.show()
    specs: list = []
    panel.joinRequested.connect(specs.append)
    panel.server_mode.setChecked(True)
    qtbot.keyClicks(panel.url, URL)
    qtbot.keyClicks(panel.api_key, API_KEY)
    qtbot.keyClicks(panel.api_secret, SECRET)
    qtbot.mouseClick(panel.join_button, Qt.MouseButton.LeftButton)
    assert specs and specs[-1].api_secret == SECRET and specs[-1].url == URL
    assert panel.api_secret.text() == SECRET
    note = panel.keyring_note.text()
    assert "could not save to the system keyring" in note.lower() and "this run only" in note
    assert SECRET not in note and SECRET not in caplog.text
    panel.forget_secrets()  # fails too: said, not raised
    assert "could not delete" in panel.keyring_note.text().lower()
