"""`stackstep restore RUN SERVICE` on the fake cloud: glance's migration fails, its real
SQLite database is damaged afterwards (as a half-done migration would leave it), and the
restore stops glance, puts its packages back (the fake yum keeps versions), restores
the database from the run's backup, starts glance and verifies it; `resume` then
upgrades glance anew."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from fakecloud import FakeCloud

OLD = {
    "openstack-glance": "2013.1-1.el6",
    "python-glance": "2013.1-1.el6",
    "python-glanceclient": "1:0.9.0-1.el6",
    "openstack-keystone": "2013.1-1.el6",
}
NEW = {
    "openstack-glance": "2013.2-1.el6",
    "python-glance": "2013.2-1.el6",
    "python-glanceclient": "1:0.12.0-1.el6",
    "openstack-keystone": "2013.2-1.el6",
}
ROWS = [("a", "cirros"), ("b", "fedora"), ("c", "ubuntu")]
DOWNGRADE = (
    "yum -y downgrade -- openstack-glance-2013.1-1.el6 python-glance-2013.1-1.el6 "
    "python-glanceclient-1:0.9.0-1.el6"
)


def run_id_of(text: str) -> str:
    found = re.search(r"run (\d{8}-\d{6}-[0-9a-f]{4})", text)
    assert found, text
    return found.group(1)


def versions(cloud: FakeCloud) -> dict[str, str]:
    text = (cloud.host("ctl") / "packages").read_text()
    return dict(line.split(None, 1) for line in text.splitlines())


def rows(db: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT id, name FROM images ORDER BY id").fetchall()
    finally:
        conn.close()


def tables(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


@pytest.fixture
def cloud(fake_cloud: FakeCloud, tmp_path: Path) -> FakeCloud:
    """glance with a real SQLite database, backups under tmp_path/backups, and package
    versions on ctl that the fake yum upgrades and downgrades."""
    ctl = fake_cloud.host("ctl")
    db = ctl / "glance.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE images (id TEXT PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO images VALUES (?, ?)", ROWS)
    conn.commit()
    conn.close()
    conf = ctl / "glance-api.conf"
    conf.write_text(f"[database]\nconnection = sqlite:///{db}\n")
    glance = 'packages = { rpm = ["*glance*"], deb = ["glance"] }\n'
    database = f'database = {{ config = "{conf}", section = "database", key = "connection", '
    fake_cloud.catalog.write_text(
        fake_cloud.catalog.read_text().replace(glance, glance + database + 'name = "glance" }\n')
    )
    backups = tmp_path / "backups"
    fake_cloud.inventory.write_text(
        fake_cloud.inventory.read_text().replace(
            "FAKE_ROOT: '", f"STACKSTEP_BACKUP_DIR: '{backups}', FAKE_ROOT: '"
        )
    )
    (ctl / "packages").write_text("".join(f"{n} {v}\n" for n, v in OLD.items()))
    (ctl / "upgrades").write_text("".join(f"{n} {v}\n" for n, v in NEW.items()))
    return fake_cloud


def failed_glance_run(cloud: FakeCloud, fail: str = "glance-manage db_sync") -> str:
    (cloud.host("ctl") / "fail").write_text(fail)
    args = [a for a in cloud.args("--yes") if a != "--no-backup"]
    proc = cloud.stackstep("upgrade", *args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (cloud.host("ctl") / "fail").unlink()
    return run_id_of(proc.stdout)


def restore(cloud: FakeCloud, run_id: str, *extra: str) -> tuple[int, str, str]:
    proc = cloud.stackstep("restore", run_id, "glance", "--state-dir", str(cloud.state), *extra)
    return proc.returncode, proc.stdout, proc.stderr


def damage(db: Path) -> None:
    """What a migration that died half-way leaves: rows changed, a new table."""
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM images WHERE id = 'b'")
    conn.execute("UPDATE images SET name = 'changed'")
    conn.execute("CREATE TABLE image_members (id INTEGER)")
    conn.commit()
    conn.close()


def test_a_failed_migration_is_rolled_back_then_resumed(cloud: FakeCloud, tmp_path: Path):
    run_id = failed_glance_run(cloud)
    db = cloud.host("ctl") / "glance.sqlite"
    backup = tmp_path / "backups" / run_id / "glance.sqlite"
    assert rows(backup) == ROWS
    assert (backup.stat().st_mode & 0o777) == 0o600
    assert versions(cloud) == NEW
    damage(db)
    before = len(cloud.calls("ctl"))

    code, out, err = restore(cloud, run_id, "--yes")
    assert code == 0, out + err
    assert f"Restore glance to where run {run_id} found it (the run is failed)" in out
    assert "openstack-glance 2013.1-1.el6, python-glance 2013.1-1.el6" in out
    assert f"from {backup} (SQLite): what it holds now is REPLACED" in out
    calls = cloud.calls("ctl")[before:]
    expected = [
        "systemctl stop -- openstack-glance-api",
        DOWNGRADE,
        "systemctl start -- openstack-glance-api",
        "systemctl is-active -- openstack-glance-api",
    ]
    assert [calls.index(c) for c in expected] == sorted(calls.index(c) for c in expected)
    assert versions(cloud) == {**OLD, "openstack-keystone": NEW["openstack-keystone"]}
    assert rows(db) == ROWS and tables(db) == {"images"}
    assert f"glance restored from ctl:{backup}, started and verified" in out
    assert f"run {run_id} is halted" in out

    status = cloud.stackstep("status", run_id, "--state-dir", str(cloud.state), "--json")
    body = json.loads(status.stdout)
    assert body["status"] == "halted" and body["failed"] == []
    assert body["restores"][0]["restored"] is True
    states = cloud.step_states()
    assert states["services/glance/ctl/migrate-db"] == "pending"
    assert states["services/glance/ctl/backup-db"] == "done"
    assert states["services/keystone/ctl/migrate-db"] == "done"
    text = cloud.stackstep("status", run_id, "--state-dir", str(cloud.state)).stdout
    assert f"glance restored from ctl:{backup}" in text
    log = (cloud.state / "runs" / run_id / "run.log").read_text()
    assert "restore-finished" in log and DOWNGRADE in log

    resumed = cloud.stackstep("resume", run_id, "--state-dir", str(cloud.state))
    assert resumed.returncode == 0, resumed.stdout
    assert cloud.count("ctl", "runuser -u glance -- glance-manage db_sync") == 2
    assert versions(cloud) == NEW


def test_a_restore_that_fails_midway_says_the_state_and_runs_again(cloud: FakeCloud):
    run_id = failed_glance_run(cloud)
    (cloud.host("ctl") / "fail").write_text("yum -y downgrade")
    code, out, err = restore(cloud, run_id, "--yes")
    assert code == 1, out + err
    assert f"restore of glance (run {run_id}) at 'put packages back' failed:" in err
    assert "step restore/glance/ctl/downgrade-packages on ctl failed" in err
    assert "still in an enabled repository" in err
    assert "the last line of output says why" in err
    assert "units: STOPPED on ctl" in err
    assert "database: as the run left it" in err
    assert f"stackstep restore {run_id} glance --state-dir" in err
    assert "Traceback" not in err
    status = cloud.stackstep("status", run_id, "--state-dir", str(cloud.state)).stdout
    assert "restore of glance FAILED at 'put packages back'" in status
    assert "units: STOPPED on ctl" in status
    assert f"to go on: stackstep restore {run_id} glance --state-dir" in status

    (cloud.host("ctl") / "fail").unlink()
    code, out, err = restore(cloud, run_id, "--yes", "--json")
    assert code == 0, out + err
    assert json.loads(out)["status"] == "restored"
    assert versions(cloud)["openstack-glance"] == OLD["openstack-glance"]


def test_refused_without_a_backup(cloud: FakeCloud):
    (cloud.host("ctl") / "fail").write_text("glance-manage db_sync")
    proc = cloud.stackstep("upgrade", *cloud.args("--yes"))
    assert proc.returncode == 1
    assert "--no-backup: NO database backups will be taken" in proc.stdout
    run_id = run_id_of(proc.stdout)
    before = len(cloud.calls("ctl"))
    code, out, err = restore(cloud, run_id, "--yes")
    assert code == 4, out + err
    assert f"run {run_id} took no backup of glance: it ran with --no-backup" in err
    assert "hint: restore its database by hand" in err
    assert cloud.calls("ctl")[before:] == []


def test_refused_when_the_run_had_not_reached_the_backup(cloud: FakeCloud):
    # the backup runs beside the package upgrade: a run that stopped before it failed to
    # stop the service
    run_id = failed_glance_run(cloud, fail="systemctl stop -- openstack-glance")
    code, _, err = restore(cloud, run_id, "--yes", "--json")
    assert code == 4
    assert "its step services/glance/ctl/backup-db is pending" in err
    assert "database was not changed" in err


def test_no_terminal_and_no_yes_refuses_and_changes_nothing(cloud: FakeCloud):
    run_id = failed_glance_run(cloud)
    before = len(cloud.calls("ctl"))
    code, out, err = restore(cloud, run_id)
    assert code == 2
    assert "Restore glance to where run" in out and "rerun with --yes" in err
    assert cloud.calls("ctl")[before:] == []
    unknown = cloud.stackstep("restore", run_id, "horizon", "--state-dir", str(cloud.state))
    assert unknown.returncode == 2
    assert "did not upgrade 'horizon'" in unknown.stderr and "keystone, glance" in unknown.stderr
