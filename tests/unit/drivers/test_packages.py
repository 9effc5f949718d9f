"""The package manager commands: apt's transactions run with service starts held
(policy-rc.d), apt's argv unchanged inside the hold; yum/dnf, apt's download and its
list refresh as they were. The hold script itself is run for real in
tests/integration/test_policy_rc.py."""

from __future__ import annotations

import asyncio

import pytest

from stackstep.drivers import packages
from stackstep.engine.actions import ActionContext, perform
from stackstep.model.command import Command
from stackstep.model.inventory import Host
from stackstep.model.plan import Step, StepKind
from stackstep.transport.fake import FakeTransport, on

KEEP = ("-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")
APT_ENV = (("DEBIAN_FRONTEND", "noninteractive"),)


def _held(apt_argv: tuple[str, ...]) -> Command:
    return Command(
        ("sh", "-c", packages.HOLD_SCRIPT, "stackstep-hold-restarts", *apt_argv), APT_ENV
    )


def test_apt_transactions_run_inside_the_hold_with_their_argv_unchanged() -> None:
    (upgrade,) = packages.upgrade("apt", ("nova-*", "python3-nova*"))
    apt_get = ("apt-get", "-y", *KEEP, "install", "--only-upgrade", "--", "nova-*", "python3-nova*")
    # held, and handed the installed packages the globs match (tests/integration/
    # test_apt_installed.py runs that script)
    assert upgrade.argv[:4] == _held(()).argv
    assert upgrade.argv[4:6] == ("sh", "-c")
    assert upgrade.argv[7:] == (packages.INSTALLED_NAME, *apt_get)
    assert packages.held_argv(upgrade) == apt_get
    assert packages.upgrade("apt", ("nova-*",), cached=True) == packages.upgrade("apt", ("nova-*",))
    assert packages.full_upgrade("apt") == (_held(("apt-get", "-y", *KEEP, "dist-upgrade")),)
    assert packages.downgrade("apt", [("glance-api", "2:26.0.0")]) == (
        _held(
            ("apt-get", "-y", *KEEP, "install", "--allow-downgrades", "--", "glance-api=2:26.0.0")
        ),
    )


def test_the_commands_carry_the_script_the_behaviour_tests_run_at_debians_path() -> None:
    """tests/integration/test_policy_rc.py runs ``hold_script_for(a temporary path)``:
    the commands carry the same script, built for /usr/sbin/policy-rc.d."""
    assert packages.hold_script_for("/usr/sbin/policy-rc.d") == packages.HOLD_SCRIPT
    assert packages.HOLD_SCRIPT.startswith("p=/usr/sbin/policy-rc.d\n")
    odd = packages.hold_script_for("/tmp/it's here/policy-rc.d")
    assert odd.startswith("p='/tmp/it'\"'\"'s here/policy-rc.d'\n")  # quoted, one word
    with pytest.raises(ValueError, match="must be absolute"):
        packages.hold_script_for("policy-rc.d")


def test_yum_dnf_and_apts_download_and_refresh_are_not_held() -> None:
    dnf = ("dnf", "-y", "-C", "upgrade", "--", "nova*")
    assert packages.upgrade("dnf", ("nova*",), cached=True)[0].argv == dnf
    assert packages.full_upgrade("yum")[0].argv == ("yum", "-y", "upgrade")
    down = ("dnf", "-y", "downgrade", "--", "a-1-1")
    assert packages.downgrade("dnf", [("a", "1-1")])[0].argv == down
    assert packages.download("apt") == (
        Command(("apt-get", "-y", "--download-only", "dist-upgrade"), APT_ENV),
    )
    assert packages.refresh("apt") == (Command(("apt-get", "update"), APT_ENV),)


def test_is_apt_knows_held_and_plain_apt_commands() -> None:
    assert packages.is_apt(packages.full_upgrade("apt")[0])
    assert packages.is_apt(packages.download("apt")[0])
    assert not packages.is_apt(packages.full_upgrade("dnf")[0])
    assert not packages.is_apt(Command(("sh", "-c", "apt-get -y dist-upgrade")))
    held = packages.upgrade("apt", ("nova-*",))[0]
    assert packages.held_argv(held) == (
        "apt-get",
        "-y",
        *KEEP,
        "install",
        "--only-upgrade",
        "--",
        "nova-*",
    )
    assert packages.held_argv(packages.full_upgrade("yum")[0]) == ("yum", "-y", "upgrade")


def test_an_apt_full_upgrade_records_dpkgs_digests_not_rpms() -> None:
    """The final full upgrade records the digests of its package database first: dpkg's
    on an apt host, even though the apt command now runs inside the hold script."""
    host = Host("ctl", "192.0.2.10", package_manager="apt")
    step = Step(
        "final/ctl/full-upgrade",
        StepKind.FULL_UPGRADE,
        "upgrade every package",
        "ctl",
        None,
        packages.full_upgrade("apt"),
    )
    fake = FakeTransport("ctl", [on(["sh", "-c"])])
    ctx = ActionContext("RUN", host, "stackstep resume RUN", "systemd", restarts_follow=True)
    asyncio.run(perform(step, fake, ctx))
    record, upgrade = fake.history
    assert record.command.argv[-1] == "dpkg"
    assert packages.held_argv(upgrade.command)[-1] == "dist-upgrade"
