"""`stackstep preflight` on the fake cloud: every problem at once, each with its host and
fix, nothing changed; ready once they are fixed."""

from __future__ import annotations

import json

LOW_DISK = """Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/vda1         10000000  9800000    200000      98% /
/dev/vda1         10000000  9800000    200000      98% /
"""
NOVA = "openstack-nova-compute"


def args(cloud, *extra: str) -> list[str]:
    return ["-i", str(cloud.inventory), "--catalog", str(cloud.catalog), *extra]


def break_everything(cloud) -> None:
    (cloud.host("ctl") / "units" / "openstack-glance-api").parent.mkdir(exist_ok=True)
    (cloud.host("ctl") / "units" / "openstack-glance-api").write_text("inactive")
    (cloud.host("cmp1") / "df.txt").write_text(LOW_DISK)
    (cloud.host("cmp2") / "fail").write_text("rdo-release-havana")  # repo not offered
    (cloud.host("cmp1") / "packages").write_text(f"{NOVA} 0:2013.1.4-1.el6\n")
    (cloud.host("cmp2") / "packages").write_text(f"{NOVA} 0:2013.1.3-2.el6\n")
    with open(cloud.inventory, "a") as inventory:  # a host that is switched off
        inventory.write("  cmp3:\n    address: 127.0.0.1\n    port: 1\n    roles: [compute]\n")


def test_preflight_reports_every_problem_with_its_host_and_fix(fake_cloud):
    break_everything(fake_cloud)
    proc = fake_cloud.stackstep("preflight", *args(fake_cloud))
    out = proc.stdout
    assert proc.returncode == 3, out + proc.stderr
    assert "PROBLEM [service-health] ctl: glance is not healthy before the upgrade: " in out
    assert "not running: openstack-glance-api" in out
    assert "pass --force to upgrade a cloud that is already unhealthy" in out
    assert "PROBLEM [disk-space] cmp1: low disk space: /var, /var/cache (/) has 0.19 GiB" in out
    assert "PROBLEM [repository] cmp2: target repository unreachable: expected " in out
    assert "rdo-release-havana is not offered by the enabled repositories" in out
    assert "PROBLEM [versions] cmp2: nova is at an older version here than on its other " in out
    assert f"{NOVA} 0:2013.1.3-2.el6 (cmp1: 0:2013.1.4-1.el6)" in out
    assert "PROBLEM [ssh] cmp3: unreachable:" in out
    assert "preflight: 5 problem(s) on 4 host(s), 0 warning(s); nothing was changed" in out
    for host in ("ctl", "cmp1", "cmp2"):
        assert [c for c in fake_cloud.changes(host) if not c.startswith("yum -q list")] == []


def test_preflight_json_and_ready_once_fixed(fake_cloud):
    (fake_cloud.host("cmp1") / "df.txt").write_text(LOW_DISK)
    proc = fake_cloud.stackstep("preflight", *args(fake_cloud, "--json"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    body = json.loads(proc.stdout)
    assert body["ready"] is False and body["exit_code"] == 3
    assert [(p["host"], p["check"]) for p in body["problems"]] == [("cmp1", "disk-space")]
    assert body["problems"][0]["fix"].startswith("free space on /")

    (fake_cloud.host("cmp1") / "df.txt").unlink()
    ready = fake_cloud.stackstep("preflight", *args(fake_cloud))
    assert ready.returncode == 0, ready.stdout + ready.stderr
    assert "preflight: 3 host(s) ready, 0 warning(s); nothing was changed" in ready.stdout


def test_force_turns_an_unhealthy_service_into_a_warning(fake_cloud):
    (fake_cloud.host("ctl") / "units").mkdir(exist_ok=True)
    (fake_cloud.host("ctl") / "units" / "openstack-glance-api").write_text("inactive")
    proc = fake_cloud.stackstep("preflight", *args(fake_cloud, "--force"))
    assert proc.returncode == 0, proc.stdout
    assert "warning [service-health] ctl: glance is not healthy before the upgrade" in proc.stdout
    assert "preflight: 3 host(s) ready, 1 warning(s)" in proc.stdout


def test_not_an_upgrade_path_is_a_problem_too(fake_cloud):
    proc = fake_cloud.stackstep(
        "preflight", *args(fake_cloud, "--from", "havana", "--to", "grizzly")
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "PROBLEM [upgrade-path] havana (2013.2) -> grizzly (2013.1) is not an upgrade path" in (
        proc.stdout
    )


def with_upgrade_check(cloud) -> None:
    text = cloud.catalog.read_text()
    glance = 'name = "glance"\nafter = ["keystone"]\n'
    assert glance in text
    cloud.catalog.write_text(
        text.replace(glance, glance + 'upgrade_check = ["glance-status", "upgrade", "check"]\n')
    )


def test_the_services_own_upgrade_check_warns_on_1_and_blocks_on_2(fake_cloud):
    with_upgrade_check(fake_cloud)
    (fake_cloud.host("ctl") / "status-exit").write_text("1")
    warned = fake_cloud.stackstep("preflight", *args(fake_cloud))
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "warning [upgrade-check] ctl: `glance-status upgrade check` reports warnings" in (
        warned.stdout
    )
    assert "the policy file is still JSON" in warned.stdout
    assert fake_cloud.count("ctl", "runuser -u glance -- glance-status upgrade check") == 1

    (fake_cloud.host("ctl") / "status-exit").write_text("2")
    blocked = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert blocked.returncode == 3, blocked.stdout
    assert "`glance-status upgrade check` reports FAILURES" in blocked.stdout
    assert fake_cloud.changes("ctl") == ["runuser -u glance -- glance-status upgrade check"] * 2


def test_resume_after_fixing_a_mixed_version_goes_on(fake_cloud):
    (fake_cloud.host("cmp1") / "packages").write_text(f"{NOVA} 0:2013.1.4-1.el6\n")
    (fake_cloud.host("cmp2") / "packages").write_text(f"{NOVA} 0:2013.1.3-2.el6\n")
    plan = fake_cloud.stackstep("plan", "--discover", *args(fake_cloud))
    assert f"KNOWN PROBLEM: nova: {NOVA} 0:2013.1.3-2.el6 here, 0:2013.1.4-1.el6 on cmp1" in (
        plan.stdout
    ), plan.stdout + plan.stderr
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 3, proc.stdout
    assert "nova is at an older version here than on its other hosts" in proc.stdout

    (fake_cloud.host("cmp2") / "packages").write_text(f"{NOVA} 0:2013.1.4-1.el6\n")  # updated
    done = fake_cloud.stackstep("resume", "--state-dir", str(fake_cloud.state))
    assert done.returncode == 0, done.stdout
    assert fake_cloud.step_states()["preflight/cmp2/check"] == "done"


def test_the_new_codes_upgrade_check_runs_before_the_migration(fake_cloud):
    with_upgrade_check(fake_cloud)
    (fake_cloud.host("ctl") / "status-exit-new").write_text("1")
    warned = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert warned.returncode == 0, warned.stdout
    assert "services/glance/ctl/upgrade-check WARNINGS (the upgrade may go on)" in warned.stdout
    calls = fake_cloud.calls("ctl")
    check = "runuser -u glance -- glance-status upgrade check"
    assert calls.count(check) == 2  # preflight (old code), then after the package upgrade
    last = len(calls) - 1 - calls[::-1].index(check)
    assert calls.index("yum -y -C upgrade -- *glance*") < last
    assert last < calls.index("runuser -u glance -- glance-manage db_sync")


def test_a_failing_upgrade_check_stops_before_the_migration(fake_cloud):
    with_upgrade_check(fake_cloud)
    (fake_cloud.host("ctl") / "status-exit-new").write_text("2")
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 1, proc.stdout
    assert "step services/glance/ctl/upgrade-check on ctl failed" in proc.stdout
    assert "reports a failure (exit 2) with the new code" in proc.stdout
    assert "its database not migrated yet" in proc.stdout
    assert fake_cloud.count("ctl", "runuser -u glance -- glance-manage db_sync") == 0


def test_upgrade_json_lists_the_preflight_findings_per_host(fake_cloud):
    (fake_cloud.host("cmp1") / "df.txt").write_text(LOW_DISK)
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes", "--json"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    body = json.loads(proc.stdout)
    assert body["exit_code"] == 3 and list(body["preflight"]) == ["cmp1"]
    [finding] = body["preflight"]["cmp1"]
    assert finding["check"] == "disk-space" and finding["severity"] == "problem"
    assert finding["fix"].startswith("free space on /")


def test_the_same_problem_on_several_hosts_is_printed_once(fake_cloud):
    for host in ("cmp1", "cmp2"):
        (fake_cloud.host(host) / "df.txt").write_text(LOW_DISK)
    proc = fake_cloud.stackstep("preflight", *args(fake_cloud))
    assert proc.returncode == 3, proc.stdout
    lines = [x for x in proc.stdout.splitlines() if x.startswith("PROBLEM")]
    assert lines == [
        "PROBLEM [disk-space] cmp1, cmp2: low disk space: /var, /var/cache (/) has 0.19 GiB free, "
        "1 GiB needed"
    ]
    assert "preflight: 2 problem(s) on 2 host(s)" in proc.stdout
