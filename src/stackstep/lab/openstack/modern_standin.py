#!/usr/bin/python3
"""Modern stand-in OpenStack services (2025.2 flamingo / 2026.1 gazpacho) for the HA lab.

Runs on the lab hosts (python3 + python3-pymysql) next to ``standin.py``, whose helpers it
uses. What a service is comes from ``/usr/share/openstack-lab/SERVICE.json`` (written by
``stackstep.lab.openstack.modern``): release, DB branches, components, checks.

    modern_standin.py serve SERVICE COMPONENT   the units' ExecStart (Type=notify)
    modern_standin.py manage SERVICE ARGS...    glance-manage, nova-manage, neutron-db-manage...
    modern_standin.py status SERVICE ARGS...    glance-status, nova-status... (upgrade check)

What a rolling upgrade meets: version documents and oslo.middleware's ``/healthcheck``
(``disable_by_file``, checked per request); DB branches with expand/migrate/contract and
upstream's exit codes; new code refusing a DB not expanded to its release, old code
refusing one contracted past it; nova's ``services`` table, ``TooOldComputeService`` and
an RPC cap (``[upgrade_levels] compute=auto``) cached until SIGHUP (never for nova-api);
cinder's per-binary pins likewise (never for cinder-api); ``online_data_migrations`` with
rows left after the upgrade. Each process writes its state (pin included) to
``/run/openstack-lab/SERVICE-COMPONENT.json``; the APIs also answer ``GET /lab/state``.
``OPENSTACK_LAB_ROOT`` prefixes every absolute path; ``OPENSTACK_LAB_BIND`` replaces 0.0.0.0.
"""

from __future__ import annotations

import configparser
import datetime
import http.server
import json
import os
import signal
import socket
import sys
import threading
import time
from typing import Any

try:
    from . import standin as base
except ImportError:  # run as a script on a lab host: standin.py sits next to this file
    import standin as base  # type: ignore[import-not-found,no-redef]

Json = dict[str, Any]
Failed, log, out, here = base.Failed, base.log, base.out, base.here
STATE_DIR = "/run/openstack-lab"
SCHEMA_DDL = (
    "CREATE TABLE IF NOT EXISTS lab_schema (branch VARCHAR(32) PRIMARY KEY, "
    "revision VARCHAR(64) NOT NULL)"
)
ONLINE_DDL = (
    "CREATE TABLE IF NOT EXISTS lab_online (id INT AUTO_INCREMENT PRIMARY KEY, "
    "migrated TINYINT(1) NOT NULL DEFAULT 0)"
)


def load(service: str) -> Json:
    return base.load(service)


# --- configuration ----------------------------------------------------------------------


def config(spec: Json, files: list[str] | None = None) -> configparser.ConfigParser:
    """The service's config files merged oslo.config style (the last file wins)."""
    files = files or list(spec["config"])
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    for name in files:
        text = base.read_text(name)
        if text is None:
            raise Failed(f"ConfigFilesNotFoundError: Failed to read some config files: {name}")
        parser.read_string(text, source=name)
    return parser


def option(parser: configparser.ConfigParser, section: str, key: str) -> str | None:
    if parser.has_option(section, key):
        return parser.get(section, key).strip()
    return None


def connect(spec: Json, parser: configparser.ConfigParser, db: str, wait: float = 0.0) -> Any:
    section, key = spec["databases"][db]
    url = option(parser, section, key)
    if not url:
        raise Failed(f"no [{section}] {key} in {', '.join(spec['config'])}")
    return base.connect(url, wait)


# --- DB branches ------------------------------------------------------------------------


def revisions(spec: Json, branch: str) -> list[str]:
    """The branch's revisions, oldest first (one per release; equal ones are one)."""
    chain = [spec["branches"][branch]["revisions"][r] for r in spec["releases"]]
    return list(dict.fromkeys(chain))


def head(spec: Json, branch: str) -> str:
    return str(spec["branches"][branch]["revisions"][spec["release"]])


def position(spec: Json, branch: str, revision: str | None) -> int:
    """-1 for none; past the end for a revision this code does not know (newer)."""
    if revision is None:
        return -1
    chain = revisions(spec, branch)
    return chain.index(revision) if revision in chain else len(chain)


def at(conn: Any, branch: str) -> str | None:
    if "lab_schema" not in base.tables(conn):
        return None
    rows = base.query(conn, "SELECT revision FROM lab_schema WHERE branch = %s", (branch,))
    return str(rows[0][0]) if rows else None


def behind(spec: Json, conn: Any, branch: str) -> bool:
    return position(spec, branch, at(conn, branch)) < position(spec, branch, head(spec, branch))


def upgrade(spec: Json, conns: dict[str, Any], branch: str) -> None:
    """Bring ``branch`` to this code's revision; the branch before it must be there."""
    info = spec["branches"][branch]
    conn, target = conns[info["db"]], head(spec, branch)
    before = info.get("after")
    if before and behind(spec, conns[spec["branches"][before]["db"]], before):
        raise Failed(info.get("after_error", f"run the {before} step first"))
    have = at(conn, branch)
    if position(spec, branch, have) > position(spec, branch, target):
        raise Failed(f"Can't locate revision identified by '{have}' (newer than this code)")
    for ddl in spec.get("tables", {}).get(info["db"], []):
        base.execute(conn, ddl)
    base.execute(conn, SCHEMA_DDL)
    if have == target:
        out(f"INFO  [alembic.runtime.migration] {branch}: already at {target}")
        return
    out(f"INFO  [alembic.runtime.migration] Running upgrade {have} -> {target} ({branch})")
    base.execute(
        conn, "REPLACE INTO lab_schema (branch, revision) VALUES (%s, %s)", (branch, target)
    )
    online = spec.get("online")
    if online and online["branch"] == branch and have is not None and online["rows"]:
        base.execute(conn, ONLINE_DDL)  # an upgrade (not a fresh DB) leaves rows to migrate
        base.execute(
            conn, "INSERT INTO lab_online (migrated) VALUES " + ",".join(["(0)"] * online["rows"])
        )


def check_schema(spec: Json, conns: dict[str, Any], name: str) -> None:
    """New code refuses a DB not expanded to it; old code one contracted past it."""
    for branch, info in spec["branches"].items():
        if info["db"] not in conns:
            continue
        have = at(conns[info["db"]], branch)
        mine, target = position(spec, branch, have), position(spec, branch, head(spec, branch))
        if mine < target and not info.get("after_roll"):
            raise Failed(
                f"database {branch} branch at {have or 'nothing'}, this code ({spec['release']}) "
                f"needs {head(spec, branch)}: run {info['run']}"
            )
        if mine > target and info.get("breaks_older"):
            raise Failed(
                f"database {branch} branch at {have}, contracted past this code "
                f"({spec['release']}): it cannot run on this database any more"
            )
    log(name, "INFO", "database schema is compatible with " + spec["release"])


# --- the CLIs ---------------------------------------------------------------------------


def glance_check(spec: Json, conns: dict[str, Any]) -> int:
    conn = conns["main"]
    if not behind(spec, conn, "contract"):
        out("Database is up to date. No upgrades needed.")
        return 0
    for branch, code in (("expand", 3), ("migrate", 4), ("contract", 5)):
        if behind(spec, conn, branch):
            out("Your database is not up to date. Your next step is to run "
                f"`glance-manage db {branch}`.")  # fmt: skip
            return code
    return 0


def online(spec: Json, conns: dict[str, Any], args: list[str]) -> int:
    flag, batch = spec["online"]["flag"], 50
    limit: int | None = None
    if args:
        if len(args) != 2 or args[0] != flag:
            raise Failed(f"usage: db online_data_migrations [{flag} N]", 2)
        try:
            limit = int(args[1])
        except ValueError:
            raise Failed(f"{flag}: invalid int value: {args[1]!r}", 2) from None
        if limit < 1:
            out(f"Must supply a positive value for {flag.lstrip('-').replace('-', '_')}")
            return 127
    conn = conns[spec["branches"][spec["online"]["branch"]]["db"]]
    name, ran = spec["online"]["name"], 0
    while True:  # upstream: batches of 50 until done without a limit, one batch with it
        base.execute(conn, ONLINE_DDL)
        todo = base.query(conn, "SELECT COUNT(*) FROM lab_online WHERE migrated = 0")[0][0]
        step = min(int(todo), limit if limit is not None else batch)
        if step:
            base.execute(
                conn, "UPDATE lab_online SET migrated = 1 WHERE migrated = 0 LIMIT %s", (step,)
            )
        ran += step
        out(f"| {name} | {todo} | {step} |")
        if limit is not None or not step:
            break
    return 1 if limit is not None and ran else 0


def services(conn: Any, binary: str) -> list[tuple[Any, ...]]:
    return base.query(
        conn,
        "SELECT host, version, rpc_current_version, forced_down FROM services "
        "WHERE `binary` = %s AND deleted = 0",
        (binary,),
    )


def manage(service: str, argv: list[str]) -> int:
    spec, files, words = load(service), [], list(argv)
    while words and words[0].startswith("--config-file"):
        flag = words.pop(0)
        files.append(flag.split("=", 1)[1] if "=" in flag else words.pop(0))
    commands: dict[str, Json] = spec["commands"]
    matched = next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in commands), "")
    if not matched:
        choices = ", ".join(f"'{c}'" for c in commands)
        raise Failed(f"{spec['cli']}: error: unknown command {' '.join(words) or '(none)'} "
                     f"(choose from {choices})", 2)  # fmt: skip
    command, args = commands[matched], words[len(matched.split()) :]
    parser = config(spec, files or None)
    conns = {db: connect(spec, parser, db) for db in spec["databases"]}
    try:
        return int(ACTIONS[command["action"]](spec, conns, command, args))
    finally:
        for conn in conns.values():
            conn.close()


def run_upgrade(spec: Json, conns: dict[str, Any], command: Json, args: list[str]) -> int:
    for branch in command["branches"]:
        upgrade(spec, conns, branch)
    return 0


def offline(spec: Json, conns: dict[str, Any], command: Json, args: list[str]) -> int:
    """neutron-db-manage has_offline_migrations: 1 while a contract revision is pending."""
    if behind(spec, conns["main"], "contract"):
        out("Need to apply migrations from neutron contract branch. This will require "
            "all Neutron server instances to be shutdown before proceeding.")  # fmt: skip
        return 1
    out("No offline migrations pending.")
    return 0


def version(spec: Json, conns: dict[str, Any], command: Json, args: list[str]) -> int:
    for branch, info in spec["branches"].items():
        out(f"{branch}: {at(conns[info['db']], branch)}")
    return 0


def service_list(spec: Json, conns: dict[str, Any], command: Json, args: list[str]) -> int:
    for host, level, rpc, down in services(conns["main"], args[0] if args else ""):
        out(f"{host} {level} {rpc or ''} {'forced_down' if down else 'up'}")
    return 0


def service_remove(spec: Json, conns: dict[str, Any], command: Json, args: list[str]) -> int:
    if len(args) != 2:
        raise Failed("usage: service remove BINARY HOST", 2)
    count = base.execute(
        conns["main"], "UPDATE services SET deleted = id WHERE `binary` = %s AND host = %s "
        "AND deleted = 0", (args[0], args[1]),
    )  # fmt: skip
    if not count:
        raise Failed(f"Host not found: {args[1]} ({args[0]})", 2)
    out(f"Service {args[0]} on host {args[1]} removed.")
    return 0


ACTIONS = {
    "upgrade": run_upgrade,
    "glance_check": lambda spec, conns, command, args: glance_check(spec, conns),
    "offline": offline,
    "online": lambda spec, conns, command, args: online(spec, conns, args),
    "version": version,
    "service_list": service_list,
    "service_remove": service_remove,
}


def status(service: str, argv: list[str]) -> int:
    """``*-status upgrade check``: oslo.upgradecheck's table; exit the worst code."""
    if argv != ["upgrade", "check"]:
        raise Failed("usage: status upgrade check", 2)
    spec = load(service)
    parser = config(spec)
    conns = {db: connect(spec, parser, db) for db in spec["databases"]}
    try:
        results = [run_check(spec, parser, conns, name) for name in spec["checks"]]
    finally:
        for conn in conns.values():
            conn.close()
    words = {0: "Success", 1: "Warning", 2: "Failure"}
    out("+" + "-" * 60 + "+\n| Upgrade Check Results" + " " * 38 + "|")
    for title, code, details in results:
        out(f"| Check: {title}\n| Result: {words[code]}\n| Details: {details or 'None'}")
    return max((code for _, code, _ in results), default=0)


def run_check(
    spec: Json, parser: configparser.ConfigParser, conns: dict[str, Any], name: str
) -> tuple[str, int, str]:
    if name == "old_computes":
        try:
            nova_too_old(spec, conns["main"])
        except Failed as failed:
            return "Older than N-1 computes", 2, failed.message
        return "Older than N-1 computes", 0, ""
    if name == "service_user_token":
        value = (option(parser, "service_user", "send_service_user_token") or "").lower()
        if value != "true":
            return ("Service User Token Configuration", 2,
                    "Service user token configuration is required for all Nova services. "
                    "For more details see the following: https://docs.openstack.org/latest/"
                    "nova/admin/configuration/service-user-token.html")  # fmt: skip
        return "Service User Token Configuration", 0, ""
    if name == "online_migrations":  # placement: Incomplete Consumers
        conn = conns[spec["branches"][spec["online"]["branch"]]["db"]]
        left = 0
        if "lab_online" in base.tables(conn):
            left = int(base.query(conn, "SELECT COUNT(*) FROM lab_online WHERE migrated = 0")[0][0])
        if left:
            details = f"There are {left} incomplete consumers table records for existing "
            return "Incomplete Consumers", 1, details + "allocations. Run online_data_migrations."
        return "Incomplete Consumers", 0, ""
    return name, 0, ""


# --- nova and cinder: service records and RPC pins --------------------------------------


def nova_too_old(spec: Json, conn: Any) -> None:
    """``raise_if_old_compute``: non-deleted, not forced-down computes below the envelope."""
    nova = spec["nova"]
    rows = [r for r in services(conn, "nova-compute") if not r[3]]
    lowest = min((int(r[1]) for r in rows), default=0)
    if 0 < lowest < nova["oldest"]:
        raise Failed(
            "TooOldComputeService: Current Nova version does not support computes older than "
            f"{nova['oldest_name']} but the minimum compute service level in your cell is "
            f"{lowest} and the oldest supported service level is {nova['oldest']}."
        )


def vkey(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


class Pins:
    """RPC pins computed from the ``services`` table, cached until :meth:`reset`."""

    def __init__(self, spec: Json, parser: configparser.ConfigParser, conn: Any) -> None:
        self.spec, self.parser, self.conn = spec, parser, conn
        self.cached: dict[str, str] | None = None

    def current(self) -> dict[str, str]:
        if self.cached is not None:
            return self.cached
        pins, cache = self.compute()
        if cache:
            self.cached = pins
        return pins

    def compute(self) -> tuple[dict[str, str], bool]:
        if "nova" in self.spec:
            nova = self.spec["nova"]
            level = option(self.parser, "upgrade_levels", "compute")
            mine = nova["rpc"][str(nova["version"])]
            if level != "auto":
                return {"compute": level or mine}, True
            versions = [int(r[1]) for r in services(self.conn, "nova-compute") if not r[3]]
            if not versions:  # no computes: the current version, not cached (upstream)
                return {"compute": mine}, False
            low = str(min(*versions, nova["version"]))
            return {"compute": nova["rpc"].get(low, mine)}, True
        cinder, pins, cache = self.spec["cinder"], {}, True
        for binary, mine in cinder["rpc"].items():
            found = [str(r[2]) for r in services(self.conn, binary) if r[2]]
            cache = cache and bool(found)
            pins[binary] = min([*found, mine], key=vkey)
        return pins, cache

    def reset(self) -> None:
        self.cached = None


def register(spec: Json, component: Json, parser: configparser.ConfigParser, conn: Any) -> None:
    """Create or update this service's row (binary, host, version), as Service.create."""
    host = option(parser, "DEFAULT", "host") or socket.gethostname()
    version = spec["nova"]["version"] if "nova" in spec else 0
    rpc = spec["cinder"]["rpc"].get(component["binary"]) if "cinder" in spec else None
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
    found = base.query(
        conn, "SELECT id FROM services WHERE host = %s AND `binary` = %s AND deleted = 0",
        (host, component["binary"]),
    )  # fmt: skip
    if found:
        base.execute(conn, "UPDATE services SET version = %s, rpc_current_version = %s, "
                     "updated_at = %s WHERE id = %s", (version, rpc, now, found[0][0]))  # fmt: skip
    else:
        base.execute(conn, "INSERT INTO services (host, `binary`, version, rpc_current_version, "
                     "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
                     (host, component["binary"], version, rpc, now, now))  # fmt: skip


# --- the long-running services ----------------------------------------------------------


class Service:
    def __init__(self, service: str, component_name: str) -> None:
        self.spec = load(service)
        self.name = f"{service}-{component_name}"
        component = self.spec["components"].get(component_name)
        if component is None:
            raise Failed(f"{service} has no component {component_name!r}")
        self.component: Json = component
        self.pins: Pins | None = None
        self.hups, self.stopping, self.hup_pending = 0, False, False
        self.state_lock = threading.Lock()
        self.server: http.server.ThreadingHTTPServer | None = None

    def state(self) -> Json:
        with self.state_lock:
            pins = self.pins.current() if self.pins else None
        return {
            "service": self.spec["service"], "component": self.name, "pid": os.getpid(),
            "release": self.spec["release"], "version": self.spec["version"],
            "pins": pins, "cached": bool(self.pins and self.pins.cached is not None),
            "hups": self.hups,
        }  # fmt: skip

    def write_state(self) -> None:
        path = here(f"{STATE_DIR}/{self.name}.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(self.state(), handle)
        os.replace(path + ".tmp", path)

    def start(self) -> None:
        spec, component = self.spec, self.component
        log(self.name, "INFO", f"starting {self.name} {spec['version']} ({spec['release']})")
        parser = config(spec)
        if component.get("db"):
            wait = float(spec.get("db_wait", 30))
            conns = {db: connect(spec, parser, db, wait) for db in component["db"]}
            check_schema(spec, conns, self.name)
            main = conns.pop("main")
            for conn in conns.values():
                conn.close()
            if "nova" in spec:
                nova_too_old(spec, main)
            if component.get("binary"):
                register(spec, component, parser, main)
            if component.get("pins"):
                self.pins = Pins(spec, parser, main)
                log(self.name, "INFO", f"RPC pins at start: {self.pins.current()}")
            else:
                main.close()
        if component.get("port"):
            self.listen(parser)
        signal.signal(signal.SIGHUP, lambda *_: setattr(self, "hup_pending", True))
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        self.write_state()
        base.notify("READY=1")

    def listen(self, parser: configparser.ConfigParser) -> None:
        component = self.component
        section, key = component.get("port_option", ["DEFAULT", "bind_port"])
        port = int(option(parser, section, key) or component["port"])
        address = os.environ.get("OPENSTACK_LAB_BIND", "0.0.0.0")
        try:
            server = http.server.ThreadingHTTPServer((address, port), handler_for(self))
        except OSError as exc:
            raise Failed(f"cannot listen on {address}:{port}: {exc}") from exc
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.server = server
        log(self.name, "INFO", f"listening on {address}:{port}")

    def hup(self) -> None:
        self.hups += 1
        if self.pins and self.component.get("hup_resets_pins"):
            with self.state_lock:
                self.pins.reset()
            log(self.name, "INFO", f"SIGHUP: RPC pins reset, now {self.state()['pins']}")
        else:
            log(self.name, "INFO", "SIGHUP: nothing to reset (a restart drops the pins)")
        self.write_state()

    def loop(self) -> None:
        while not self.stopping:
            time.sleep(0.2)
            if self.hup_pending:
                self.hup_pending = False
                self.hup()
            elif self.pins and self.pins.cached is None:
                self.write_state()  # not cached yet (no computes): follow the table
        if self.server is not None:  # stop accepting; the port is free when we exit
            self.server.shutdown()
            self.server.server_close()
        log(self.name, "INFO", "SIGTERM: stopped")


def handler_for(service: Service) -> type[http.server.BaseHTTPRequestHandler]:
    component, spec = service.component, service.spec
    label = f"{service.name}/{spec['version']}"

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def version_string(self) -> str:
            return label  # the Server header: which code answers

        def do_GET(self) -> None:
            path, kind = self.path.split("?", 1)[0], "application/json"
            health = component.get("healthcheck")
            listed = reversed(component["root"]["versions"])  # the first one listed wins
            versions = {v["links"][0]["href"]: v for v in listed}
            if path in ("/", ""):
                status, body = int(component["root_status"]), json.dumps(component["root"])
            elif path in versions or path + "/" in versions:  # GET /v2.1/: one version
                status, body = (
                    200,
                    json.dumps({"version": versions.get(path, versions.get(path + "/"))}),
                )
            elif path == "/healthcheck" and health is not None:
                disabled = os.path.exists(here(health))  # per request, as disable_by_file
                status, body, kind = (503, "DISABLED BY FILE", "text/plain") if disabled else (
                    200, "OK", "text/plain")  # fmt: skip
                if self.command == "HEAD" and not disabled:
                    status = 204
            elif path == "/lab/state":
                status, body = 200, json.dumps(service.state())
            else:
                status, body, kind = 404, "404 Not Found\n", "text/plain"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", "0" if status == 204 else str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and status != 204:
                self.wfile.write(data)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve(service_name: str, component: str) -> None:
    service = Service(service_name, component)
    service.start()
    service.loop()


def main(argv: list[str]) -> int:
    def run() -> int:
        if len(argv) == 3 and argv[0] == "serve":
            serve(argv[1], argv[2])
            return 0
        if len(argv) >= 2 and argv[0] in ("manage", "status"):
            return (manage if argv[0] == "manage" else status)(argv[1], argv[2:])
        raise Failed("usage: modern_standin.py serve SERVICE COMPONENT | "
                     "manage SERVICE ARGS... | status SERVICE upgrade check", 2)  # fmt: skip

    return base.guarded(argv, run)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
