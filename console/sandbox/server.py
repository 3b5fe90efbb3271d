"""The sandbox server: HTTP + websocket signalling, rooms, and the test controls.

``SandboxServer`` runs on the caller's asyncio loop; ``SandboxThread`` runs one on its own
thread and loop (for the app and the tests) and forwards the controls to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import secrets
import threading
from collections.abc import Coroutine, Iterable
from typing import Any, TypeVar

from aiohttp import WSMsgType, web
from livekit.protocol import agent_dispatch, models
from livekit.protocol import rtc as proto

from console.sandbox import cors, fast_level, twirp
from console.sandbox.agent import AgentOptions, ScriptedAgent
from console.sandbox.agent_turns import AgentTurn
from console.sandbox.auth import DEV_KEY, DEV_SECRET, AuthError, Grant, verify
from console.sandbox.dispatch import AgentDispatcher
from console.sandbox.forward import Impairment
from console.sandbox.peer import ClientPeer
from console.sandbox.room import Peer, Room
from console.sandbox.server_voices import Choir, ServerVoice
from console.sandbox.voices import voice_specs

fast_level.install()
log = logging.getLogger(__name__)
SERVER_VERSION = "1.9.0"
# The 404's text; the JS SDK treats a 404 whose text says "requested room does not exist"
# as a refusal rather than a reason to fall back, so this must never say that.
V1_NOT_SPOKEN = "single peer connection signalling (/rtc/v1) is not supported: use /rtc"
DEFAULT_PORT = 7880
AGENT_TURNS_PATH = "/sandbox/agent_turns"
T = TypeVar("T")


class SandboxError(Exception):
    """A control named a room or participant the sandbox does not have."""


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.query.get("access_token", "")


class SandboxServer:
    """A LiveKit-compatible server for one machine (binds 127.0.0.1 by default).

    ``agents``: names of agents that join a room when dispatched there (the scripted agent,
    with ``agent_options``); without any, the demo voices' agent is the scripted agent."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 api_key: str = DEV_KEY, api_secret: str = DEV_SECRET,
                 agents: Iterable[str] = (), agent_options: AgentOptions | None = None) -> None:
        self.host = host
        self.port = port
        self.api_key = api_key
        self.api_secret = api_secret
        self.node_id = "ND_" + secrets.token_hex(4)
        self.rooms: dict[str, Room] = {}
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.joins = 0
        self.choir = Choir()
        self.dispatcher = AgentDispatcher(agent_options)
        for name in agents:
            self.dispatcher.register(name)
        self._dispatch_api = twirp.DispatchService(self.dispatcher, self.room, self.rooms,
                                                   twirp.authorizer(api_key, api_secret))

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._runner is not None

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._runner is not None:
            return
        app = web.Application(middlewares=[cors.middleware])
        app.router.add_get("/rtc", self._rtc)
        app.router.add_get("/rtc/validate", self._validate)
        app.router.add_get("/rtc/v1", self._rtc_v1)
        app.router.add_get("/rtc/v1/validate", self._validate_v1)
        app.router.add_get("/", self._health)
        app.router.add_post(twirp.PREFIX + "{method}", self._dispatch_api.handle)
        app.router.add_get(AGENT_TURNS_PATH, self._agent_turns)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        if self.port == 0:
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            if sockets:
                self.port = sockets[0].getsockname()[1]
        self._runner = runner

    async def stop(self, *, graceful: bool = True) -> None:
        """Close every participant (telling them, if ``graceful``) and stop listening."""
        runner, self._runner = self._runner, None
        await self.choir.stop()
        await self.dispatcher.stop()
        for room in list(self.rooms.values()):
            for peer in list(room.peers.values()):
                await peer.close(notify_client=graceful,
                                 reason=models.DisconnectReason.SERVER_SHUTDOWN,
                                 abrupt=not graceful)
            await room.stop()
        self.rooms.clear()
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if runner is not None:
            await runner.cleanup()

    # -- HTTP -----------------------------------------------------------------------------
    async def _health(self, request: web.Request) -> web.Response:
        return web.Response(text="OK")

    def _authorize(self, request: web.Request) -> Grant:
        return verify(_bearer(request), self.api_key, self.api_secret)

    async def _agent_turns(self, request: web.Request) -> web.Response:
        """The agents' ground truth for another process (a benchmark, a test): JSON, one
        object per turn (``AgentTurn.as_json``), of ``?room=`` or of every room."""
        turns = self.agent_turns(request.query.get("room") or None)
        return web.json_response([t.as_json() for t in turns])

    async def _validate(self, request: web.Request) -> web.Response:
        try:
            self._authorize(request)
        except AuthError as exc:
            return cors.any_origin(web.Response(status=401, text=str(exc)))
        return cors.any_origin(web.Response(text="success"))

    async def _rtc_v1(self, request: web.Request) -> web.Response:
        """The single-connection signalling current SDKs try first. The sandbox does not
        speak it: a refused token is answered at once (401 with the reason, as
        livekit-server does), anything else with the 404 that makes every SDK fall back to
        ``/rtc`` (the Python SDK on the 404 itself, the JS SDK once ``/rtc/v1/validate``
        says 404: a browser never sees a websocket's HTTP status)."""
        try:
            self._authorize(request)
        except AuthError as exc:
            return web.Response(status=401, text=str(exc))
        return web.Response(status=404, text=V1_NOT_SPOKEN)

    async def _validate_v1(self, request: web.Request) -> web.Response:
        try:
            self._authorize(request)
        except AuthError as exc:
            return cors.any_origin(web.Response(status=401, text=str(exc)))
        return cors.any_origin(web.Response(status=404, text=V1_NOT_SPOKEN))

    async def _rtc(self, request: web.Request) -> web.StreamResponse:
        try:
            grant = self._authorize(request)
        except AuthError as exc:
            return web.Response(status=401, text=str(exc))
        if request.query.get("reconnect") in ("1", "true"):
            # No session resume here: a 404 makes the SDK rejoin from scratch.
            return web.Response(status=404, text="session resume is not supported")
        try:
            protocol = int(request.query.get("protocol", "16"))
        except ValueError:
            protocol = 16
        auto_subscribe = request.query.get("auto_subscribe", "1") not in ("0", "false")
        ws = web.WebSocketResponse(heartbeat=None, max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        self._sockets.add(ws)
        try:
            await self._session(ws, grant, protocol, request.transport, auto_subscribe)
        finally:
            self._sockets.discard(ws)
        return ws

    async def _session(self, ws: web.WebSocketResponse, grant: Grant, protocol: int,
                       transport: asyncio.BaseTransport | None,
                       auto_subscribe: bool = True) -> None:
        room = self.room(grant.room)
        fresh = self.dispatcher.is_fresh(room)  # this join "creates" the room
        peer = ClientPeer(room, grant, ws, protocol, self._gone, transport,
                          auto_subscribe=auto_subscribe)
        peer.forward_data = self._forward_data
        await room.admit(peer)
        self.joins += 1
        peer.send(peer.join_response(SERVER_VERSION, self.node_id))
        room.broadcast_participant(peer)
        peer.start()
        self.dispatcher.on_join(room, grant, fresh)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                req = proto.SignalRequest()
                try:
                    req.ParseFromString(msg.data)
                except Exception:
                    continue
                try:
                    await peer.handle(req)
                except Exception as exc:  # one bad message must not end the session
                    log.warning("%s: %s failed: %r", grant.identity,
                                req.WhichOneof("message"), exc)
                if peer.closed:
                    break
        finally:
            await peer.close(reason=models.DisconnectReason.CLIENT_INITIATED)

    def room(self, name: str) -> Room:
        """The room of that name, opened now if nobody is in it yet."""
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name)
            room.start()
        return room

    async def add_voices(self, room: str, count: int) -> list[ServerVoice]:
        """``count`` demo voices played by the server itself in ``room``. The voice agent
        among them is the scripted agent, there from the start, unless agents are to be
        dispatched by name (then its seat stays empty until one is)."""
        specs = voice_specs(count)
        self.dispatcher.house.update(s.identity for s in specs)
        voices = await self.choir.add(self.room(room), [s for s in specs if not s.agent])
        for spec in specs:
            if spec.agent and not self.dispatcher.registered:
                await self.dispatcher.seat(self.room(room), spec.identity, spec.name)
        return voices

    # -- agents ---------------------------------------------------------------------------
    def register_agent(self, name: str, options: AgentOptions | None = None) -> None:
        """Let the scripted agent be dispatched as ``name`` (as ``sandbox --agent NAME``)."""
        self.dispatcher.register(name, options)

    async def dispatch(self, room: str, agent_name: str,
                       metadata: str = "") -> agent_dispatch.AgentDispatch:
        """Dispatch an agent as the AgentDispatchService API does (opens the room)."""
        return await self.dispatcher.dispatch(self.room(room), agent_name, metadata)

    def agents(self, room: str | None = None) -> list[ScriptedAgent]:
        """The scripted agents now in ``room`` (or in any room)."""
        return [a for a in self.dispatcher.agents if room is None or a.room.name == room]

    def agent_turns(self, room: str | None = None) -> list[AgentTurn]:
        """Every turn an agent has completed (in ``room``, or anywhere), oldest first,
        including those of agents that have left."""
        return [t for t in self.dispatcher.turns if room is None or t.room == room]

    def _gone(self, peer: Peer) -> None:
        room = peer.room
        if room.peers.get(peer.info.identity) is peer:
            del room.peers[peer.info.identity]

    def _forward_data(self, sender: Peer, packet: models.DataPacket, label: str) -> None:
        """Stamp the sender's identity and pass the packet on, as livekit-server does: an
        agent may send a text stream (its header) or a chat message on behalf of another
        participant, which is then marked ``generated``; transcriptions of the old kind
        come only from agents, and metrics go to nobody."""
        kind = packet.WhichOneof("value")
        agent = sender.info.kind == models.ParticipantInfo.Kind.AGENT
        on_behalf = (agent and packet.participant_identity not in ("", sender.info.identity))
        if kind == "metrics" or (kind == "transcription" and not agent):
            return
        keep_identity = False
        if on_behalf and kind == "stream_header" and packet.stream_header.HasField(
                "text_header"):
            packet.stream_header.text_header.generated = True
            keep_identity = True
        elif on_behalf and kind == "chat_message":
            packet.chat_message.generated = True
            keep_identity = True
        if not keep_identity:
            packet.participant_identity = sender.info.identity
        packet.participant_sid = sender.info.sid
        if kind == "user":
            packet.user.participant_identity = sender.info.identity
            packet.user.participant_sid = sender.info.sid
        targets = set(packet.destination_identities)
        data = packet.SerializeToString()
        for peer in sender.room.others(sender):
            if not targets or peer.info.identity in targets:
                peer.deliver_data(data, label)

    # -- test controls --------------------------------------------------------------------
    def peer(self, room: str, identity: str) -> Peer:
        found = self.rooms.get(room)
        if found is None or identity not in found.peers:
            raise SandboxError(f"no participant {identity!r} in room {room!r}")
        return found.peers[identity]

    def participants(self, room: str) -> list[str]:
        found = self.rooms.get(room)
        return sorted(found.peers) if found is not None else []

    async def kick(self, room: str, identity: str) -> None:
        """Remove a participant (it gets a leave with PARTICIPANT_REMOVED)."""
        await self.peer(room, identity).close(
            notify_client=True, reason=models.DisconnectReason.PARTICIPANT_REMOVED)

    async def drop(self, room: str, identity: str) -> None:
        """Cut a participant's connection without a word (the SDK reconnects)."""
        await self.peer(room, identity).close(abrupt=True,
                                              reason=models.DisconnectReason.SIGNAL_CLOSE)

    def impair(self, room: str, identity: str, *, loss: float = 0.0, delay_ms: float = 0.0,
               paused: bool = False, track_sid: str | None = None) -> None:
        """Set packet loss, delay or a pause on a participant's forwarded track(s)."""
        if not 0.0 <= loss <= 1.0 or delay_ms < 0:
            raise ValueError("loss must be 0..1 and delay_ms at least 0")
        peer = self.peer(room, identity)
        pubs = [p for sid, p in peer.published.items() if track_sid in (None, sid)]
        if not pubs:
            raise SandboxError(f"{identity!r} publishes no track {track_sid or ''}".strip())
        for pub in pubs:
            if pub.fanout is not None:
                pub.fanout.impairment = Impairment(loss=loss, delay_ms=delay_ms, paused=paused)


class SandboxThread:
    """A SandboxServer on its own thread and loop; controls are called from any thread."""

    def __init__(self, **kwargs: Any) -> None:
        self.server = SandboxServer(**kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.leftover_tasks: list[str] = []  # tasks still running when the loop stopped

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("sandbox thread is not running")
        return self._loop

    def start(self) -> SandboxThread:
        ready = threading.Event()

        def main() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            ready.set()
            try:
                loop.run_forever()
            finally:
                pending = asyncio.all_tasks(loop)
                self.leftover_tasks = sorted(t.get_name() for t in pending)
                for task in pending:
                    task.cancel()
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=main, name="lk-sandbox", daemon=True)
        self._thread.start()
        ready.wait()
        try:
            self.call(self.server.start())
        except BaseException:
            self.close()
            raise
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
        fut: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    def run(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a plain function on the server's loop and return its result."""
        async def wrap() -> Any:
            return fn(*args, **kwargs)
        return self.call(wrap())

    def close(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self.server.running and loop.is_running():
            with contextlib.suppress(Exception):
                self.call(self.server.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> SandboxThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
