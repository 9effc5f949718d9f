"""Values from a catalog or an inventory never reach a command as an option.

A unit, package, path or host named like an option (``-Hroot@evil`` would make
``systemctl`` run on another machine over SSH) comes after ``--`` wherever the tool takes
one; ``find`` has none for its starting points, so a relative one is written ``./PATH``;
SysV ``service`` and the nova clients have none that works, so an option-like name is
refused. The tools themselves are checked with these exact commands in
tests/integration/test_security.py.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from stackstep.drivers import (
    database,
    leftovers,
    nova,
    packages,
    pkgcache,
    rpm,
    services,
    systemd,
    sysv,
)
from stackstep.errors import PlanError
from stackstep.model.catalog import Catalog, PerFamily, Service
from stackstep.model.command import Command
from stackstep_testing import EXAMPLES, plan_from_path

EVIL = "-Hroot@evil"


def only_after_separator(command: Command, value: str = EVIL) -> None:
    """Every token that carries ``value`` follows a ``--`` token."""
    argv = command.masked()
    carrying = [i for i, token in enumerate(argv) if value in token]
    assert carrying, f"{value} is not in {argv}"
    assert "--" in argv, f"no -- in {argv}"
    assert min(carrying) > argv.index("--"), argv


def built_commands() -> dict[str, Command]:
    out: dict[str, Command] = {}
    for action in ("stop", "start", "restart"):
        (out[f"systemctl {action}"],) = services.unit_action("systemd", action, ("a", EVIL))
    (out["systemctl is-active"],) = services.is_active("systemd", (EVIL,))
    out["systemctl list-unit-files"] = systemd.list_units_command([EVIL])
    out["systemctl show"] = systemd.show_units_command([EVIL])
    for pm in ("yum", "dnf", "apt"):
        (out[f"{pm} upgrade"],) = packages.upgrade(pm, ("nova*", EVIL))
        (out[f"{pm} downgrade"],) = packages.downgrade(pm, [(EVIL, "1:2.0-1")])
        out[f"{pm} installed"] = packages.installed_command(pm, [EVIL])
    for pm in ("yum", "dnf"):
        out[f"{pm} check-update"] = rpm.check_update_command(pm, (EVIL,))
        out[f"{pm} download"] = pkgcache.download_command(pm, EVIL, "2.0-1", "/var/tmp/d")
    for family in ("rpm", "deb"):
        out[f"{family} owner"] = pkgcache.owner_command(family, EVIL)
        out[f"{family} version"] = pkgcache.version_command(family, EVIL)
    return out


@pytest.mark.parametrize("name", sorted(built_commands()))
def test_option_like_value_comes_after_the_separator(name: str) -> None:
    only_after_separator(built_commands()[name])


def test_reads_with_no_value_have_no_dangling_separator() -> None:
    """``rpm -qa`` and ``dpkg-query -W`` with no pattern list everything, as before."""
    assert "--" not in packages.installed_command("dnf", []).to_json()
    assert "--" not in packages.installed_command("apt", []).to_json()
    assert "--" not in rpm.check_update_command("dnf").to_json()


def test_relative_find_starting_points_cannot_be_read_as_expressions() -> None:
    for command in (
        leftovers.find_leftovers(("/etc/nova", "-delete"), (".rpmnew",)),
        pkgcache.cached_command("rpm", "nova", ("-delete", "/var/cache/dnf")),
    ):
        argv = command.masked()
        points = argv[1 : argv.index("-type")]
        assert "./-delete" in points
        assert not any(p.startswith(("-", "(", "!", ",")) for p in points), argv


def test_an_absolute_find_starting_point_is_left_as_it_is() -> None:
    argv = leftovers.find_leftovers(("/etc/nova",), (".rpmnew",)).to_json()
    assert argv[:3] == ["find", "/etc/nova", "-type"]


def test_sysv_service_has_no_separator_so_option_like_names_are_refused() -> None:
    with pytest.raises(PlanError, match="-Hroot@evil"):
        services.unit_action("sysv", "stop", ("nova-api", EVIL))
    with pytest.raises(PlanError, match="-Hroot@evil"):
        services.is_active("sysv", (EVIL,))
    with pytest.raises(PlanError, match="-Hroot@evil"):
        sysv.status_command(EVIL)
    assert services.unit_action("sysv", "stop", ("nova-api",))[0].to_json() == [
        "service",
        "nova-api",
        "stop",
    ]


def test_nova_clients_refuse_an_option_like_host() -> None:
    """``openstack ... set --disable --os-auth-url=http://evil`` would send credentials away."""
    for client in ("nova", "openstack"):
        with pytest.raises(PlanError, match="--os-auth-url"):
            nova.service_argv(client, "disable", "--os-auth-url=http://evil")
    assert nova.service_argv("nova", "enable", "cmp1") == (
        "nova",
        "service-enable",
        "cmp1",
        "nova-compute",
    )


def test_a_package_member_is_always_a_relative_archive_path() -> None:
    argv = pkgcache.extract_command("deb", "/var/cache/apt/archives/x.deb", "-x").to_json()
    assert argv[-1] == "./-x"
    argv = pkgcache.extract_command("rpm", "/c/x.rpm", "/etc/nova/nova.conf").to_json()
    assert argv[-1] == "./etc/nova/nova.conf"


def _stub(bin_dir: Path, name: str) -> None:
    """A stand-in ``name`` that writes its argv, one per line, to ``$OUT``."""
    tool = bin_dir / name
    tool.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "$OUT"\n')
    tool.chmod(0o755)


def _run_sh(
    command: Command, tmp_path: Path, tools: list[str], stdin: str | None = None
) -> list[str]:
    """Run ``command`` (a ``sh -c`` script) with stand-ins for ``tools``; the argv the
    last stand-in saw."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in tools:
        _stub(bin_dir, name)
    out = tmp_path / "argv"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "OUT": str(out),
        "STACKSTEP_BACKUP_DIR": str(tmp_path),
    }
    subprocess.run(command.reveal(), env=env, input=stdin or "", text=True, check=False, timeout=10)
    return out.read_text().splitlines() if out.exists() else []


def test_apt_download_script_passes_the_package_after_the_separator(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    command = pkgcache.download_command("apt", EVIL, "1.0", str(tmp_path / "d"))
    argv = _run_sh(command, tmp_path, ["apt-get"])
    assert argv[-2:] == ["--", f"{EVIL}=1.0"]


def test_mysql_dump_script_passes_the_database_after_the_separator(tmp_path: Path) -> None:
    target = database.DbTarget("mysql", EVIL, "nova", "pw")
    command, stdin = database.backup_command(target, "run1", "nova")
    argv = _run_sh(command, tmp_path, ["mysqldump", "mariadb-dump"], stdin)
    assert argv[-2:] == ["--", EVIL]


def _hostile(catalog: Catalog) -> Catalog:
    """The catalog with an option-like unit, package and config dir in every service, as
    a catalog file could say them if the loader did not refuse them."""

    def evil(values: PerFamily) -> PerFamily:
        return PerFamily((*values.rpm, EVIL), (*values.deb, EVIL))

    def service(sv: Service) -> Service:
        components = tuple(replace(c, units=evil(c.units)) for c in sv.components)
        dirs = (*sv.config_dirs, "-delete")
        return replace(sv, components=components, packages=evil(sv.packages), config_dirs=dirs)

    series = tuple(replace(s, services=tuple(map(service, s.services))) for s in catalog.series)
    return replace(catalog, series=series)


@pytest.mark.parametrize("example", ["ha-3-controllers-20-computes.yaml", "ubuntu-apt.yaml"])
def test_every_planned_command_keeps_option_like_catalog_values_after_the_separator(
    catalog: Catalog, example: str
) -> None:
    plan = plan_from_path(EXAMPLES / example, _hostile(catalog))
    checked = 0
    for step in plan.steps():
        for command in step.commands:
            argv = command.masked()
            if any(EVIL in token for token in argv):
                only_after_separator(command)
                checked += 1
            assert "-delete" not in argv, argv  # a config dir is ./-delete to find
    assert checked >= 10  # stop, upgrade, start, verify... of several services
    assert any("./-delete" in c.to_json() for s in plan.steps() for c in s.commands)


def test_a_plan_for_sysv_hosts_refuses_an_option_like_unit(catalog: Catalog) -> None:
    """rdo-seed's hosts are RHEL 6 (``init: sysv``): ``service`` has no ``--``."""
    with pytest.raises(PlanError, match="-Hroot@evil"):
        plan_from_path(EXAMPLES / "rdo-seed.yaml", _hostile(catalog))
