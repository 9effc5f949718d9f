"""HAProxy's runtime API (the admin-level stats socket) on a load balancer host.

Each command is ``python3 -I -c SCRIPT SOCKET LINE``: a fixed script that connects to
the UNIX socket, sends the one line, prints HAProxy's whole answer and exits 0; it exits
2 with a message on stderr when the socket is missing or refuses the connection, 3 when
HAProxy does not answer in time. The socket and the line are argv values (no shell), and
every backend and server name is checked against the characters HAProxy allows in names,
so no value can add a second command (``;``) or a second line. Nothing here runs a
command: ``engine/balancer.py`` does.

What the answers mean (the HAProxy 2.6 management guide, recorded under
``tests/data/outputs/haproxy/``):

- ``set server B/S state ready|drain|maint`` prints nothing when done (repeating it is
  fine), else one line: ``No such backend.``, ``No such server.``, ``Permission denied.``
  (the socket is not ``level admin``).
- ``show stat -1 4 -1`` prints the servers' CSV rows under a ``# pxname,svname,...`` header;
  a server's ``status`` is ``UP``, ``DOWN``, ``MAINT`` (also ``MAINT (via)``,
  ``MAINT (resolution)``), ``DRAIN``, ``NOLB``, ``no check`` or a transition ``UP 1/2``
  (failing checks: going down) / ``DOWN 1/2`` (passing checks: going up); ``scur`` is the
  number of its current sessions.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from stackstep.errors import PlanError
from stackstep.model import names
from stackstep.model.command import Command, cmd

DEFAULT_SOCKET = "/run/haproxy/admin.sock"
State = Literal["ready", "drain", "maint"]
STATES: tuple[State, ...] = ("ready", "drain", "maint")
ANSWER_TIMEOUT = 10  # s the script waits for HAProxy's answer
SOCKET_MISSING = 2  # the script's exit status: no socket, or the connection was refused
NO_ANSWER = 3  # the script's exit status: HAProxy did not answer in time

# argv: SOCKET LINE. Standard library only (python3 >= 3.6: the LB host's own python3).
_SCRIPT = f"""\
import socket, sys
path, line = sys.argv[1], sys.argv[2]
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.settimeout({ANSWER_TIMEOUT})
try:
    conn.connect(path)
except OSError as exc:
    why = exc.strerror or str(exc)
    sys.stderr.write("cannot connect to HAProxy's admin socket %s: %s\\n" % (path, why))
    sys.exit({SOCKET_MISSING})
chunks = []
try:
    conn.sendall(line.encode() + b"\\n")
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
except socket.timeout:
    sys.stderr.write("HAProxy did not answer %r on %s within {ANSWER_TIMEOUT} s\\n" % (line, path))
    sys.exit({NO_ANSWER})
sys.stdout.write(b"".join(chunks).decode("utf-8", "replace"))
"""


def check_socket(socket: str) -> str:
    """``socket`` when it is an absolute path with no option or control character;
    PlanError otherwise."""
    bad = names.absolute_path(socket)
    if bad is not None:
        raise PlanError(
            f"HAProxy admin socket {socket!r} {bad}",
            hint="set load_balancer.socket in the inventory to the path of haproxy.cfg's "
            "`stats socket ... level admin`, e.g. " + DEFAULT_SOCKET,
        )
    return socket


def check_name(value: str, what: str) -> str:
    """A backend or server name as HAProxy allows it (letters, digits, ``_ . : -``);
    PlanError otherwise (it could not be in haproxy.cfg, and could smuggle a command)."""
    if names.haproxy_name(value) is not None:  # the inventory loader's check too
        raise PlanError(
            f"HAProxy {what} name {value!r} is not one HAProxy allows: "
            "use letters, digits and _ . : - only",
            hint="set load_balancer.backends / load_balancer.server in the inventory to "
            "the names haproxy.cfg uses",
        )
    return value


def socket_command(socket: str, line: str) -> Command:
    """Send ``line`` to the admin socket at ``socket`` and print the answer."""
    bad = names.plain_text(line)
    if bad is not None or ";" in line:
        raise PlanError(f"HAProxy command {line!r} is not one command line: {bad or 'a ;'}")
    return cmd("python3", "-I", "-c", _SCRIPT, check_socket(socket), line)


def show_stat(socket: str) -> Command:
    """The servers' rows of ``show stat`` (``-1 4 -1``: every proxy, servers only)."""
    return socket_command(socket, "show stat -1 4 -1")


def show_servers_state(socket: str) -> Command:
    """``show servers state``: each server's operational and administrative state."""
    return socket_command(socket, "show servers state")


def set_state(socket: str, backend: str, server: str, state: State) -> Command:
    """``set server BACKEND/SERVER state STATE``: ``drain`` takes it out of load balancing
    (still health-checked, its sessions go on), ``maint`` also stops its checks, ``ready``
    puts it back. Repeating one is harmless."""
    if state not in STATES:
        raise PlanError(f"HAProxy server state {state!r} is not one of {', '.join(STATES)}")
    pair = f"{check_name(backend, 'backend')}/{check_name(server, 'server')}"
    return socket_command(socket, f"set server {pair} state {state}")


def set_state_error(answer: str) -> str | None:
    """What went wrong according to HAProxy's answer to ``set server``, None when done
    (it answers nothing then)."""
    text = " ".join(answer.split())
    return text or None


@dataclass(frozen=True)
class ServerStat:
    """One server's row of ``show stat``."""

    backend: str
    server: str
    status: str  # "UP", "DOWN", "DRAIN", "MAINT", "NOLB", "no check", "UP 1/2", ...
    scur: int  # current sessions
    check_status: str  # the last health check and its code: "L7OK 200", "L7STS 503", "L4CON"
    check_desc: str = ""  # HAProxy's words for it: "Layer7 wrong status", "Connection refused"

    def describe(self) -> str:
        """``keystone/controller1 is UP (check L7OK 200), 0 session(s)``."""
        check = f" (check {self.check_status})" if self.check_status else ""
        return f"{self.backend}/{self.server} is {self.status}{check}, {self.scur} session(s)"


_REQUIRED = ("pxname", "svname", "scur", "status", "check_status", "check_code")
_OUT = re.compile(r"(DOWN|MAINT|DRAIN|NOLB)\b")
SERVER_TYPE = "2"  # ``type`` column: 0 frontend, 1 backend, 2 server, 3 listener


def _rows(text: str) -> Iterator[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        first = lines[0][:200] if lines else "nothing"
        raise ValueError(f"`show stat` answered {first!r}, not its CSV (no '# pxname,...' header)")
    header = next(csv.reader([lines[0][2:]]))
    missing = [name for name in _REQUIRED if name not in header]
    if missing:
        raise ValueError(f"`show stat`'s header has no column {', '.join(missing)}")
    for number, row in enumerate(csv.reader(lines[1:]), start=2):
        if len(row) < len(_REQUIRED) or len(row) > len(header) + 1:
            raise ValueError(f"`show stat` line {number} has {len(row)} fields: {row[:3]}")
        yield dict(zip(header, row, strict=False))


def parse_stat(text: str) -> dict[tuple[str, str], ServerStat]:
    """The servers of a ``show stat`` answer by (backend, server); FRONTEND and BACKEND
    rows left out, columns found by the header's names (newer HAProxy adds columns).
    ValueError when ``text`` is not that CSV."""
    found: dict[tuple[str, str], ServerStat] = {}
    for row in _rows(text):
        kind = row.get("type", "")
        if row["svname"] in ("FRONTEND", "BACKEND") or (kind and kind != SERVER_TYPE):
            continue
        scur = row["scur"] or "0"
        if not scur.isdigit():
            raise ValueError(f"`show stat`: scur of {row['pxname']}/{row['svname']} is {scur!r}")
        check = " ".join(part for part in (row["check_status"], row["check_code"]) if part)
        stat = ServerStat(
            row["pxname"], row["svname"], row["status"], int(scur), check, row.get("check_desc", "")
        )
        found[(stat.backend, stat.server)] = stat
    return found


def is_out(stat: ServerStat) -> bool:
    """No new traffic reaches it: DOWN (also ``DOWN 1/2``, still down while its checks
    pass), MAINT (any reason), DRAIN, NOLB. ``UP 1/2`` (checks failing) still gets traffic."""
    return _OUT.match(stat.status) is not None


def is_drained(stat: ServerStat) -> bool:
    """Out of load balancing and no session left on it: safe to stop its service."""
    return is_out(stat) and stat.scur == 0


def is_in(stat: ServerStat) -> bool:
    """Back in load balancing: ``UP`` (its checks pass and it is ready), or ``no check``
    (a server line without ``check``: HAProxy sends it traffic once it is ready).
    ``UP 1/2`` is going down, so not in."""
    return stat.status in ("UP", "no check")
