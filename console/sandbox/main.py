"""``livekit-console sandbox``: the local server (or a real livekit-server) with voices."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

from console import parent_death
from console.sandbox.agent import AgentOptions
from console.sandbox.options import DEV_KEY, DEV_SECRET
from console.sandbox.server import SandboxServer
from console.sandbox.voices import DemoVoices

REAL_START_TIMEOUT_S = 15.0
SHUTDOWN_GRACE_S = 10.0  # after a stop signal; an overloaded sandbox exits hard after it


class SandboxStartError(Exception):
    """The server could not start (port taken, no livekit-server binary...)."""


def _wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxStartError(f"livekit-server exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
            return
        time.sleep(0.1)
    raise SandboxStartError(f"livekit-server did not listen on {host}:{port} within "
                            f"{timeout:.0f} s")


def start_real(host: str, port: int) -> subprocess.Popen[bytes]:
    """``livekit-server --dev`` from PATH (it uses devkey / secret)."""
    binary = shutil.which("livekit-server")
    if binary is None:
        raise SandboxStartError("--real needs a livekit-server binary on PATH")
    proc = subprocess.Popen([binary, "--dev", "--bind", host, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(host, port, REAL_START_TIMEOUT_S, proc)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


async def serve(*, host: str, port: int, voices: int, room: str, api_key: str,
                api_secret: str, real: bool, duration: float | None = None,
                sdk_voices: bool = False, agents: tuple[str, ...] = (),
                think_ms: float = 600.0) -> bool:
    """Run until SIGINT/SIGTERM (or ``duration`` seconds); False if stopped while joining.

    The voices are played by the server itself unless ``sdk_voices`` or ``real`` (a real
    livekit-server has no such thing): then they join as SDK clients. ``agents``: names
    the scripted agent answers dispatches to."""
    proc: subprocess.Popen[bytes] | None = None
    server: SandboxServer | None = None
    if real and agents:
        raise SandboxStartError("--agent runs in the sandbox's own server, not with --real")
    if real:
        proc = await asyncio.to_thread(start_real, host, port)
        url, api_key, api_secret = f"ws://{host}:{port}", DEV_KEY, DEV_SECRET
    else:
        server = SandboxServer(host=host, port=port, api_key=api_key, api_secret=api_secret,
                               agents=agents,
                               agent_options=AgentOptions(think_s=think_ms / 1000.0))
        try:
            await server.start()
        except OSError as exc:
            raise SandboxStartError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        url = server.url
    sdk_voices = sdk_voices or real
    demo = DemoVoices(voices if sdk_voices else 0)
    if server is not None:
        server.dispatcher.house.update(v.spec.identity for v in demo.voices)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def hard_exit(code: int) -> None:
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.kill()
        os._exit(code)

    def on_signal() -> None:
        # The orderly stop runs on the loop, which an overloaded sandbox (more voices than
        # the cores can carry) may not reach for a long time: a thread's timer bounds it,
        # and a second signal ends it at once.
        if stop.is_set():
            hard_exit(130)
        stop.set()
        timer = threading.Timer(SHUTDOWN_GRACE_S, hard_exit, (1,))
        timer.daemon = True
        timer.start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    try:
        # A stop (Ctrl+C, SIGTERM) must also end a start that is still joining voices.
        joining = asyncio.ensure_future(
            demo.start(url, room, api_key=api_key, api_secret=api_secret, real_server=real)
            if sdk_voices or server is None else server.add_voices(room, voices))
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({joining, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not joining.done():
            joining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await joining
            return False
        joining.result()
        shown = api_secret if api_secret == DEV_SECRET else "(as given)"
        dispatchable = f"; agents on dispatch: {', '.join(agents)}" if agents else ""
        print(f"sandbox {'(livekit-server) ' if real else ''}on {url}  "
              f"API key {api_key}, secret {shown}; room {room!r} with {voices} demo voices"
              f"{dispatchable}. Ctrl+C stops it.", flush=True)
        if duration is None:
            await stop.wait()
        else:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), duration)
        return True
    finally:
        await demo.stop()
        if server is not None:
            await server.stop()
        if proc is not None:
            proc.terminate()
            try:
                await asyncio.to_thread(proc.wait, 5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run(args: argparse.Namespace) -> int:
    """The ``sandbox`` command; 2 with a one-line error when it cannot start."""
    parent_death.arm_from_env()  # started by the console: end with it
    if args.voices < 0 or not 0 <= args.port <= 65535 or args.agent_think_ms < 0:
        print("livekit-console sandbox: --voices and --agent-think-ms must be >= 0 and "
              "--port 0..65535", file=sys.stderr)
        return 2
    try:
        joined = asyncio.run(serve(host=args.host, port=args.port, voices=args.voices,
                                   room=args.room, api_key=args.api_key,
                                   api_secret=args.api_secret, real=args.real,
                                   duration=args.duration, sdk_voices=args.sdk_voices,
                                   agents=tuple(args.agent), think_ms=args.agent_think_ms))
    except SandboxStartError as exc:
        print(f"livekit-console sandbox: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if not joined:
        # Everything of ours is closed; livekit's exit hook would now wait on the joins that
        # were cut short (seconds, or for ever on an overloaded machine): leave without it.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0
