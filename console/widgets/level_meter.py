"""A horizontal dBFS level meter painted with QPainter (RMS bar, peak bar, hold tick, clip).

The widget owns no timer: the window polls the engine and calls :meth:`set_snapshot`,
which repaints only when a visible pixel changes. Everything that does not move (trough,
zone boundaries, scale ticks and labels) is painted once into a cached pixmap.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from console.engine.meter import FLOOR_DB, MeterSnapshot

DB_MIN = -60.0
DB_MAX = 0.0
TICK_STEP_DB = 6.0
YELLOW_FROM_DB = -18.0
RED_FROM_DB = -6.0

_MARGIN = 4
_GAP = 4  # between the bar and the clip indicator
_TICK_LEN = 3
_GREEN = QColor(40, 170, 60)
_YELLOW = QColor(225, 180, 0)
_RED = QColor(220, 40, 30)
_RESTYLE_EVENTS = (QEvent.Type.PaletteChange, QEvent.Type.FontChange, QEvent.Type.StyleChange)


def db_to_pos(db: float, length: float) -> float:
    """Map a level in dBFS onto ``0..length`` (linear in dB, clamped to DB_MIN..DB_MAX)."""
    if not db > DB_MIN:  # also catches NaN
        return 0.0
    if db >= DB_MAX:
        return float(length)
    return (db - DB_MIN) / (DB_MAX - DB_MIN) * length


def tick_values(step_db: float = TICK_STEP_DB) -> list[float]:
    """Scale ticks from DB_MIN to DB_MAX inclusive, every ``step_db``."""
    count = round((DB_MAX - DB_MIN) / step_db)
    return [DB_MIN + i * step_db for i in range(count + 1)]


def _lighter(color: QColor) -> QColor:
    light = QColor(color)
    light.setAlpha(130)
    return light


class LevelMeterWidget(QWidget):
    """Shows one :class:`MeterSnapshot`; click the clip box (or press Space) to reset it."""

    clipResetRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._peak_db = FLOOR_DB
        self._hold_db = FLOOR_DB
        self._rms_db = FLOOR_DB
        self._clipped = False
        self._shown: tuple[int, int, int, bool] = (0, 0, 0, False)  # visible state
        self._bar = QRect()
        self._clip_box = QRect()
        self._zones: list[tuple[int, int, QColor, QColor]] = []
        self._static: QPixmap | None = None
        self._scale_font = QFont()
        self._hold_color = QColor()
        self._clip_off = QColor()
        self._focus_pen = QPen()
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAccessibleName("Level meter")
        self._describe()
        self._restyle()

    # -- public API ------------------------------------------------------------------------
    @property
    def peak_db(self) -> float:
        return self._peak_db

    @property
    def hold_db(self) -> float:
        return self._hold_db

    @property
    def rms_db(self) -> float:
        return self._rms_db

    @property
    def clipped(self) -> bool:
        """True once a snapshot reported clipping, until :meth:`reset_clip`."""
        return self._clipped

    @property
    def bar_rect(self) -> QRect:
        """Where the bar is drawn (the scale maps DB_MIN..DB_MAX onto its width)."""
        return QRect(self._bar)

    @property
    def clip_rect(self) -> QRect:
        return QRect(self._clip_box)

    def level_x(self, db: float) -> int:
        """Widget x coordinate of a level on the bar (the bar's right edge for 0 dBFS)."""
        return self._bar.x() + round(db_to_pos(db, self._bar.width()))

    def set_snapshot(self, snapshot: MeterSnapshot) -> None:
        """Store a reading; repaint only if what is drawn changes."""
        self._peak_db = snapshot.peak_db
        self._hold_db = snapshot.hold_db
        self._rms_db = snapshot.rms_db
        was_clipped = self._clipped
        self._clipped = was_clipped or snapshot.clipped
        if self._clipped != was_clipped:
            self._describe()
        shown = self._visible_state()
        if shown != self._shown:
            self._shown = shown
            self.update()

    def reset_clip(self) -> None:
        """Clear the latched clip indicator and ask the owner to reset its source."""
        if self._clipped:
            self._clipped = False
            self._describe()
            self._shown = self._visible_state()
            self.update()
        self.clipResetRequested.emit()

    # -- Qt overrides ----------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(260, self._height())

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self._height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._relayout()
        super().resizeEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in _RESTYLE_EVENTS:
            self._restyle()
            self.updateGeometry()
        super().changeEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if (event.button() == Qt.MouseButton.LeftButton
                and self._clip_box.contains(event.position().toPoint())):
            self.reset_clip()
            event.accept()
            return
        super().mousePressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.reset_clip()
            event.accept()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._static is None:
            self._static = self._paint_static()
        bar = self._bar
        p = QPainter(self)
        p.drawPixmap(0, 0, self._static)
        rms_x, peak_x, hold_x, clipped = self._shown
        x0, y0, h = bar.x(), bar.y(), bar.height()
        thin = max(1, h // 4)
        for start, end, color, light in self._zones:
            if peak_x > start:
                p.fillRect(start, y0 + thin, min(peak_x, end) - start, h - 2 * thin, light)
            if rms_x > start:
                p.fillRect(start, y0, min(rms_x, end) - start, h, color)
        if hold_x > x0:
            p.fillRect(min(hold_x, x0 + bar.width()) - 2, y0, 2, h, self._hold_color)
        p.fillRect(self._clip_box, _RED if clipped else self._clip_off)
        if self.hasFocus():  # a ring round the whole meter, in the theme's highlight
            p.setPen(self._focus_pen)
            p.drawRect(self.rect().adjusted(1, 1, -1, -1))
        p.end()

    # -- internals -------------------------------------------------------------------------
    def _visible_state(self) -> tuple[int, int, int, bool]:
        hold = self.level_x(self._hold_db) if self._hold_db > DB_MIN else 0
        return (self.level_x(self._rms_db), self.level_x(self._peak_db), hold, self._clipped)

    def _describe(self) -> None:
        state = "Clipped: press Space or click the red box to reset. " if self._clipped else ""
        self.setAccessibleDescription(
            f"{state}Level from {DB_MIN:.0f} to {DB_MAX:.0f} dBFS: RMS bar, thinner peak bar, "
            "peak-hold tick and a clip indicator at the right end."
        )
        self.setToolTip("Click the box at the right end to reset the clip indicator")

    def _restyle(self) -> None:
        font = QFont(self.font())
        size = font.pointSizeF()
        if size > 0:
            font.setPointSizeF(max(6.0, size * 0.75))
        self._scale_font = font
        pal = self.palette()
        self._hold_color = pal.color(QPalette.ColorRole.WindowText)
        self._clip_off = pal.color(QPalette.ColorRole.Base)
        self._focus_pen = QPen(pal.color(QPalette.ColorRole.Highlight), 2)
        self._relayout()

    def _bar_height(self) -> int:
        return max(10, self.fontMetrics().height())

    def _height(self) -> int:
        label_h = QFontMetrics(self._scale_font).height()
        return 2 * _MARGIN + self._bar_height() + 1 + _TICK_LEN + label_h

    def _relayout(self) -> None:
        h = self._bar_height()
        width = max(1, self.width() - 2 * _MARGIN - h - _GAP)
        self._bar = QRect(_MARGIN, _MARGIN, width, h)
        self._clip_box = QRect(_MARGIN + width + _GAP, _MARGIN, h, h)
        zones = ((DB_MIN, YELLOW_FROM_DB, _GREEN), (YELLOW_FROM_DB, RED_FROM_DB, _YELLOW),
                 (RED_FROM_DB, DB_MAX, _RED))
        self._zones = [(self.level_x(lo), self.level_x(hi), c, _lighter(c)) for lo, hi, c in zones]
        self._static = None
        self._shown = self._visible_state()
        self.update()

    def _paint_static(self) -> QPixmap:
        """Trough, frame, ticks and labels: redrawn only after a resize or a style change."""
        ratio = self.devicePixelRatioF()
        pix = QPixmap(self.size() * ratio)
        pix.setDevicePixelRatio(ratio)
        pix.fill(Qt.GlobalColor.transparent)
        pal = self.palette()
        bar = self._bar
        p = QPainter(pix)
        p.fillRect(bar, pal.color(QPalette.ColorRole.Base))
        p.fillRect(self._clip_box, pal.color(QPalette.ColorRole.Base))
        # The frame in the text colour, half strong: Mid is close to the window on some dark
        # palettes, and the empty meter and the clip box vanished there.
        frame = QColor(pal.color(QPalette.ColorRole.WindowText))
        frame.setAlpha(120)
        p.setPen(frame)
        p.drawRect(bar.adjusted(-1, -1, 0, 0))
        p.drawRect(self._clip_box.adjusted(-1, -1, 0, 0))
        p.setPen(pal.color(QPalette.ColorRole.WindowText))
        p.setFont(self._scale_font)
        metrics = QFontMetrics(self._scale_font)
        ticks = tick_values()
        label_w = metrics.horizontalAdvance("-60") + 4
        spacing = bar.width() / (len(ticks) - 1)
        stride = 1 if spacing >= label_w else (2 if 2 * spacing >= label_w else 5)
        top = bar.bottom() + 2
        for i, db in enumerate(ticks):
            x = min(self.level_x(db), bar.right())
            p.drawLine(QPoint(x, top), QPoint(x, top + _TICK_LEN - 1))
            if i % stride == 0:
                rect = QRect(x - label_w // 2, top + _TICK_LEN, label_w, metrics.height())
                rect.moveLeft(max(0, min(rect.left(), self.width() - label_w)))
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"{db:.0f}")
        p.end()
        return pix
