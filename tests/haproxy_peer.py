"""A real HAProxy on 127.0.0.1 in front of small Python HTTP servers (the test peer of
``drivers/haproxy.py`` and ``engine/balancer.py``).

:class:`Backend` is one "controller": a threaded HTTP server answering
``GET /healthcheck`` with 200 ``OK``, or 503 ``DISABLED BY FILE`` while its disable file
exists (as oslo.middleware's ``disable_by_file`` does), ``GET /`` with its own name
(counted in ``hits``), and ``GET /slow`` only once ``release`` is set (a held-open session).
:func:`running_haproxy` starts the machine's ``haproxy`` binary (Debian's package) as a
child process, never the system service, from a config in a temp dir: a frontend on a
free port, ``backend keystone`` with one server per Backend, ``option httpchk GET
/healthcheck``, and an admin-level stats socket in the temp dir; ``extra`` lines go
into the backend, ``global_extra`` ones into ``global``.

Used by ``integration/test_drain_haproxy.py`` and ``data/outputs/_scripts/record-haproxy.py``.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HAPROXY = "/usr/sbin/haproxy"


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet: HAProxy's health checks close the connection as soon as they have
        read the status line, so writing the body may meet a reset."""


class Backend:
    """One server behind the balancer: its name, port, disable file and hit count."""

    def __init__(self, name: str, disable_file: Path) -> None:
        self.name = name
        self.disable_file = disable_file
        self.hits = 0
        self.release = threading.Event()
        self.slow_started = threading.Event()
        backend = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthcheck":
                    disabled = backend.disable_file.exists()
                    body = b"DISABLED BY FILE" if disabled else b"OK"
                    self._answer(503 if disabled else 200, body)
                    return
                backend.hits += 1
                if self.path == "/slow":
                    backend.slow_started.set()
                    backend.release.wait(30)
                self._answer(200, backend.name.encode())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port: int = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def disable(self) -> None:
        self.disable_file.touch()

    def enable(self) -> None:
        self.disable_file.unlink(missing_ok=True)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Haproxy:
    """A running HAProxy: its admin socket, frontend port, servers and log."""

    dir: Path
    socket: str
    port: int
    backends: dict[str, Backend]
    proc: subprocess.Popen[bytes] = field(repr=False)

    def get(self, path: str = "/", timeout: float = 5.0) -> tuple[int, str]:
        """One request through the frontend on a fresh connection: (status, body)."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def admin(self, line: str) -> str:
        """One command on the admin socket, straight (not through stackstep)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(self.socket)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()


def config(
    base: Path,
    port: int,
    servers: Sequence[tuple[str, int]],
    check: str = "check inter 200 rise 2 fall 2",
    extra: Sequence[str] = (),
    global_extra: Sequence[str] = (),
) -> str:
    lines = [
        "global",
        f"    stats socket {base / 'admin.sock'} mode 600 level admin",
        *global_extra,
        "    maxconn 200",
        "defaults",
        "    mode http",
        "    timeout connect 1s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout check 5s",  # a busy test machine may answer late: never L7TOUT
        "frontend api",
        f"    bind 127.0.0.1:{port}",
        "    default_backend keystone",
        "backend keystone",
        "    balance roundrobin",
        "    option httpchk GET /healthcheck",
        *(f"    server {name} 127.0.0.1:{sport} {check}" for name, sport in servers),
        *extra,
        "",
    ]
    return "\n".join(lines)


@contextmanager
def running_haproxy(
    base: Path,
    names: Sequence[str] = ("controller1", "controller2", "controller3"),
    check: str = "check inter 200 rise 2 fall 2",
    extra: Sequence[str] = (),
    global_extra: Sequence[str] = (),
) -> Iterator[Haproxy]:
    """HAProxy (a child process in the foreground, ``-db``) in front of one Backend per
    name; every server UP before it is given back."""
    backends = {name: Backend(name, base / f"{name}.disable") for name in names}
    port = free_port()
    servers = [(name, b.port) for name, b in backends.items()]
    (base / "haproxy.cfg").write_text(config(base, port, servers, check, extra, global_extra))
    log = (base / "haproxy.log").open("wb")
    proc = subprocess.Popen(
        [HAPROXY, "-db", "-f", str(base / "haproxy.cfg")], stdout=log, stderr=log
    )
    peer = Haproxy(base, str(base / "admin.sock"), port, backends, proc)
    try:
        _wait_up(peer, [n for n in names if "check" in check.split()])
        yield peer
    finally:
        proc.kill()  # nothing of a throwaway HAProxy needs a clean stop
        proc.wait()
        log.close()
        for backend in backends.values():
            backend.stop()


def _wait_up(peer: Haproxy, checked: Sequence[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        if peer.proc.poll() is not None:
            raise RuntimeError(
                f"haproxy exited ({peer.proc.returncode}): "
                + (peer.dir / "haproxy.log").read_text(errors="replace")
            )
        try:
            text = peer.admin("show stat")
        except OSError:
            time.sleep(0.05)
            continue
        up = {row.split(",")[1] for row in text.splitlines() if ",UP," in row}
        if all(name in up for name in checked):
            return
        time.sleep(0.05)
    raise RuntimeError(f"haproxy's servers did not come UP within {timeout:g} s:\n{text}")
