"""One process at a time carries a run out: while `stackstep upgrade` is live (paused in a
step on the fake cloud), a second `resume`, `restore`, `reboot` or `configs` action on that
run, or a second `upgrade` of the same cloud, is refused (exit 4, naming the run, the pid
and the command) and changes nothing. Once the first process is SIGKILLed, the kernel has
released its lock: `status` says the run's process is gone and `resume` takes the run and
goes on (to its end: test_run_and_resume.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from fakecloud import FakeCloud
from stackstep.engine.runlock import holder

STOP_KEYSTONE = "systemctl stop -- openstack-keystone"  # where the upgrade pauses
START_KEYSTONE = "systemctl start -- openstack-keystone"  # where the resume pauses


def journal_rows(state: Path) -> tuple[list[tuple[object, ...]], ...]:
    db = sqlite3.connect(state / "journal.sqlite")
    try:
        return (
            db.execute("SELECT * FROM runs ORDER BY id").fetchall(),
            db.execute("SELECT * FROM steps ORDER BY run_id, step_id").fetchall(),
            db.execute("SELECT * FROM events ORDER BY id").fetchall(),
            db.execute("SELECT * FROM probe_sessions ORDER BY id").fetchall(),
        )
    finally:
        db.close()


def together(cloud: FakeCloud, *commands: list[str]) -> list[tuple[int, str]]:
    """Run stackstep commands at the same time (exit status, stdout and stderr)."""
    procs = [cloud.start(*args) for args in commands]
    return [(p.wait(timeout=60), p.communicate()[0]) for p in procs]


def test_a_live_run_refuses_a_second_process_and_a_killed_one_resumes(fake_cloud: FakeCloud):
    state = ["--state-dir", str(fake_cloud.state)]
    (fake_cloud.host("ctl") / "pause").write_text(STOP_KEYSTONE)
    proc = fake_cloud.start("upgrade", *fake_cloud.args("--yes"))
    fake_cloud.wait_paused("ctl", proc)
    before = journal_rows(fake_cloud.state)
    ((run_id, *_),) = before[0]
    calls = {h: fake_cloud.calls(h) for h in ("ctl", "cmp1", "cmp2")}

    *second, again, live, live_json, listed = together(
        fake_cloud,
        ["resume", run_id, *state, "--yes"],
        ["restore", run_id, "glance", *state, "--yes"],
        ["reboot", run_id, *state, "--yes"],
        ["configs", run_id, "keep", "/etc/nova/nova.conf", "--host", "ctl", *state, "--yes"],
        ["upgrade", *fake_cloud.args("--yes")],
        ["status", *state],
        ["status", *state, "--json"],
        ["runs", *state],
    )
    assert f"live: `stackstep upgrade` (pid {proc.pid})" in listed[1]
    for code, out in second:
        assert code == 4, out
        assert f"run {run_id} is being carried out by `stackstep upgrade` (pid {proc.pid})" in out
        assert f"kill {proc.pid}; then `stackstep resume {run_id}" in out
    assert again[0] == 4, again[1]
    assert f"a run of cloud fake is live: run {run_id}" in again[1]
    assert f"(pid {proc.pid})" in again[1]
    assert journal_rows(fake_cloud.state) == before
    assert {h: fake_cloud.calls(h) for h in calls} == calls

    assert f"running now: `stackstep upgrade` (pid {proc.pid})" in live[1]
    body = json.loads(live_json[1])
    assert (body["status"], body["live"], body["gone"]) == ("running", True, False)
    assert body["holder"]["pid"] == proc.pid and body["holder"]["command"] == "upgrade"

    fake_cloud.kill(proc)
    dead, dead_json, listed, listed_json = together(
        fake_cloud,
        ["status", *state],
        ["status", *state, "--json"],
        ["runs", *state],
        ["runs", *state, "--json"],
    )
    assert f"its process (pid {proc.pid}) is gone: stackstep resume {run_id}" in listed[1]
    assert [(r["id"], r["live"], r["gone"]) for r in json.loads(listed_json[1])] == [
        (run_id, False, True)
    ]
    assert f"!! interrupted: its process (pid {proc.pid}) is gone" in dead[1]
    assert f"to go on: stackstep resume {run_id} --state-dir {fake_cloud.state}" in dead[1]
    body = json.loads(dead_json[1])
    assert (body["status"], body["live"], body["gone"], body["holder"]) == (
        "running",
        False,
        True,
        None,
    )
    assert body["pid"] == proc.pid

    # the kernel released the lock with the process: resume takes it and goes on
    (fake_cloud.host("ctl") / "paused").unlink()
    (fake_cloud.host("ctl") / "pause").write_text(START_KEYSTONE)
    resumed = fake_cloud.start("resume", *state)
    fake_cloud.wait_paused("ctl", resumed)
    found = holder(fake_cloud.state, run_id)
    assert found is not None and (found.pid, found.command) == (resumed.pid, "resume")
    assert fake_cloud.step_states()["services/keystone/ctl/stop-units"] == "done"
    assert fake_cloud.count("ctl", STOP_KEYSTONE) == 1
    fake_cloud.kill(resumed)
