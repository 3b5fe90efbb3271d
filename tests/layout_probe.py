"""Open the window on a screen of a given size and scale, screenshot it, check its layout.

Run by tests/test_layout_fit.py in a child process under its own Xvfb (``QT_SCALE_FACTOR``
must be set before Qt starts). The window is the real one, driven by the fake engine and
controller of tests/fakes.py (no sound card, no room: a layout check needs neither), joined
to a scripted room of participants with live meters. It prints one JSON object: the
screen, the window's frame, the screenshot's path, and every problem found:

- the window (with its frame) larger than the screen's available area, or outside it;
- a control of a participant strip (name, meter, mute, volume) outside the list's visible
  width, or squeezed below its minimum size;
- a control of the left column cut at its right edge (the column may scroll down, not
  sideways), or squeezed below its minimum width.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--theme", default="light")
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--geometry", default="", help="WxH: a remembered window size")
    parser.add_argument("--store", default="", help="the settings file (kept across runs)")
    args = parser.parse_args()

    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import QApplication, QWidget

    from console import settings
    from console.widgets.main_window import MainWindow
    from tests.fakes import FakeController, FakeEngine, channel, connected, participant

    app = QApplication(sys.argv[:1])
    store = settings.open_store(Path(args.store) if args.store
                                else Path(args.out).with_suffix(".ini"))
    store.setValue("window/theme", args.theme)
    engine = FakeEngine()
    controller = FakeController()
    qualities = ("excellent", "good", "poor", "unknown")
    people = [participant(f"voice-{i:02d}", agent=i == 0, speaking=i % 3 == 0,
                          muted=i == 2, quality=qualities[i % 4])
              for i in range(args.participants)]
    engine.channels = [channel(p.identity, -12.0 - 3 * i) for i, p in enumerate(people)]
    if args.geometry:  # as if remembered on a larger monitor
        w, h = (int(v) for v in args.geometry.split("x"))
        other = QWidget()
        other.setGeometry(40, 40, w, h)
        store.setValue("window/geometry", other.saveGeometry())
    window = MainWindow(engine, store, controller=controller)
    window.set_theme(args.theme)
    window.show()
    controller.script(connected("demo", "me", *people, rtt_ms=42.0))
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        app.processEvents()
        window.poll()
        time.sleep(0.02)

    screen = window.screen()
    area = screen.availableGeometry()
    frame = window.frameGeometry()
    problems: list[str] = []
    if frame.width() > area.width() or frame.height() > area.height():
        problems.append(f"window {frame.width()}x{frame.height()} larger than the screen's "
                        f"{area.width()}x{area.height()}")
    if not area.contains(window.geometry()):
        problems.append(f"window {window.geometry().getRect()} outside {area.getRect()}")

    def rect_in(widget: QWidget, ancestor: QWidget) -> QRect:
        return QRect(widget.mapTo(ancestor, QPoint(0, 0)), widget.size())

    def squeezed(widget: QWidget) -> bool:
        hint = widget.minimumSizeHint()
        return widget.width() + 1 < min(hint.width(), widget.minimumWidth() or hint.width())

    viewport = window.participants.viewport()
    checked = 0
    for identity, strip in window.participants.strips.items():
        for part in (strip.name, strip.meter, strip.mute_here, strip.volume):
            checked += 1
            r = rect_in(part, viewport)
            if r.left() < 0 or r.right() >= viewport.width():
                problems.append(f"{identity}: {type(part).__name__} at x {r.left()}..{r.right()}"
                                f" outside the list's width {viewport.width()}")
            elif squeezed(part) or part.width() < 8:
                problems.append(f"{identity}: {type(part).__name__} squeezed to {part.width()}")
    column = window.left_scroll.viewport()
    for widget in window.left_scroll.widget().findChildren(QWidget):
        if not widget.isVisibleTo(window) or widget.width() == 0:
            continue
        r = rect_in(widget, column)
        if r.right() >= column.width() + 1:
            checked += 1
            problems.append(f"left column: {type(widget).__name__} "
                            f"{widget.accessibleName() or widget.objectName()!r} cut at the "
                            f"right ({r.right()} >= {column.width()})")
    shot = screen.grabWindow(0)
    shot.save(args.out)
    print(json.dumps({
        "screen": [area.width(), area.height()], "scale": screen.devicePixelRatio(),
        "frame": [frame.width(), frame.height()], "strips": len(window.participants.strips),
        "compact": bool(window.participants.strips
                        and next(iter(window.participants.strips.values())).compact),
        "checked": checked, "problems": problems, "screenshot": args.out,
    }))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
