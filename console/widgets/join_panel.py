"""The join panel: where to join (the local sandbox or a server) and the Join / Leave buttons.

Secrets (token, API secret) are typed into masked fields and are never written to the
settings file or a log: on Join they are kept per server URL in the system keyring when a
usable one exists (``console.secrets``), and offered back when that URL is chosen again
(typed or remembered); "Forget" removes them. Without a usable keyring the panel says they
will not be remembered. ``LIVEKIT_URL`` / ``LIVEKIT_API_KEY`` / ``LIVEKIT_API_SECRET`` fill
the fields when set; values from the environment are not copied into the keyring.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from console.secrets import FIELDS, SecretStore, from_environment, url_key
from console.session.join import ENV_KEY, ENV_SECRET, ENV_URL, JoinError, JoinSpec, normalize_url
from console.settings import MAX_RECENT_ROOMS
from console.widgets.panel import Prefs
from console.widgets.texts import ErrorLine, WrappingLabel

if TYPE_CHECKING:
    from console.session.connection_view import ConnectionView

SANDBOX_ROOM = "demo"


class JoinPanel(QGroupBox):
    """Emits ``joinRequested(JoinSpec)`` and ``leaveRequested()``; shows state and errors."""

    joinRequested = Signal(object)
    leaveRequested = Signal()

    SETTINGS: ClassVar[tuple[str, ...]] = ("join_mode", "server_url", "api_key", "identity",
                                           "recent_rooms", "agent_name")

    def __init__(self, prefs: Prefs | None = None, parent: QWidget | None = None, *,
                 secrets: SecretStore | None = None) -> None:
        super().__init__("Room", parent)
        self.prefs = prefs
        self.secrets = SecretStore.open() if secrets is None else secrets
        self._offered: dict[str, str] = {}  # field -> value the keyring filled it with
        self._shown_view: ConnectionView | None = None  # what show_connection last showed
        outer = QVBoxLayout(self)
        modes = QHBoxLayout()
        self.sandbox_mode = QRadioButton("Local sand&box", self)
        self.sandbox_mode.setToolTip("A LiveKit-compatible server on this machine, with "
                                     "demo voices: no account needed")
        self.server_mode = QRadioButton("Ser&ver", self)
        self.server_mode.setToolTip("A LiveKit server or LiveKit Cloud: a URL and a token, or "
                                    "an API key and secret")
        modes.addWidget(self.sandbox_mode)
        modes.addWidget(self.server_mode)
        modes.addStretch(1)
        outer.addLayout(modes)

        self.fields = QWidget(self)
        column = QVBoxLayout(self.fields)
        column.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        column.addLayout(form)
        self.url = QLineEdit(self.fields)
        self.url.setPlaceholderText("wss://your-project.livekit.cloud")
        self.token = QLineEdit(self.fields)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("access token (or key and secret below)")
        self.api_key = QLineEdit(self.fields)
        self.api_secret = QLineEdit(self.fields)
        self.api_secret.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("U&RL:", self.url)
        form.addRow("&Token:", self.token)
        form.addRow("API &key:", self.api_key)
        form.addRow("API se&cret:", self.api_secret)
        keep = QHBoxLayout()
        # Not a form row: a wrapped label there got one line's height and was cut.
        self.keyring_note = WrappingLabel("Where secrets are kept", self.fields)
        self.forget_button = QPushButton("Forget", self.fields)
        self.forget_button.setAccessibleName("Forget this server's secrets")
        self.forget_button.setToolTip("Remove this URL's token and API secret from the system "
                                      "keyring and from the fields")
        keep.addWidget(self.keyring_note, 1)
        keep.addWidget(self.forget_button, 0, Qt.AlignmentFlag.AlignTop)
        column.addLayout(keep)
        outer.addWidget(self.fields)

        common = QFormLayout()
        self.room = QComboBox(self)
        self.room.setEditable(True)
        self.room.setAccessibleName("Room")
        self.room.setToolTip("Recent rooms are remembered")
        self.identity = QLineEdit(self)
        self.identity.setPlaceholderText("console-<user>")
        # The LiveKit agent to send into the room (its registered name), remembered. No Alt
        # key of its own: every letter of "Agent" is taken; Tab reaches it after Identity.
        self.agent = QLineEdit(self)
        self.agent.setPlaceholderText("none")
        self.agent.setAccessibleName("Agent to dispatch")
        self.agent.setToolTip("The name a LiveKit agent registered with: it is dispatched "
                              "into the room when you join (in the token made here, or "
                              "through the server's API with a given token and the API "
                              "key and secret)")
        common.addRow("R&oom:", self.room)
        common.addRow("I&dentity:", self.identity)
        common.addRow("Agent:", self.agent)
        outer.addLayout(common)

        buttons = QHBoxLayout()
        self.join_button = QPushButton("&Join", self)
        self.join_button.setDefault(True)
        self.leave_button = QPushButton("&Leave", self)
        self.leave_button.setEnabled(False)
        self.leave_button.setToolTip("Leave the room, or stop joining or rejoining")
        buttons.addWidget(self.join_button)
        buttons.addWidget(self.leave_button)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        self.state = WrappingLabel("Connection state", self)
        self.state.show_text("not in a room")
        outer.addWidget(self.state)
        problem = QHBoxLayout()
        self.error = ErrorLine("Join error", self)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy the whole message (to paste in a bug report)")
        self.copy_button.setAccessibleName("Copy the error")
        self.copy_button.hide()
        self.copy_button.clicked.connect(self.copy_error)
        problem.addWidget(self.error, 1)
        problem.addWidget(self.copy_button, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(problem)
        self._full_error = ""

        self.sandbox_mode.toggled.connect(self._on_mode)
        self.join_button.clicked.connect(self._on_join)
        self.leave_button.clicked.connect(self.leaveRequested)
        self.forget_button.clicked.connect(self.forget_secrets)
        self.url.editingFinished.connect(self.offer_secrets)
        for edit in (self.url, self.token, self.api_key, self.api_secret, self.identity,
                     self.agent):
            edit.returnPressed.connect(self._on_join)
        room_edit = self.room.lineEdit()
        if room_edit is not None:  # Enter in the room's field joins, as in the others
            room_edit.returnPressed.connect(self._on_join)
        self._restore()

    def _restore(self) -> None:
        """The environment first (it was set for this run), then what was remembered."""
        remembered = self.prefs.value if self.prefs is not None else None
        env_url = os.environ.get(ENV_URL, "")
        url = env_url or (remembered.server_url if remembered else "")
        self.url.setText(url)
        key = os.environ.get(ENV_KEY, "") or (remembered.api_key if remembered else "")
        self.api_key.setText(key)
        self.api_secret.setText(os.environ.get(ENV_SECRET, ""))
        mode = "server" if env_url else (remembered.join_mode if remembered else "")
        (self.server_mode if mode == "server" else self.sandbox_mode).setChecked(True)
        if remembered is not None:
            self.identity.setText(remembered.identity)
            self.agent.setText(remembered.agent_name)
            self.set_recent_rooms(list(remembered.recent_rooms))
        self._on_mode(self.sandbox_mode.isChecked())
        self.offer_secrets()

    # -- public ---------------------------------------------------------------------------
    def spec(self) -> JoinSpec:
        """What the fields say (empty fields fall back to the environment)."""
        room = self.room.currentText().strip() or None
        identity = self.identity.text().strip() or None
        agent = self.agent.text().strip() or None
        if self.sandbox_mode.isChecked():
            return JoinSpec(room=room or SANDBOX_ROOM, identity=identity, agent=agent)
        return JoinSpec.from_env(
            url=self.url.text().strip() or None, token=self.token.text().strip() or None,
            api_key=self.api_key.text().strip() or None,
            api_secret=self.api_secret.text().strip() or None, room=room,
            identity=identity, agent=agent)

    def set_url(self, url: str) -> None:
        """Show ``url`` (a remembered one) and offer its remembered secrets."""
        self.url.setText(url)
        self.offer_secrets()

    def offer_secrets(self) -> None:
        """Fill the secret fields with what the keyring has for the URL.

        Only fields that are empty, or that hold what the keyring gave for the previous
        URL, change: what the user typed (or the environment gave) is never overwritten,
        and one server's secret is not left in the fields for another.
        """
        key = url_key(self.url.text())
        found = self.secrets.recall(key) if key else {}
        for name in FIELDS:
            edit = self._edit(name)
            current, offered = edit.text(), self._offered.pop(name, None)
            if current and current != offered:
                continue  # typed
            value = found.get(name, "")
            if value != current:
                edit.setText(value)
            if value:
                self._offered[name] = value
        self._show_keeping(kept=bool(found))

    def remember_secrets(self) -> None:
        """Keep what the secret fields hold for the URL (at Join; not in sandbox mode)."""
        key = url_key(self.url.text())
        if self.sandbox_mode.isChecked() or key is None:
            return
        values = {name: self._edit(name).text().strip() for name in FIELDS}
        mine = {name: value for name, value in values.items()
                if value and value != from_environment(name)}
        self.secrets.remember(key, mine)
        self._offered.update(mine)  # now this URL's: another URL will not be sent them
        self._show_keeping(kept=bool(mine) or bool(self.secrets.recall(key)))

    def forget_secrets(self) -> None:
        """Remove the URL's secrets from the keyring and empty the secret fields."""
        key = url_key(self.url.text())
        if key is not None and not self.secrets.forget(key):
            self._show_keeping(kept=True)
            return  # the keyring refused: the fields still say what it holds
        key_text = self.api_key.text()
        remembered_key = self.prefs.value.api_key if self.prefs is not None else ""
        for name in FIELDS:
            if (name != "api_key" or self._offered.get(name) == key_text
                    or (key_text and key_text == remembered_key)):
                self._edit(name).clear()
        if remembered_key and remembered_key == key_text:
            self._remember(api_key="")  # the remembered key goes with its secret
        self._offered.clear()
        self._show_keeping(kept=False)

    def set_recent_rooms(self, rooms: list[str]) -> None:
        """List ``rooms``, newest first; the field shows the newest (the last joined)."""
        self.room.clear()
        self.room.addItems(rooms)
        self.room.setEditText(rooms[0] if rooms else "")

    def tab_chain(self) -> list[QWidget]:
        """The panel's stops in reading order (the window chains the panels)."""
        return [self.sandbox_mode, self.server_mode, self.url, self.token, self.api_key,
                self.api_secret, self.forget_button, self.room, self.identity, self.agent,
                self.join_button, self.leave_button, self.copy_button]

    def show_connection(self, view: ConnectionView) -> None:
        """One state line and at most one error, both from the same view (every display
        tick: nothing is touched while the view stays the same)."""
        if view == self._shown_view:
            return
        self.state.show_text(view.line)
        self._show_error(view.error_short, view.error_full)
        self.join_button.setEnabled(view.can_join)
        self.leave_button.setEnabled(view.can_leave)
        for widget in (self.sandbox_mode, self.server_mode, self.fields, self.room,
                       self.identity, self.agent):
            widget.setEnabled(view.can_join)
        self._shown_view = view

    def show_error(self, text: str, full: str = "") -> None:
        """A short error, its full text in the tooltip and behind Copy ("" hides both);
        the next view is shown in full again."""
        self._shown_view = None
        self._show_error(text, full)

    def _show_error(self, text: str, full: str) -> None:
        self._full_error = full or text
        self.error.show_text(text)
        self.error.setToolTip(self._full_error if self._full_error != text else "")
        self.copy_button.setVisible(bool(text))

    def error_text(self) -> str:
        return self.error.plain_text()

    def copy_error(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None and self._full_error:
            clipboard.setText(self._full_error)

    def _edit(self, name: str) -> QLineEdit:
        edits = {"token": self.token, "api_key": self.api_key, "api_secret": self.api_secret}
        return edits[name]

    def _show_keeping(self, *, kept: bool) -> None:
        """Say where the secrets go, or why they will not be remembered; no keyring call."""
        store = self.secrets
        if store.error:
            text = f"{store.error[:1].upper()}{store.error[1:]}. The secrets typed here are " \
                   "kept for this run only."
        elif not store.persistent:
            text = f"The token and API secret will not be remembered: {store.why_not}."
        elif kept:
            text = "This URL's token and API secret come from the system keyring."
        else:
            text = "The token and API secret are kept in the system keyring when you join."
        self.keyring_note.show_text(text)
        self.forget_button.setEnabled(kept)

    # -- events ---------------------------------------------------------------------------
    def _on_mode(self, sandbox: bool) -> None:
        self.fields.setVisible(not sandbox)
        if sandbox and not self.room.currentText().strip():
            self.room.setEditText(SANDBOX_ROOM)
        self._remember(join_mode="sandbox" if sandbox else "server")

    def _on_join(self) -> None:
        if not self.join_button.isEnabled():
            return
        self.show_error("")
        if self.server_mode.isChecked():
            self.offer_secrets()  # Enter in the URL field comes before editingFinished
            self.remember_secrets()
        spec = self.spec()
        self._remember_join(spec)
        self.joinRequested.emit(spec)

    def _remember_join(self, spec: JoinSpec) -> None:
        """The room first in the recent list, the identity, and in server mode the URL and
        the API key (not the secret: that goes to the keyring only)."""
        if self.prefs is None:
            return
        changes: dict[str, object] = {"identity": spec.identity or "",
                                      "agent_name": spec.agent or ""}
        if spec.room:
            recent = self.prefs.value.recent_rooms
            rooms = [spec.room, *(r for r in recent if r != spec.room)][:MAX_RECENT_ROOMS]
            changes["recent_rooms"] = tuple(rooms)
            self.set_recent_rooms(rooms)
        if self.server_mode.isChecked():
            with contextlib.suppress(JoinError):
                changes["server_url"] = normalize_url(self.url.text().strip())
            key = self.api_key.text().strip()
            changes["api_key"] = "" if key == from_environment("api_key") else key
        self._remember(**changes)

    def _remember(self, **changes: object) -> None:
        if self.prefs is not None:
            self.prefs.remember(**changes)
