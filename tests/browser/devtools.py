"""A small client of Chromium's DevTools protocol: evaluate JavaScript in one page.

Enough for the tests and no more: one websocket to one page target, calls matched to their
answers by id, console and exception events kept for the failure message. aiohttp (already
the sandbox's dependency) speaks the websocket, so no browser-automation package is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import aiohttp


class DevToolsError(Exception):
    """The page threw, or the browser refused a call; the message is the browser's."""


class Page:
    """One page of a running browser, over its DevTools websocket."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse):
        self._session = session
        self._ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.console: list[str] = []   # console lines and uncaught exceptions, in order
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, port: int, url: str) -> Page:
        """Attach to the browser's first page and load ``url`` there."""
        session = aiohttp.ClientSession()
        try:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as resp:
                targets = await resp.json()
            target = next(t for t in targets if t.get("type") == "page")
            ws = await session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        except BaseException:
            await session.close()
            raise
        page = cls(session, ws)
        await page.call("Runtime.enable")
        await page.call("Page.enable")
        await page.call("Page.navigate", url=url)
        return page

    async def _read(self) -> None:
        try:
            async for msg in self._ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                waiter = self._waiting.pop(data.get("id", -1), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(data)
                elif data.get("method") == "Runtime.consoleAPICalled":
                    args = data["params"].get("args", [])
                    self.console.append(" ".join(str(a.get("value", a.get("description", "")))
                                                 for a in args))
                elif data.get("method") == "Runtime.exceptionThrown":
                    details = data["params"]["exceptionDetails"]
                    self.console.append("uncaught: " + _describe(details))
        finally:
            for waiter in self._waiting.values():
                if not waiter.done():
                    waiter.set_exception(DevToolsError("the browser closed the connection"))

    async def call(self, method: str, timeout: float = 20.0, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result."""
        call_id = next(self._ids)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = waiter
        await self._ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        try:
            answer = await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiting.pop(call_id, None)
        if "error" in answer:
            raise DevToolsError(f"{method}: {answer['error'].get('message')}")
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def evaluate(self, expression: str, timeout: float = 20.0) -> Any:
        """The JSON value of ``expression`` (awaited when it is a promise)."""
        result = await self.call("Runtime.evaluate", timeout=timeout, expression=expression,
                                 awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise DevToolsError(_describe(result["exceptionDetails"]))
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float = 10.0) -> None:
        """Until ``expression`` is truthy in the page."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await self.evaluate(f"!!({expression})"):
            if loop.time() > deadline:
                raise TimeoutError(f"{expression} still false after {timeout} s")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader
        await self._session.close()


def _describe(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    return str(exception.get("description") or details.get("text") or details)
