"""The end-of-run summary's and `stackstep status`'s downtime: the figures a user reads,
from a journal written with the Journal API (steps timed, probe sessions, transitions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stackstep.engine.executor import RunResult
from stackstep.engine.journal import Journal
from stackstep.model.availability import ProbeTarget, Transition
from stackstep.model.params import Probe, VerifyParams
from stackstep.model.plan import Group, Plan, Step, StepKind
from stackstep.model.states import RunStatus, StepState
from stackstep.report.summary import (
    downtime_json,
    result_json,
    status_json,
    status_lines,
    summary_lines,
)
from stackstep_testing import EXAMPLES, downtime_rows, plan_from_path

T0 = 1_800_000_000.0
ENDPOINT = "http://192.0.2.99:5000/v3"
KEYSTONE = ProbeTarget("keystone", host="aio")
GLANCE = ProbeTarget("glance", host="aio")
VIA = ProbeTarget("keystone", endpoint=ENDPOINT)


def _time(journal: Journal, run_id: str, step_id: str, start: float, end: float) -> None:
    journal.step_started(run_id, step_id)
    journal.step_ended(run_id, step_id, StepState.DONE)
    journal.db.execute(
        "UPDATE steps SET started=?, finished=? WHERE run_id=? AND step_id=?",
        (T0 + start, T0 + end, run_id, step_id),
    )
    journal.db.commit()


def _session(
    journal: Journal, run_id: str, transitions: list[Transition], end: float, command: str = ""
) -> None:
    session = journal.probe_started(run_id, command or "upgrade", 0.2)
    for t in transitions:
        journal.add_transition(session, t)
    journal.probe_ended(session)
    journal.db.execute(
        "UPDATE probe_sessions SET started=?, ended=? WHERE id=?", (T0, T0 + end, session)
    )
    journal.db.commit()


def _down(target: ProbeTarget, at: float, previous: float) -> Transition:
    return Transition(target, T0 + at, False, "connection refused", T0 + previous)


def _up(target: ProbeTarget, at: float, previous: float | None = None) -> Transition:
    return Transition(target, T0 + at, True, "200", None if previous is None else T0 + previous)


@pytest.fixture
def aio_run(tmp_path: Path, catalog) -> tuple[Journal, str]:
    """The all-in-one example's plan, journalled: keystone's upgrade 2 s, migration 1 s,
    start 0.5 s (floor 3.5 s) and down 1.0 -> 5.0 (4 s, one window), its endpoint down
    1.2 -> 4.9; glance down twice (0.3 s + 0.5 s), no step timed (no floor); the other
    services probed and never down, except horizon (no sample)."""
    journal = Journal(tmp_path / "state")
    plan = plan_from_path(EXAMPLES / "all-in-one.yaml", catalog)
    run_id = journal.new_run(plan, {}, {}, "all-in-one.yaml", "", "")
    _time(journal, run_id, "services/keystone/aio/stop-units", 0.9, 1.0)
    _time(journal, run_id, "services/keystone/aio/upgrade-packages", 1.0, 3.0)
    _time(journal, run_id, "services/keystone/aio/migrate-db", 3.2, 4.2)
    _time(journal, run_id, "services/keystone/aio/start-units", 4.3, 4.8)
    quiet = [_up(ProbeTarget(s, host="aio"), 0.0) for s in ("swift", "cinder", "neutron", "nova")]
    _session(
        journal,
        run_id,
        [
            _up(KEYSTONE, 0.0),
            _up(GLANCE, 0.0),
            _up(VIA, 0.0),
            *quiet,
            _down(KEYSTONE, 1.0, 0.8),
            _down(VIA, 1.2, 1.0),
            _up(VIA, 4.9, 4.7),
            _up(KEYSTONE, 5.0, 4.8),
            _down(GLANCE, 6.0, 5.8),
            _up(GLANCE, 6.3, 6.1),
            _down(GLANCE, 7.0, 6.8),
            _up(GLANCE, 7.5, 7.3),
        ],
        end=10.0,
    )
    return journal, run_id


def _summary(journal: Journal, run_id: str, **kw: bool) -> list[str]:
    result = RunResult(RunStatus.DONE)
    lines = summary_lines(journal, run_id, result, "stackstep resume", Path("run.log"), **kw)
    return [line.text for line in lines]


def test_the_summary_prints_each_service_s_outage_windows_floor_and_ratio(aio_run):
    journal, run_id = aio_run
    lines = _summary(journal, run_id)
    assert "downtime, measured by probing every 0.2 s:" in lines
    rows = downtime_rows(lines)
    assert rows["keystone"] == ["4.00", "1", "3.50", "1.14"]
    assert rows[f"via {ENDPOINT}"] == ["3.70", "1"]
    assert rows["glance"] == ["0.80", "2", "-", "-"]
    assert rows["nova"] == ["0.00", "0", "-", "-"]
    assert rows["horizon"] == ["-", "-", "-", "-"]
    assert list(rows) == [  # the plan's order, each endpoint under its service
        "keystone",
        f"via {ENDPOINT}",
        "swift",
        "cinder",
        "glance",
        "neutron",
        "nova",
        "horizon",
    ]
    assert "  not measured (no probe sample recorded): horizon" in lines
    report = journal.state_dir / "runs" / run_id / "report.html"
    assert lines[-1] == f"report: {report} (stackstep report {run_id})"
    assert lines[-2] == "log: run.log"


def test_the_json_result_holds_the_same_figures(aio_run):
    journal, run_id = aio_run
    result = RunResult(RunStatus.DONE)
    body = result_json(journal, run_id, result, "stackstep resume", Path("run.log"), 0)
    assert body["report"] == str(journal.state_dir / "runs" / run_id / "report.html")
    downtime = body["downtime"]
    assert downtime["measured"] is True and downtime["probe_off"] is False
    assert [s["command"] for s in downtime["sessions"]] == ["upgrade"]
    services = {s["service"]: s for s in downtime["services"]}
    assert services["keystone"] == {
        "service": "keystone",
        "probed": True,
        "outage_s": 4.0,
        "windows": 1,
        "open": False,
        "floor_s": 3.5,
        "ratio": 1.143,
        "endpoints": [{"endpoint": ENDPOINT, "outage_s": 3.7, "windows": 1, "open": False}],
    }
    assert services["glance"]["outage_s"] == 0.8 and services["glance"]["windows"] == 2
    assert services["horizon"]["probed"] is False and services["horizon"]["outage_s"] is None
    json.dumps(body)  # it is JSON


def test_status_shows_the_same_table_and_report(aio_run):
    journal, run_id = aio_run
    record = journal.run(run_id)
    text = [line.text for line in status_lines(journal, record, "stackstep resume")]
    assert downtime_rows(text) == downtime_rows(_summary(journal, run_id))
    assert text[-1].startswith("report: ") or text[-2].startswith("report: ")
    body = status_json(journal, record, "stackstep resume")
    assert body["downtime"] == downtime_json(journal, run_id)
    assert body["report"].endswith(f"runs/{run_id}/report.html")


def test_a_service_still_down_when_probing_ended_is_flagged(aio_run):
    journal, run_id = aio_run
    _session(journal, run_id, [_up(KEYSTONE, 11.0), _down(KEYSTONE, 12.0, 11.8)], 13.0, "resume")
    lines = _summary(journal, run_id)
    assert downtime_rows(lines)["keystone"] == [
        "5.00",
        "2",
        "3.50",
        "1.43",
        "still down when probing ended",
    ]
    keystone = next(
        s for s in downtime_json(journal, run_id)["services"] if s["service"] == "keystone"
    )
    assert keystone["open"] is True


def test_a_run_without_probing_says_so(tmp_path, catalog):
    journal = Journal(tmp_path / "state")
    plan = plan_from_path(EXAMPLES / "all-in-one.yaml", catalog)
    run_id = journal.new_run(plan, {}, {}, "all-in-one.yaml", "", "")
    lines = _summary(journal, run_id, probe_off=True)
    assert "downtime: not measured: the probe was off (--no-probe)" in lines
    assert not any(line.startswith("downtime, measured") for line in lines)
    assert lines[-1].startswith("report: ")
    assert downtime_json(journal, run_id, probe_off=True)["measured"] is False
    # status, later, knows only what the journal holds
    text = [t.text for t in status_lines(journal, journal.run(run_id), "stackstep resume")]
    assert any(
        t.startswith("downtime: not measured: no probe session in the journal") for t in text
    )


def test_a_resume_with_no_probe_after_a_probed_run_says_its_part_is_not_counted(aio_run):
    journal, run_id = aio_run
    lines = _summary(journal, run_id, probe_off=True)
    assert "keystone" in downtime_rows(lines)
    assert "  this command ran with --no-probe: its outages are not counted" in lines


def test_services_with_no_probe_in_the_catalog_are_named(tmp_path):
    def verify(service: str, probe: Probe | None) -> Step:
        params = VerifyParams(units=(f"{service}-api",), probe=probe)
        return Step(
            f"services/{service}/h/verify", StepKind.VERIFY, "verify", "h", service, params=params
        )

    root = Group(
        "root",
        "root",
        "sequential",
        (verify("keystone", Probe("http://192.0.2.1:5000/v3", (200,))), verify("heat", None)),
    )
    plan = Plan("c", "a", "b", "rolling", root, hosts=("h",), services=("keystone", "heat"))
    journal = Journal(tmp_path / "state")
    run_id = journal.new_run(plan, {}, {}, "c.yaml", "", "")
    _session(journal, run_id, [_up(ProbeTarget("keystone", host="h"), 0.0)], 1.0)
    lines = _summary(journal, run_id)
    assert "  not measured (no API probe in the catalog): heat" in lines
    assert downtime_rows(lines)["keystone"] == ["0.00", "0", "-", "-"]
    journal2 = Journal(tmp_path / "other")
    plan2 = Plan(
        "c", "a", "b", "rolling", Group("root", "root", "sequential", (verify("heat", None),))
    )
    run2 = journal2.new_run(plan2, {}, {}, "c.yaml", "", "")
    assert (
        "downtime: not measured: no service of this plan has an API probe in the catalog"
        in _summary(journal2, run2)
    )


def test_status_says_where_an_interrupted_apt_transaction_may_hold_service_starts(
    tmp_path, catalog
):
    """A run killed inside an apt transaction leaves its step RUNNING; the transaction's
    policy-rc.d may still deny every maintainer-script start on that host, and status
    says so (and only for apt hosts)."""
    journal = Journal(tmp_path / "state")
    plan = plan_from_path(EXAMPLES / "ubuntu-apt.yaml", catalog)
    facts = {"hosts": [{"name": "uca-cmp1", "package_manager": "apt"},
                       {"name": "uca-ctl", "package_manager": "dnf"}]}  # fmt: skip
    run_id = journal.new_run(plan, facts, {}, "ubuntu-apt.yaml", "", "")
    upgrades = [s.id for s in plan.steps() if s.kind == StepKind.UPGRADE_PACKAGES]
    on = {s.split("/")[2]: s for s in upgrades}
    for host in ("uca-cmp1", "uca-ctl"):
        journal.step_started(run_id, on[host])
    text = [t.text for t in status_lines(journal, journal.run(run_id), "stackstep resume")]
    held = [t for t in text if "policy-rc.d" in t]
    assert len(held) == 1 and held[0].startswith("!! uca-cmp1: its package transaction"), text
    assert status_json(journal, journal.run(run_id), "x")["left_held"] == ["uca-cmp1"]
    journal.step_ended(run_id, on["uca-cmp1"], StepState.DONE)
    assert status_json(journal, journal.run(run_id), "x")["left_held"] == []
