"""The transcript pane on the session's real transcript model (no room needed: the model
is what the session feeds from the ``lk.transcription`` streams)."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from console.session.transcript import TOPIC_CHAT, Speaker, Transcript
from console.session.transcript_export import transcript_text
from console.widgets.transcript_pane import TranscriptPane

ME = Speaker("console-me", local=True)
AGENT = Speaker("agent-1", name="Support agent")


def say(model: Transcript, segment: str, who: Speaker, text: str, *, final: bool = True,
        now: float = 1.0, topic: str = "lk.transcription") -> None:
    token = model.open(segment, who, topic)
    model.write(token, text, now)
    model.close(token, final=final, now=now)


def blocks(pane: TranscriptPane) -> list[str]:
    return pane.text.toPlainText().split("\n") if pane.text.toPlainText() else []


def test_lines_show_who_said_what_and_interim_words_are_marked(qtbot: QtBot) -> None:
    pane = TranscriptPane()
    qtbot.addWidget(pane)
    assert not pane.copy_button.isEnabled()
    model = Transcript()
    say(model, "SG_1", ME, "what time is it")
    token = model.open("SG_2", AGENT, "lk.transcription")
    model.write(token, "It is", 2.0)
    pane.show_snapshot(model.snapshot())
    assert blocks(pane) == ["you: what time is it", "Support agent: It is …"]
    model.write(token, " three o'clock.", 2.5)
    model.close(token, final=True, now=2.6)
    say(model, "CH_1", ME, "thanks", topic=TOPIC_CHAT)
    pane.show_snapshot(model.snapshot())
    assert blocks(pane) == ["you: what time is it", "Support agent: It is three o'clock.",
                            "you (chat): thanks"]
    assert pane.copy_button.isEnabled() and pane.count.text() == "3 lines"


def test_a_flood_of_interim_updates_rewrites_only_the_tail(qtbot: QtBot) -> None:
    pane = TranscriptPane()
    qtbot.addWidget(pane)
    model = Transcript()
    for i in range(100):
        say(model, f"SG_{i}", AGENT if i % 2 else ME, f"line {i}")
    pane.show_snapshot(model.snapshot())
    assert pane.rewrites == 100
    token = model.open("SG_live", AGENT)
    for i in range(500):  # interim words, one display tick each
        model.write(token, f" w{i}", 3.0 + i / 200)
        pane.show_snapshot(model.snapshot())
    assert pane.rewrites == 100 + 500  # the growing line only, never the hundred before
    assert blocks(pane)[-1].startswith("Support agent: w0 w1") and blocks(pane)[-1].endswith(
        "w499 …")
    assert len(blocks(pane)) == 101


def test_a_long_call_keeps_the_newest_lines_without_rewriting_them(qtbot: QtBot) -> None:
    pane = TranscriptPane()
    qtbot.addWidget(pane)
    model = Transcript(max_lines=50)
    for i in range(40):
        say(model, f"SG_{i}", ME, f"line {i}")
    pane.show_snapshot(model.snapshot())
    for i in range(40, 80):  # the model lets the oldest go
        say(model, f"SG_{i}", ME, f"line {i}")
        pane.show_snapshot(model.snapshot())
    assert blocks(pane) == [f"you: line {i}" for i in range(30, 80)]
    assert pane.rewrites == 80  # each line written once


def test_copy_and_save_give_the_exported_text_and_json(qtbot: QtBot, tmp_path: Path) -> None:
    pane = TranscriptPane()
    qtbot.addWidget(pane)
    model = Transcript()
    say(model, "SG_1", ME, "hello")
    say(model, "SG_2", AGENT, "Hi, how can I help?")
    pane.show_snapshot(model.snapshot())
    pane.copy()
    clipboard = QApplication.clipboard()
    assert clipboard.text() == pane.as_text()
    assert pane.as_text() == transcript_text(model.snapshot().lines, pane._zero)
    assert "you: hello" in pane.as_text()
    pane.save(tmp_path / "call.json")
    saved = json.loads((tmp_path / "call.json").read_text(encoding="utf-8"))
    assert [(r["name"], r["text"], r["final"]) for r in saved] == [
        ("you", "hello", True), ("Support agent", "Hi, how can I help?", True)]
    pane.save(tmp_path / "call.txt")
    assert (tmp_path / "call.txt").read_text(encoding="utf-8") == pane.as_text()
    pane.save(tmp_path / "missing" / "call.txt")  # a folder that is not there: said in place
    assert pane.count.text().startswith("Could not save call.txt")
