"""A real HTTP server on 127.0.0.1 that answers like keystone's token API, and can be
told to fail in each way a load balancer's client meets (for the load generator's tests).

- ``POST /v3/auth/tokens`` with the expected password: 201 and a new token in
  ``X-Subject-Token`` (body: ``{"token": {"expires_at": ...}}``); another password: 401;
- ``GET /v3/auth/tokens``: 200 when ``X-Subject-Token`` is a token it issued and
  ``X-Auth-Token`` too, else 404;
- any other GET: 200 (a version document).

``mode``: ``ok``; ``503`` (every request answered 503); ``hang`` (no answer for
``hang_for`` seconds, then the connection closes); ``reset`` (the head and part of the
body, then the connection closes); ``down()`` closes the listener (connections refused)
and ``up()`` opens it again on the same port. ``seen`` counts what it did, by mode and
request (``("ok", "validate")``...), so a test compares its client's counts with it.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PASSWORD = "Load-Pw-9c41e7"


class FakeKeystone:
    def __init__(self, unavailable: Callable[[], bool] | None = None) -> None:
        self.mode = "ok"
        self.hang_for = 3.0
        self.port = 0
        self.issued: set[str] = set()
        self.validated: Counter[str] = Counter()  # subject tokens validated (200)
        self.seen: Counter[tuple[str, str]] = Counter()
        self.unavailable = unavailable or (lambda: False)  # True: answer 503
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    def up(self) -> float:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self._server.request_queue_size = 128
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return time.time()

    def down(self) -> float:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        return time.time()

    def set(self, mode: str) -> float:
        self.mode = mode
        return time.time()

    def count(self, mode: str, request: str) -> None:
        with self._lock:
            self.seen[(mode, request)] += 1

    def total(self, mode: str) -> int:
        return sum(n for (m, _), n in self.seen.items() if m == mode)


def _handler(api: FakeKeystone) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/v3/auth/tokens":
                self._answer("validate")
            else:
                self._answer("get")

        def do_POST(self) -> None:
            self._answer("issue")

        def _answer(self, request: str) -> None:
            mode = "503" if api.unavailable() else api.mode
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            api.count(mode, request)
            if mode == "hang":
                time.sleep(api.hang_for)
                self.close_connection = True
                return
            if mode == "reset":
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"version": ')
                self.wfile.flush()
                # RST, not FIN: SO_LINGER 0 then close
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                return
            if mode == "503":
                self._send(503, b"{}")
            elif request == "issue":
                self._issue(body)
            elif request == "validate":
                subject = self.headers.get("X-Subject-Token", "")
                auth = self.headers.get("X-Auth-Token", "")
                good = subject in api.issued and auth in api.issued
                if good:
                    with api._lock:
                        api.validated[subject] += 1
                self._send(200 if good else 404, b'{"token": {}}')
            else:
                self._send(200, b'{"version": {"id": "v3.14"}}')

        def _issue(self, body: bytes) -> None:
            try:
                user = json.loads(body)["auth"]["identity"]["password"]["user"]
            except (ValueError, KeyError, TypeError):
                self._send(400, b"{}")
                return
            if user.get("password") != PASSWORD:
                self._send(401, b'{"error": {"code": 401}}')
                return
            token = uuid.uuid4().hex
            with api._lock:
                api.issued.add(token)
            expires = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() + 3600))
            self._send(201, json.dumps({"token": {"expires_at": expires}}).encode(), token)

        def _send(self, status: int, body: bytes, token: str = "") -> None:
            self.send_response(status)
            if token:
                self.send_header("X-Subject-Token", token)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


def openrc(password: str = PASSWORD) -> dict[str, str]:
    """The environment an openrc gives (for the fake keystone's user)."""
    return {
        "OS_USERNAME": "admin",
        "OS_PASSWORD": password,
        "OS_PROJECT_NAME": "admin",
        "OS_USER_DOMAIN_ID": "default",
        "OS_PROJECT_DOMAIN_ID": "default",
    }


if __name__ == "__main__":  # bench/load_cost.py: serve until killed, print the port
    served = FakeKeystone()
    served.up()
    print(served.port, flush=True)
    threading.Event().wait()
