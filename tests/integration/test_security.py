"""Security checks (issue 11, campaign item 4), each against real peers.

1. Shell metacharacters planted in every catalog or inventory field that reaches a
   command (``$(touch M)``, backticks, ``;``, ``|``, ``&&``, a newline, quotes) never run:
   the commands stackstep builds from those fields are run through the local transport
   and over real SSH (OpenSSH on 127.0.0.1), and no marker file appears; the tools that
   receive them (stand-ins that record their argv, or the real read-only ones: rpm,
   dpkg-query, find, runuser, sh, printenv) get each value as one untouched argument.
   The values are put into the commands directly, as the builders receive them: the
   loaders refuse many of them, but a command must be safe even without that check.
   Deliberately not covered: ``smoke:`` commands, which are shell text the operator
   writes (run with ``sh -c``), and the program an operator names in ``repo_command``,
   a hook or a migration (its arguments are covered: they are argv, never shell text).
2. Secrets in the inventory (an ``env:`` password) and on the hosts (the database
   password in a service's config file, which the backup uses) never show in the
   console, the ``--json`` output, the run log or the journal (its bytes) of a real run
   of the fake cloud over SSH, while the run really used them.
3. The state stackstep writes is its owner's only: directories 0700, files 0600; so are
   the database backups on a host.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from fakecloud import build_fake_cloud
from stackstep.drivers import (
    database,
    leftovers,
    nova,
    packages,
    pkgcache,
    repocheck,
    rpm,
    services,
    systemd,
)
from stackstep.model.command import Command, as_user, cmd
from stackstep.model.inventory import Host
from stackstep.transport.base import Result, Transport, TransportOptions
from stackstep.transport.local import LocalTransport
from stackstep.transport.ssh import SshTransport

STUBS = (
    "systemctl",
    "service",
    "yum",
    "dnf",
    "yumdownloader",
    "apt-get",
    "apt-cache",
    "curl",
    "mysqldump",
    "mariadb-dump",
    "mariadb",
    "mysql",
    "nova",
    "openstack",
    "keystone-manage",
)
# each records its argv, NUL-separated (a newline inside a value stays visible), in $RECORD
STUB = '#!/bin/sh\n{ printf "%s\\0" "${0##*/}" "$@"; printf "\\n"; } >> "$RECORD"\ncat >/dev/null\n'
PAYLOADS = (
    "$(touch {m})",
    "`touch {m}`",
    "x;touch {m}",
    "x|touch {m}",
    "x&&touch {m}",
    "x\ntouch {m}",
    "x'$(touch {m})'",
    'x"$(touch {m})"',
    "-x;touch {m}",
)

Build = Callable[[str, Path], list[Command]]


def _away(work: Path, command: Command) -> Command:
    """An apt transaction with its hold of service starts aimed at a policy-rc.d in
    ``work``: run on this machine, it must leave /usr/sbin alone."""
    if command.argv[2:3] != (packages.HOLD_SCRIPT,):
        return command
    script = packages.hold_script_for(str(work / "policy-rc.d"))
    return Command((*command.argv[:2], script, *command.argv[3:]), command.env)


FIELDS: dict[str, Build] = {
    # catalog units: systemd, SysV service, discovery's reads
    "unit (systemctl)": lambda v, _t: [
        *services.unit_action("systemd", "stop", ("nova-api", v)),
        *services.is_active("systemd", (v,)),
        systemd.show_units_command([v]),
        systemd.list_units_command([v]),
    ],
    "unit (service)": lambda v, _t: (
        [*services.unit_action("sysv", "restart", (v,)), *services.is_active("sysv", (v,))]
        if not v.startswith("-")  # refused: tests/unit/drivers/test_separators.py
        else []
    ),
    # catalog packages: upgrade, rollback, version reads (real rpm and dpkg-query)
    "package": lambda v, t: [
        *(_away(t, c) for pm in ("yum", "dnf", "apt") for c in packages.upgrade(pm, ("nova*", v))),
        *(_away(t, c) for pm in ("yum", "dnf", "apt") for c in packages.downgrade(pm, [(v, v)])),
        packages.installed_command("dnf", [v]),
        packages.installed_command("apt", [v]),
        rpm.check_update_command("dnf", (v,)),
        pkgcache.version_command("rpm", v),
        pkgcache.version_command("deb", v),
    ],
    # catalog config_dirs and config files: the leftover search (real find), owners
    "config path": lambda v, t: [
        leftovers.find_leftovers((str(t), v), (".rpmnew", ".dpkg-dist")),
        pkgcache.owner_command("rpm", v),
        pkgcache.owner_command("deb", v),
        pkgcache.cached_command("deb", v, (str(t), v)),
        pkgcache.extract_command("deb", str(t / "none.deb"), v),
    ],
    # a package name and version read back from a host: the old-default download
    "download": lambda v, t: [
        pkgcache.download_command("dnf", v, v, str(t)),
        pkgcache.download_command("yum", v, v, str(t)),
        pkgcache.download_command("apt", v, v, str(t)),
    ],
    # a service's database URL on its host (name, user, password, host) and a backup path
    "database": lambda v, t: [
        database.backup_command(database.DbTarget("mysql", v, v, v, v), "run", "nova")[0],
        database.backup_command(database.DbTarget("mysql", "nova"), v, v)[0],
        database.backup_command(database.DbTarget("sqlite", str(t / "db.sqlite")), v, v)[0],
        database.backup_command(database.DbTarget("sqlite", v), "run", "nova")[0],
        database.restore_command(database.DbTarget("mysql", "nova"), v)[0],
        database.restore_command(database.DbTarget("sqlite", v), v)[0],
    ],
    # catalog run-as users and the arguments of hooks and migrations (real runuser)
    "user and hook argv": lambda v, _t: [
        as_user(("true",), v),
        as_user(("keystone-manage", v), None),
    ],
    # repo_command's arguments (argv) and the read-only check derived from them
    "repo_command": lambda v, _t: [
        cmd("yum", "install", "-y", v),
        *(
            check.command
            for argv in (
                ["dnf", "install", v],
                ["apt-get", "install", v],
                ["yum", f"https://x/{v}"],
            )
            if (check := repocheck.repo_check(argv, "dnf")) is not None
        ),
    ],
    # the compute host name given to nova's client, the rc file sourced before it
    "nova host and rc": lambda v, _t: (
        [
            nova.with_credentials(nova.service_argv(c, "disable", v), v)
            for c in ("nova", "openstack")
        ]
        + [nova.with_credentials(nova.service_argv("nova", "enable", v), None)]
        + [nova.readable_command(v)]
        if not v.startswith("-")  # refused: tests/unit/drivers/test_separators.py
        else [nova.readable_command(v)]
    ),
}


REACHES_STUB = set(FIELDS) - {"config path"}  # those are read by real rpm, dpkg-query, find
REFUSES_OPTIONS = {"unit (service)", "nova host and rc"}  # no working "--" in those tools


@pytest.fixture(params=["local", "ssh"])
def transport_for(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[dict[str, str]], Transport]:
    """A transport to this machine with the extra ``env``: local, or over real SSH."""
    if request.param == "local":
        return lambda env: LocalTransport(
            Host("local", "127.0.0.1", transport="local", env=env), TransportOptions()
        )
    sshd = request.getfixturevalue("sshd")
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    known = sshd.known_hosts(tmp_path / "known_hosts")
    options = sshd.options(known)
    return lambda env: SshTransport(sshd.host(env=env), options)


def _stubs(where: Path) -> Path:
    where.mkdir()
    for name in STUBS:
        (where / name).write_text(STUB)
        (where / name).chmod(0o755)
    return where


def _recorded(record: Path) -> list[list[str]]:
    if not record.exists():
        return []
    lines = record.read_bytes().split(b"\0\n")
    return [[a.decode() for a in line.split(b"\0")] for line in lines if line]


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_planted_shell_never_runs(
    field: str, tmp_path: Path, transport_for: Callable[[dict[str, str]], Transport]
) -> None:
    marks, work = tmp_path / "marks", tmp_path / "work"
    marks.mkdir()
    work.mkdir()
    record = tmp_path / "argv.log"
    env = {"PATH": f"{_stubs(tmp_path / 'bin')}:/usr/sbin:/usr/bin:/sbin:/bin"}
    env["RECORD"] = str(record)
    env["STACKSTEP_BACKUP_DIR"] = str(tmp_path / "backups")
    values = [p.format(m=marks / f"m{i}") for i, p in enumerate(PAYLOADS)]
    ran: list[tuple[str, int]] = []

    async def main() -> None:
        transport = transport_for(env)
        try:
            for value in values:
                for command in FIELDS[field](value, work):
                    result = await transport.run(command, timeout=30, stdin="")
                    ran.append((result.command, result.exit_status))
        finally:
            await transport.close()

    asyncio.run(main())
    assert ran, f"no command built for {field}"
    assert sorted(p.name for p in marks.iterdir()) == [], f"planted shell ran: {ran}"
    # the stand-ins got each value whole, as (part of) one argument, never cut or changed
    received = [arg for argv in _recorded(record) for arg in argv]
    cut = [a for a in received if "touch" in a and not any(v in a for v in values)]
    assert cut == [], f"a value reached a tool cut or changed: {cut}"
    if field in REACHES_STUB:
        refused = field in REFUSES_OPTIONS
        expected = [v for v in values if not (refused and v.startswith("-"))]
        assert [v for v in expected if not any(v in a for a in received)] == []


def test_env_values_reach_commands_unchanged(
    tmp_path: Path, transport_for: Callable[[dict[str, str]], Transport]
) -> None:
    """``env:`` values (inventory) go to every command of the host, verbatim."""
    marks = tmp_path / "marks"
    marks.mkdir()
    values = [p.format(m=marks / f"m{i}") for i, p in enumerate(PAYLOADS)]
    env = {f"SITE_{i}": v for i, v in enumerate(values)}

    async def main() -> list[str]:
        transport = transport_for(env)
        try:
            out = []
            for key in env:
                result = await transport.run(cmd("printenv", key), timeout=30)
                out.append(result.stdout.removesuffix("\n"))
            return out
        finally:
            await transport.close()

    assert asyncio.run(main()) == values
    assert list(marks.iterdir()) == []


# --- option-like values, read by the real tools ------------------------------------


def _needs(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


def _run_local(command: Command, env: dict[str, str] | None = None, stdin: str = "") -> Result:
    host = Host("local", "127.0.0.1", transport="local", env={"LC_ALL": "C", **(env or {})})

    async def main() -> Result:
        transport = LocalTransport(host, TransportOptions())
        try:
            return await transport.run(command, timeout=60, stdin=stdin)
        finally:
            await transport.close()

    return asyncio.run(main())


def test_real_find_never_takes_a_config_dir_for_an_expression(tmp_path: Path) -> None:
    """``config_dirs = ["/etc/nova", "-delete"]`` must not empty /etc/nova."""
    _needs("find")
    (tmp_path / "nova.conf.rpmnew").write_text("x")
    result = _run_local(leftovers.find_leftovers((str(tmp_path), "-delete"), (".rpmnew",)))
    assert (tmp_path / "nova.conf.rpmnew").exists()
    assert str(tmp_path / "nova.conf.rpmnew") in result.stdout
    assert "./-delete" in result.stderr  # looked for as a directory


def test_real_systemctl_takes_an_option_like_unit_as_a_name() -> None:
    """Without ``--``, ``-Hroot@127.0.0.9`` is an option and every unit file is listed."""
    _needs("systemctl")
    result = _run_local(systemd.list_units_command(["-Hroot@127.0.0.9"]))
    assert (result.exit_status, result.stdout) == (1, "")


def test_real_package_tools_take_option_like_names_as_names() -> None:
    if shutil.which("rpm"):
        rpm_q = _run_local(pkgcache.version_command("rpm", "-Hroot@evil"))
        assert "package -Hroot@evil is not installed" in rpm_q.stdout
    _needs("dpkg-query", "apt-get")
    dpkg = _run_local(packages.installed_command("apt", ["--admindir=/nonexistent"]))
    assert "no packages found matching --admindir=/nonexistent" in dpkg.stderr
    (upgrade,) = packages.upgrade("apt", ("-q",))
    apt_get, *args = packages.held_argv(upgrade)  # simulated, without the hold around it
    simulated = Command((apt_get, "-s", *args), upgrade.env)
    apt = _run_local(simulated)  # without "--": "-q" is an option and nothing is refused
    assert "Unable to locate package -q" in apt.stdout + apt.stderr


def test_real_runuser_and_mysqldump_take_option_like_values_as_names(
    tmp_path: Path, free_port: int
) -> None:
    _needs("runuser", "mysqldump")
    if os.geteuid() != 0:
        pytest.skip("runuser needs root")
    user = _run_local(as_user(("true",), "-Hroot@evil"))
    assert "user -Hroot@evil does not exist" in user.stderr
    target = database.DbTarget("mysql", "--help", "u", "p", "127.0.0.1", free_port)
    command, stdin = database.backup_command(target, "run", "nova")
    dump = _run_local(command, {"STACKSTEP_BACKUP_DIR": str(tmp_path)}, stdin or "")
    assert dump.exit_status != 0  # a database named --help, on no server; not the usage
    assert "Usage" not in (tmp_path / "run" / "nova.sql").read_text()


# --- secrets and state files on a real run -----------------------------------------

ENV_SECRET = "Env-Pw-7f3a9c"
DB_SECRET = "Db-Pw-52be1d"
DUMP = """#!/bin/sh
# mariadb-dump stand-in: reads the option file on stdin like the real one
grep -q "^password={secret}$" && touch "$FAKE_ROOT/dump-read-the-password"
echo "-- MariaDB dump"; echo "-- Dump completed on 2026-01-01"
"""
WRAPPED = """#!/bin/sh
[ "$OS_PASSWORD" = "{secret}" ] && touch "$FAKE_ROOT/env-password-arrived"
exec {fakebin} "$@"
"""


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_stay_out_of_output_logs_and_journal_and_state_is_private(
    sshd, tmp_path: Path, api: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    known = sshd.known_hosts(tmp_path / "known_hosts")
    connection = {"transport": "ssh", "port": sshd.port, "user": "root"}
    connection["identity_file"] = str(sshd.client_key)
    cloud = build_fake_cloud(tmp_path, api, connection)
    backups = tmp_path / "backups"
    inventory = cloud.inventory.read_text().replace(
        "FAKE_ROOT:", f"OS_PASSWORD: {ENV_SECRET}, STACKSTEP_BACKUP_DIR: '{backups}', FAKE_ROOT:"
    )
    cloud.inventory.write_text(inventory)
    ctl = cloud.host("ctl")
    conf = ctl / "etc" / "keystone" / "keystone.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text(
        f"[database]\nconnection = mysql+pymysql://keystone:{DB_SECRET}@127.0.0.1/keystone\n"
    )
    database_line = (
        f'database = {{ config = "{conf}", section = "database", key = "connection", '
        'name = "keystone" }\n'
    )
    catalog = cloud.catalog.read_text()
    cloud.catalog.write_text(
        catalog.replace(
            'config_dirs = ["/etc/keystone"]\n',
            f'config_dirs = ["/etc/keystone"]\n{database_line}',
            1,
        )
    )
    dump = ctl / "bin" / "mariadb-dump"
    dump.write_text(DUMP.replace("{secret}", DB_SECRET))
    dump.chmod(0o755)
    yum = ctl / "bin" / "yum"  # the stand-in yum, told to look at its environment first
    fakebin = yum.resolve()
    yum.unlink()
    yum.write_text(WRAPPED.replace("{secret}", ENV_SECRET).replace("{fakebin}", str(fakebin)))
    yum.chmod(0o755)
    (ctl / "fail").write_text("glance-manage db_sync")  # a failure: its report is shown too

    args = [a for a in cloud.args("--yes", "--known-hosts", str(known)) if a != "--no-backup"]
    failed = cloud.stackstep("upgrade", *args, "--json")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    (ctl / "fail").unlink()
    done = cloud.stackstep("resume", "--state-dir", str(cloud.state), "--known-hosts", str(known))
    assert done.returncode == 0, done.stdout + done.stderr
    shown = cloud.stackstep("runs", "--state-dir", str(cloud.state))
    source = ["-i", str(cloud.inventory), "--catalog", str(cloud.catalog)]
    reads = {
        c: cloud.stackstep(c, "--json", *source, "--known-hosts", str(known))
        for c in ("plan", "discover")
    }
    assert [r.returncode for r in reads.values()] == [0, 0], reads

    # the secrets were really used by the run...
    assert (ctl / "dump-read-the-password").exists()
    assert (ctl / "env-password-arrived").exists()
    # ...and never shown or stored
    outputs = {
        "upgrade --json": failed.stdout + failed.stderr,
        "resume": done.stdout + done.stderr,
        "runs": shown.stdout + shown.stderr,
        **{f"{c} --json": r.stdout + r.stderr for c, r in reads.items()},
    }
    state_files = [p for p in cloud.state.rglob("*") if p.is_file()]
    assert any(p.name == "run.log" for p in state_files)
    assert any(p.name == "journal.sqlite" for p in state_files)
    for secret in (ENV_SECRET, DB_SECRET):
        assert [k for k, text in outputs.items() if secret in text] == []
        assert [p for p in state_files if secret.encode() in p.read_bytes()] == []
    assert "keystone" in failed.stdout and "run" in done.stdout  # the outputs are real

    # state: directories 0700, files 0600; the database backup on the host too
    dirs = [cloud.state, *(p for p in cloud.state.rglob("*") if p.is_dir())]
    assert {str(d): mode(d) for d in dirs} == {str(d): 0o700 for d in dirs}
    assert {str(f): mode(f) for f in state_files} == {str(f): 0o600 for f in state_files}
    dumps = list(backups.rglob("*.sql"))
    assert dumps, "no database backup was taken"
    backup_dirs = [backups, *(p for p in backups.rglob("*") if p.is_dir())]
    assert {str(d): mode(d) for d in backup_dirs} == {str(d): 0o700 for d in backup_dirs}
    assert {str(f): mode(f) for f in dumps} == {str(f): 0o600 for f in dumps}
