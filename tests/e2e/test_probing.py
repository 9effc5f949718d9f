"""Every run is watched by the availability prober (issue 13): `upgrade` and `resume`
each leave a probe session in the journal with what the APIs answered, and `--no-probe`
leaves none. The fake cloud's APIs are one real HTTP server on 127.0.0.1."""

from __future__ import annotations

from stackstep.engine.journal import Journal
from stackstep.model.availability import ProbeTarget

STOP_KEYSTONE = "systemctl stop -- openstack-keystone"


def _sessions(fake_cloud):
    journal = Journal(fake_cloud.state)
    try:
        return journal.probe_sessions(journal.run(None).id)
    finally:
        journal.close()


def test_an_upgrade_probes_every_verified_api_and_journals_what_it_saw(fake_cloud):
    done = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes", "--probe-interval", "0.1"))
    assert done.returncode == 0, done.stdout + done.stderr
    (session,) = _sessions(fake_cloud)
    assert (session.command, session.interval) == ("upgrade", 0.1)
    assert session.ended is not None and session.ended > session.started
    first = {t.target: t for t in session.transitions}
    assert ProbeTarget("keystone", host="ctl") in first
    assert all(t.up for t in first.values()), [t.detail for t in first.values()]
    assert all("-> 200" in t.detail for t in first.values())


def test_no_probe_leaves_no_session(fake_cloud):
    done = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes", "--no-probe"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _sessions(fake_cloud) == []


def test_a_killed_upgrade_and_its_resume_are_two_sessions(fake_cloud):
    (fake_cloud.host("ctl") / "pause").write_text(STOP_KEYSTONE)
    proc = fake_cloud.start("upgrade", *fake_cloud.args("--yes"))
    fake_cloud.wait_paused("ctl", proc)
    fake_cloud.kill(proc)
    done = fake_cloud.stackstep("resume", "--state-dir", str(fake_cloud.state))
    assert done.returncode == 0, done.stdout + done.stderr
    killed, resumed = _sessions(fake_cloud)
    assert (killed.command, killed.ended) == ("upgrade", None)
    assert resumed.command == "resume" and resumed.ended is not None
    assert resumed.transitions, "the resume probed nothing"
