"""A verify step runs its own commands, as the plan shows them (the dry run's), and reads
the units' states from what they answer."""

from __future__ import annotations

import asyncio
import json

import pytest

from stackstep.drivers import services
from stackstep.engine.actions import ActionContext, perform
from stackstep.engine.journal import RunRecord, StepRecord
from stackstep.errors import StepFailed
from stackstep.model.inventory import Host
from stackstep.model.params import VerifyParams
from stackstep.model.plan import Step, StepKind
from stackstep.model.states import RunStatus, StepState
from stackstep.restore.plan import plan_restore
from stackstep.transport.fake import Call, FakeTransport, Reply, on
from stackstep_testing import EXAMPLES, plan_from_path


def _verify(init: str, units: tuple[str, ...]) -> Step:
    return Step(
        "services/nova/cmp/verify",
        StepKind.VERIFY,
        "verify nova",
        "cmp",
        "nova",
        services.is_active(init, units),  # type: ignore[arg-type]
        VerifyParams(units),
    )


def _context(init: str = "systemd") -> ActionContext:
    return ActionContext("RUN", Host("cmp", "127.0.0.1"), "resume", init)  # type: ignore[arg-type]


def test_verify_runs_the_plans_commands_even_when_the_host_is_checked_otherwise():
    step = _verify("sysv", ("nova-compute", "nova-network"))
    fake = FakeTransport(
        "cmp", [on(["service", "nova-compute", "status"]), on(["service", "nova-network"])]
    )
    outcome = asyncio.run(perform(step, fake, _context("systemd")))
    assert outcome.message == "units active"
    assert [c.command for c in fake.history] == list(step.commands)


def test_verify_names_the_units_the_plans_commands_find_down():
    step = _verify("systemd", ("a", "b", "c"))
    fake = FakeTransport("cmp", [on(["systemctl", "is-active"], 3, "active\nfailed\ninactive\n")])
    with pytest.raises(StepFailed, match="not running: b, c"):
        asyncio.run(perform(step, fake, _context()))
    sysv = _verify("sysv", ("a", "b"))
    fake = FakeTransport("cmp", [on(["service", "a"]), on(["service", "b"], 3)])
    with pytest.raises(StepFailed, match=r"not running: b$"):
        asyncio.run(perform(sysv, fake, _context("sysv")))


def test_an_answer_that_does_not_count_the_units_says_they_are_down():
    step = _verify("systemd", ("a", "b"))
    fake = FakeTransport("cmp", [on(["systemctl", "is-active"], 0, "active\n")])
    with pytest.raises(StepFailed, match="not running: a, b"):
        asyncio.run(perform(step, fake, _context()))


def test_the_real_run_runs_what_the_dry_run_shows(catalog):
    plan = plan_from_path(EXAMPLES / "rdo-seed.yaml", catalog)
    verifies = [s for s in plan.steps() if s.kind == StepKind.VERIFY]
    plain = [s for s in verifies if isinstance(s.params, VerifyParams) and not s.params.probe]
    assert plain

    def every_unit_active(call: Call) -> Reply:
        units = call.command.reveal()[3:]  # systemctl is-active -- UNIT...
        return Reply(0, "active\n" * len(units))

    for step in plain:
        fake = FakeTransport(step.host or "", every_unit_active)
        asyncio.run(perform(step, fake, _context()))
        assert [c.command for c in fake.history] == list(step.commands)


def test_a_restore_verifies_with_the_commands_of_the_runs_stored_plan(catalog):
    plan = plan_from_path(EXAMPLES / "rdo-seed.yaml", catalog)
    host = {"family": "rpm", "package_manager": "yum", "init": "systemd", "components": []}
    facts = {"source": "inventory", "hosts": [{"name": h, **host} for h in plan.hosts]}
    stored = (plan.hash, json.dumps(plan.to_dict()), json.dumps(facts), "{}", "", "0")
    run = RunRecord("RUN1", 0.0, 0.0, RunStatus.FAILED, "op", "seed", "/c.yaml", *stored)
    sid = "services/glance/controller/backup-db"
    backup = StepRecord(
        sid, StepState.DONE, "controller", "backup-db", None, 1.0, 0, "", "", 1, {"backup": "/d"}
    )
    (verify,) = plan_restore(run, {sid: backup}, "glance").verifies
    planned = plan.step("services/glance/controller/verify")
    assert planned is not None and planned.commands
    assert verify.commands == planned.commands
    assert verify.params == planned.params
