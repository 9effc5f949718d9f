"""An event's payload reads back typed: a command's exit status, duration and output as
``command_data`` wrote them, a failed step's tail and hint; absent, they read as empty."""

from __future__ import annotations

from stackstep.engine.events import Event, command_data
from stackstep.transport.base import Result


def test_a_command_event_reads_back_what_command_data_wrote():
    result = Result("c1", "uname -r", 3, "out\n", "err\n", 1.23456)
    event = Event("command", "run", data=command_data(result))
    assert (event.exit_status, event.seconds) == (3, 1.235)
    assert (event.output("stdout"), event.output("stderr")) == ("out\n", "err\n")


def test_a_failed_step_event_reads_back_its_tail_and_hint():
    event = Event("step-failed", "run", data={"output_tail": "no space", "hint": "free /var"})
    assert (event.output_tail, event.hint) == ("no space", "free /var")


def test_an_event_without_payload_reads_as_empty():
    event = Event("message", "run")
    assert (event.exit_status, event.seconds, event.output_tail, event.hint) == (None, None, "", "")
    assert Event("command", "run", data={"exit_status": True, "seconds": "1"}).seconds is None
