"""`stackstep restore` after a run resumed with --replan onto another migration host:
that run backed the database up twice, the second time after its first migration had
changed it. The restore must use the first dump, the one from before the run."""

from __future__ import annotations

import json

from stackstep.engine.journal import RunRecord, StepRecord
from stackstep.model.plan import Plan
from stackstep.restore.plan import plan_restore
from stackstep_testing import EXAMPLES, plan_from_path

FIRST = "/var/lib/stackstep/backups/RUN1/glance.sql"  # on old-ctl, before the migration
SECOND = "/var/lib/stackstep/backups/RUN1/glance.sql"  # on controller, already migrated


def _record(plan: Plan) -> RunRecord:
    hosts = [
        {"name": h, "family": "rpm", "package_manager": "yum", "init": "systemd",
         "components": [], "versions": {}}
        for h in plan.hosts
    ]  # fmt: skip
    facts = json.dumps({"source": "inventory", "hosts": hosts})
    fields = ("failed", "op", "seed", "/c.yaml", plan.hash, json.dumps(plan.to_dict()), facts)
    return RunRecord("RUN1", 0.0, 0.0, *fields, "{}", "", "0")


def _backup(host: str, finished: float, path: str) -> StepRecord:
    sid = f"services/glance/{host}/backup-db"
    return StepRecord(
        sid, "done", host, "backup-db", None, finished, 0, "", "", 1, {"backup": path}
    )


def test_the_first_backup_of_a_replanned_run_is_restored(catalog):
    plan = plan_from_path(EXAMPLES / "rdo-seed.yaml", catalog)
    old, new = _backup("old-ctl", 100.0, FIRST), _backup("controller", 200.0, SECOND)
    migrated = StepRecord(
        "services/glance/old-ctl/migrate-db", "done", "old-ctl", "migrate-db",
        None, 150.0, 0, "", "", 1, {},
    )  # fmt: skip
    records = {r.step_id: r for r in (old, migrated, new)}
    restore = plan_restore(_record(plan), records, "glance")
    assert (restore.backup_host, restore.backup) == ("old-ctl", FIRST)
    assert restore.database.id == "restore/glance/old-ctl/restore-db"
    assert restore.database.params.to_json()["config"] == "/etc/glance/glance-registry.conf"
    assert "services/glance/controller/backup-db" not in restore.reset
    assert "old-ctl" in "\n".join(restore.describe())


def test_a_single_backup_is_restored_as_before(catalog):
    plan = plan_from_path(EXAMPLES / "rdo-seed.yaml", catalog)
    only = _backup("controller", 200.0, SECOND)
    restore = plan_restore(_record(plan), {only.step_id: only}, "glance")
    assert (restore.backup_host, restore.backup) == ("controller", SECOND)
