"""engine/balancer.py through the local transport and the real socket script, against a
UNIX socket that answers with a real HAProxy's recorded answers in turn
(tests/data/outputs/haproxy/). integration/test_drain_haproxy.py runs them against HAProxy."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackstep.engine import balancer
from stackstep.errors import StepFailed
from stackstep.model.inventory import Host
from stackstep.transport.base import Result, TransportOptions
from stackstep.transport.local import LocalTransport
from stackstep_testing import ROOT

OUT = ROOT / "tests" / "data" / "outputs" / "haproxy"
C1, C2 = ("keystone", "controller1"), ("keystone", "controller2")


class Answers:
    """A UNIX socket answering each connection with the next of ``answers`` (the last
    one again once they run out), keeping the lines it was sent."""

    def __init__(self, path: Path, *answers: str) -> None:
        self.path, self.answers, self.lines = str(path), list(answers), list[str]()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.lines.append(conn.recv(4096).decode().rstrip("\n"))
                answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
                conn.sendall(answer.encode())


@pytest.fixture
def lb() -> LocalTransport:
    return LocalTransport(Host("lb", "127.0.0.1", transport="local"), TransportOptions())


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "admin.sock"


def recorded(name: str) -> str:
    return (OUT / name).read_text()


def test_wait_out_polls_until_the_server_is_down(lb: LocalTransport, sock: Path):
    answers = Answers(
        sock, recorded("show-stat-up.txt"), recorded("show-stat-going-down.txt"),
        recorded("show-stat-disabled.txt"),
    )  # fmt: skip
    seen: list[Result] = []
    waited = asyncio.run(
        balancer.wait_out(lb, str(sock), [C2], 5, 0.01, step_id="s1", on_result=seen.append)
    )
    assert waited.polls == 3 and waited.host == "lb"
    assert waited.stats[C2].status == "DOWN" and 0.02 <= waited.seconds < 5
    assert answers.lines == ["show stat -1 4 -1"] * 3
    assert len(seen) == 2  # the first and the last poll, for the journal
    assert waited.to_json() == {
        "lb": "lb",
        "waited": round(waited.seconds, 3),
        "polls": 3,
        "servers": {"keystone/controller2": "DOWN"},
    }


def test_wait_out_times_out_naming_each_pair_its_status_and_sessions(
    lb: LocalTransport, sock: Path
):
    Answers(sock, recorded("show-stat-drain-session.txt"))
    with pytest.raises(StepFailed) as failed:
        asyncio.run(balancer.wait_out(lb, str(sock), [C1, C2], 0.3, 0.05, step_id="drain-ctl1"))
    error = failed.value
    assert error.host == "lb"
    assert error.message == (
        "step drain-ctl1 on lb failed: not drained on lb after 0.3 s: "
        "keystone/controller2 is DRAIN (check L7OK 200), 1 session(s)"
    )
    assert "clients still hold sessions" in (error.hint or "")
    assert "drain_timeout" in (error.hint or "")
    assert error.data["pending"] == {
        "keystone/controller2": {"status": "DRAIN", "scur": 1, "check": "L7OK 200"}
    }


def test_wait_out_of_a_server_still_up_says_its_check_passes(lb: LocalTransport, sock: Path):
    Answers(sock, recorded("show-stat-going-down.txt"))
    with pytest.raises(StepFailed, match=r"controller2 is UP 1/2 \(check L7STS 503\)") as failed:
        asyncio.run(balancer.wait_out(lb, str(sock), [C2], 0.1, 0.05, step_id="s"))
    assert "health check still passes" in (failed.value.hint or "")


@pytest.mark.parametrize(
    ("pair", "says"),
    [
        (("keystone", "ctl9"), "backend keystone has no server ctl9 on lb: check load_balancer"),
        (("glance", "controller1"), "HAProxy on lb has no backend glance"),
    ],
)
def test_a_pair_haproxy_does_not_know_fails_at_once(lb, sock, pair, says):
    answers = Answers(sock, recorded("show-stat-up.txt"))
    with pytest.raises(StepFailed, match=says):
        asyncio.run(balancer.wait_out(lb, str(sock), [C1, pair], 60, step_id="s"))
    assert len(answers.lines) == 1


def test_wait_in_passes_once_up_and_times_out_naming_the_check(lb, sock):
    Answers(sock, recorded("show-stat-disabled.txt"), recorded("show-stat-going-up.txt"),
            recorded("show-stat-up.txt"))  # fmt: skip
    waited = asyncio.run(balancer.wait_in(lb, str(sock), [C1, C2], 5, 0.01, step_id="s"))
    assert waited.polls == 3 and waited.stats[C2].status == "UP"
    sock.unlink()
    Answers(sock, recorded("show-stat-disabled.txt"))
    with pytest.raises(StepFailed) as failed:
        asyncio.run(balancer.wait_in(lb, str(sock), [C1, C2], 0.2, 0.05, step_id="undrain"))
    assert failed.value.message == (
        "step undrain on lb failed: not back in load balancing on lb after 0.2 s: "
        "keystone/controller2 is DOWN (check L7STS 503), 0 session(s)"
    )


def test_set_state_is_one_command_per_pair_and_repeatable(lb, sock):
    answers = Answers(sock, recorded("set-state-done.txt"))
    results = asyncio.run(balancer.set_state(lb, str(sock), [C1, C2, C1], "drain", step_id="s"))
    assert [r.ok for r in results] == [True] * 3
    assert answers.lines == [
        "set server keystone/controller1 state drain",
        "set server keystone/controller2 state drain",
        "set server keystone/controller1 state drain",
    ]


@pytest.mark.parametrize(
    ("answer", "says", "hint"),
    [
        ("set-state-no-server.txt", "backend keystone has no server controller1 on lb", None),
        ("set-state-no-backend.txt", "HAProxy on lb has no backend keystone", None),
        ("set-state-level-user.txt", "refused .*: Permission denied", "level admin"),
    ],
)
def test_set_state_refused_says_why(lb, sock, answer, says, hint):
    Answers(sock, recorded(answer))
    with pytest.raises(StepFailed, match=says) as failed:
        asyncio.run(balancer.set_state(lb, str(sock), [C1], "drain", step_id="s"))
    assert (hint or "") in (failed.value.hint or "")


def test_no_socket_names_the_socket_and_the_inventory_key(lb, tmp_path: Path):
    path = tmp_path / "none.sock"
    with pytest.raises(StepFailed) as failed:
        asyncio.run(balancer.wait_out(lb, str(path), [C1], 5, step_id="s"))
    assert failed.value.message == (
        f"step s on lb failed: cannot connect to HAProxy's admin socket {path}: "
        "No such file or directory"
    )
    assert failed.value.exit_status == 2
    assert "load_balancer.socket" in (failed.value.hint or "")


def test_no_python3_on_the_lb_host_says_to_install_it(sock: Path):
    bare = LocalTransport(
        Host("lb", "127.0.0.1", transport="local", env={"PATH": "/nonexistent"}),
        TransportOptions(),
    )
    with pytest.raises(StepFailed, match="python3") as failed:
        asyncio.run(balancer.set_state(bare, str(sock), [C1], "drain", step_id="s"))
    assert failed.value.exit_status == 127
    assert failed.value.hint == "stackstep talks to HAProxy's socket with python3: install it on lb"


def test_an_answer_that_is_not_show_stat(lb, sock):
    Answers(sock, "Unknown command. Please enter one of the following commands only :\n")
    with pytest.raises(StepFailed, match="cannot read HAProxy's servers: `show stat` answered"):
        asyncio.run(balancer.wait_in(lb, str(sock), [C1], 5, step_id="s"))
