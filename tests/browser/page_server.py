"""The test page and livekit-client, served from this folder by a tiny local HTTP server.

No CDN: the SDK is the npm package that ``./dev.sh`` installs into
``tests/browser/node_modules``. The page's origin (``http://127.0.0.1:<port>``) differs from
the sandbox's, so every request the SDK makes to the sandbox is a cross-origin one, as from
any real web app.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SDK = HERE / "node_modules" / "livekit-client" / "dist" / "livekit-client.umd.js"
FILES = {
    "/": (HERE / "page.html", "text/html; charset=utf-8"),
    "/page.js": (HERE / "page.js", "text/javascript; charset=utf-8"),
    "/livekit-client.umd.js": (SDK, "text/javascript; charset=utf-8"),
}


def sdk_installed() -> bool:
    return SDK.is_file()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        found = FILES.get(self.path.split("?", 1)[0])
        if found is None:
            self.send_error(404)
            return
        body = found[0].read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", found[1])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the tests' output is not the place for an access log


class PageServer:
    """Serves the page on 127.0.0.1 (a free port) from its own thread until closed."""

    def __init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="page-server",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> PageServer:
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()
