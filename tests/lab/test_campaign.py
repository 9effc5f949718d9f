"""Issue 11's campaign, reduced for CI (bench/crash.py and bench/faults.py are the full
versions): on the lab's Grizzly cloud, stackstep killed with SIGKILL at chosen moments
and resumed each time ends in the same end state as an uninterrupted run; faults met
during an upgrade stop it with a one-screen explanation and `resume --yes` ends it right
once they are taken away.

One deploy, one snapshot of the fresh cloud and one uninterrupted reference run are shared
by the module; each test puts the snapshot back (~4 s) instead of deploying again.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from stackstep.lab.campaign import (
    Chooser,
    Reference,
    Snapshot,
    Trigger,
    killed_run,
    reference_run,
)
from stackstep.lab.faultcases import by_name, explanation, fault_run
from stackstep.lab.lab import Lab

# Each kill lands in a window where a repeat could lose or change something.
KILLS = (
    Trigger(after=4.0),  # discovery or preflight, before anything changed
    Trigger(event="command", step="services/keystone/controller/migrate-db", nth=1),
    Trigger(event="step-started", step="services/neutron/controller/upgrade-packages"),
    Trigger(event="command", step="services/neutron/controller/rename-configs", nth=2),
    Trigger(event="command", step="services/horizon/controller/local-settings", nth=1),
    Trigger(event="step-finished", step="final/controller/full-upgrade"),
    Trigger(event="step-started", step="restart/controller/restart-units"),
)


@pytest.fixture(scope="module")
def campaign(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    from stackstep.lab.openstack.deploy import deploy

    work = tmp_path_factory.mktemp("campaign")
    try:
        inventory = deploy(lab, "havana").inventory
        snapshot = Snapshot(lab, work / "snapshot")
        snapshot.take()
        reference = reference_run(lab, snapshot, inventory, work / "reference")
        yield lab, inventory, snapshot, reference, work
    finally:
        lab.destroy()
        shutil.rmtree(work / "snapshot", ignore_errors=True)  # ~170 MB


def in_order(reference: Reference) -> Chooser:
    """The next of KILLS whose step has not run yet."""
    left = list(KILLS)

    def choose(states: dict[str, str]) -> Trigger | None:
        while left:
            trigger = left.pop(0)
            if trigger.after is not None or states.get(trigger.step, "pending") == "pending":
                return trigger
        return None

    return choose


def test_killed_and_resumed_runs_end_like_an_uninterrupted_one(campaign):
    lab, inventory, snapshot, reference, work = campaign
    result = killed_run(
        lab, snapshot, inventory, work / "killed", reference, in_order(reference), len(KILLS)
    )
    assert len(result.kills) >= 5, result.kills
    assert result.final.exit_code == 0, result.final.stdout[-3000:]
    assert result.repeats == []
    assert result.differences == []
    # the kills landed inside steps: resume probed them, or ran them again as safe
    assert result.probed, result.kills


def test_faults_stop_clearly_and_resume_to_the_same_end_state(campaign):
    lab, inventory, snapshot, reference, work = campaign
    chain = [by_name(n) for n in ("migration fails", "disk full", "host unreachable: sshd stopped")]
    results = fault_run(lab, inventory, work / "faults", chain, reference, snapshot)
    for result in results:
        assert result.problems == [], explanation(result.stop.stdout)
        assert result.ok, (result.fault.name, result.row, result.differences)
    text = explanation(results[0].stop.stdout)
    assert "glance DOWN on controller" in text or "glance part way" in text, text
