"""Outage windows, the steps running when they began, and each service's floor, derived
from hand-made timelines (model/availability.py)."""

from __future__ import annotations

import pytest

from stackstep.model.availability import (
    OutageWindow,
    ProbeTarget,
    StepSpan,
    Transition,
    outage_windows,
    service_floor,
    service_windows,
    start_wave,
    steps_running_at,
)
from stackstep.model.plan import StepKind
from stackstep_testing import EXAMPLES, plan_from_path

A = ProbeTarget("keystone", host="ctl-1")
B = ProbeTarget("keystone", host="ctl-2")
VIP = ProbeTarget("keystone", endpoint="http://vip:5000/")


def _timeline(target: ProbeTarget, *states: tuple[float, bool]) -> list[Transition]:
    return [Transition(target, at, up, f"{'up' if up else 'down'} at {at}") for at, up in states]


def test_a_target_never_down_has_no_window_but_is_listed():
    found = outage_windows(_timeline(A, (0.0, True)), run_end=100.0)
    assert found == {A: []}
    assert service_windows(found) == {"keystone": []}


def test_a_window_runs_from_the_first_failed_probe_to_the_first_good_one():
    found = outage_windows(_timeline(A, (0.0, True), (10.2, False), (14.6, True)), 100.0)
    assert found[A] == [OutageWindow(A, 10.2, 14.6, False, 0.0, "down at 10.2")]
    assert found[A][0].duration == pytest.approx(4.4)


def test_flapping_makes_one_window_per_outage_each_with_its_last_good_probe():
    found = outage_windows(
        _timeline(A, (0.0, True), (1.0, False), (1.2, True), (3.0, False), (3.4, True)), 50.0
    )
    assert [(w.start, w.end, w.last_up) for w in found[A]] == [(1.0, 1.2, 0.0), (3.0, 3.4, 1.2)]
    assert not any(w.open for w in found[A])


def test_repeated_samples_and_unsorted_input_read_as_the_transitions_they_hold():
    samples = _timeline(A, (5.0, False), (0.0, True), (5.2, False), (6.0, True), (6.2, True))
    assert [(w.start, w.end) for w in outage_windows(samples, 10.0)[A]] == [(5.0, 6.0)]


def test_down_at_the_first_probe_starts_there_without_a_last_good_probe():
    (window,) = outage_windows(_timeline(A, (2.0, False), (7.0, True)), 10.0)[A]
    assert (window.start, window.end, window.last_up, window.open) == (2.0, 7.0, None, False)


def test_a_window_still_open_at_the_end_of_the_run_ends_there_and_is_open():
    (window,) = outage_windows(_timeline(A, (0.0, True), (8.0, False)), run_end=12.5)[A]
    assert (window.start, window.end, window.open) == (8.0, 12.5, True)
    assert window.duration == 4.5


def test_transitions_after_the_run_are_left_out():
    found = outage_windows(_timeline(A, (0.0, True), (8.0, False), (20.0, True)), 12.0)
    assert [(w.end, w.open) for w in found[A]] == [(12.0, True)]


def test_two_hosts_of_one_service_it_is_down_only_while_both_are():
    timeline = _timeline(A, (0.0, True), (10.0, False), (20.0, True)) + _timeline(
        B, (0.0, True), (15.0, False), (25.0, True)
    )
    found = outage_windows(timeline, 100.0)
    assert [(w.start, w.end) for w in found[A]] == [(10.0, 20.0)]
    assert [(w.start, w.end) for w in found[B]] == [(15.0, 25.0)]
    (both,) = service_windows(found)["keystone"]
    assert both.target == ProbeTarget("keystone")
    assert (both.start, both.end, both.open) == (15.0, 20.0, False)
    assert (both.last_up, both.detail) == (0.0, "down at 15.0")  # ctl-2 took it down


def test_two_hosts_down_one_after_the_other_leave_the_service_up():
    timeline = _timeline(A, (0.0, True), (10.0, False), (12.0, True)) + _timeline(
        B, (0.0, True), (12.0, False), (14.0, True)
    )
    assert service_windows(outage_windows(timeline, 100.0)) == {"keystone": []}


def test_two_hosts_down_to_the_end_leave_the_service_down_and_open():
    timeline = _timeline(A, (1.0, False)) + _timeline(B, (0.0, True), (4.0, False))
    (both,) = service_windows(outage_windows(timeline, 9.0))["keystone"]
    assert (both.start, both.end, both.open, both.last_up) == (4.0, 9.0, True, 0.0)


def test_an_endpoint_keeps_its_own_windows_apart_from_the_hosts():
    timeline = _timeline(A, (0.0, True), (3.0, False), (5.0, True)) + _timeline(
        VIP, (0.0, True), (3.2, False), (4.0, True)
    )
    found = outage_windows(timeline, 10.0)
    assert [(w.start, w.end) for w in found[VIP]] == [(3.2, 4.0)]
    assert [(w.start, w.end) for w in service_windows(found)["keystone"]] == [(3.0, 5.0)]
    assert VIP.label == "keystone via http://vip:5000/" and A.label == "keystone@ctl-1"


def test_a_target_is_a_host_or_an_endpoint_not_both():
    with pytest.raises(ValueError, match="not both"):
        ProbeTarget("nova", host="ctl", endpoint="http://vip:8774/")


def _span(step_id: str, started: float | None, finished: float | None) -> StepSpan:
    service, host, kind = step_id.split("/")[1:]
    return StepSpan(step_id, kind, service, host, started, finished)


def test_the_steps_running_when_an_outage_may_have_begun_are_named():
    stop = _span("services/keystone/ctl-1/stop-units", 9.9, 10.05)  # ended before the probe
    steps = [
        _span("services/glance/ctl-1/verify", 5.0, 9.0),  # over before the last good probe
        stop,
        _span("services/keystone/ctl-1/upgrade-packages", 10.2, None),  # after it began
        _span("services/nova/cmp/upgrade-packages", 8.0, None),  # still running (interrupted)
        _span("services/nova/cmp/verify", None, None),  # never started
    ]
    (window,) = outage_windows(_timeline(A, (0.0, True), (9.95, True), (10.1, False)), 20.0)[A]
    assert steps_running_at([window], steps) == {
        window: ("services/nova/cmp/upgrade-packages", "services/keystone/ctl-1/stop-units")
    }


def test_a_transition_carries_the_sample_before_it_which_bounds_the_outages_start():
    recorded = [
        Transition(A, 0.0, True, "up"),
        Transition(A, 10.1, False, "refused", previous=9.9),  # the prober's samples between
        Transition(A, 12.0, True, "up", previous=11.8),
    ]
    (window,) = outage_windows(recorded, 20.0)[A]
    assert (window.start, window.end, window.last_up) == (10.1, 12.0, 9.9)
    steps = [_span("services/a/h/verify", 1.0, 9.8), _span("services/a/h/stop-units", 9.0, 9.95)]
    assert steps_running_at([window], steps) == {window: ("services/a/h/stop-units",)}


def test_down_at_the_first_probe_names_the_steps_running_at_that_moment():
    (window,) = outage_windows(_timeline(A, (10.0, False), (12.0, True)), 20.0)[A]
    steps = [_span("services/a/h/stop-units", 9.0, 9.99), _span("services/b/h/hook", 9.5, 10.0)]
    assert steps_running_at([window], steps) == {window: ("services/b/h/hook",)}


def _timed(step_id: str, duration: float | None) -> StepSpan:
    return _span(step_id, 100.0, None if duration is None else 100.0 + duration)


def test_the_floor_of_one_host_is_upgrade_then_migration_then_start():
    steps = [
        _timed("services/glance/ctl/stop-units", 5.0),
        _timed("services/glance/ctl/upgrade-packages", 10.0),
        _timed("services/glance/ctl/upgrade-check", 1.0),
        _timed("services/glance/ctl/backup-db", 7.0),
        _timed("services/glance/ctl/migrate-db", 3.0),
        _timed("services/glance/ctl/start-units", 2.0),
        _timed("services/glance/ctl/verify", 4.0),
    ]
    assert service_floor(steps) == {"glance": pytest.approx(15.0)}


def test_the_floor_of_two_hosts_follows_the_longest_chain():
    steps = [
        _timed("services/nova/ctl/upgrade-packages", 4.0),
        _timed("services/nova/cmp/upgrade-packages", 10.0),
        _timed("services/nova/ctl/migrate-db", 3.0),  # ready at 7
        _timed("services/nova/ctl/start-units", 1.0),  # 7 + 1
        _timed("services/nova/cmp/start-units", 2.0),  # max(10, 7) + 2
        _timed("services/keystone/ctl/upgrade-packages", 1.0),
    ]
    assert service_floor(steps) == {"nova": pytest.approx(12.0), "keystone": pytest.approx(1.0)}


def test_a_step_not_finished_takes_no_time_and_a_service_without_work_has_no_floor():
    steps = [
        _timed("services/nova/ctl/upgrade-packages", 4.0),
        _timed("services/nova/ctl/start-units", None),
        _timed("services/swift/ctl/stop-units", 3.0),
    ]
    assert service_floor(steps) == {"nova": pytest.approx(4.0)}


def test_the_floor_of_a_real_plan_waits_wave_by_wave(catalog):
    plan = plan_from_path(
        EXAMPLES / "ansible" / "hosts.ini", catalog, from_release="grizzly", to_release="havana"
    )
    took = {
        "services/cinder/ctl01/stop-units": 5.0,
        "services/cinder/ctl01/upgrade-packages": 10.0,
        "services/cinder/stor01/upgrade-packages": 4.0,
        "services/cinder/ctl01/backup-db": 7.0,
        "services/cinder/ctl01/migrate-db": 3.0,  # ready at 13
        "services/cinder/ctl01/start-units-1": 1.0,  # 14
        "services/cinder/stor01/start-units-2": 2.0,  # 16
        "services/cinder/ctl01/start-units-3": 1.0,  # 17
        "services/cinder/stor01/verify": 9.0,
    }
    steps = [
        StepSpan(s.id, str(s.kind), s.service, s.host, 50.0, 50.0 + took[s.id])
        for s in plan.steps()
        if s.id in took
    ]
    assert len(steps) == len(took)
    assert service_floor(steps) == {"cinder": pytest.approx(17.0)}


def test_a_start_steps_wave_is_read_from_its_id():
    assert start_wave("services/nova/cmp/start-units") == 1
    assert start_wave("services/nova/cmp/start-units-3") == 3
    assert StepKind.START_UNITS == "start-units"
