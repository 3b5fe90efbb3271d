"""DeviceWatch: a change is reported once, when it has settled; the ALSA signature moves."""

from __future__ import annotations

import os

from console.engine.device_watch import DeviceWatch, alsa_signature


def test_a_change_is_reported_once_after_it_has_settled() -> None:
    states = iter(["a", "a", "b", "c", "c", "c", "a", "c", "c"])
    watch = DeviceWatch(lambda: next(states))  # the first value is the baseline
    seen = [watch.poll() for _ in range(8)]
    # a: same | b: new, unsettled | c: another step | c: settled -> once | c: nothing more
    # a: back, unsettled | c: matches what was seen -> nothing
    assert seen == [False, False, False, True, False, False, False, False]


def test_a_flicker_that_goes_back_is_not_reported() -> None:
    states = iter(["a", "b", "a", "a", "a"])
    watch = DeviceWatch(lambda: next(states))
    assert [watch.poll() for _ in range(4)] == [False, False, False, False]


def test_the_alsa_signature_follows_the_users_alsa_configuration(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    empty = alsa_signature()
    rc = tmp_path / ".asoundrc"
    rc.write_text("pcm.extra { type null }\n")
    written = alsa_signature()
    assert written != empty
    assert alsa_signature() == written  # reading twice changes nothing
    rc.write_text("pcm.extra { type null }\npcm.more { type null }\n")
    assert alsa_signature() != written
    os.remove(rc)
    assert alsa_signature() == empty
