"""The log file a user can send: where it is, what it says, and that no secret is in it.

The joins run the real CLI (``python -m console monitor``) as subprocesses against the
project's sandbox and against a server that answers a bad token the way livekit-server
does: with a 401 whose text quotes the whole token, which the livekit SDK then logs
(through Python logging, from its Rust core) and raises.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from console import logs
from console.redact import PLACEHOLDER, forget_secrets, redact, register_secret
from console.session.explain import explain
from console.session.join import mint_token

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

KEY = "console-test-key"
SECRET = "Right-Secret-0123456789-abcdefghijklmnop"
WRONG = "Wrong-Secret-0123456789-abcdefghijklmnop"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{6,}")
SDK_REFUSAL = "error while connecting to a room"


# -- redact() ------------------------------------------------------------------------------
@pytest.fixture
def secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


def test_jwts_whole_or_cut_are_replaced(secrets: None) -> None:
    token = mint_token("k", SECRET, "r", "ann")
    assert redact(f"invalid token: {token}, error: bad") == (
        f"invalid token: {PLACEHOLDER}, error: bad")
    assert redact(f"cut: {token[:40]}") == f"cut: {PLACEHOLDER}"
    assert redact("eyJ alone, and eyes") == "eyJ alone, and eyes"


def test_registered_secrets_are_replaced_but_not_inside_words(secrets: None) -> None:
    register_secret("hunter2")
    register_secret("abc")  # too short to be worth a blanked log
    register_secret(SECRET)
    assert redact("secret=hunter2; the hunter2x and xhunter2 stay") == (
        f"secret={PLACEHOLDER}; the hunter2x and xhunter2 stay")
    assert redact(f"abc {SECRET}{SECRET}") == f"abc {PLACEHOLDER}{PLACEHOLDER}"


def test_a_dev_servers_plain_word_secret_does_not_blank_that_word(secrets: None) -> None:
    """``livekit-server --dev`` signs with "secret": blanking the word everywhere made the
    advice read "check the API [redacted]" and guarded nothing."""
    register_secret("secret")
    register_secret("devsecret9")
    assert redact("check the API secret") == "check the API secret"
    assert redact("key devsecret9") == f"key {PLACEHOLDER}"


def test_a_refusal_quoting_the_token_is_explained_without_it(secrets: None) -> None:
    token = mint_token("k", SECRET, "r", "ann")
    sdk = (f"engine: signal failure: client error: 401 Unauthorized - invalid token: "
           f"{token}, error: go-jose/go-jose: error in cryptographic primitive")
    explained = explain(RuntimeError(sdk), "ws://h:1")
    for text in (explained.short, explained.full):
        assert token not in text and "eyJ" not in text
    assert explained.short == ("ws://h:1 refused the token: the token was not signed with "
                               "this server's API secret")
    assert f"invalid token: {PLACEHOLDER}, error:" in explained.full


def test_a_bench_childs_refusal_reaches_its_parent_without_the_token(
        secrets: None, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench gui``'s reference and floor processes print their error as JSON for the
    parent, which quotes it: the SDK's refusal text quotes the whole token."""
    import json

    from console.bench.reference_room import serve

    token = mint_token("k", SECRET, "r", "ann")

    async def refused(*_: Any) -> dict[str, Any]:
        raise RuntimeError(f"engine: signal failure: 401 Unauthorized - invalid token: {token}")

    monkeypatch.setenv("LKC_TEST_TOKEN", token)
    args = ["--url", "ws://h:1", "--participants", "1", "--seconds", "1", "--mic", "m",
            "--speaker", "s"]
    assert serve("child", "LKC_TEST_TOKEN", refused, args) == 1
    printed = capsys.readouterr().out
    assert token not in printed and "eyJ" not in printed
    assert json.loads(printed)["error"] == (
        f"RuntimeError: engine: signal failure: 401 Unauthorized - invalid token: {PLACEHOLDER}")


# -- logs.setup() in this process ------------------------------------------------------------
@pytest.fixture
def fresh_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what setup() changes in the process: handlers, factory, stderr, environment."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    monkeypatch.delenv(logs.LOG_FILE_ENV, raising=False)
    forget_secrets()
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.setLogRecordFactory(factory)
    logging.captureWarnings(False)
    forget_secrets()


def test_the_file_is_under_xdg_state_home(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.delenv(logs.LOG_FILE_ENV, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert logs.default_path() == tmp_path / "livekit-console" / "console.log"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/is/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert logs.default_path() == tmp_path / ".local/state/livekit-console/console.log"


def test_every_logger_and_stderr_write_is_redacted(
        fresh_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = logs.setup("debug", log_file=tmp_path / "console.log")
    assert path == tmp_path / "console.log"
    token = mint_token("k", SECRET, "r", "ann")
    register_secret(SECRET)
    logging.getLogger("livekit").error("refused: %s with %s", token, SECRET)
    logging.getLogger("some.library").warning(f"Authorization: Bearer {token}")
    try:
        raise RuntimeError(f"401 invalid token: {token}")
    except RuntimeError:
        logging.getLogger("console.test").exception("join failed")
    print(f"printed {token}", file=sys.stderr)
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    err = capsys.readouterr().err
    for shown in (text, err):
        assert token not in shown and SECRET not in shown and not JWT.search(shown)
    assert f"refused: {PLACEHOLDER} with {PLACEHOLDER}" in text
    assert f"RuntimeError: 401 invalid token: {PLACEHOLDER}" in text
    assert f"printed {PLACEHOLDER}" in err
    file = next(h for h in logging.getLogger().handlers
                if isinstance(h, logging.handlers.RotatingFileHandler))
    assert (file.maxBytes, file.backupCount) == (logs.MAX_BYTES, logs.BACKUPS)


def test_the_sdks_word_for_each_departure_stays_in_the_file(
        fresh_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """livekit logs "Attempted to drop unknown FFI handle" (from its core, through Python
    logging) for each participant who leaves: noise on the app's terminal, kept in the
    file; the SDK's other warnings still reach the terminal."""
    path = logs.setup(log_file=tmp_path / "console.log")
    assert path is not None
    sdk = logging.getLogger("livekit")
    # As the SDK forwards its core's records: "target:line:module - message".
    sdk.warning("%s:%s:%s - %s", "livekit_ffi::server", 212, "livekit_ffi::server",
                "Attempted to drop unknown FFI handle: 81")
    sdk.warning("%s:%s:%s - %s", "livekit::room", 77, "livekit::room", "signal lost")
    for handler in logging.getLogger().handlers:
        handler.flush()
    err = capsys.readouterr().err
    text = path.read_text()
    assert "unknown FFI handle" not in err and "signal lost" in err
    assert "Attempted to drop unknown FFI handle: 81" in text and "signal lost" in text


def test_pyjwts_word_on_the_dev_secrets_length_stays_in_the_file(
        fresh_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A token signed with the sandbox's secret (livekit-server's 6-byte development one)
    makes PyJWT warn on every token: kept in the file, not on the terminal; other Python
    warnings still reach it."""
    import warnings

    from console.sandbox.voices import make_token

    path = logs.setup(log_file=tmp_path / "console.log")
    assert path is not None
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        make_token("someone", "demo")  # the real call: PyJWT's real warning
        warnings.warn("a warning a user should see", UserWarning, stacklevel=1)
    for handler in logging.getLogger().handlers:
        handler.flush()
    err = capsys.readouterr().err
    text = path.read_text()
    assert "InsecureKeyLengthWarning" not in err and "a warning a user should see" in err
    assert "InsecureKeyLengthWarning" in text


def test_an_unwritable_place_means_no_file_not_a_crash(
        fresh_logging: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert logs.setup(None, log_file=blocker / "console.log") is None
    assert "no log file" in capsys.readouterr().err


def test_the_cli_says_where_the_log_is(tmp_path: Path) -> None:
    env = _env(tmp_path)
    expected = str(tmp_path / "state" / "livekit-console" / "console.log")
    where = _console("logs", env=env)
    assert where.returncode == 0 and where.stdout.strip() == expected
    helped = _console("--help", env=env)
    assert expected in helped.stdout.replace("\n", "")
    for command in (("monitor",), ("devices",), ("sandbox",), ("bench", "meter")):
        sub = _console(*command, "--help", env=env)
        assert "--log-level" in sub.stdout and "--log-file" in sub.stdout
    bad = _console("devices", "--log-level", "loud", env=env)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


# -- audio trouble, from the engine's counters ----------------------------------------------------
class _Counters:
    """The three readings EngineWatch takes from an AudioEngine, set by the test."""

    def __init__(self) -> None:
        from console.engine.audio_engine import IDLE_CAPTURE, idle_output_stats

        self.capture = IDLE_CAPTURE
        self.output = idle_output_stats()
        self.channels: list[Any] = []

    def capture_stats(self, latency: bool = True) -> Any:
        return self.capture

    def output_stats(self) -> Any:
        return self.output

    def channel_stats(self) -> list[Any]:
        return self.channels


def test_devices_errors_and_underrun_bursts_are_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    from dataclasses import replace

    from console.engine.channel import ChannelStats
    from console.engine.meter import SILENT
    from console.session.health_log import EngineWatch

    engine = _Counters()
    watch = EngineWatch(engine)  # type: ignore[arg-type]
    caplog.set_level(logging.DEBUG, logger="console.session.health_log")
    channel = ChannelStats(key="PA_1/TR_1", label="bob", muted=False, gain_db=0.0,
                           meter=SILENT, stream_queue_ms=0.0, channel_queue_ms=0.0,
                           frames_received=0, underruns=0, frames_dropped=0,
                           samples_dropped=0, samples_inserted=0, ended=False)
    engine.channels = [channel]
    engine.capture = replace(engine.capture, device="lkc_mic_a (ALSA)")
    engine.output = replace(engine.output, device="lkc_speaker_a (ALSA)")
    watch.poll(now=0.0)
    watch.poll(now=0.5)  # too soon: nothing read
    engine.capture = replace(engine.capture, device_error="device unplugged")
    engine.output = replace(engine.output, underruns=1)
    engine.channels = [replace(channel, underruns=7)]
    watch.poll(now=1.0)
    watch.poll(now=2.0)  # nothing new
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines == [
        ("INFO", "microphone opened: lkc_mic_a (ALSA)"),
        ("INFO", "output device opened: lkc_speaker_a (ALSA)"),
        ("WARNING", "microphone error: device unplugged"),
        ("DEBUG", "output underruns: 1 (1 in all)"),
        ("WARNING", "underruns on bob: 7 in 1 s (7 in all)"),
    ]


# -- joins through the real CLI ---------------------------------------------------------------
def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LIVEKIT_") and k != logs.LOG_FILE_ENV}
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    return env


def _console(*args: str, env: dict[str, str],
             timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, check=False)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``livekit-console sandbox`` with a key and secret of its own; yields its URL."""
    home = tmp_path_factory.mktemp("sandbox")
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "sandbox", "--port", "0", "--voices", "0",
         "--api-key", KEY, "--api-secret", SECRET],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env(home))
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        found = re.search(r"on (ws://\S+)", line)
        assert found, f"the sandbox did not start: {line!r}"
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _LikeLivekitServer(BaseHTTPRequestHandler):
    """Refuses every request as livekit-server does a bad signature: quoting the token."""

    def do_GET(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        body = (f"invalid token: {token}, error: go-jose/go-jose: error in cryptographic "
                "primitive").encode()
        self.send_response(401)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echoing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LikeLivekitServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass(frozen=True)
class Joined:
    code: int
    log: str
    out: str
    err: str

    def shows(self, text: str) -> bool:
        return any(text in part for part in (self.log, self.out, self.err))

    def shows_a_jwt(self) -> bool:
        return any(JWT.search(part) for part in (self.log, self.out, self.err))


def _monitor(url: str, tmp_path: Path, *credentials: str) -> Joined:
    env = _env(tmp_path)
    done = _console("monitor", "--url", url, "--room", "demo", "--identity", "ann",
                    *credentials, "--no-publish", "--duration", "1.5", "--log-level", "debug",
                    env=env)
    path = Path(env["XDG_STATE_HOME"]) / "livekit-console" / "console.log"
    return Joined(done.returncode, path.read_text(), done.stdout, done.stderr)


def _token(secret: str) -> str:
    return mint_token(KEY, secret, "demo", "ann")


@pytest.mark.audio
@pytest.mark.parametrize(("case", "accepted"), [
    ("token signed with a wrong secret", False),
    ("valid token", True),
    ("API key and a wrong secret", False),
    ("API key and the right secret", True),
])
def test_joins_are_logged_without_their_secrets(sandbox: str, tmp_path: Path, case: str,
                                                accepted: bool) -> None:
    secret = SECRET if accepted else WRONG
    if case.startswith("API key"):
        token = ""
        joined = _monitor(sandbox, tmp_path, "--api-key", KEY, "--api-secret", secret)
    else:
        token = _token(secret)
        joined = _monitor(sandbox, tmp_path, "--token", token)
    assert joined.code == (0 if accepted else 1), joined.err[-2000:]
    assert not joined.shows(SECRET) and not joined.shows(WRONG)
    assert not (token and joined.shows(token))
    assert not joined.shows_a_jwt()
    assert "Traceback" not in joined.err
    assert f"join: {sandbox} room 'demo' as 'ann' with " in joined.log
    assert "session connecting" in joined.log
    assert "livekit 1.2.1" in joined.log and "PortAudio" in joined.log
    if accepted:
        assert "session connected" in joined.log
        assert "monitor exited with status 0" in joined.log
    else:
        assert (f"session failed: {sandbox} refused the token: the token was not signed "
                "with this server's API secret") in joined.log
        assert "token signature does not match the API secret" in joined.log  # in full
        assert SDK_REFUSAL in joined.log  # the SDK's own line, from its Rust core
        assert "monitor exited with status 1" in joined.log
        # The one line on stderr; the SDK's lines are only in the file (no --verbose).
        assert SDK_REFUSAL not in joined.err


@pytest.mark.audio
@pytest.mark.parametrize("by_key", [False, True])
def test_a_server_quoting_the_token_is_redacted_everywhere(
        echoing_server: str, tmp_path: Path, by_key: bool) -> None:
    token = _token(WRONG)
    credentials = ("--api-key", KEY, "--api-secret", WRONG) if by_key else ("--token", token)
    joined = _monitor(echoing_server, tmp_path, *credentials, "--verbose")
    assert joined.code == 1, joined.err[-2000:]
    assert not joined.shows(token) and not joined.shows(WRONG) and not joined.shows_a_jwt()
    # The SDK logged (and raised) the server's text, token and all: it was redacted.
    sdk = [line for line in joined.log.splitlines() if SDK_REFUSAL in line]
    assert sdk and all(f"invalid token: {PLACEHOLDER}, error:" in line for line in sdk)
    assert any(SDK_REFUSAL in line for line in joined.err.splitlines())  # --verbose
    assert (f"livekit-console monitor: {echoing_server} refused the token: the token was "
            "not signed with this server's API secret") in joined.err
