"""Database backup and restore commands: URLs, no password in argv, and the scripts run
for real with sh and SQLite (with the sqlite3 CLI, and with only python3)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from stackstep.drivers import database
from stackstep.drivers.database import DbTarget, parse_url
from stackstep.model.command import Command

ROWS = [(1, "cirros"), (2, "fedora")]


def test_urls():
    mysql = parse_url("mysql+pymysql://glance:p%40ss@db.example:3307/glance?charset=utf8")
    assert mysql == DbTarget("mysql", "glance", "glance", "p@ss", "db.example", 3307)
    assert parse_url("mysql://nova@ctl/nova") == DbTarget("mysql", "nova", "nova", "", "ctl", 3306)
    assert parse_url("sqlite:////var/lib/glance/glance.sqlite") == DbTarget(
        "sqlite", "/var/lib/glance/glance.sqlite"
    )
    assert parse_url("postgresql://u:p@h/db") is None
    assert DbTarget("sqlite", "/x").backup_file("glance") == "glance.sqlite"
    assert database.kind_of_backup("/b/RUN/glance.sql") == "mysql"


def test_mysql_password_goes_on_stdin_only():
    target = parse_url("mysql://keystone:s3cret@ctl/keystone")
    assert target is not None
    for command, stdin in (
        database.backup_command(target, "RUN1", "keystone"),
        database.restore_command(target, "/b/RUN1/keystone.sql"),
    ):
        assert "s3cret" not in " ".join(command.reveal())
        assert stdin is not None and "password=s3cret" in stdin and "user=keystone" in stdin
        assert "--defaults-extra-file=/dev/" in command.render()


def test_written_path():
    assert database.written_path("/srv/b/RUN1/nova.sql\n", "RUN1", "nova.sql") == (
        "/srv/b/RUN1/nova.sql"
    )
    assert database.written_path("", "RUN1", "nova.sql") == (
        "/var/lib/stackstep/backups/RUN1/nova.sql"
    )


def run(
    command: Command, tmp_path: Path, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"STACKSTEP_BACKUP_DIR": str(tmp_path / "backups"), "PATH": path or os.environ["PATH"]}
    argv = [shutil.which("sh") or "/bin/sh", *command.reveal()[1:]]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)


def python_only(tmp_path: Path) -> str:
    """A PATH with python3 and the few tools the scripts use, and no sqlite3."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("mkdir", "rm", "tail", "grep", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
    (bin_dir / "python3").symlink_to(sys.executable)
    return str(bin_dir)


def live_wal_database(path: Path) -> sqlite3.Connection:
    """A WAL database whose rows are still only in the -wal file (no checkpoint yet)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE images (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO images VALUES (?, ?)", ROWS)
    conn.commit()
    return conn


def rows(path: Path) -> list[tuple[int, str]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT id, name FROM images ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("tools", ["sqlite3", "python3"])
def test_sqlite_backup_is_consistent_and_restore_keeps_the_file(tmp_path, tools):
    if tools == "sqlite3" and shutil.which("sqlite3") is None:
        pytest.skip("no sqlite3 CLI here")
    path = python_only(tmp_path) if tools == "python3" else None
    live = tmp_path / "glance.sqlite"
    writer = live_wal_database(live)  # the service still has it open
    target = DbTarget("sqlite", str(live))
    command, stdin = database.backup_command(target, "RUN1", "glance")
    assert stdin is None
    done = run(command, tmp_path, path)
    assert done.returncode == 0, done.stderr
    dump = tmp_path / "backups" / "RUN1" / "glance.sqlite"
    assert done.stdout.strip() == str(dump)
    assert rows(dump) == ROWS  # a copy of the main file alone would have no rows yet
    assert (dump.stat().st_mode & 0o777) == 0o600
    writer.execute("DELETE FROM images")
    writer.execute("CREATE TABLE image_members (id INTEGER)")
    writer.commit()
    writer.close()
    live.chmod(0o640)

    command, _ = database.restore_command(target, str(dump))
    done = run(command, tmp_path, path)
    assert done.returncode == 0, done.stderr
    assert rows(live) == ROWS
    conn = sqlite3.connect(live)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["images"]
    conn.close()
    assert (live.stat().st_mode & 0o777) == 0o640


def test_sqlite_backup_of_a_missing_file_fails_instead_of_creating_one(tmp_path):
    command, _ = database.backup_command(DbTarget("sqlite", str(tmp_path / "no.db")), "R", "g")
    done = run(command, tmp_path)
    assert done.returncode == 1 and "no SQLite database at" in done.stderr
    assert not (tmp_path / "no.db").exists()


def test_restore_refuses_a_missing_or_incomplete_dump(tmp_path):
    target = DbTarget("mysql", "glance", "glance", "pw", "127.0.0.1", 1)
    command, _ = database.restore_command(target, str(tmp_path / "gone.sql"))
    done = run(command, tmp_path)
    assert done.returncode == 1 and "no backup at" in done.stderr
    cut = tmp_path / "cut.sql"
    cut.write_text("CREATE DATABASE glance;\nINSERT INTO images VALUES (1,\n")
    command, _ = database.restore_command(target, str(cut))
    done = run(command, tmp_path)
    assert done.returncode == 1 and "is incomplete" in done.stderr
