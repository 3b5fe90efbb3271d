"""Settings over QSettings, isolated in a temporary INI file for every test."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QSettings, QStandardPaths

from console import settings
from console.settings import Settings


@pytest.fixture
def ini(tmp_path):
    return tmp_path / "livekit-console.ini"


def test_defaults_from_an_empty_store(ini):
    assert settings.load(settings.open_store(ini)) == Settings()
    assert Settings().input_device is None
    assert Settings().processing() == dict.fromkeys(settings.PROCESSING_OPTIONS, True)


def test_round_trip(ini):
    value = Settings(input_device="lkc_mic_b", echo_cancellation=False, noise_suppression=True,
                     auto_gain_control=False, high_pass_filter=False,
                     window_geometry=b"\x01\xd9\xd0\xcb\x00\x03geo\x00",
                     window_state=b"\x00\x00\x00\xffstate")
    settings.save(value, settings.open_store(ini))
    # a fresh QSettings reads what is on disk
    assert settings.load(settings.open_store(ini)) == value
    # clearing the device removes its key
    settings.save(value.replace(input_device=None), settings.open_store(ini))
    store = settings.open_store(ini)
    assert not store.contains("audio/input_device")
    assert settings.load(store).input_device is None


def test_garbage_values_fall_back_to_defaults(ini):
    store = settings.open_store(ini)
    store.setValue("audio/input_device", ["not", "a", "name"])
    store.setValue("processing/echo_cancellation", "banana")
    store.setValue("processing/noise_suppression", 7)
    store.setValue("processing/auto_gain_control", "false")  # valid: kept
    store.setValue("processing/high_pass_filter", {"x": 1})
    store.setValue("window/geometry", "not bytes")
    store.setValue("window/state", 3.5)
    store.sync()
    loaded = settings.load(settings.open_store(ini))
    assert loaded == Settings(auto_gain_control=False)


def test_a_corrupt_file_reads_as_defaults(ini):
    ini.write_bytes(b"\x00\xff[[[garbage\n=\n[processing]\necho_cancellation=@Variant(\x00\x00\n")
    assert settings.load(settings.open_store(ini)) == Settings()
    ini.write_text("[audio]\ninput_device=\n[processing]\nnoise_suppression=0\n")
    assert settings.load(settings.open_store(ini)) == Settings(noise_suppression=False)


def test_nothing_secret_is_stored(ini, monkeypatch):
    secret = "s3cr3t-livekit-api-secret-value"
    monkeypatch.setenv("LIVEKIT_API_SECRET", secret)
    monkeypatch.setenv("LIVEKIT_API_KEY", "APIkeyvalue123")
    settings.save(Settings(input_device="lkc_mic_a", output_device="lkc_speaker_a",
                           server_url="wss://example.livekit.cloud", identity="ann",
                           recent_rooms=("r1", "r2"), volumes={"bob": -6.0}),
                  settings.open_store(ini))
    text = ini.read_text()
    assert secret not in text and "APIkeyvalue123" not in text
    names = [f.name for f in dataclasses.fields(Settings)]
    keys = settings.open_store(ini).allKeys()
    # The API key names a key (the secret signs): remembered, as the user asked (issue 14).
    for word in ("secret", "token", "password"):
        assert not any(word in n.lower() for n in names), names
        assert not any(word in k.lower() for k in keys), keys
    assert set(keys) == {f.metadata["key"] for f in dataclasses.fields(Settings)} | {
        "settings_version"}


def test_default_store_is_named_for_the_app():
    store = settings.open_store()
    assert store.organizationName() == "LiveKit Console"
    assert store.applicationName() == "livekit-console"


def test_qsettings_default_path_can_be_redirected(tmp_path):
    """The window and the app use open_store(); tests can redirect its native location."""
    default_dir = QStandardPaths.writableLocation(
        QStandardPaths.StandardLocation.GenericConfigLocation)
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path))
    try:
        settings.save(Settings(high_pass_filter=False))
        assert settings.load() == Settings(high_pass_filter=False)
        assert any(tmp_path.rglob("livekit-console*"))
    finally:
        QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, default_dir)
