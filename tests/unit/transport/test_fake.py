"""The scripted FakeTransport, and the TransportPool / open_transport factory."""

from __future__ import annotations

import asyncio
import re

import pytest

from stackstep.errors import HostUnreachable, TransportError
from stackstep.model.command import Command, Secret, cmd
from stackstep.model.inventory import Host
from stackstep.transport.base import Result, Transport, TransportOptions
from stackstep.transport.factory import TransportPool, open_transport
from stackstep.transport.fake import Call, FakeTransport, Reply, UnexpectedCommand, on
from stackstep.transport.local import LocalTransport
from stackstep.transport.ssh import SshTransport


def run(transport: FakeTransport, command: Command, **kw: object) -> Result:
    return asyncio.run(transport.run(command, **kw))  # type: ignore[arg-type]


def test_rules_match_argv_prefix_or_regex_first_match_wins() -> None:
    fake = FakeTransport(
        "ctl-1",
        [
            on(["systemctl", "is-active"], stdout="active\n"),
            on(r"^dnf .*upgrade", exit_status=1, stderr="no network\n"),
            on(re.compile("systemctl"), stdout="second\n"),
        ],
    )
    first = run(fake, cmd("systemctl", "is-active", "nova-api"))
    assert (first.host, first.exit_status, first.stdout) == ("ctl-1", 0, "active\n")
    assert run(fake, cmd("systemctl", "stop", "x")).stdout == "second\n"
    failed = run(fake, cmd("dnf", "-y", "upgrade", "openstack-*"))
    assert (failed.ok, failed.stderr) == (False, "no network\n")
    assert fake.calls == [
        "systemctl is-active nova-api",
        "systemctl stop x",
        "dnf -y upgrade 'openstack-*'",
    ]


def test_prefix_must_match_whole_tokens() -> None:
    fake = FakeTransport("h", [on(["systemctl", "is"])], default=Reply(9))
    assert run(fake, cmd("systemctl", "is-active")).exit_status == 9


def test_a_rule_can_raise_a_transport_error() -> None:
    fake = FakeTransport("h", [on(["reboot"], raises=HostUnreachable("h", "connection lost"))])
    with pytest.raises(HostUnreachable, match="connection lost"):
        run(fake, cmd("reboot"))
    assert fake.calls == ["reboot"]


def test_unmatched_command_fails_loudly_naming_it() -> None:
    fake = FakeTransport("ctl-1", [on(["true"])])
    with pytest.raises(UnexpectedCommand, match=r"ctl-1: unexpected command `rm -rf /tmp/x`"):
        run(fake, cmd("rm", "-rf", "/tmp/x"))
    assert isinstance(UnexpectedCommand("x"), AssertionError)


def test_default_reply_answers_unmatched_commands() -> None:
    fake = FakeTransport("h", default=Reply(0, "ok\n"))
    assert run(fake, cmd("anything")).stdout == "ok\n"


def test_handler_sees_the_whole_call() -> None:
    seen: list[Call] = []

    def handler(call: Call) -> Reply:
        seen.append(call)
        return Reply(0, call.command.reveal()[-1].upper())

    fake = FakeTransport("h", handler)
    result = run(fake, cmd("echo", "hi"), stdin="in", timeout=5.0)
    assert result.stdout == "HI"
    assert (seen[0].rendered, seen[0].stdin, seen[0].timeout) == ("echo hi", "in", 5.0)
    assert fake.history == seen


def test_an_async_handler_is_awaited_and_hosts_answer_concurrently() -> None:
    running: list[str] = []
    peak = 0

    async def handler(call: Call) -> Reply:
        nonlocal peak
        running.append(call.rendered)
        peak = max(peak, len(running))
        await asyncio.sleep(0.01)
        running.remove(call.rendered)
        if call.command.reveal()[0] == "reboot":
            raise HostUnreachable("h", "connection lost")
        return Reply(3, "inactive\n")

    async def main() -> list[Result]:
        fakes = [FakeTransport(f"h{i}", handler) for i in range(3)]
        return await asyncio.gather(*(f.run(cmd("systemctl", "is-active", "x")) for f in fakes))

    results = asyncio.run(main())
    assert [(r.host, r.exit_status, r.stdout) for r in results] == [
        (f"h{i}", 3, "inactive\n") for i in range(3)
    ]
    assert peak == 3
    with pytest.raises(HostUnreachable, match="connection lost"):
        run(FakeTransport("h", handler), cmd("reboot"))


def test_secrets_are_masked_in_calls_and_results_but_prefix_sees_them() -> None:
    fake = FakeTransport("h", [on(["mysql", "-pREAL"], stdout="in\n")])
    command = Command(("mysql", Secret("-pREAL")), env=(("TOKEN", Secret("t")),))
    result = run(fake, command)
    assert result.stdout == "in\n"
    assert "REAL" not in result.command and "REAL" not in fake.calls[0]
    assert fake.calls == ["TOKEN='******' mysql '******'"]


def test_files_live_in_a_dict() -> None:
    fake = FakeTransport("h", files={"/etc/hosts": b"127.0.0.1 localhost\n"})

    async def main() -> bytes:
        await fake.put(b"data", "/etc/x.conf", mode=0o600)
        assert await fake.get("/etc/hosts") == b"127.0.0.1 localhost\n"
        return await fake.get("/etc/x.conf")

    assert asyncio.run(main()) == b"data"
    assert fake.modes == {"/etc/x.conf": 0o600}
    with pytest.raises(TransportError, match="h: cannot read /nope"):
        asyncio.run(fake.get("/nope"))
    asyncio.run(fake.close())
    assert fake.closed


def test_fake_satisfies_the_transport_protocol() -> None:
    transport: Transport = FakeTransport("h")
    assert transport.host == "h"


def test_open_transport_chooses_by_host_transport() -> None:
    options = TransportOptions()
    local = open_transport(Host(name="a", address="x", transport="local"), options)
    remote = open_transport(Host(name="b", address="x"), options)
    assert isinstance(local, LocalTransport) and local.host == "a"
    assert isinstance(remote, SshTransport) and remote.host == "b"


def test_pool_makes_one_transport_per_host_and_closes_all() -> None:
    made: list[FakeTransport] = []

    def opener(host: Host, options: TransportOptions) -> Transport:
        made.append(FakeTransport(host.name, default=Reply()))
        return made[-1]

    async def main() -> None:
        async with TransportPool(opener=opener) as pool:
            a1 = await pool.get(Host(name="a", address="1"))
            a2 = await pool.get(Host(name="a", address="1"))
            b = await pool.get(Host(name="b", address="2"))
            assert a1 is a2 and a1 is not b
            await a1.run(cmd("true"))

    asyncio.run(main())
    assert [t.host for t in made] == ["a", "b"]
    assert all(t.closed for t in made)


def test_pool_closes_concurrently_and_survives_a_failing_close() -> None:
    events: list[str] = []

    class Slow(FakeTransport):
        async def close(self) -> None:
            events.append(f"start {self.host}")
            await asyncio.sleep(0.05)
            events.append(f"end {self.host}")
            if self.host == "a":
                raise OSError("boom")
            await super().close()

    async def main() -> None:
        pool = TransportPool(opener=lambda host, _: Slow(host.name))
        for name in "ab":
            await pool.get(Host(name=name, address=name))
        await pool.close()

    asyncio.run(main())
    assert events[:2] == ["start a", "start b"]
    assert sorted(events[2:]) == ["end a", "end b"]
