"""The join panel: where to join (the local sandbox or a server) and the Join / Leave buttons.

Secrets (token, API secret) are typed into masked fields and are never written to the
settings file: they are kept in the system keyring when one is available (see
``console.secrets``), otherwise only for this run. ``LIVEKIT_URL`` / ``LIVEKIT_API_KEY`` /
``LIVEKIT_API_SECRET`` fill the fields when set.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from console.session.join import ENV_KEY, ENV_SECRET, ENV_URL, JoinSpec

SANDBOX_ROOM = "demo"


class JoinPanel(QGroupBox):
    """Emits ``joinRequested(JoinSpec)`` and ``leaveRequested()``; shows state and errors."""

    joinRequested = Signal(object)
    leaveRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Room", parent)
        outer = QVBoxLayout(self)
        modes = QHBoxLayout()
        self.sandbox_mode = QRadioButton("&Local sandbox", self)
        self.sandbox_mode.setToolTip("A LiveKit-compatible server on this machine, with "
                                     "demo voices: no account needed")
        self.server_mode = QRadioButton("&Server", self)
        modes.addWidget(self.sandbox_mode)
        modes.addWidget(self.server_mode)
        modes.addStretch(1)
        outer.addLayout(modes)

        self.fields = QWidget(self)
        form = QFormLayout(self.fields)
        form.setContentsMargins(0, 0, 0, 0)
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
        form.addRow("API s&ecret:", self.api_secret)
        outer.addWidget(self.fields)

        common = QFormLayout()
        self.room = QComboBox(self)
        self.room.setEditable(True)
        self.room.setAccessibleName("Room")
        self.room.setToolTip("Recent rooms are remembered")
        self.identity = QLineEdit(self)
        self.identity.setPlaceholderText("console-<user>")
        common.addRow("R&oom:", self.room)
        common.addRow("I&dentity:", self.identity)
        outer.addLayout(common)

        buttons = QHBoxLayout()
        self.join_button = QPushButton("&Join", self)
        self.join_button.setDefault(True)
        self.leave_button = QPushButton("Lea&ve", self)
        self.leave_button.setEnabled(False)
        self.state = QLabel("Not in a room", self)
        self.state.setAccessibleName("Connection state")
        buttons.addWidget(self.join_button)
        buttons.addWidget(self.leave_button)
        buttons.addWidget(self.state, 1)
        outer.addLayout(buttons)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0302a;")
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setAccessibleName("Join error")
        self.error.hide()
        outer.addWidget(self.error)

        self.sandbox_mode.toggled.connect(self._on_mode)
        self.join_button.clicked.connect(self._on_join)
        self.leave_button.clicked.connect(self.leaveRequested)
        for edit in (self.url, self.token, self.api_key, self.api_secret, self.identity):
            edit.returnPressed.connect(self._on_join)
        env_url = os.environ.get(ENV_URL, "")
        self.url.setText(env_url)
        self.api_key.setText(os.environ.get(ENV_KEY, ""))
        self.api_secret.setText(os.environ.get(ENV_SECRET, ""))
        (self.server_mode if env_url else self.sandbox_mode).setChecked(True)
        self._on_mode(self.sandbox_mode.isChecked())

    # -- public ---------------------------------------------------------------------------
    def spec(self) -> JoinSpec:
        """What the fields say (empty fields fall back to the environment)."""
        room = self.room.currentText().strip() or None
        identity = self.identity.text().strip() or None
        if self.sandbox_mode.isChecked():
            return JoinSpec(room=room or SANDBOX_ROOM, identity=identity)
        return JoinSpec.from_env(
            url=self.url.text().strip() or None, token=self.token.text().strip() or None,
            api_key=self.api_key.text().strip() or None,
            api_secret=self.api_secret.text().strip() or None, room=room,
            identity=identity)

    def set_recent_rooms(self, rooms: list[str]) -> None:
        current = self.room.currentText()
        self.room.clear()
        self.room.addItems(rooms)
        self.room.setEditText(current or (rooms[0] if rooms else ""))

    def set_state(self, text: str, *, in_room: bool, busy: bool) -> None:
        if self.state.text() != text:
            self.state.setText(text)
        self.join_button.setEnabled(not in_room and not busy)
        self.leave_button.setEnabled(in_room or busy)
        for widget in (self.sandbox_mode, self.server_mode, self.fields, self.room,
                       self.identity):
            widget.setEnabled(not in_room and not busy)

    def show_error(self, text: str) -> None:
        if self.error.text() != text:
            self.error.setText(text)
        self.error.setVisible(bool(text))

    # -- events ---------------------------------------------------------------------------
    def _on_mode(self, sandbox: bool) -> None:
        self.fields.setVisible(not sandbox)
        if sandbox and not self.room.currentText().strip():
            self.room.setEditText(SANDBOX_ROOM)

    def _on_join(self) -> None:
        if self.join_button.isEnabled():
            self.show_error("")
            self.joinRequested.emit(self.spec())
