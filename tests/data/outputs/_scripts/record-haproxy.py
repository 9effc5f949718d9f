"""Record tests/data/outputs/haproxy/: what drivers/haproxy.py's commands print from a
real HAProxy (Debian's package) in each state a server goes through in a drain.

Run from the repository root: PYTHONPATH=src:tests python3 THIS. HAProxy runs as a child
process from a config in a temp dir (tests/haproxy_peer.py), never the system service:
backend keystone with controller1..3 (Python HTTP servers whose /healthcheck answers 503
while a disable file exists), controller4 on a port where nothing listens (DOWN, L4CON)
and controller5 with no health check. Checks every 1 s (rise 2 fall 2), so the
transitions `UP 1/2` and `DOWN 1/2` last about a second and are caught by polling.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from haproxy_peer import Haproxy, free_port, running_haproxy
from stackstep.drivers import haproxy
from stackstep.model.command import Command

OUT = Path("tests/data/outputs/haproxy")


def run(command: Command) -> str:
    done = subprocess.run(command.reveal(), capture_output=True, text=True, check=True)
    return done.stdout


def save(name: str, text: str) -> None:
    (OUT / name).write_text(text)
    print(f"{OUT / name}: {len(text.splitlines())} lines")


def status(peer: Haproxy, server: str) -> str:
    return haproxy.parse_stat(run(haproxy.show_stat(peer.socket)))[("keystone", server)].status


def until(peer: Haproxy, server: str, wanted: str, timeout: float = 15.0) -> str:
    """Poll show stat every 20 ms until ``server``'s status is ``wanted``; that answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = run(haproxy.show_stat(peer.socket))
        if haproxy.parse_stat(text)[("keystone", server)].status == wanted:
            return text
        time.sleep(0.02)
    raise SystemExit(f"{server} never became {wanted!r} (last: {status(peer, server)})")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stackstep-haproxy-") as tmp:
        base = Path(tmp)
        extra = [
            f"    server controller4 127.0.0.1:{free_port()} check inter 1000 rise 2 fall 2",
            f"    server controller5 127.0.0.1:{free_port()}",
        ]
        user_socket = f"    stats socket {base / 'user.sock'} mode 600 level user"
        check = "check inter 1000 rise 2 fall 2"
        with running_haproxy(base, check=check, extra=extra, global_extra=[user_socket]) as peer:
            sock = peer.socket
            until(peer, "controller4", "DOWN")
            save("show-stat-all.txt", run(haproxy.socket_command(sock, "show stat")))
            save("show-stat-up.txt", run(haproxy.show_stat(sock)))
            save("show-servers-state-up.txt", run(haproxy.show_servers_state(sock)))

            answers = [
                ("done", sock, "keystone", "controller1"),
                ("again", sock, "keystone", "controller1"),
                ("no-server", sock, "keystone", "controller9"),
                ("no-backend", sock, "glance", "controller1"),
                ("level-user", str(base / "user.sock"), "keystone", "controller1"),
            ]
            for case, path, backend, server in answers:
                answer = run(haproxy.set_state(path, backend, server, "drain"))
                save(f"set-state-{case}.txt", answer)
            save("show-stat-drain.txt", run(haproxy.show_stat(sock)))
            save("show-servers-state-drain.txt", run(haproxy.show_servers_state(sock)))

            # a session held open on a drained server: scur 1 (sent before the drain)
            run(haproxy.set_state(sock, "keystone", "controller1", "ready"))
            until(peer, "controller1", "UP")
            slow = peer.backends["controller2"]
            for server in ("controller1", "controller3", "controller5"):
                run(haproxy.set_state(sock, "keystone", server, "drain"))
            url = f"http://127.0.0.1:{peer.port}/slow"
            held = threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=20).read())
            held.start()
            slow.slow_started.wait(10)
            run(haproxy.set_state(sock, "keystone", "controller2", "drain"))
            save("show-stat-drain-session.txt", run(haproxy.show_stat(sock)))
            slow.release.set()
            held.join()
            for server in ("controller1", "controller2", "controller3", "controller5"):
                run(haproxy.set_state(sock, "keystone", server, "ready"))

            run(haproxy.set_state(sock, "keystone", "controller1", "maint"))
            save("show-stat-maint.txt", run(haproxy.show_stat(sock)))
            save("show-servers-state-maint.txt", run(haproxy.show_servers_state(sock)))
            run(haproxy.set_state(sock, "keystone", "controller1", "ready"))

            peer.backends["controller2"].disable()
            save("show-stat-going-down.txt", until(peer, "controller2", "UP 1/2"))
            save("show-stat-disabled.txt", until(peer, "controller2", "DOWN"))
            save("show-servers-state-disabled.txt", run(haproxy.show_servers_state(sock)))
            peer.backends["controller2"].enable()
            save("show-stat-going-up.txt", until(peer, "controller2", "DOWN 1/2"))
            until(peer, "controller2", "UP")


if __name__ == "__main__":
    main()
