"""Asking a LiveKit server to send an agent into a room, through its AgentDispatchService.

A token the console did not make cannot carry a dispatch, so with a given token (and the
project's API key and secret) the agent is dispatched explicitly once we are in the room.
The server's API speaks HTTP on the same host as its websocket.
"""

from __future__ import annotations

import aiohttp
from livekit import api

TIMEOUT_S = 10.0


def http_url(ws_url: str) -> str:
    """ws(s)://host -> http(s)://host: where the server's API answers."""
    if ws_url.startswith("wss://"):
        return "https://" + ws_url[len("wss://"):]
    if ws_url.startswith("ws://"):
        return "http://" + ws_url[len("ws://"):]
    return ws_url


async def dispatch_agent(url: str, api_key: str, api_secret: str, room: str,
                         agent: str, metadata: str = "") -> str:
    """Dispatch ``agent`` into ``room``; the dispatch's id. Raises what the API raises."""
    lk = api.LiveKitAPI(http_url(url), api_key, api_secret,
                        timeout=aiohttp.ClientTimeout(total=TIMEOUT_S), failover=False)
    try:
        created = await lk.agent_dispatch.create_dispatch(api.CreateAgentDispatchRequest(
            agent_name=agent, room=room, metadata=metadata))
        return str(created.id)
    finally:
        await lk.aclose()
