"""`stackstep upgrade` carries a plan out, and `stackstep resume` finishes a run that was
killed (SIGKILL) or interrupted at a chosen step: finished steps are never repeated, the
step that was running is probed, and repeated only when its effect is not there."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

STOP_KEYSTONE = "systemctl stop -- openstack-keystone"


def run_id_of(text: str) -> str:
    found = re.search(r"run (\d{8}-\d{6}-[0-9a-f]{4})", text)
    assert found, text
    return found.group(1)


def test_full_upgrade_runs_every_step_once(fake_cloud):
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "DONE" in proc.stdout
    assert set(fake_cloud.step_states().values()) == {"done"}
    assert fake_cloud.count("ctl", STOP_KEYSTONE) == 1
    assert fake_cloud.count("ctl", "runuser -u keystone -- keystone-manage db_sync") == 1
    calls = fake_cloud.calls("ctl")
    expected = [
        STOP_KEYSTONE,
        "yum -y -C upgrade -- *keystone*",
        "runuser -u keystone -- keystone-manage token_flush",
        "runuser -u keystone -- keystone-manage db_sync",
        "systemctl start -- openstack-keystone",
        "systemctl stop -- openstack-glance-api",
    ]
    order = [calls.index(c) for c in expected]
    assert order == sorted(order)
    assert "reboot needed (new kernel)" not in proc.stdout
    cmp = fake_cloud.calls("cmp1")
    assert cmp.index("yum -y upgrade") < cmp.index("systemctl restart -- openstack-nova-compute")
    # the restart was decided by detection: the fake units have no process to read, so
    # nova-compute's start against the new client's install time decided
    assert (
        "openstack-nova-compute (started before python-glanceclient was installed; "
        "its processes could not be read)" in proc.stdout
    )
    assert not [c for c in fake_cloud.calls("ctl") if c.startswith("systemctl restart")]
    log = re.search(r"log: (\S+)", proc.stdout).group(1)
    assert "exit 0" in Path(log).read_text()


def test_upgrade_without_yes_and_no_terminal_refuses(fake_cloud):
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args())
    assert proc.returncode == 2
    assert "rerun with --yes" in proc.stderr
    assert fake_cloud.changes("ctl") == []


def test_sigkill_after_stop_is_probed_not_repeated(fake_cloud):
    (fake_cloud.host("ctl") / "pause").write_text(STOP_KEYSTONE)
    proc = fake_cloud.start("upgrade", *fake_cloud.args("--yes"))
    fake_cloud.wait_paused("ctl", proc)
    fake_cloud.kill(proc)
    assert fake_cloud.step_states()["services/keystone/ctl/stop-units"] == "running"

    status = fake_cloud.stackstep("status", "--state-dir", str(fake_cloud.state))
    assert "was running: services/keystone/ctl/stop-units" in status.stdout
    assert "keystone is STOPPED on ctl" not in status.stdout

    done = fake_cloud.stackstep("resume", "--state-dir", str(fake_cloud.state))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "already done" in done.stdout
    assert fake_cloud.count("ctl", STOP_KEYSTONE) == 1
    assert fake_cloud.count("ctl", "systemctl start -- openstack-keystone") == 1
    assert set(fake_cloud.step_states().values()) == {"done"}


def test_sigkill_in_a_parallel_group_repeats_only_the_unfinished_host(fake_cloud):
    (fake_cloud.host("cmp2") / "pause").write_text("yum -y -C upgrade -- *nova*")
    proc = fake_cloud.start("upgrade", *fake_cloud.args("--yes"))
    fake_cloud.wait_paused("cmp2", proc)
    fake_cloud.wait_done(
        ["services/nova/ctl/upgrade-packages", "services/nova/cmp1/upgrade-packages"]
    )
    fake_cloud.kill(proc)

    done = fake_cloud.stackstep("resume", "--state-dir", str(fake_cloud.state))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no probe: running it again (safe to repeat)" in done.stdout
    assert fake_cloud.count("ctl", "yum -y -C upgrade -- *nova*") == 1
    assert fake_cloud.count("cmp1", "yum -y -C upgrade -- *nova*") == 1
    assert fake_cloud.count("cmp2", "yum -y -C upgrade -- *nova*") == 2
    for host in ("ctl", "cmp1", "cmp2"):
        assert fake_cloud.count(host, "systemctl stop -- openstack-keystone") <= 1
    assert fake_cloud.count("ctl", "runuser -u keystone -- keystone-manage db_sync") == 1


def test_failing_step_names_host_step_status_output_and_resume_command(fake_cloud):
    (fake_cloud.host("ctl") / "fail").write_text("glance-manage db_sync")
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 1
    out = proc.stdout
    assert "step services/glance/ctl/migrate-db on ctl failed" in out
    assert "exited with status 1" in out
    assert "the last line of output says why" in out
    run_id = run_id_of(out)
    assert f"to go on: stackstep resume {run_id} --state-dir {fake_cloud.state}" in out
    # glance's units come back even though its migration failed (restore steps run)
    assert fake_cloud.count("ctl", "systemctl start -- openstack-glance-api") == 1
    assert fake_cloud.step_states()["services/nova/ctl/stop-units"] == "pending"

    status = fake_cloud.stackstep("status", run_id, "--state-dir", str(fake_cloud.state), "--json")
    body = json.loads(status.stdout)
    assert body["status"] == "failed"
    assert body["failed"][0]["step"] == "services/glance/ctl/migrate-db"
    assert body["failed"][0]["exit_status"] == 1
    assert "the last line of output says why" in body["failed"][0]["output_tail"]
    assert body["resume"].startswith(f"stackstep resume {run_id}")

    (fake_cloud.host("ctl") / "fail").unlink()
    done = fake_cloud.stackstep("resume", run_id, "--state-dir", str(fake_cloud.state))
    assert done.returncode == 0, done.stdout
    assert fake_cloud.count("ctl", "runuser -u keystone -- keystone-manage db_sync") == 1
    assert fake_cloud.count("ctl", "runuser -u glance -- glance-manage db_sync") == 2


def test_a_service_left_down_is_said_loudly(fake_cloud):
    (fake_cloud.host("ctl") / "fail").write_text("systemctl start -- openstack-keystone")
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 1
    assert "!! keystone is STOPPED on ctl" in proc.stdout
    status = fake_cloud.stackstep("status", "--state-dir", str(fake_cloud.state))
    assert "!! keystone is STOPPED on ctl" in status.stdout


def test_resume_refuses_a_changed_plan_unless_replan(fake_cloud):
    (fake_cloud.host("ctl") / "fail").write_text("glance-manage db_sync")
    assert fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes")).returncode == 1
    (fake_cloud.host("ctl") / "fail").unlink()
    fake_cloud.inventory.write_text(
        fake_cloud.inventory.read_text().replace(
            "target: havana", "target: havana\nrepo_command: [yum, install, -y, my-havana-repo]"
        )
    )
    refused = fake_cloud.stackstep("resume", "--state-dir", str(fake_cloud.state))
    assert refused.returncode == 4
    assert "has changed since it started" in refused.stderr and "--replan" in refused.stderr
    done = fake_cloud.stackstep("resume", "--replan", "--state-dir", str(fake_cloud.state))
    assert done.returncode == 0, done.stdout
    assert fake_cloud.count("ctl", "yum install -y rdo-release-havana") == 1


def test_first_ctrl_c_lets_the_running_step_finish_and_stops(fake_cloud):
    (fake_cloud.host("ctl") / "pause").write_text("keystone-manage db_sync")
    proc = fake_cloud.start("upgrade", *fake_cloud.args("--yes"))
    fake_cloud.wait_paused("ctl", proc)
    proc.send_signal(signal.SIGINT)
    (fake_cloud.host("ctl") / "release").write_text("")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert "INTERRUPTED" in out
    states = fake_cloud.step_states()
    assert states["services/keystone/ctl/migrate-db"] == "done"
    assert states["services/keystone/ctl/start-units"] == "pending"
    assert "!! keystone is STOPPED on ctl" in out
    done = fake_cloud.stackstep("resume", "--state-dir", str(fake_cloud.state))
    assert done.returncode == 0
    assert fake_cloud.count("ctl", "runuser -u keystone -- keystone-manage db_sync") == 1


LOW_DISK = """Filesystem     1024-blocks     Used Available Capacity Mounted on
/dev/vda1         10000000  9800000    200000      98% /
/dev/vda1         10000000  9800000    200000      98% /
"""


def test_preflight_reports_every_problem_and_changes_nothing(fake_cloud):
    for host in ("cmp1", "cmp2"):
        (fake_cloud.host(host) / "df.txt").write_text(LOW_DISK)
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 3, proc.stdout
    for host in ("cmp1", "cmp2"):
        assert (
            f"step preflight/{host}/check on {host} failed: 1 problem(s) before anything "
            "changes:\n  - low disk space: /var, /var/cache (/) has 0.19 GiB" in proc.stdout
        )
    assert "preflight found problems on 2 host(s); nothing was changed" in proc.stdout
    # the summary says it once for both hosts
    summary = proc.stdout[proc.stdout.index("preflight findings:") :]
    assert "  PROBLEM [disk-space] cmp1, cmp2: low disk space: /var, /var/cache (/)" in summary
    assert summary.count("PROBLEM") == 1
    assert fake_cloud.changes("ctl") == []


def test_json_result_for_automation(fake_cloud):
    (fake_cloud.host("ctl") / "fail").write_text("glance-manage db_sync")
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes", "--json"))
    assert proc.returncode == 1
    body = json.loads(proc.stdout)
    assert body["status"] == "failed" and body["exit_code"] == 1
    assert body["failures"][0]["step"] == "services/glance/ctl/migrate-db"
    assert body["resume"].startswith("stackstep resume ")
    assert "Plan for cloud" in proc.stderr


def test_discovery_plans_only_what_is_installed(fake_cloud):
    units = fake_cloud.host("ctl") / "unit-files"
    units.write_text(units.read_text().replace("openstack-glance-api\n", ""))
    (fake_cloud.host("cmp2") / "kernels").write_text(
        "kernel-5.14.0-362.el9.x86_64   Tue 02 Jan 2024 10:00:00 AM UTC\n"
        "kernel-5.14.0-70.el9.x86_64    Mon 01 Jan 2024 10:00:00 AM UTC\n"
    )
    found = fake_cloud.stackstep("discover", "-i", str(fake_cloud.inventory), "--json")
    assert found.returncode == 0, found.stderr
    hosts = {h["name"]: h for h in json.loads(found.stdout)["hosts"]}
    assert [u["name"] for u in hosts["cmp1"]["units"]] == ["openstack-nova-compute"]
    assert hosts["cmp2"]["reboot_needed"] is True and hosts["cmp1"]["reboot_needed"] is False
    assert hosts["cmp2"]["newest_kernel"] == "5.14.0-362.el9.x86_64"
    text = fake_cloud.stackstep("discover", "-i", str(fake_cloud.inventory)).stdout
    assert "REBOOT NEEDED" in text and "3 of 3 host(s) read" in text

    plan = fake_cloud.stackstep(
        "plan",
        "--discover",
        "--json",
        "-i",
        str(fake_cloud.inventory),
        "--catalog",
        str(fake_cloud.catalog),
    )
    body = json.loads(plan.stdout)
    assert body["facts_source"] == "discovery"
    assert body["services"] == ["keystone", "nova"]
    offline = json.loads(
        fake_cloud.stackstep(
            "plan", "--json", "-i", str(fake_cloud.inventory), "--catalog", str(fake_cloud.catalog)
        ).stdout
    )
    assert offline["services"] == ["keystone", "glance", "nova"]


def test_unreachable_host_stops_before_anything_changes(fake_cloud):
    inventory = fake_cloud.inventory.read_text()
    fake_cloud.inventory.write_text(
        inventory + "  gone:\n    address: 127.0.0.1\n"
        "    port: 1\n    transport: ssh\n    roles: [compute]\n"
    )
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "1 host(s) could not be read; nothing was changed" in proc.stderr
    assert "gone" in proc.stderr
    assert fake_cloud.changes("ctl") == []


def test_a_new_kernel_is_reported_for_a_reboot(fake_cloud):
    (fake_cloud.host("cmp1") / "kernels").write_text(
        "kernel-5.14.0-70.el9.x86_64    Mon 01 Jan 2024 10:00:00 AM UTC\n"
        "kernel-5.14.0-362.el9.x86_64   Tue 02 Jan 2024 10:00:00 AM UTC\n"
    )
    proc = fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes"))
    assert proc.returncode == 0
    assert "reboot needed (new kernel) on: cmp1; `stackstep reboot` reboots them" in proc.stdout


def test_second_ctrl_c_stops_at_once_and_resume_rechecks_the_step(fake_cloud):
    (fake_cloud.host("ctl") / "pause").write_text("systemctl start -- openstack-keystone")
    proc = fake_cloud.start("upgrade", *fake_cloud.args("--yes"))
    fake_cloud.wait_paused("ctl", proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(1)  # two signals sent at once would arrive as one
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, out
    assert fake_cloud.step_states()["services/keystone/ctl/start-units"] == "running"
    (fake_cloud.host("ctl") / "release").write_text("")
    done = fake_cloud.stackstep("resume", "--state-dir", str(fake_cloud.state))
    assert done.returncode == 0, done.stdout
    assert "already done" in done.stdout
    assert fake_cloud.count("ctl", "systemctl start -- openstack-keystone") == 1


def test_journal_and_log_are_private(fake_cloud):
    assert fake_cloud.stackstep("upgrade", *fake_cloud.args("--yes")).returncode == 0
    assert (fake_cloud.state.stat().st_mode & 0o777) == 0o700
    assert ((fake_cloud.state / "journal.sqlite").stat().st_mode & 0o777) == 0o600
    (log,) = fake_cloud.state.glob("runs/*/run.log")
    assert (log.stat().st_mode & 0o777) == 0o600
    listing = fake_cloud.stackstep("runs", "--state-dir", str(fake_cloud.state)).stdout
    assert " done " in listing and "fake" in listing
