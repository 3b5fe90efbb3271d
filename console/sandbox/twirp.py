"""The server API's AgentDispatchService over Twirp, as livekit-server answers it.

``POST /twirp/livekit.AgentDispatchService/<Method>`` with a protobuf body
(``application/protobuf``, what livekit-api sends) or a JSON one (``application/json``,
field names in either case), answered in the same encoding. A token with roomAdmin for
the request's room is required (livekit-server's check); errors are Twirp's JSON
(``{"code": ..., "msg": ...}``) with its HTTP statuses. As with livekit-server's room
auto-creation, a dispatch to a room nobody is in opens it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from livekit.protocol import agent_dispatch

from console.sandbox.auth import AuthError, verify_room_admin
from console.sandbox.dispatch import AgentDispatcher
from console.sandbox.room import Room

PREFIX = "/twirp/livekit.AgentDispatchService/"
JSON = "application/json"
PROTOBUF = "application/protobuf"
_REQUESTS: dict[str, type[Message]] = {
    "CreateDispatch": agent_dispatch.CreateAgentDispatchRequest,
    "ListDispatch": agent_dispatch.ListAgentDispatchRequest,
    "DeleteDispatch": agent_dispatch.DeleteAgentDispatchRequest,
}


def twirp_error(status: int, code: str, msg: str) -> web.Response:
    return web.json_response({"code": code, "msg": msg}, status=status)


def _encode(message: Message, content_type: str) -> web.Response:
    if content_type == JSON:
        return web.json_response(json_format.MessageToDict(
            message, preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True))
    return web.Response(body=message.SerializeToString(), content_type=PROTOBUF)


class DispatchService:
    """Answers the three methods against the sandbox's rooms and dispatcher."""

    def __init__(self, dispatcher: AgentDispatcher, room: Callable[[str], Room],
                 rooms: dict[str, Room], authorize: Callable[[str, str], None]) -> None:
        self._dispatcher = dispatcher
        self._room = room        # opens a room
        self._rooms = rooms      # the rooms that exist
        self._authorize = authorize  # (token, room) -> None or AuthError

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info.get("method", "")
        request_type = _REQUESTS.get(method)
        if request_type is None:
            return twirp_error(404, "bad_route", f"no handler for path {request.path!r}")
        content_type = request.content_type
        if content_type not in (JSON, PROTOBUF):
            return twirp_error(404, "bad_route", f"unexpected Content-Type: {content_type!r}")
        body = await request.read()
        message = request_type()
        try:
            if content_type == JSON:
                json_format.Parse(body or b"{}", message, ignore_unknown_fields=True)
            else:
                message.ParseFromString(body)
        except (json_format.ParseError, DecodeError, UnicodeDecodeError) as exc:
            return twirp_error(400, "malformed", f"the request body is not a {method} "
                                                 f"request: {exc}")
        room_name: str = getattr(message, "room", "")
        try:
            self._authorize(_bearer(request), room_name)
        except AuthError as exc:
            return twirp_error(401, "unauthenticated", str(exc))
        handler: dict[str, Callable[[Any], Awaitable[Message | web.Response]]] = {
            "CreateDispatch": self._create, "ListDispatch": self._list,
            "DeleteDispatch": self._delete}
        answer = await handler[method](message)
        return answer if isinstance(answer, web.Response) else _encode(answer, content_type)

    async def _create(self, req: agent_dispatch.CreateAgentDispatchRequest
                      ) -> Message | web.Response:
        if not req.room:
            return twirp_error(400, "invalid_argument", "room is required")
        return await self._dispatcher.dispatch(self._room(req.room), req.agent_name,
                                               req.metadata)

    async def _list(self, req: agent_dispatch.ListAgentDispatchRequest
                    ) -> Message | web.Response:
        if req.room not in self._rooms:
            return twirp_error(404, "not_found", "requested room does not exist")
        return agent_dispatch.ListAgentDispatchResponse(
            agent_dispatches=self._dispatcher.list(req.room, req.dispatch_id))

    async def _delete(self, req: agent_dispatch.DeleteAgentDispatchRequest
                      ) -> Message | web.Response:
        if req.room not in self._rooms:
            return twirp_error(404, "not_found", "requested room does not exist")
        record = self._dispatcher.delete(req.room, req.dispatch_id)
        if record is None:
            return twirp_error(404, "not_found", "dispatch not found")
        return record


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


def authorizer(api_key: str, api_secret: str) -> Callable[[str, str], None]:
    def check(token: str, room: str) -> None:
        verify_room_admin(token, api_key, api_secret, room)
    return check
