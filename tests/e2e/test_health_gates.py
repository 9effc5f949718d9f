"""Health gates: after a service starts, the inventory's smoke commands must pass on its
API host (with retries up to --gate-timeout) before the next service is touched."""

from __future__ import annotations

import re
import subprocess


def plan(fake_cloud):
    args = ["-i", str(fake_cloud.inventory), "--catalog", str(fake_cloud.catalog)]
    return fake_cloud.stackstep("plan", *args)


def add_smoke(fake_cloud, service: str, command: str) -> None:
    text = fake_cloud.inventory.read_text()
    fake_cloud.inventory.write_text(text + f"smoke:\n  {service}:\n    - {command!r}\n")


def test_plan_shows_the_smoke_check_on_the_api_host(fake_cloud):
    add_smoke(fake_cloud, "keystone", "true")
    proc = plan(fake_cloud)
    assert proc.returncode == 0, proc.stderr
    assert "verify keystone: units active, API answers, 1 smoke check" in proc.stdout
    assert "verify glance: units active, API answers" in proc.stdout
    assert "glance: units active, API answers, 1 smoke" not in proc.stdout


def test_a_passing_smoke_check_lets_the_upgrade_go_on(fake_cloud):
    marker = fake_cloud.host("ctl") / "token-ok"
    marker.write_text("issued\n")
    add_smoke(fake_cloud, "keystone", f"cat {marker}")
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = re.search(r"log: (\S+)", proc.stdout).group(1)
    with open(log) as text:
        assert f"smoke `cat {marker}` ok" in text.read()


def test_a_failing_smoke_check_stops_the_run_before_the_next_service(fake_cloud):
    marker = fake_cloud.host("ctl") / "token-ok"
    marker.write_text("issued\n")  # healthy before the upgrade (preflight runs it too)
    add_smoke(fake_cloud, "keystone", f"cat {marker}")
    (fake_cloud.host("ctl") / "pause").write_text("keystone-manage db_sync")
    running = fake_cloud.start("upgrade", *fake_cloud.args("--yes", "--gate-timeout", "2"))
    fake_cloud.wait_paused("ctl", running)
    marker.unlink()  # the migrated keystone no longer issues tokens
    (fake_cloud.host("ctl") / "release").write_text("")
    out, _ = running.communicate(timeout=60)
    proc = subprocess.CompletedProcess(running.args, running.returncode, out, "")
    assert proc.returncode == 1, proc.stdout
    assert "step services/keystone/ctl/verify on ctl failed" in proc.stdout
    assert f"smoke check failed: smoke `cat {marker}` exited 1" in proc.stdout
    assert "No such file" in proc.stdout  # the command's own words
    assert "fix: run the command on the host to see why (the inventory's smoke:)" in proc.stdout
    states = fake_cloud.step_states()
    assert states["services/glance/ctl/stop-units"] == "pending"
    assert fake_cloud.count("ctl", "systemctl stop -- openstack-glance-api") == 0

    marker.write_text("issued\n")
    run_id = re.search(r"run (\d{8}-\d{6}-[0-9a-f]{4})", proc.stdout).group(1)
    done = fake_cloud.stackstep("resume", run_id, "--state-dir", str(fake_cloud.state))
    assert done.returncode == 0, done.stdout
    assert set(fake_cloud.step_states().values()) == {"done"}


def test_an_unhealthy_service_before_the_upgrade_blocks_unless_forced(fake_cloud):
    marker = fake_cloud.host("ctl") / "token-ok"
    add_smoke(fake_cloud, "keystone", f"cat {marker}")
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 3, proc.stdout
    assert "keystone is not healthy before the upgrade: smoke `cat" in proc.stdout
    assert "pass --force to upgrade a cloud that is already unhealthy" in proc.stdout
    assert fake_cloud.changes("ctl") == []

    forced = fake_cloud.stackstep(
        "upgrade", *fake_cloud.args("--yes", "--force", "--gate-timeout", "1")
    )
    assert "--force: a service found unhealthy by preflight only warns" in forced.stdout
    log = re.search(r"log: (\S+)", forced.stdout).group(1)
    with open(log) as text:
        assert "WARNINGS: keystone is not healthy before the upgrade" in text.read()
    # it went on, and the gate after keystone's upgrade stopped it (still no token)
    assert forced.returncode == 1, forced.stdout
    assert "step services/keystone/ctl/verify on ctl failed" in forced.stdout


def test_a_smoke_check_for_an_unknown_service_is_refused(fake_cloud):
    add_smoke(fake_cloud, "keystoen", "true")
    proc = plan(fake_cloud)
    assert proc.returncode == 2
    # the file, the line and the key are named, with the likely fix
    assert re.search(
        r"cloud\.yaml:\d+: smoke\.keystoen: unknown service 'keystoen' "
        r"\(did you mean 'keystone'\?\)",
        proc.stderr,
    ), proc.stderr


def test_a_stale_api_host_is_restarted_and_its_apis_answer_before_the_next(fake_cloud):
    # the final upgrade brings a new keystone client to the controller too
    (fake_cloud.host("ctl") / "final-upgrade-installs").write_text("python-keystoneclient\n")
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 0, proc.stdout
    restarts = [c for c in fake_cloud.calls("ctl") if c.startswith("systemctl restart")]
    assert restarts and "openstack-nova-api" in restarts[0]
    log = re.search(r"log: (\S+)", proc.stdout).group(1)
    with open(log) as text:
        done = [
            line for line in text if "restart/ctl/restart-units" in line and "step-finished" in line
        ]
    assert done and "; APIs answer" in done[0], done
