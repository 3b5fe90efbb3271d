"""The room's transcript as a person reads it: who said what, interim words in grey.

Fed by the session's :class:`~console.session.transcript.TranscriptSnapshot` once per
display tick, and redrawn only when its version moved. Agents rewrite the newest segments
many times a second (interim speech-to-text) while the older ones stay put, so only the
lines from the first one that changed are rewritten: a flood of interim updates costs the
tail of the document, not the whole call. Copy and Save give the text (and JSON) that
``console.session.transcript_export`` writes, so what is pasted is what ``monitor`` logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QColor, QGuiApplication, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from console.session.transcript import TranscriptLine, TranscriptSnapshot
from console.session.transcript_export import transcript_json, transcript_text

EMPTY = "No transcript yet: an agent's words and yours appear here as it sends them."


class TranscriptPane(QWidget):
    """Read-only transcript with Copy and Save; :meth:`show_snapshot` once per tick."""

    def __init__(self, parent: QWidget | None = None,
                 clock_zero: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.setAccessibleName("Transcript")
        self._zero = clock_zero()  # line times are shown from when the window started
        self.text = QPlainTextEdit(self)
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Transcript text")
        self.text.setPlaceholderText(EMPTY)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setToolTip("Copy the whole transcript as text")
        self.copy_button.clicked.connect(self.copy)
        self.save_button = QPushButton("Save…", self)
        self.save_button.setToolTip("Save the transcript as text (.txt) or JSON (.json)")
        self.save_button.clicked.connect(self.save_dialog)
        self.count = QLabel("", self)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.count, 1)
        row.addWidget(self.copy_button)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)
        self.snapshot = TranscriptSnapshot()
        self._shown: list[tuple[str, int]] = []  # (segment id, rev) per block shown
        self._formats: tuple[QTextCharFormat, QTextCharFormat] = self._make_formats()
        self.rewrites = 0  # blocks rewritten since start (tests check the tail-only rule)
        self._enable()

    # -- feeding --------------------------------------------------------------------------
    def show_snapshot(self, snap: TranscriptSnapshot) -> None:
        if snap is self.snapshot:  # the session hands out the same object until a change
            return
        self.snapshot = snap
        wanted = [(line.segment_id, line.rev) for line in snap.lines]
        self._drop_head(wanted[0][0] if wanted else None)
        first = 0
        limit = min(len(wanted), len(self._shown))
        while first < limit and wanted[first] == self._shown[first]:
            first += 1
        if first == len(wanted) == len(self._shown):
            return
        bar = self.text.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 2  # follow the newest unless scrolled back
        cursor = QTextCursor(self.text.document())
        cursor.beginEditBlock()
        if first < len(self._shown):
            block = self.text.document().findBlockByNumber(first)
            cursor.setPosition(max(0, block.position() - 1) if first else 0)
            cursor.movePosition(QTextCursor.MoveOperation.End,
                                QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
        else:
            cursor.movePosition(QTextCursor.MoveOperation.End)
        for index in range(first, len(wanted)):
            if index:
                cursor.insertBlock()
            self._insert(cursor, snap.lines[index])
        cursor.endEditBlock()
        self.rewrites += len(wanted) - first
        self._shown = wanted
        if at_end:
            bar.setValue(bar.maximum())
        finals = sum(1 for line in snap.lines if line.final)
        self.count.setText(f"{len(snap.lines)} lines, {len(snap.lines) - finals} still interim"
                           if finals < len(snap.lines) else f"{len(snap.lines)} lines")
        self._enable()

    def _drop_head(self, first_segment: str | None) -> None:
        """The transcript keeps its newest lines: drop the blocks of those it let go, so a
        long call still rewrites only its tail."""
        if not self._shown or first_segment is None or self._shown[0][0] == first_segment:
            return
        gone = next((i for i, (segment, _) in enumerate(self._shown)
                     if segment == first_segment), None)
        if gone is None:
            return  # nothing in common: everything is rewritten
        doc = self.text.document()
        cursor = QTextCursor(doc)
        cursor.setPosition(doc.findBlockByNumber(gone).position(),
                           QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        del self._shown[:gone]

    def _insert(self, cursor: QTextCursor, line: TranscriptLine) -> None:
        final_fmt, interim_fmt = self._formats
        who = line.speaker.label + (" (chat)" if line.chat else "")
        words = " ".join(line.text.split())
        cursor.insertText(f"{who}: {words}" + ("" if line.final else " …"),
                          final_fmt if line.final else interim_fmt)

    # -- actions --------------------------------------------------------------------------
    def as_text(self) -> str:
        return transcript_text(self.snapshot.lines, self._zero)

    def copy(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.as_text())

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the transcript", "transcript.txt",
                                              "Text (*.txt);;JSON (*.json)")
        if path:
            self.save(Path(path))

    def save(self, path: Path) -> None:
        """Text, or JSON when the name ends in .json; a failure is said in place."""
        body = (transcript_json(self.snapshot.lines, self._zero)
                if path.suffix.lower() == ".json" else self.as_text())
        try:
            path.write_text(body, encoding="utf-8")
        except OSError as exc:
            self.count.setText(f"Could not save {path.name}: {exc.strerror or exc}")
            return
        self.count.setText(f"Saved {path.name}")

    # -- look -----------------------------------------------------------------------------
    def changeEvent(self, event: object) -> None:
        from PySide6.QtCore import QEvent

        if isinstance(event, QEvent) and event.type() == QEvent.Type.PaletteChange:
            self._formats = self._make_formats()
            self._shown = []  # redrawn in the new colours on the next snapshot
            self.text.clear()
            snap, self.snapshot = self.snapshot, TranscriptSnapshot()
            self.show_snapshot(snap)
        super().changeEvent(event)  # type: ignore[arg-type]

    def _make_formats(self) -> tuple[QTextCharFormat, QTextCharFormat]:
        final = QTextCharFormat()
        final.setForeground(self.palette().color(QPalette.ColorRole.Text))
        interim = QTextCharFormat()
        faint = QColor(self.palette().color(QPalette.ColorRole.Text))
        faint.setAlpha(140)
        interim.setForeground(faint)
        interim.setFontItalic(True)
        return final, interim

    def _enable(self) -> None:
        has = bool(self.snapshot.lines)
        self.copy_button.setEnabled(has)
        self.save_button.setEnabled(has)
