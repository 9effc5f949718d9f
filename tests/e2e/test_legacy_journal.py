"""A journal written by the release before journal versions (tests/data/journal-v0) is
still read and resumed: `runs` and `status` show it, and `resume` re-plans from its
request (click's keyword arguments then) to the very same plan and finishes the run."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from fakecloud import FakeCloud
from stackstep_testing import ROOT

DATA = ROOT / "tests" / "data" / "journal-v0"
RUN = "20261205-135146-fca0"
PLAN = "e1a951f262568e58b8ddaccd2926538d1f29803391dc6408bd0706cf031e8a16"
STOP_KEYSTONE = "systemctl stop -- openstack-keystone"


@pytest.fixture
def legacy(fake_cloud: FakeCloud) -> FakeCloud:
    """The fake cloud with the journal's catalog, and a copy of the journal whose request
    names this cloud's inventory and catalog (the journal keeps absolute paths)."""
    shutil.copyfile(DATA / "series.toml", fake_cloud.catalog)
    fake_cloud.state.mkdir(mode=0o700)
    journal = fake_cloud.state / "journal.sqlite"
    shutil.copyfile(DATA / "journal.sqlite", journal)
    db = sqlite3.connect(journal)
    try:
        (request,) = db.execute("SELECT request_json FROM runs").fetchone()
        kw = json.loads(request)
        assert "version" not in kw and kw["no_backup"] is True  # click's kwargs, as written
        kw["inventory"], kw["catalog_files"] = str(fake_cloud.inventory), [str(fake_cloud.catalog)]
        db.execute("UPDATE runs SET request_json=?", (json.dumps(kw),))
        db.commit()
    finally:
        db.close()
    return fake_cloud


def test_runs_and_status_read_the_old_journal(legacy):
    runs = legacy.stackstep("runs", "--state-dir", str(legacy.state), "--json")
    assert runs.returncode == 0, runs.stderr
    assert [(r["id"], r["status"], r["plan_hash"]) for r in json.loads(runs.stdout)] == [
        (RUN, "running", PLAN)
    ]
    status = legacy.stackstep("status", "--state-dir", str(legacy.state), "--json")
    assert status.returncode == 0, status.stderr
    body = json.loads(status.stdout)
    assert body["running"] == ["services/keystone/ctl/stop-units"]
    assert body["counts"] == {"done": 9, "pending": 17, "running": 1}
    assert body["resume"] == f"stackstep resume {RUN} --state-dir {legacy.state}"


def test_resume_finishes_the_old_run_after_a_replan(legacy):
    # this release plans the outage's package transaction from the prefetched cache
    # (yum -C): the old request re-plans to a plan that differs in that command only, so
    # resume refuses and names --replan, which keeps the old run's finished steps
    refused = legacy.stackstep("resume", "--state-dir", str(legacy.state))
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert f"the plan for run {RUN} has changed since it started ({PLAN[:12]} ->" in (
        refused.stderr
    )
    assert "--replan" in refused.stderr
    done = legacy.stackstep("resume", "--state-dir", str(legacy.state), "--replan")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"resuming run {RUN} (fake, plan" in done.stdout
    assert set(legacy.step_states().values()) == {"done"}
    # the request's --only keystone,glance: nova is not upgraded
    assert legacy.count("ctl", STOP_KEYSTONE) == 1  # probed: still running here, so repeated
    assert "yum -y -C upgrade -- *glance*" in legacy.calls("ctl")
    assert not [c for c in legacy.calls("ctl") if "nova" in c]
    # the finished steps of the old run were not repeated
    assert not [c for c in legacy.calls("ctl") if c.startswith("yum install -y rdo-release")]


def test_the_data_is_the_old_format(tmp_path: Path):
    copy = tmp_path / "journal.sqlite"
    shutil.copyfile(DATA / "journal.sqlite", copy)
    db = sqlite3.connect(copy)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (0,)
    finally:
        db.close()


def test_a_new_run_journals_its_request_as_versioned_data(fake_cloud):
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes", "--only", "keystone"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    db = sqlite3.connect(fake_cloud.state / "journal.sqlite")
    try:
        (request,) = db.execute("SELECT request_json FROM runs").fetchone()
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
    finally:
        db.close()
    stored = json.loads(request)
    assert stored["version"] == 1
    assert stored["inventory"] == str(fake_cloud.inventory.resolve())
    assert stored["catalog_files"] == [str(fake_cloud.catalog.resolve())]
    assert (stored["only"], stored["backup"], stored["prefetch"]) == (["keystone"], False, True)
