"""CORS on every HTTP answer of the sandbox, as livekit-server gives it.

A page's LiveKit client (the JS SDK) reads the sandbox's answers with ``fetch()`` from the
page's own origin: after a failed websocket it asks ``/rtc/v1/validate`` or
``/rtc/validate`` why, and falls back from ``/rtc/v1`` to ``/rtc`` only when it can read
that 404. Without ``Access-Control-Allow-Origin`` the browser hides the answer and the SDK
reports "Failed to fetch" instead. livekit-server allows every origin (it relies on the
token, not the origin): the origin is echoed on every answer (404s and 401s included), the
validate endpoints say ``*``, and a preflight ``OPTIONS`` is granted whatever it asks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ALLOW_ORIGIN = "Access-Control-Allow-Origin"
MAX_AGE_S = "600"  # how long a browser may keep a preflight's answer


def any_origin(response: web.Response) -> web.Response:
    """Mark an answer readable from any page (``*``), as livekit-server's validate is."""
    response.headers[ALLOW_ORIGIN] = "*"
    return response


def _preflight(request: web.Request) -> web.Response:
    headers = {
        ALLOW_ORIGIN: request.headers.get("Origin", "*"),
        "Access-Control-Allow-Methods": request.headers.get(
            "Access-Control-Request-Method", "GET"),
        "Access-Control-Max-Age": MAX_AGE_S,
        "Vary": "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    }
    asked = request.headers.get("Access-Control-Request-Headers")
    if asked:
        headers["Access-Control-Allow-Headers"] = asked
    return web.Response(status=204, headers=headers)


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer preflights; echo the page's origin on every other answer, errors included
    (aiohttp's own 404 and 405 arrive here as exceptions)."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return _preflight(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = web.Response(status=exc.status, reason=exc.reason, text=exc.text,
                                headers={k: v for k, v in exc.headers.items()
                                         if k.lower() not in ("content-type",
                                                              "content-length")})
    origin = request.headers.get("Origin")
    if origin and not response.prepared and ALLOW_ORIGIN not in response.headers:
        response.headers[ALLOW_ORIGIN] = origin
        response.headers.add("Vary", "Origin")
    return response
