"""Device enumeration and selection on the virtual sound card."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.audio


def test_lists_virtual_devices_with_real_defaults(sound_card) -> None:
    from console.engine import devices

    found = devices.list_devices()
    names = {d.name for d in found}
    assert {"lkc_speaker_a", "lkc_speaker_b", "lkc_mic_a", "lkc_mic_b", "lkc_mic_spare"} <= names
    mic = next(d for d in found if d.name == "lkc_mic_a")
    assert mic.is_input and not mic.is_output and mic.hostapi == "ALSA"
    assert next(d for d in found if d.name == "lkc_speaker_a").max_input_channels == 0
    # Unlike livekit's helper (always None), exactly one default of each kind is marked.
    assert sum(d.is_default_input for d in found) == 1
    assert sum(d.is_default_output for d in found) == 1
    assert devices.find_device(None, "input").is_default_input


def test_select_by_index_exact_name_and_unique_part(sound_card) -> None:
    from console.engine import devices

    mic_b = devices.find_device("lkc_mic_b", "input")
    assert devices.find_device(mic_b.index, "input") == mic_b
    assert devices.find_device(str(mic_b.index), "input") == mic_b
    assert devices.find_device("MIC_SPARE", "input").name == "lkc_mic_spare"
    assert devices.find_device("speaker_b", "output").name == "lkc_speaker_b"


def test_selection_errors_are_clear(sound_card) -> None:
    from console.engine import devices

    with pytest.raises(devices.DeviceNotFoundError, match=r"ambiguous: .*lkc_mic_a.*lkc_mic_b"):
        devices.find_device("lkc_mic", "input")
    with pytest.raises(devices.DeviceNotFoundError, match="no input device named 'nope'"):
        devices.find_device("nope", "input")
    speaker = devices.find_device("lkc_speaker_a", "output")
    with pytest.raises(devices.DeviceNotFoundError, match=f"no input device with index "
                                                          f"{speaker.index}"):
        devices.find_device(speaker.index, "input")


def test_refresh_keeps_the_list_usable(sound_card) -> None:
    from console.engine import devices

    before = [d.name for d in devices.list_devices()]
    after = [d.name for d in devices.list_devices(refresh_first=True)]
    assert after == before
