"""A run that stops says, on one screen, where each service stands: which are upgraded,
which are down (and where), which are untouched, so the operator knows what is broken
before reading further (issue 11's fault table)."""

from __future__ import annotations

import json


def test_a_stop_says_which_services_are_upgraded_down_or_untouched(fake_cloud):
    (fake_cloud.host("ctl") / "fail").write_text("systemctl start -- openstack-glance-api")
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = proc.stdout[proc.stdout.index(": FAILED (") :]
    assert "services: keystone upgraded; glance DOWN on ctl; nova not started yet" in summary
    assert len(summary.splitlines()) <= 40

    status = fake_cloud.stackstep("status", "--state-dir", str(fake_cloud.state))
    assert "services: keystone upgraded; glance DOWN on ctl; nova not started yet" in status.stdout


def test_the_json_result_gives_each_service_state(fake_cloud):
    (fake_cloud.host("ctl") / "fail").write_text("glance-manage db_sync")
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes", "--json"))
    assert proc.returncode == 1
    services = json.loads(proc.stdout)["services"]
    assert services["keystone"] == "upgraded"
    assert services["glance"].startswith("part way") and "failed on ctl" in services["glance"]
    assert services["nova"] == "not started yet (old release, untouched)"
