"""Draining through a real HAProxy (Debian's package, run as our own child process from
tests/haproxy_peer.py, never the system service): engine/balancer.py over the local
transport against its admin socket, and requests through its frontend to see that a
drained server really gets none. Checks every 200 ms, rise 2 fall 2."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from haproxy_peer import HAPROXY, Haproxy, running_haproxy
from stackstep.engine import balancer
from stackstep.errors import StepFailed
from stackstep.model.inventory import Host
from stackstep.transport.base import TransportOptions
from stackstep.transport.local import LocalTransport

C1, C2, C3 = (("keystone", f"controller{n}") for n in (1, 2, 3))


@pytest.fixture
def lb(tmp_path: Path) -> Iterator[Haproxy]:
    if not Path(HAPROXY).exists():
        pytest.skip(f"{HAPROXY} is missing: install Debian's haproxy (make system-deps)")
    with running_haproxy(tmp_path) as peer:
        yield peer


@pytest.fixture
def transport() -> LocalTransport:
    return LocalTransport(Host("lb", "127.0.0.1", transport="local"), TransportOptions())


def served_by(peer: Haproxy, count: int = 30) -> set[str]:
    """Who answered ``count`` requests through the frontend (each must succeed)."""
    answers = [peer.get("/") for _ in range(count)]
    assert {status for status, _ in answers} == {200}
    return {body for _, body in answers}


def test_drain_then_no_request_reaches_the_server_and_ready_brings_it_back(lb, transport):
    assert served_by(lb) == {"controller1", "controller2", "controller3"}
    asyncio.run(balancer.set_state(transport, lb.socket, [C1], "drain", step_id="drain"))
    asyncio.run(balancer.set_state(transport, lb.socket, [C1], "drain", step_id="drain"))
    waited = asyncio.run(balancer.wait_out(transport, lb.socket, [C1], 5, 0.1, step_id="w"))
    assert waited.stats[C1].status == "DRAIN" and waited.polls == 1
    hits = lb.backends["controller1"].hits
    assert served_by(lb) == {"controller2", "controller3"}
    assert lb.backends["controller1"].hits == hits

    asyncio.run(balancer.set_state(transport, lb.socket, [C1], "ready", step_id="undrain"))
    back = asyncio.run(balancer.wait_in(transport, lb.socket, [C1], 5, 0.1, step_id="w"))
    assert back.stats[C1].status == "UP"
    assert "controller1" in served_by(lb)


def test_disable_file_takes_the_server_down_then_up_again(lb, transport):
    lb.backends["controller2"].disable()
    out = asyncio.run(balancer.wait_out(transport, lb.socket, [C2], 10, 0.05, step_id="w"))
    assert (out.stats[C2].status, out.stats[C2].check_status) == ("DOWN", "L7STS 503")
    assert out.seconds < 10
    assert served_by(lb) == {"controller1", "controller3"}

    lb.backends["controller2"].enable()
    back = asyncio.run(balancer.wait_in(transport, lb.socket, [C2], 10, 0.05, step_id="w"))
    assert (back.stats[C2].status, back.stats[C2].check_status) == ("UP", "L7OK 200")
    assert "controller2" in served_by(lb)


def test_a_held_session_keeps_the_drain_waiting_until_it_ends(lb, transport):
    # only controller1 takes traffic while the slow request starts
    asyncio.run(balancer.set_state(transport, lb.socket, [C2, C3], "maint", step_id="s"))
    answers: list[tuple[int, str]] = []
    held = threading.Thread(target=lambda: answers.append(lb.get("/slow", 20)), daemon=True)
    held.start()
    assert lb.backends["controller1"].slow_started.wait(5)
    asyncio.run(balancer.set_state(transport, lb.socket, [C2, C3], "ready", step_id="s"))
    asyncio.run(balancer.set_state(transport, lb.socket, [C1, C3], "drain", step_id="s"))
    started = time.monotonic()
    with pytest.raises(StepFailed) as failed:
        asyncio.run(balancer.wait_out(transport, lb.socket, [C1, C3], 0.8, 0.1, step_id="w"))
    assert 0.8 <= time.monotonic() - started < 5
    # the check status is whatever the last check said (L7OK 200 on an idle machine)
    said = r"step w on lb failed: not drained on lb after 0\.8 s: "
    said += r"keystone/controller1 is DRAIN \(check [^)]+\), 1 session\(s\)"
    assert re.fullmatch(said, failed.value.message), failed.value.message
    assert "still hold sessions" in (failed.value.hint or "")

    lb.backends["controller1"].release.set()
    held.join(5)
    assert answers == [(200, "controller1")]  # the session ran to its end
    out = asyncio.run(balancer.wait_out(transport, lb.socket, [C1], 5, 0.05, step_id="w"))
    assert out.stats[C1].scur == 0


def test_wait_in_times_out_naming_the_failing_check(lb, transport):
    lb.backends["controller3"].disable()  # and left there: the undrain forgot it
    asyncio.run(balancer.wait_out(transport, lb.socket, [C3], 10, 0.05, step_id="w"))
    with pytest.raises(StepFailed) as failed:
        asyncio.run(balancer.wait_in(transport, lb.socket, [C1, C3], 1.5, 0.1, step_id="w"))
    assert failed.value.message.startswith("step w on lb failed: not back in load balancing")
    assert "keystone/controller3 is DOWN (check L7STS 503), 0 session(s)" in failed.value.message
    assert "controller1" not in failed.value.message


def test_maint_then_ready(lb, transport):
    asyncio.run(balancer.set_state(transport, lb.socket, [C3], "maint", step_id="s"))
    out = asyncio.run(balancer.wait_out(transport, lb.socket, [C3], 5, 0.1, step_id="w"))
    assert out.stats[C3].status == "MAINT"
    assert served_by(lb) == {"controller1", "controller2"}
    asyncio.run(balancer.set_state(transport, lb.socket, [C3], "ready", step_id="s"))
    asyncio.run(balancer.wait_in(transport, lb.socket, [C3], 5, 0.05, step_id="w"))
    assert "controller3" in served_by(lb)


def test_names_haproxy_does_not_know(lb, transport):
    unknown = ("keystone", "controller9")
    with pytest.raises(StepFailed, match="backend keystone has no server controller9 on lb"):
        asyncio.run(balancer.set_state(transport, lb.socket, [unknown], "drain", step_id="s"))
    with pytest.raises(StepFailed, match="backend keystone has no server controller9 on lb"):
        asyncio.run(balancer.wait_out(transport, lb.socket, [C1, unknown], 5, step_id="s"))
    with pytest.raises(StepFailed, match="HAProxy on lb has no backend glance"):
        asyncio.run(balancer.wait_in(transport, lb.socket, [("glance", "c1")], 5, step_id="s"))


def test_preflight_names_a_server_that_is_not_up_before_anything_changes(lb, transport):
    """`stackstep preflight` (and the run's first phase) runs the rolling plan's
    load-balancer check: a server down or unknown is a problem with its fix."""
    from stackstep.engine.preflight import _load_balancer
    from stackstep.model.params import LbWaitParams
    from stackstep.model.plan import Step, StepKind

    def check(pairs):
        step = Step(
            "preflight/lb/load-balancer",
            StepKind.LB_WAIT,
            "every backend server to roll is UP",
            "lb",
            params=LbWaitParams("in", "", tuple(pairs), lb.socket, 2),
        )
        return asyncio.run(_load_balancer(step, transport))

    assert check([C1, C2, C3]) == []
    lb.backends["controller2"].disable()
    asyncio.run(balancer.wait_out(transport, lb.socket, [C2], 10, 0.05, step_id="w"))
    (finding,) = check([C1, C2, C3])
    assert finding.severity == "problem" and finding.check == "load-balancer"
    assert "keystone/controller2 is DOWN" in finding.message and finding.fix
    (unknown,) = check([("keystone", "ctl9")])
    assert "backend keystone has no server ctl9 on lb" in unknown.message
