"""Issue 11's campaign, reduced for CI (bench/crash.py and bench/faults.py are the full
versions): on the lab's Grizzly cloud, stackstep killed with SIGKILL at chosen moments
and resumed each time ends in the same end state as an uninterrupted run; faults met
during an upgrade stop it with a one-screen explanation and `resume --yes` ends it right
once they are taken away.

One deploy, one snapshot of the fresh cloud and one uninterrupted reference run are shared
by the module; each test puts the snapshot back (~4 s) instead of deploying again.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from labcloud import stackstep

from browser import check_report_page, started_steps
from stackstep.engine.journal import Journal
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
from stackstep.report.downtime import run_downtime

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "report.schema.json").read_text())

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


def test_each_services_measured_outage_matches_its_stop_and_start(campaign):
    """Issue 13's acceptance: on the reference run (Grizzly -> Havana, prober on by
    default), each API's outage starts within 0.5 s of its stop step and ends within
    0.5 s of the end of its last start step; any other window is the after-phase restart's."""
    work = campaign[4]
    journal = Journal(work / "reference")
    try:
        run = journal.run(None)
        found = run_downtime(journal, run.id)
        spans = journal.step_spans(run.id)
    finally:
        journal.close()
    assert [s.command for s in found.sessions] == ["upgrade"]
    probed = [s for s in found.services if s.probed]
    assert {s.service for s in probed} >= {"keystone", "glance", "nova", "neutron", "cinder"}
    for service in probed:
        mine = [s for s in spans if s.service == service.service and s.started]
        stop = min(s.started for s in mine if s.kind == "stop-units")
        started = max(s.finished or 0.0 for s in mine if s.kind == "start-units")
        main = [w for w in service.windows if w.window.start < started]
        assert len(main) == 1, (service.service, main)
        window = main[0].window
        assert abs(window.start - stop) <= 0.5, (service.service, window.start - stop)
        assert abs(window.end - started) <= 0.5, (service.service, window.end - started)
        assert any(step.endswith("/stop-units") for step in main[0].steps), main[0].steps
        for other in service.windows:
            if other is not main[0]:
                assert any(s.startswith("restart/") for s in other.steps), (service, other)


def test_the_report_of_the_upgrade_opens_in_chromium(campaign):
    """Issue 13's acceptance, on the reference run (the upgrade `stackstep demo` runs:
    the same Grizzly cloud, `upgrade --yes`): the JSON validates against its schema and
    agrees with the journal; the page every upgrade writes opens in headless Chromium
    with no console error and fetches nothing, has one step bar per started step and an
    outage shading for every service the prober saw down; screenshots (light, dark) and
    an A4 print are written as test artefacts ($STACKSTEP_ARTIFACTS, else tests/artifacts/)."""
    state = campaign[4] / "reference"
    journal = Journal(state)
    try:
        run_id = journal.run(None).id
        steps = {s: r.state for s, r in journal.steps(run_id).items()}
    finally:
        journal.close()
    shown = stackstep(state, "report", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["run"]["status"] == "done"
    assert {s["id"]: s["state"] for s in doc["steps"]} == steps
    down = {s["service"]: s for s in doc["downtime"]["services"] if s["outage"]}
    assert {"keystone", "glance", "nova"} <= set(down), doc["downtime"]["services"]
    for service in down.values():  # each window names the steps running when it began
        assert all(w["steps"] for w in service["windows"]), service
    page = state / "runs" / run_id / "report.html"  # written by the upgrade itself
    assert page.exists()
    assert doc["totals"]["started"] == started_steps(state, run_id)
    shot = check_report_page(page, state, doc, "report-lab")
    assert shot.stat().st_size > 10_000
