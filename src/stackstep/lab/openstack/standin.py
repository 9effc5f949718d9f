#!/usr/bin/python3
"""Stand-in OpenStack service for the stackstep lab (Grizzly 2013.1 / Havana 2013.2).

Runs on the lab hosts (python3 + python3-pymysql, nothing else). What a service is comes
from ``/usr/share/openstack-lab/SERVICE.json``, written by its package: release, schema
(sqlalchemy-migrate versions or alembic revisions, as real DDL), components and probes.

    standin.py serve SERVICE COMPONENT   systemd's ExecStart (Type=notify)
    standin.py manage SERVICE ARGS...    keystone-manage, nova-manage, neutron-db-manage...

It breaks like the real thing: a component refuses to start on a DB schema not its code's;
Grizzly nova-compute dies when python-glanceclient changes under it; Havana horizon needs
ALLOWED_HOSTS; Grizzly keystone-manage has no token_flush; neutron-db-manage cannot upgrade
an unstamped quantum DB. Data is never dropped. ``OPENSTACK_LAB_ROOT`` prefixes every
absolute path (tests run it off-host); ``OPENSTACK_LAB_BIND`` replaces 0.0.0.0.
"""

from __future__ import annotations

import configparser
import datetime
import http.server
import importlib
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

SHARE = "/usr/share/openstack-lab"
Json = dict[str, Any]


class Cursor(Protocol):
    def execute(self, query: str, args: object = None) -> int: ...
    def fetchall(self) -> tuple[tuple[Any, ...], ...]: ...


class Connection(Protocol):
    def cursor(self) -> Cursor: ...
    def begin(self) -> None: ...
    def commit(self) -> None: ...
    def close(self) -> None: ...


class Failed(Exception):
    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def here(path: str) -> str:
    root = os.environ.get("OPENSTACK_LAB_ROOT", "")
    return root.rstrip("/") + path if root and path.startswith("/") else path


def log(name: str, level: str, message: str) -> None:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    for line in message.splitlines() or [""]:
        sys.stderr.write(f"{stamp} {os.getpid()} {level} {name} [-] {line}\n")
    sys.stderr.flush()


def out(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def read_text(path: str) -> str | None:
    try:
        with open(here(path), encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def load(service: str) -> Json:
    text = read_text(f"{SHARE}/{service}.json")
    if text is None:
        raise Failed(f"{service} is not installed here (no {SHARE}/{service}.json)")
    return dict(json.loads(text))


# --- configuration and database -------------------------------------------------------


def database_url(spec: Json, files: list[str] | None = None) -> str:
    """The DB URL from the config files (oslo.config style: the last file wins)."""
    db = spec["database"]
    files = files or [db["config"]]
    missing = [f for f in files if read_text(f) is None]
    if missing:
        raise Failed(f"ConfigFilesNotFoundError: Failed to read some config files: {missing}")
    url = None
    for name in files:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(read_text(name) or "")
        for section in (db["section"], db["section"].lower(), db["section"].upper()):
            for key in (db["key"], *db.get("aliases", [])):
                if parser.has_option(section, key):
                    url = parser.get(section, key).strip()
    if not url:
        raise Failed(f"no [{db['section']}] {db['key']} in {', '.join(files)}")
    return url


def masked(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":XXXXX@", 1) if parts.password else url


def connect(url: str, wait: float = 0.0) -> Connection:
    parts = urlsplit(url)
    if not parts.scheme.startswith("mysql"):
        raise Failed(f"unsupported database URL {masked(url)} (the lab uses mysql+pymysql)")
    try:
        pymysql: Any = importlib.import_module("pymysql")
    except ImportError as exc:
        raise Failed("ImportError: No module named pymysql (install python3-pymysql)") from exc
    options = {
        "host": parts.hostname or "localhost",
        "port": parts.port or 3306,
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "database": parts.path.lstrip("/"),
        "autocommit": True,
        "connect_timeout": 5,
    }
    deadline = time.monotonic() + wait
    while True:
        try:
            connection: Connection = pymysql.connect(**options)
            return connection
        except pymysql.err.MySQLError as exc:
            if time.monotonic() >= deadline:
                raise Failed(f"OperationalError: cannot connect to {masked(url)}: {exc}") from exc
            time.sleep(1.0)


def query(conn: Connection, sql: str, args: object = None) -> list[tuple[Any, ...]]:
    cursor = conn.cursor()
    cursor.execute(sql, args)
    return list(cursor.fetchall())


def execute(conn: Connection, sql: str, args: object = None) -> int:
    return conn.cursor().execute(sql, args)


def tables(conn: Connection) -> set[str]:
    return {str(row[0]) for row in query(conn, "SHOW TABLES")}


def current(spec: Json, conn: Connection) -> str | None:
    """The schema version in the DB: migrate_version.version or alembic_version."""
    kind = spec["schema"]["kind"]
    table = "migrate_version" if kind == "migrate" else "alembic_version"
    if table not in tables(conn):
        return None
    column = "version" if kind == "migrate" else "version_num"
    rows = query(conn, f"SELECT {column} FROM {table}")
    return str(rows[0][0]) if rows else None


def run_step(conn: Connection, statements: list[Any]) -> None:
    """Run one migration: SQL strings, or a per-row data migration (a dict)."""
    for statement in statements:
        if isinstance(statement, str):
            execute(conn, statement)
            continue
        conn.begin()  # {"each": SELECT id, json, "json_path": [...], "set": UPDATE ... %s %s}
        for key, text in query(conn, statement["each"]):
            value: Any
            try:
                value = json.loads(text or "null")
                for step in statement["json_path"]:
                    value = value.get(step) if isinstance(value, dict) else None
            except ValueError:
                value = None
            execute(conn, statement["set"], (None if value is None else str(value), key))
        conn.commit()


# --- sqlalchemy-migrate and alembic ---------------------------------------------------


def migrate_sync(spec: Json, conn: Connection) -> None:
    schema, head = spec["schema"], int(spec["schema"]["head"])
    if current(spec, conn) is None:
        query(
            conn,
            "CREATE TABLE IF NOT EXISTS migrate_version (repository_id VARCHAR(250) "
            "NOT NULL PRIMARY KEY, repository_path TEXT, version INT)",
        )
        query(
            conn,
            "INSERT IGNORE INTO migrate_version VALUES (%s, %s, 0)",
            (schema["repository"], schema["path"]),
        )
    have = int(current(spec, conn) or 0)
    if have > head:
        raise Failed(
            f"database version {have} is newer than this code ({head}): "
            "cannot downgrade with db sync"
        )
    for version, statements in schema["steps"]:
        if have < version <= head:
            run_step(conn, statements)
            execute(conn, "UPDATE migrate_version SET version = %s", (version,))
            out(f"{have} -> {version}... done")
            have = version
    query(conn, "UPDATE migrate_version SET version = %s", (head,))


def chain(spec: Json) -> list[str]:
    return [revision for revision, _, _ in spec["schema"]["revisions"]]


def known(spec: Json, revision: str) -> str:
    revision = spec["schema"]["head"] if revision == "head" else revision
    if revision not in chain(spec):
        raise Failed(f"Can't locate revision identified by '{revision}'")
    return revision


def stamp(conn: Connection, revision: str) -> None:
    query(conn, "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)")
    query(conn, "DELETE FROM alembic_version")
    query(conn, "INSERT INTO alembic_version VALUES (%s)", (revision,))


def alembic_upgrade(spec: Json, conn: Connection, target: str) -> None:
    target, names = known(spec, target), chain(spec)
    have = current(spec, conn)
    if have is None and (marker := spec["schema"]["marker"]) in tables(conn):
        out(f"INFO  [alembic.migration] Running upgrade None -> {names[0]}")
        raise Failed(
            f"sqlalchemy.exc.OperationalError: (OperationalError) (1050, \"Table '{marker}' "
            'already exists")\nthe database is not stamped: alembic assumes an empty one; '
            "stamp it with the release it runs (quantum-db-manage ... stamp grizzly) first"
        )
    start = 0 if have is None else names.index(known(spec, have)) + 1
    for revision, down, statements in spec["schema"]["revisions"][start : names.index(target) + 1]:
        out(f"INFO  [alembic.migration] Running upgrade {down} -> {revision}")
        run_step(conn, statements)
        stamp(conn, revision)


# --- the CLIs -------------------------------------------------------------------------


def manage(service: str, argv: list[str]) -> None:
    spec = load(service)
    cli, files, words = spec["cli"], [], list(argv)
    while words and words[0].startswith("--config-file"):
        option = words.pop(0)
        files.append(option.split("=", 1)[1] if "=" in option else words.pop(0))
    commands: dict[str, str] = spec["commands"]
    matched = next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in commands), "")
    if not matched:
        choices = ", ".join(f"'{c}'" for c in commands)
        raise Failed(
            f"usage: {cli} [--config-file FILE] COMMAND\n{cli}: error: unknown command "
            f"{' '.join(words) or '(none)'} (choose from {choices})",
            2,
        )
    action, args = commands[matched], words[len(matched.split()) :]
    url = database_url(spec, files or None)
    conn = connect(url)
    try:
        if action == "sync":
            migrate_sync(spec, conn)
        elif action == "version":
            version = current(spec, conn)
            if version is None:
                raise Failed("DatabaseNotControlledError: database is not under version control")
            out(version)
        elif action == "token_flush":
            count = execute(conn, "DELETE FROM token WHERE expires < UTC_TIMESTAMP()")
            log(cli, "INFO", f"{count} expired tokens flushed")
        elif action == "current":
            out(f"Current revision for {masked(url)}: {current(spec, conn)}")
        elif not args:
            raise Failed(f"{cli}: error: {action} needs a revision", 2)
        elif action == "stamp":
            stamp(conn, known(spec, args[0]))
        else:
            alembic_upgrade(spec, conn, args[0])
    finally:
        conn.close()


# --- the long-running services --------------------------------------------------------


def notify(message: str) -> None:
    """sd_notify(3): tell systemd (Type=notify) that we are ready."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    target = "\0" + address[1:] if address.startswith("@") else address
    if target:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), target)


def check_schema(spec: Json, name: str) -> None:
    conn = connect(database_url(spec), wait=float(spec.get("db_wait", 30)))
    try:
        schema = spec["schema"]
        if schema.get("autocreate"):  # Grizzly quantum-server: create_all(), never stamps
            for _, _, statements in schema["revisions"]:
                run_step(conn, statements)
            return
        have, head = current(spec, conn), str(schema["head"])
        if have != head:
            raise Failed(
                f"schema version {have or 'none (empty database)'} does not match "
                f"code version {head}: run {spec['sync']}"
            )
        log(name, "INFO", f"database schema at version {have}")
    finally:
        conn.close()


def check_files(component: Json) -> None:
    """Settings the code cannot run without (Django's ALLOWED_HOSTS, importable plugins)."""
    for check in component.get("checks", []):
        text = read_text(check["file"])
        if text is None:
            raise Failed(f"cannot read {check['file']}")
        found = re.search(check["pattern"], text, re.MULTILINE) is not None
        if found != check["present"]:
            raise Failed(f"{check['error']} ({check['file']})")


def handler_for(component: Json, label: str) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def version_string(self) -> str:
            return label  # the Server header, e.g. nova-api/2013.1: which code answers

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            wanted = component["path"]
            if path in (wanted, wanted.rstrip("/") + "/"):
                status, body = int(component["status"]), str(component["body"]).encode()
                kind = component.get("type", "application/json")
            else:
                status, body, kind = 404, b"404 Not Found\n", "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def serve(service: str, component_name: str) -> None:
    spec = load(service)
    name = f"{service}-{component_name}"
    component = spec["components"].get(component_name)
    if component is None:
        raise Failed(f"{service} has no component {component_name!r}")
    log(name, "INFO", f"starting {name} {spec['version']} ({spec['release']})")
    check_files(component)
    if component.get("db"):
        check_schema(spec, name)
    watched = component.get("watch")
    seen = read_text(watched) if watched else None
    if component.get("port"):
        address = os.environ.get("OPENSTACK_LAB_BIND", "0.0.0.0")
        httpd = http.server.ThreadingHTTPServer(
            (address, int(component["port"])), handler_for(component, f"{name}/{spec['version']}")
        )
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        log(name, "INFO", f"listening on {address}:{component['port']}")
    notify("READY=1")
    while True:
        time.sleep(1.0)
        if watched and read_text(watched) != seen:
            if component.get("breaks_on_change"):
                raise Failed(component["breaks_on_change"])
            log(name, "INFO", f"{watched} changed; the new library loads at the next restart")
            seen = read_text(watched)


def main(argv: list[str]) -> int:
    def run() -> int:
        if len(argv) == 3 and argv[0] == "serve":
            serve(argv[1], argv[2])
        elif len(argv) >= 2 and argv[0] == "manage":
            manage(argv[1], argv[2:])
        else:
            raise Failed("usage: standin.py serve SERVICE COMPONENT | manage SERVICE ARGS...", 2)
        return 0

    return guarded(argv, run)


def guarded(argv: list[str], run: Callable[[], int]) -> int:
    """``run()``'s exit status; a Failed is logged (``serve``) or printed, exit its status."""
    try:
        return run()
    except Failed as failed:
        if argv[:1] == ["serve"]:
            log("-".join(argv[1:3]), "CRITICAL", failed.message)
        else:
            sys.stderr.write(failed.message + "\n")
        return failed.status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
