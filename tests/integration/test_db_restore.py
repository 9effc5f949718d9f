"""MySQL backup and restore against a real MariaDB: a throwaway server in a temp datadir
(grant tables on, so the password really is checked), a service user whose password
has a ``#``, a quote and a backslash, the engine's backup and restore run through the
local transport. The restore drops what a failed migration added and brings rows back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from stackstep.engine.backup import backup_database, restore_database
from stackstep.model.inventory import Host
from stackstep.model.params import BackupParams
from stackstep.model.plan import Step, StepKind
from stackstep.transport.base import TransportOptions
from stackstep.transport.local import LocalTransport

SERVERS = ("/usr/sbin/mariadbd", "/usr/sbin/mysqld")
PASSWORD = 'g#l"an\\ce'


class Server:
    def __init__(self, work: Path, port: int) -> None:
        self.work, self.port = work, port

    def run(self, statement: str) -> subprocess.CompletedProcess[str]:
        argv = ["mariadb", "--no-defaults", f"--socket={self.work / 'sock'}", "-uroot", "-N"]
        return subprocess.run([*argv, "-e", statement], capture_output=True, text=True, check=False)

    def sql(self, statement: str) -> str:
        done = self.run(statement)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = next((p for p in SERVERS if Path(p).exists()), None)
    if binary is None or not shutil.which("mariadb-install-db") or not shutil.which("mariadb"):
        pytest.skip("needs mariadb-server (apt-get install mariadb-server)")
    work = tmp_path_factory.mktemp("mariadb")
    user = ["--user=root"] if os.geteuid() == 0 else []
    data = f"--datadir={work / 'data'}"
    install = ["mariadb-install-db", "--no-defaults", data, *user, "--skip-test-db"]
    subprocess.run(install, capture_output=True, check=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = [f"--socket={work / 'sock'}", f"--port={port}", "--bind-address=127.0.0.1"]
    logs = [f"--log-error={work / 'err.log'}", f"--pid-file={work / 'pid'}"]
    proc = subprocess.Popen([binary, "--no-defaults", *user, data, *options, *logs])
    db = Server(work, port)
    deadline = time.monotonic() + 30
    while not (work / "sock").exists() or db.run("SELECT 1").returncode:
        assert proc.poll() is None and time.monotonic() < deadline, (work / "err.log").read_text()
        time.sleep(0.2)
    try:
        yield db
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_backup_then_restore_after_a_failed_migration(server: Server, tmp_path: Path):
    pw = PASSWORD.replace("\\", "\\\\").replace('"', '\\"')
    server.sql(
        "CREATE DATABASE glance; CREATE TABLE glance.images (id INT PRIMARY KEY, name TEXT);"
        "INSERT INTO glance.images VALUES (1, 'cirros'), (2, 'fedora');"
        f"CREATE USER 'glance'@'127.0.0.1' IDENTIFIED BY \"{pw}\";"
        "GRANT ALL ON glance.* TO 'glance'@'127.0.0.1'"
    )
    url = f"mysql+pymysql://glance:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/glance"
    conf = tmp_path / "glance-api.conf"
    conf.write_text(f"[database]\nconnection = {url}\n")
    data = {"config": str(conf), "section": "database", "key": "connection", "database": "glance"}
    step = Step(
        "services/glance/ctl/backup-db",
        StepKind.BACKUP_DB,
        "t",
        "ctl",
        "glance",
        params=BackupParams.from_json(data),
    )
    env = {"STACKSTEP_BACKUP_DIR": str(tmp_path / "backups")}
    host = Host("ctl", "127.0.0.1", transport="local", env=env)
    transport = LocalTransport(host, TransportOptions())
    commands: list[str] = []

    def seen(step: Step, result: object) -> None:
        commands.append(str(getattr(result, "command", "")))

    path, _ = asyncio.run(backup_database(step, transport, "RUN1", seen))
    assert path == str(tmp_path / "backups" / "RUN1" / "glance.sql")
    assert "-- Dump completed" in Path(path).read_text()
    server.sql(
        "DELETE FROM glance.images WHERE id = 1; UPDATE glance.images SET name = 'x';"
        "CREATE TABLE glance.image_members (id INT)"
    )
    restored = asyncio.run(restore_database(step, transport, path, seen))
    assert restored == f"restored glance from {path}"
    assert server.sql("SELECT id, name FROM glance.images ORDER BY id") == "1\tcirros\n2\tfedora"
    assert server.sql("SHOW TABLES FROM glance") == "images"
    assert not any("g#l" in c or "an\\ce" in c for c in commands)
