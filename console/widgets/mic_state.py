"""The microphone's state in one large coloured word, readable from across the room.

Whether the others hear you is the one thing a person must never have to work out, so it
is said in capitals on a coloured ground: LIVE (green), MUTED (red), PUSH TO TALK (amber;
"PUSH TO TALK - held", green, while Space is down), NO DEVICE (red), RECONNECTING (amber)
while a lost room is being restored, and NOT IN A ROOM (grey) while nothing is sent anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

GREEN = "#1e7b34"
RED = "#b3261e"
AMBER = "#8a5a00"
GREY = "#5f6368"


@dataclass(frozen=True)
class MicLook:
    text: str
    color: str    # the ground; the text is white on every one of them
    help: str     # the tooltip and the accessible description


def mic_look(*, has_device: bool, in_room: bool, muted: bool, push_to_talk: bool,
             talking: bool, reconnecting: bool = False) -> MicLook:
    """What the badge says; the order is what matters most to the person speaking."""
    if not has_device:
        return MicLook("NO DEVICE", RED, "No microphone is open: choose an input device.")
    if reconnecting:
        return MicLook("RECONNECTING", AMBER, "The connection to the room was lost and is "
                                              "being restored: nobody hears you meanwhile.")
    if not in_room:
        return MicLook("NOT IN A ROOM", GREY, "The microphone is open; nothing is sent until "
                                              "you join a room.")
    if muted:
        return MicLook("MUTED", RED, "You are muted: the others see it and hear nothing. "
                                     "Press M to unmute.")
    if push_to_talk:
        if talking:
            return MicLook("PUSH TO TALK - held", GREEN, "Space is held: the others hear you.")
        return MicLook("PUSH TO TALK", AMBER, "The others hear you while you hold Space.")
    return MicLook("LIVE", GREEN, "The others hear your microphone. Press M to mute.")


class MicStateBadge(QLabel):
    """Shows a :class:`MicLook`; its size does not change with the word shown."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        font = QFont(self.font())
        font.setBold(True)
        size = font.pointSizeF()
        if size > 0:
            font.setPointSizeF(size * 1.5)
        self.setFont(font)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAccessibleName("Microphone state")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.fontMetrics().height() + 12)
        self.setMinimumWidth(self.fontMetrics().horizontalAdvance("PUSH TO TALK - held") + 24)
        self.look: MicLook | None = None

    def show_look(self, look: MicLook) -> None:
        if look == self.look:
            return
        self.look = look
        self.setText(look.text)
        self.setToolTip(look.help)
        self.setAccessibleDescription(look.help)
        self.setStyleSheet(f"QLabel {{ background: {look.color}; color: white; "
                           "border-radius: 5px; padding: 3px 10px; }")
