"""What a run that stopped part way through a rolling upgrade left behind: nodes out of
rotation, and services a node's stop left down (engine/journal.py), as the summary and
`stackstep status` report them."""

from __future__ import annotations

from stackstep.engine.journal import StepRecord, left_down, left_drained
from stackstep.model.states import StepState

DONE, PENDING, RUNNING = StepState.DONE, StepState.PENDING, StepState.RUNNING


def _rec(step_id: str, kind: str, state: StepState) -> StepRecord:
    host = step_id.split("/")[1]
    return StepRecord(step_id, state, host, kind, None, None, None, "", "", 0, {})


def _steps(*items: tuple[str, str, StepState]) -> dict[str, StepRecord]:
    return {sid: _rec(sid, kind, state) for sid, kind, state in items}


ROLL = [
    ("roll/controller2/drain/controller2/files", "drain"),
    ("roll/controller2/drain/lb/wait", "lb-wait"),
    ("roll/controller2/stop-units", "stop-units"),
    ("roll/controller2/upgrade", "full-upgrade"),
    ("services/keystone/controller2/start-units", "start-units"),
    ("services/glance/controller2/start-units", "start-units"),
    ("roll/controller2/undrain/controller2/files", "drain"),
    ("roll/controller2/undrain/lb/wait", "lb-wait"),
]


def _until(done: int, then: StepState = PENDING) -> dict[str, StepRecord]:
    """The node's steps: the first ``done`` done, the next one ``then``, the rest pending."""
    states = [DONE] * done + [then] + [PENDING] * len(ROLL)
    return _steps(*((sid, kind, states[i]) for i, (sid, kind) in enumerate(ROLL)))


def test_a_node_killed_between_drain_and_undrain_is_reported_out_of_rotation():
    assert left_drained(_until(0)) == []  # nothing done yet
    assert left_drained(_until(0, RUNNING)) == ["controller2"]  # the drain may have run
    assert left_drained(_until(4)) == ["controller2"]
    assert left_drained(_until(7)) == ["controller2"]  # back in, not yet seen UP
    assert left_drained(_until(8)) == []


def test_a_nodes_stop_leaves_each_of_its_services_down_until_it_starts_again():
    assert left_down(_until(2)) == {}
    assert left_down(_until(3)) == {"keystone": ["controller2"], "glance": ["controller2"]}
    assert left_down(_until(5)) == {"glance": ["controller2"]}
    assert left_down(_until(6)) == {}
