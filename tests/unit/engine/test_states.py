"""Run and step states are enums whose values are the strings the journal has always
stored: a journal written by an earlier release reads the same."""

from __future__ import annotations

from stackstep.engine.journal import Journal
from stackstep.model.plan import Group, Plan, Step, StepKind
from stackstep.model.states import RunStatus, StepState


def _plan() -> Plan:
    steps = tuple(Step(f"s/h/{i}", StepKind.FULL_UPGRADE, "t", "h") for i in range(3))
    return Plan("c", "a", "b", "service-by-service", Group("plan", "p", "sequential", steps))


def test_the_journal_stores_states_as_the_plain_strings_it_always_had(tmp_path):
    journal = Journal(tmp_path)
    run_id = journal.new_run(_plan(), {}, {}, "i.yaml", "", "")
    journal.step_started(run_id, "s/h/0")
    journal.step_ended(run_id, "s/h/1", StepState.SKIPPED)
    journal.set_status(run_id, RunStatus.HALTED)
    rows = journal.db.execute("SELECT step_id, state, typeof(state) FROM steps ORDER BY step_id")
    assert list(rows) == [
        ("s/h/0", "running", "text"),
        ("s/h/1", "skipped", "text"),
        ("s/h/2", "pending", "text"),
    ]
    assert journal.db.execute("SELECT status FROM runs").fetchone() == ("halted",)


def test_states_written_as_strings_read_back_as_enums(tmp_path):
    journal = Journal(tmp_path)
    run_id = journal.new_run(_plan(), {}, {}, "i.yaml", "", "")
    journal.db.execute("UPDATE steps SET state='done' WHERE step_id='s/h/0'")
    journal.db.execute("UPDATE runs SET status='interrupted'")
    steps = journal.steps(run_id)
    assert steps["s/h/0"].state is StepState.DONE
    assert steps["s/h/2"].state is StepState.PENDING
    assert journal.run(run_id).status is RunStatus.INTERRUPTED
    assert [r.status for r in journal.runs()] == [RunStatus.INTERRUPTED]
