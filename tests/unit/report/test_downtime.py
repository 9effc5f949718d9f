"""A run's downtime as the summary, the report and the bench read it: probe sessions
from the journal, windows per service with the steps running and the session that saw
them, floors and ratios (report/downtime.py)."""

from __future__ import annotations

import pytest

from stackstep.engine.journal import Journal
from stackstep.model.availability import ProbeSession, ProbeTarget, StepSpan, Transition
from stackstep.model.plan import Group, Plan, Step, StepKind
from stackstep.report.downtime import analyse, run_downtime

CTL = ProbeTarget("keystone", host="ctl")
VIP = ProbeTarget("keystone", endpoint="http://vip:5000/v3")


def _spans(t0: float = 100.0) -> list[StepSpan]:
    """keystone on ctl: stop 1 s, packages 3 s, migration 2 s, start 1 s; a restart later."""
    return [
        StepSpan("services/keystone/ctl/stop-units", "stop-units", "keystone", "ctl", t0, t0 + 1),
        StepSpan(
            "services/keystone/ctl/upgrade-packages",
            "upgrade-packages",
            "keystone",
            "ctl",
            t0 + 1,
            t0 + 4,
        ),
        StepSpan(
            "services/keystone/ctl/migrate-db", "migrate-db", "keystone", "ctl", t0 + 4, t0 + 6
        ),
        StepSpan(
            "services/keystone/ctl/start-units", "start-units", "keystone", "ctl", t0 + 6, t0 + 7
        ),
        StepSpan("restart/ctl/restart-units", "restart-units", None, "ctl", t0 + 20, t0 + 21),
    ]


def _down_up(
    target: ProbeTarget, *moments: tuple[float, bool, float | None]
) -> tuple[Transition, ...]:
    return tuple(Transition(target, at, up, "", previous) for at, up, previous in moments)


def test_each_window_names_its_session_and_steps_and_the_ratio_is_outage_over_floor():
    seen = _down_up(
        CTL,
        (99.0, True, None),
        (100.2, False, 100.0),
        (107.2, True, 107.0),
        (20.3 + 100, False, 120.1),
        (121.1, True, 120.9),
    )
    session = ProbeSession("upgrade", 99.0, 130.0, 0.2, seen)
    (keystone,) = analyse([session], _spans(), ["keystone"]).services
    assert [round(w.duration, 2) for w in keystone.windows] == [7.0, 0.8]
    first, second = keystone.windows
    assert first.steps == ("services/keystone/ctl/stop-units",)
    assert second.steps == ("restart/ctl/restart-units",)
    assert first.command == second.command == "upgrade"
    assert keystone.floor == pytest.approx(6.0)  # packages 3 + migration 2 + start 1
    assert keystone.outage == pytest.approx(7.8)
    assert keystone.ratio == pytest.approx(7.8 / 6.0)


def test_a_service_down_across_a_kill_and_its_resume_is_one_window():
    killed = ProbeSession(
        "upgrade", 99.0, None, 0.2, _down_up(CTL, (99.0, True, None), (100.2, False, 100.0))
    )
    resumed = ProbeSession(
        "resume", 150.0, 160.0, 0.2, _down_up(CTL, (150.0, False, None), (152.0, True, 151.8))
    )
    found = analyse([killed, resumed], _spans(), ["keystone", "glance"])
    keystone, glance = found.services
    (window,) = keystone.windows  # nothing brought it back while stackstep was dead
    assert (window.window.start, window.window.end) == (100.2, 152.0)
    assert window.command == "upgrade" and not window.window.open
    assert not glance.probed and glance.outage is None and glance.ratio is None


def test_an_upgrade_killed_with_a_service_down_reports_the_window_open():
    killed = ProbeSession(
        "upgrade", 99.0, None, 0.2, _down_up(CTL, (99.0, True, None), (100.2, False, 100.0))
    )
    (keystone,) = analyse([killed], _spans()[:1], ["keystone"], run_end=103.0).services
    (window,) = keystone.windows
    assert window.window.open and window.duration == pytest.approx(2.8)


def test_an_endpoint_keeps_its_own_windows_and_one_host_of_two_down_is_no_outage():
    other = ProbeTarget("keystone", host="ctl2")
    seen = (
        *_down_up(CTL, (99.0, True, None), (100.2, False, 100.0), (107.2, True, 107.0)),
        *_down_up(other, (99.0, True, None)),
        *_down_up(VIP, (99.0, True, None), (101.0, False, 100.8), (101.4, True, 101.2)),
    )
    found = analyse([ProbeSession("upgrade", 99.0, 110.0, 0.2, seen)], _spans(), ["keystone"])
    (keystone,) = found.services
    assert keystone.probed and keystone.windows == () and keystone.outage == 0.0
    (vip_window,) = keystone.endpoints[VIP.endpoint]
    assert vip_window.duration == pytest.approx(0.4)
    assert [len(ws) for ws in found.hosts.values()] == [1, 0]


def _plan() -> Plan:
    kinds = (StepKind.STOP_UNITS, StepKind.UPGRADE_PACKAGES, StepKind.START_UNITS)
    steps = tuple(Step(f"services/keystone/ctl/{k}", k, str(k), "ctl", "keystone") for k in kinds)
    return Plan("c", "a", "b", "service-by-service", Group("plan", "p", "sequential", steps))


def test_the_journal_keeps_each_sessions_transitions_and_the_run_reads_back(tmp_path):
    journal = Journal(tmp_path)
    run_id = journal.new_run(_plan(), {}, {}, "i.yaml", "", "")
    killed = journal.probe_started(run_id, "upgrade", 0.2)
    journal.add_transition(killed, Transition(CTL, 1000.0, True, "GET -> 200"))
    journal.add_transition(killed, Transition(CTL, 1001.0, False, "refused", 1000.8))
    resumed = journal.probe_started(run_id, "resume", 0.5)
    journal.add_transition(resumed, Transition(VIP, 1010.0, True, "GET -> 200"))
    journal.probe_ended(resumed)
    for kind, start, end in (
        ("stop-units", 1000.9, 1001.0),
        ("upgrade-packages", 1001.1, 1004.0),
        ("start-units", 1004.0, 1005.0),
    ):
        journal.db.execute(
            "UPDATE steps SET state='done', started=?, finished=? WHERE step_id=?",
            (start, end, f"services/keystone/ctl/{kind}"),
        )
    first, second = journal.probe_sessions(run_id)
    assert (first.command, first.ended, first.interval) == ("upgrade", None, 0.2)
    assert [t.up for t in first.transitions] == [True, False]
    assert first.transitions[1] == Transition(CTL, 1001.0, False, "refused", 1000.8)
    assert second.command == "resume" and second.ended is not None
    assert second.transitions == (Transition(VIP, 1010.0, True, "GET -> 200"),)
    found = run_downtime(journal, run_id)
    (keystone,) = found.services
    assert keystone.floor == pytest.approx(3.9)  # packages 2.9 + start 1
    (window,) = keystone.windows
    assert window.window.open and window.steps == ("services/keystone/ctl/stop-units",)
    journal.close()
