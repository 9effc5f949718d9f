"""Restore planning from a run's journal records (pure), the state a failed restore
reports, the history `status` shows, the downgrade commands, and a restore on an apt
host carried out against a scripted transport."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from stackstep.drivers import packages
from stackstep.engine.events import Event, EventBus
from stackstep.engine.journal import Journal, RunRecord, StepRecord
from stackstep.errors import InputError, RestoreFailed, RestoreRefused
from stackstep.model.catalog import Catalog
from stackstep.model.inventory import Host
from stackstep.model.plan import Json, Plan
from stackstep.restore.plan import (
    DATABASE,
    PACKAGES,
    START,
    STOP,
    VERIFY,
    history,
    plan_restore,
    state_after,
)
from stackstep.restore.run import Restorer
from stackstep.transport.factory import TransportPool
from stackstep.transport.fake import FakeTransport, on
from stackstep_testing import EXAMPLES, plan_from_path

BEFORE = {
    "openstack-glance": "2013.1-1.el6",
    "python-glance": "2013.1-1.el6",
    "openstack-nova-compute": "2013.1-1.el6",
    "kernel": "2.6.32-358.el6",
}
DUMP = "/var/lib/stackstep/backups/RUN1/glance.sql"


def facts_json(plan: Plan, versions: dict[str, str], pm: str = "yum") -> str:
    family = "deb" if pm == "apt" else "rpm"
    hosts = [
        {
            "name": h,
            "family": family,
            "package_manager": pm,
            "init": "systemd",
            "components": [],
            "versions": versions,
        }
        for h in plan.hosts
    ]
    return json.dumps({"source": "discovery" if versions else "inventory", "hosts": hosts})


def record(plan: Plan, facts: str, status: str = "failed") -> RunRecord:
    plan_json = json.dumps(plan.to_dict())
    fields = (status, "op", "seed", "/c.yaml", plan.hash, plan_json, facts, "{}", "", "0")
    return RunRecord("RUN1", 0.0, 0.0, *fields)


def done(step_id: str, data: dict[str, Json] | None = None, state: str = "done") -> StepRecord:
    return StepRecord(
        step_id, state, "controller", "backup-db", None, None, None, "", "", 1, data or {}
    )


def seed(catalog: Catalog, **options: object) -> Plan:
    return plan_from_path(EXAMPLES / "rdo-seed.yaml", catalog, **options)


def backed_up(state: str = "done", host: str = "controller") -> dict[str, StepRecord]:
    sid = f"services/glance/{host}/backup-db"
    return {sid: done(sid, {"backup": DUMP} if state == "done" else {}, state)}


def test_glance_restore_plan_from_the_journal(catalog):
    plan = seed(catalog)
    restore = plan_restore(record(plan, facts_json(plan, BEFORE)), backed_up(), "glance")
    assert (restore.backup_host, restore.backup) == ("controller", DUMP)
    assert restore.database.id == "restore/glance/controller/restore-db"
    assert restore.database.params.to_json()["config"] == "/etc/glance/glance-registry.conf"
    (part,) = restore.hosts
    assert part.stop.commands[0].render() == (
        "systemctl stop -- openstack-glance-registry openstack-glance-api"
    )
    assert part.before == (("openstack-glance", "2013.1-1.el6"), ("python-glance", "2013.1-1.el6"))
    waves = [[s.id for s in wave] for wave in restore.starts]
    assert waves == [
        ["restore/glance/controller/start-units-1"],
        ["restore/glance/controller/start-units-2"],
    ]
    assert restore.starts[0][0].commands[0].render() == (
        "systemctl start -- openstack-glance-registry"
    )
    (verify,) = restore.verifies
    assert verify.id == "restore/glance/controller/verify" and "probe" in verify.params.to_json()
    assert "services/glance/controller/migrate-db" in restore.reset
    assert "services/glance/controller/backup-db" not in restore.reset
    assert all(sid.startswith("services/glance/") for sid in restore.reset)
    text = "\n".join(restore.describe())
    assert "1. stop openstack-glance-registry, openstack-glance-api on controller" in text
    assert "controller: openstack-glance 2013.1-1.el6, python-glance 2013.1-1.el6" in text
    assert f"from {DUMP} (MySQL/MariaDB): what it holds now is REPLACED" in text
    assert "in 2 waves" in text and "5. verify: units active, API answers" in text


def test_nova_on_many_hosts_is_described_once_per_kind_of_host(catalog):
    plan = seed(catalog)
    sid = "services/nova/controller/backup-db"
    records = {sid: done(sid, {"backup": "/b/nova.sql"})}
    restore = plan_restore(record(plan, facts_json(plan, BEFORE)), records, "nova")
    assert [p.host for p in restore.hosts] == ["controller", *(f"compute{i}" for i in (1, 2, 3))]
    text = "\n".join(restore.describe())
    assert "on controller, compute[1:3]" in text
    assert "compute[1:3]: openstack-nova-compute 2013.1-1.el6" in text


def test_versions_unknown_leaves_packages_and_says_so(catalog):
    plan = seed(catalog)
    restore = plan_restore(record(plan, facts_json(plan, {})), backed_up(), "glance")
    assert restore.hosts[0].no_downgrade.startswith("their versions before the run are not known")
    assert "controller: NOT put back: their versions before the run" in "\n".join(
        restore.describe()
    )


def test_refused_after_no_backup(catalog):
    plan = seed(catalog, backup=False)
    with pytest.raises(RestoreRefused, match="took no backup of glance: it ran with --no-backup"):
        plan_restore(record(plan, facts_json(plan, BEFORE)), {}, "glance")


def test_refused_when_the_backup_step_did_not_run(catalog):
    plan = seed(catalog)
    with pytest.raises(RestoreRefused, match="backup-db is pending") as caught:
        plan_restore(record(plan, facts_json(plan, BEFORE)), backed_up("pending"), "glance")
    assert caught.value.exit_code == 4 and "was not changed" in (caught.value.hint or "")


def test_unknown_service_and_renamed_units(catalog):
    plan = seed(catalog)
    facts = facts_json(plan, BEFORE)
    with pytest.raises(InputError, match="did not upgrade 'trove'") as caught:
        plan_restore(record(plan, facts), backed_up(), "trove")
    assert "keystone, swift" in (caught.value.hint or "")
    sid = "services/neutron/controller/backup-db"
    with pytest.raises(RestoreRefused, match="renamed neutron's units"):
        plan_restore(record(plan, facts), {sid: done(sid, {"backup": "/b/q.sql"})}, "neutron")


def test_state_after_each_phase(catalog):
    plan = seed(catalog)
    restore = plan_restore(record(plan, facts_json(plan, BEFORE)), backed_up(), "glance")
    stop = state_after(restore, STOP, ["controller"])
    assert stop[0] == "units: stopping failed on controller"
    assert stop[1] == "packages: as the run left them (the new release)"
    assert stop[2] == f"database: as the run left it; the dump is controller:{DUMP}"
    assert state_after(restore, PACKAGES, ["controller"])[:2] == [
        "units: STOPPED on controller",
        "packages: putting back failed on controller",
    ]
    db = state_after(restore, DATABASE, ["controller"])
    assert db[1] == "packages: put back" and "may be half done" in db[2]
    assert (
        state_after(restore, START, ["controller"])[2]
        == f"database: restored from controller:{DUMP}"
    )
    assert "failed its checks" in state_after(restore, VERIFY, ["controller"])[0]
    nova = "services/nova/controller/backup-db"
    records = {nova: done(nova, {"backup": "/b/nova.sql"})}
    many = plan_restore(record(plan, facts_json(plan, BEFORE)), records, "nova")
    assert state_after(many, PACKAGES, ["compute2"])[1] == (
        "packages: putting back failed on compute2; put back elsewhere"
    )


def test_history_for_status():
    failed = {
        "service": "glance",
        "phase": "verify",
        "failure": "API probe failed",
        "state": ["units: started"],
        "again": "stackstep restore RUN1 glance",
    }
    events = [
        Event("step-finished", "RUN1", "services/glance/controller/stop-units"),
        Event("restore-failed", "RUN1", message="long", data=failed, time=1.0),
        Event("restore-finished", "RUN1", message="glance restored", data={"service": "glance"}),
    ]
    first, second = history(events)
    assert first == {
        "time": 1.0,
        "service": "glance",
        "restored": False,
        "message": "restore of glance FAILED at 'verify': API probe failed",
        "state": ["units: started"],
        "again": "stackstep restore RUN1 glance",
    }
    assert second["restored"] is True and second["message"] == "glance restored"


def test_downgrade_commands_and_what_changed():
    assert [c.render() for c in packages.downgrade("dnf", [("a", "1:2.0-1"), ("b", "3-4")])] == [
        "dnf -y downgrade -- a-1:2.0-1 b-3-4"
    ]
    (apt,) = packages.downgrade("apt", [("glance", "2:26.0.0-0ubuntu1")])
    assert apt.render().endswith("install --allow-downgrades -- glance=2:26.0.0-0ubuntu1")
    assert ("DEBIAN_FRONTEND", "noninteractive") in apt.env
    assert packages.downgrade("yum", []) == ()
    before = {"glance-api": "1", "glance-common": "1", "nova-api": "1", "python-glance": "1"}
    now = {"glance-api": "2", "glance-common": "1", "glance-new": "2", "nova-api": "2"}
    assert packages.changed_since(before, now, ["glance-*"]) == [("glance-api", "1")]


APT_RULES = [
    on(["systemctl", "stop"]),
    on(["dpkg-query"], stdout="glance-api\t2:27.0.0\tii \nglance-common\t2:26.0.0\tii \n"),
    on(["sh", "-c", packages.HOLD_SCRIPT, packages.HOLD_NAME, "apt-get"]),  # held apt
    on(["sh", "-c"]),
    on(["systemctl", "start"]),
    on(["systemctl", "is-active"], stdout="active\n"),
]
GLANCE_CONF = b"[database]\nconnection = mysql+pymysql://glance:s3cret@db/glance\n"


def apt_restore(tmp_path: Path, catalog: Catalog, rules):
    plan = plan_from_path(EXAMPLES / "ubuntu-apt.yaml", catalog)
    before = {"glance-api": "2:26.0.0", "glance-common": "2:26.0.0"}
    facts = facts_json(plan, before, "apt")
    restore = plan_restore(record(plan, facts), backed_up(host="uca-ctl"), "glance")
    restore = replace(restore, verifies=())
    fake = FakeTransport("uca-ctl", rules, files={"/etc/glance/glance-api.conf": GLANCE_CONF})
    journal = Journal(tmp_path / "state")
    restorer = Restorer(
        restore, journal, EventBus(), {"uca-ctl": Host("uca-ctl", "203.0.113.10")}, 5, "again"
    )

    async def main() -> list[str]:
        async with TransportPool(opener=lambda host, options: fake) as pool:
            return await restorer.execute(pool)

    return fake, lambda: asyncio.run(main())


def test_apt_host_is_downgraded_and_its_database_restored(tmp_path, catalog):
    fake, run = apt_restore(tmp_path, catalog, APT_RULES)
    lines = run()
    downgrade = next(c for c in fake.calls if c.startswith("DEBIAN_FRONTEND"))
    assert downgrade.endswith("install --allow-downgrades -- glance-api=2:26.0.0")
    restore_db = fake.history[fake.calls.index(downgrade) + 1]
    assert "s3cret" not in restore_db.rendered and "password=s3cret" in (restore_db.stdin or "")
    assert "  uca-ctl: packages put back: glance-api 2:26.0.0" in lines


def test_a_failing_database_restore_names_the_state(tmp_path, catalog):
    failing_db = on(["sh", "-c"], exit_status=1, stderr="ERROR 1045 access denied")
    rules = [APT_RULES[2], failing_db, *APT_RULES]  # the downgrade's held apt-get succeeds
    _, run = apt_restore(tmp_path, catalog, rules)
    with pytest.raises(RestoreFailed) as caught:
        run()
    text = caught.value.render()
    assert "at 'restore the database' failed:" in text
    assert "step restore/glance/uca-ctl/restore-db on uca-ctl failed" in text
    assert "ERROR 1045 access denied" in text
    assert "units: STOPPED on uca-ctl" in text and "may be half done" in text
    assert text.endswith("hint: fix the cause, then run `again` again: each part is safe to repeat")
