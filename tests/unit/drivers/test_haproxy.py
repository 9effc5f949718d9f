"""HAProxy's runtime API: commands, and ``show stat`` read from a real HAProxy's answers
(tests/data/outputs/haproxy/, see its README)."""

from __future__ import annotations

import socket
import subprocess
import threading
from pathlib import Path

import pytest

from stackstep.drivers import haproxy
from stackstep.drivers.haproxy import ServerStat, is_drained, is_in, is_out, parse_stat
from stackstep.errors import PlanError
from stackstep_testing import ROOT

OUT = ROOT / "tests" / "data" / "outputs" / "haproxy"
SOCK = "/run/haproxy/admin.sock"


def stat(name: str) -> dict[tuple[str, str], ServerStat]:
    return parse_stat((OUT / name).read_text())


def statuses(name: str) -> dict[str, tuple[str, int, str]]:
    return {s.server: (s.status, s.scur, s.check_status) for s in stat(name).values()}


def test_all_up_with_a_dead_server_and_one_without_checks():
    assert statuses("show-stat-up.txt") == {
        "controller1": ("UP", 0, "L7OK 200"),
        "controller2": ("UP", 0, "L7OK 200"),
        "controller3": ("UP", 0, "L7OK 200"),
        "controller4": ("DOWN", 0, "L4CON"),
        "controller5": ("no check", 0, ""),
    }
    found = stat("show-stat-up.txt")
    assert found[("keystone", "controller4")].check_desc == "Layer4 connection problem"
    assert [k for k, s in found.items() if is_in(s)] == [
        ("keystone", f"controller{n}") for n in (1, 2, 3, 5)
    ]
    assert [k[1] for k, s in found.items() if is_out(s)] == ["controller4"]


def test_full_show_stat_leaves_frontend_and_backend_rows_out():
    found = stat("show-stat-all.txt")
    assert sorted(found) == [("keystone", f"controller{n}") for n in range(1, 6)]
    assert statuses("show-stat-all.txt") == statuses("show-stat-up.txt")


def test_drain_is_out_and_drained_once_no_session_is_left():
    drained = stat("show-stat-drain.txt")[("keystone", "controller1")]
    assert drained.status == "DRAIN" and is_out(drained) and is_drained(drained)
    assert not is_in(drained)
    held = stat("show-stat-drain-session.txt")
    assert held[("keystone", "controller2")].scur == 1
    assert is_out(held[("keystone", "controller2")])
    assert not is_drained(held[("keystone", "controller2")])
    assert is_drained(held[("keystone", "controller3")])
    assert held[("keystone", "controller5")].status == "DRAIN"  # no check, drained


def test_maint_is_out_and_has_no_check_result():
    maint = stat("show-stat-maint.txt")[("keystone", "controller1")]
    assert (maint.status, maint.check_status) == ("MAINT", "")
    assert is_drained(maint) and not is_in(maint)


def test_disable_file_transitions():
    going_down = stat("show-stat-going-down.txt")[("keystone", "controller2")]
    assert (going_down.status, going_down.check_status) == ("UP 1/2", "L7STS 503")
    assert going_down.check_desc == "Layer7 wrong status"
    assert not is_out(going_down) and not is_in(going_down)  # still gets traffic
    down = stat("show-stat-disabled.txt")[("keystone", "controller2")]
    assert (down.status, down.check_status) == ("DOWN", "L7STS 503")
    assert is_drained(down)
    going_up = stat("show-stat-going-up.txt")[("keystone", "controller2")]
    assert (going_up.status, going_up.check_status) == ("DOWN 1/2", "L7OK 200")
    assert is_out(going_up) and not is_in(going_up)  # no traffic until rise checks pass


@pytest.mark.parametrize(
    ("status", "out", "inside"),
    [
        ("MAINT (via)", True, False),
        ("MAINT (resolution)", True, False),
        ("DOWN (agent)", True, False),
        ("NOLB", True, False),
        ("NOLB 1/2", True, False),
        ("DRAIN (agent)", True, False),
        ("UPPER", False, False),
        ("", False, False),
    ],
)
def test_statuses_not_recorded_here(status: str, out: bool, inside: bool):
    server = ServerStat("b", "s", status, 0, "")
    assert (is_out(server), is_in(server)) == (out, inside)


def test_describe_names_pair_status_check_and_sessions():
    held = stat("show-stat-drain-session.txt")[("keystone", "controller2")]
    assert held.describe() == "keystone/controller2 is DRAIN (check L7OK 200), 1 session(s)"


def test_extra_columns_and_quoted_fields():
    text = (
        "# pxname,svname,scur,status,check_status,check_code,check_desc,new_col,\n"
        "api,FRONTEND,3,OPEN,,,,x,\n"
        'ks,c1,2,UP,L7OK,200,"a, quoted, desc",x,\n'
    )
    assert parse_stat(text) == {
        ("ks", "c1"): ServerStat("ks", "c1", "UP", 2, "L7OK 200", "a, quoted, desc")
    }


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "nothing"),
        ("Permission denied\n\n", "Permission denied"),
        ("Unknown command: 'show stat'\n", "Unknown command"),
        ("# pxname,svname,status\nks,c1,UP\n", "no column scur"),
        (
            (OUT / "show-stat-up.txt")
            .read_text()
            .replace("controller1,0,0,0,", "controller1,0,0,x,"),
            "scur",
        ),
        (
            "# pxname,svname,scur,status,check_status,check_code\nks,c1,0,UP,L7OK,200,1,2,3\n",
            "fields",
        ),
    ],
)
def test_garbage_is_a_value_error_saying_what(text: str, says: str):
    with pytest.raises(ValueError, match=says):
        parse_stat(text)


def test_commands_are_argv_with_the_fixed_script():
    drain = haproxy.set_state(SOCK, "keystone", "controller1", "drain")
    assert drain.argv[:3] == ("python3", "-I", "-c")
    assert drain.argv[4:] == (SOCK, "set server keystone/controller1 state drain")
    assert haproxy.show_stat(SOCK).argv[3] == drain.argv[3]  # one fixed script
    assert haproxy.show_stat(SOCK).argv[5] == "show stat -1 4 -1"
    assert haproxy.show_servers_state(SOCK).argv[5] == "show servers state"
    assert haproxy.set_state_error("\n") is None
    assert (
        haproxy.set_state_error((OUT / "set-state-no-server.txt").read_text()) == "No such server."
    )


@pytest.mark.parametrize(
    ("backend", "server", "state", "says"),
    [
        ("keystone;", "c1", "drain", "backend name 'keystone;'"),
        ("keystone", "c1; shutdown sessions server x/y", "drain", "server name"),
        ("keystone", "c1/x", "drain", "server name"),
        ("keystone", "-c1", "drain", "server name"),
        ("keystone", "c1\nshow", "drain", "server name"),
        ("", "c1", "drain", "backend name"),
        ("keystone", "c1", "up", "state 'up'"),
    ],
)
def test_bad_names_are_refused_before_any_command(backend, server, state, says):
    with pytest.raises(PlanError, match=says):
        haproxy.set_state(SOCK, backend, server, state)


@pytest.mark.parametrize("path", ["admin.sock", "-x", "/run/../etc/shadow", "/run/a\nb"])
def test_socket_must_be_an_absolute_path(path: str):
    with pytest.raises(PlanError, match="HAProxy admin socket"):
        haproxy.show_stat(path)


def test_one_line_only():
    with pytest.raises(PlanError, match="one command line"):
        haproxy.socket_command(SOCK, "show stat; disable server ks/c1")
    with pytest.raises(PlanError, match="one command line"):
        haproxy.socket_command(SOCK, "show stat\nshutdown sessions server ks/c1")


def _serve_once(path: Path, answer: bytes, got: list[bytes]) -> threading.Thread:
    """A UNIX socket answering one connection like HAProxy: read a line, answer, close."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            got.append(conn.recv(4096))
            conn.sendall(answer)
        listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_the_script_sends_one_line_and_prints_the_whole_answer(tmp_path: Path):
    answer = (OUT / "show-stat-all.txt").read_bytes()
    got: list[bytes] = []
    thread = _serve_once(tmp_path / "admin.sock", answer, got)
    command = haproxy.show_stat(str(tmp_path / "admin.sock"))
    done = subprocess.run(command.reveal(), capture_output=True, timeout=20, check=False)
    thread.join(5)
    assert got == [b"show stat -1 4 -1\n"]
    assert (done.returncode, done.stdout) == (0, answer)


def test_the_script_says_when_the_socket_is_missing(tmp_path: Path):
    command = haproxy.show_stat(str(tmp_path / "none.sock"))
    done = subprocess.run(command.reveal(), capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == haproxy.SOCKET_MISSING
    path = tmp_path / "none.sock"
    assert (
        done.stderr
        == f"cannot connect to HAProxy's admin socket {path}: No such file or directory\n"
    )
