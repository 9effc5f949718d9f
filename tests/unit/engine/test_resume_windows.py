"""Kill windows of the steps resume may repeat, on real files (local transport).

Each test does what a kill leaves behind: the step's action (or its first part) ran,
the journal still says ``running``. Then the real executor resumes the one-step plan:
it probes the step and repeats it when it has no probe, as ``stackstep resume`` does.
Nothing the site had may be lost, and what the journal says must be true.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from stackstep.engine.backup import backup_database
from stackstep.engine.events import EventBus
from stackstep.engine.executor import Executor, Policy
from stackstep.engine.hooks import file_hook
from stackstep.engine.journal import Journal, StepRecord
from stackstep.errors import StepFailed
from stackstep.model.command import cmd
from stackstep.model.inventory import Host
from stackstep.model.params import BackupParams, HookParams
from stackstep.model.plan import Group, Plan, Step, StepKind
from stackstep.transport.base import TransportOptions
from stackstep.transport.factory import TransportPool
from stackstep.transport.local import LocalTransport

RUN = "20261205-111111-abcd"
HOST = Host("ctl", "127.0.0.1", transport="local")
SITE_SETTINGS = """import os
DEBUG = False
SECRET_KEY = 'the-site-secret'
OPENSTACK_HOST = "10.0.0.10"
"""
NEW_DEFAULT = """import os
DEBUG = False
SECRET_KEY = None
OPENSTACK_HOST = "127.0.0.1"
OPENSTACK_KEYSTONE_URL = "http://%s:5000/v2.0" % OPENSTACK_HOST
"""
QUANTUM_CONF = "[DEFAULT]\ncore_plugin = quantum.plugins.ovs.OVSQuantumPluginV2\n"


def _local() -> LocalTransport:
    return LocalTransport(HOST, TransportOptions())


def _hook(kind: str, params: dict[str, object]) -> Step:
    return Step(
        f"services/x/ctl/{kind}",
        StepKind.HOOK,
        kind,
        "ctl",
        "x",
        params=HookParams.from_json({"hook_kind": kind, "params": params}),  # type: ignore[dict-item]
    )


def resume(tmp_path: Path, step: Step, run_id: str = RUN) -> StepRecord:
    """The step is journalled ``running`` (stackstep died in it); resume the run."""
    plan = Plan("t", "grizzly", "havana", "rolling", Group("all", "all", "sequential", (step,)))
    journal = Journal(tmp_path / "state")
    real_id = journal.new_run(plan, {}, {}, "t.yaml", "", "")
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    with db:  # the run id names backups: give it a known one
        db.execute("UPDATE runs SET id=? WHERE id=?", (run_id, real_id))
        db.execute("UPDATE steps SET run_id=? WHERE run_id=?", (run_id, real_id))
    db.close()
    journal.step_started(run_id, step.id)

    async def main() -> None:
        async with TransportPool(TransportOptions()) as pool:
            executor = Executor(
                plan, run_id, journal, EventBus(), pool, {"ctl": HOST}, Policy(), "resume"
            )
            result = await executor.execute()
            assert result.status == "done", result.failures

    asyncio.run(main())
    return journal.steps(run_id)[step.id]


def _horizon(tmp_path: Path) -> tuple[Path, Step]:
    live = tmp_path / "local_settings"
    live.write_text(SITE_SETTINGS)
    live.chmod(0o640)
    (tmp_path / "local_settings.rpmnew").write_text(NEW_DEFAULT)
    params = {"file": str(live), "carry": ["SECRET_KEY"], "add": ["ALLOWED_HOSTS = ['*']"]}
    return live, _hook("settings-merge", params)


def _assert_merged_and_kept(live: Path, record: StepRecord) -> None:
    kept = live.parent / f"local_settings.stackstep-{RUN}"
    assert kept.read_text() == SITE_SETTINGS  # the site's own file, whole
    assert kept.stat().st_mode & 0o777 == 0o640
    merged = live.read_text()
    assert "SECRET_KEY = 'the-site-secret'" in merged and "ALLOWED_HOSTS" in merged
    assert "OPENSTACK_KEYSTONE_URL" in merged and merged.count("ALLOWED_HOSTS") == 1
    assert str(kept) in record.message  # the summary names where the site's file is
    assert [p.name for p in live.parent.glob("*stackstep-tmp*")] == []


def test_settings_merge_killed_after_writing_keeps_the_sites_file(tmp_path):
    live, step = _horizon(tmp_path)
    asyncio.run(file_hook(step, _local(), lambda s, r: None, RUN))  # killed before the journal
    record = resume(tmp_path, step)
    assert record.state == "done"
    _assert_merged_and_kept(live, record)


def test_settings_merge_killed_while_writing_the_merged_file(tmp_path):
    live, step = _horizon(tmp_path)
    # its first part ran: the site's file kept, then `cat > local_settings` cut short
    asyncio.run(_local().run(cmd("cp", "-p", str(live), f"{live}.stackstep-{RUN}"), timeout=10))
    live.write_text(NEW_DEFAULT[:20])
    record = resume(tmp_path, step)
    _assert_merged_and_kept(live, record)


def test_settings_merge_killed_while_keeping_the_sites_file(tmp_path):
    live, step = _horizon(tmp_path)
    # `cp` to the keep name cut short: a half copy may only ever be a temp file
    (tmp_path / f"local_settings.stackstep-{RUN}.stackstep-tmp").write_text(SITE_SETTINGS[:9])
    record = resume(tmp_path, step)
    _assert_merged_and_kept(live, record)


def test_settings_merge_in_a_later_run_keeps_that_runs_file(tmp_path):
    live, step = _horizon(tmp_path)
    asyncio.run(file_hook(step, _local(), lambda s, r: None, RUN))
    # the site edits the merged file; a later run merges again: its own copy is kept
    live.write_text(live.read_text().replace("the-site-secret", "rotated-secret"))
    later = "20261206-090000-beef"
    record = resume(tmp_path, step, run_id=later)
    assert (tmp_path / f"local_settings.stackstep-{RUN}").read_text() == SITE_SETTINGS
    assert "rotated-secret" in (tmp_path / f"local_settings.stackstep-{later}").read_text()
    assert "SECRET_KEY = 'rotated-secret'" in live.read_text()
    assert record.state == "done"


def _rename_step(tmp_path: Path) -> tuple[Path, Path, Step]:
    quantum, neutron = tmp_path / "quantum", tmp_path / "neutron"
    (quantum / "plugins").mkdir(parents=True)
    neutron.mkdir()
    (quantum / "quantum.conf.rpmsave").write_text(QUANTUM_CONF)
    (quantum / "quantum.conf.rpmsave").chmod(0o640)
    (quantum / "plugins" / "ovs_quantum_plugin.ini.rpmsave").write_text(QUANTUM_CONF)
    (quantum / "plugins" / "ovs_quantum_plugin.ini.rpmsave").chmod(0o640)
    (neutron / "neutron.conf").write_text("[DEFAULT]\n")  # the new package's default
    (neutron / "neutron.conf").chmod(0o604)
    params = {
        "from_dir": str(quantum),
        "to_dir": str(neutron),
        "suffix": ".rpmsave",
        "replace": "quantum",
        "with": "neutron",
        "keep_lines": [],
    }
    return quantum, neutron, _hook("rename-configs", params)


def _assert_renamed(quantum: Path, neutron: Path) -> None:
    conf, plugin = neutron / "neutron.conf", neutron / "plugins" / "ovs_neutron_plugin.ini"
    for moved in (conf, plugin):
        assert moved.read_text() == QUANTUM_CONF.replace("quantum", "neutron").replace(
            "Quantum", "Neutron"
        )
    assert conf.stat().st_mode & 0o777 == 0o604  # written in place: the shipped mode stays
    assert plugin.stat().st_mode & 0o777 == 0o640  # new: the source's mode
    assert (quantum / "quantum.conf.rpmsave").read_text() == QUANTUM_CONF  # sources intact
    assert [p.name for p in neutron.rglob("*stackstep-tmp")] == []


def test_rename_configs_killed_after_writing_repeats_to_the_same_files(tmp_path):
    quantum, neutron, step = _rename_step(tmp_path)
    asyncio.run(file_hook(step, _local(), lambda s, r: None, RUN))
    record = resume(tmp_path, step)
    assert record.message.startswith("2 file(s) moved")
    _assert_renamed(quantum, neutron)


def test_rename_configs_killed_mid_file_leaves_no_file_with_the_wrong_mode(tmp_path):
    quantum, neutron, step = _rename_step(tmp_path)
    # the kill lands inside the write of the new plugin file: its `chmod` kills the
    # shell that writes it (neutron.conf, written before, is whole)
    killer = tmp_path / "killer"
    killer.mkdir()
    (killer / "chmod").write_text("#!/bin/sh\nkill -9 $PPID\n")
    (killer / "chmod").chmod(0o755)
    dying = Host("ctl", "127.0.0.1", transport="local", env={"PATH": f"{killer}:/usr/bin:/bin"})
    with pytest.raises(StepFailed):
        asyncio.run(
            file_hook(step, LocalTransport(dying, TransportOptions()), lambda s, r: None, RUN)
        )
    resume(tmp_path, step)
    _assert_renamed(quantum, neutron)


def test_link_repeated_points_at_the_target_once(tmp_path):
    target = tmp_path / "ovs_neutron_plugin.ini"
    target.write_text("[ovs]\n")
    link = tmp_path / "plugin.ini"
    step = _hook("link", {"path": str(link), "target": str(target)})
    asyncio.run(file_hook(step, _local(), lambda s, r: None, RUN))
    resume(tmp_path, step)
    assert link.is_symlink() and link.resolve() == target
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "state") == [
        "ovs_neutron_plugin.ini",
        "plugin.ini",
    ]


def test_link_over_a_sites_own_file_keeps_it(tmp_path):
    target = tmp_path / "ovs_neutron_plugin.ini"
    target.write_text("[ovs]\n")
    link = tmp_path / "plugin.ini"
    link.write_text("[site] own plugin.ini\n")
    step = _hook("link", {"path": str(link), "target": str(target)})
    record = resume(tmp_path, step)
    assert link.is_symlink() and link.resolve() == target
    kept = tmp_path / f"plugin.ini.stackstep-{RUN}"
    assert kept.read_text() == "[site] own plugin.ini\n"
    assert str(kept) in record.message


def _sqlite_backup_step(tmp_path: Path) -> tuple[Path, Step]:
    db = tmp_path / "glance.sqlite"
    con = sqlite3.connect(db)
    with con:
        con.execute("CREATE TABLE images (id TEXT)")
        con.execute("INSERT INTO images VALUES ('cirros')")
    con.close()
    conf = tmp_path / "glance-api.conf"
    conf.write_text(f"[DEFAULT]\nsql_connection = sqlite:///{db}\n")
    step = Step(
        "services/glance/ctl/backup-db",
        StepKind.BACKUP_DB,
        "back up",
        "ctl",
        "glance",
        params=BackupParams.from_json(
            {"config": str(conf), "section": "DEFAULT", "key": "sql_connection"}
        ),
    )
    return db, step


def test_backup_killed_after_the_dump_dumps_the_unmigrated_database_again(tmp_path, monkeypatch):
    # the migration comes after the backup in its service's sequence: while the backup
    # step is not journalled done, the database is not migrated, so its repeat dumps
    # the same data; the journal names a complete dump
    monkeypatch.setenv("STACKSTEP_BACKUP_DIR", str(tmp_path / "backups"))
    _db, step = _sqlite_backup_step(tmp_path)
    first, _ = asyncio.run(backup_database(step, _local(), RUN, lambda s, r: None))
    Path(first).write_bytes(b"half a dump")  # or the kill cut the copy short
    record = resume(tmp_path, step)
    assert record.data["backup"] == first
    copy = sqlite3.connect(first)
    assert copy.execute("SELECT id FROM images").fetchall() == [("cirros",)]
    copy.close()
