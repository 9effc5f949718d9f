"""Package managers: yum, dnf and apt, non-interactive and keeping local config files.

yum/dnf keep an edited ``%config(noreplace)`` file and write ``.rpmnew`` on their own;
apt is told ``--force-confdef --force-confold`` so that it keeps edited conffiles and
writes ``.dpkg-dist`` instead of asking. A rollback downgrades with ``yum/dnf -y downgrade
NAME-VERSION...`` or ``apt-get install --allow-downgrades NAME=VERSION...``.

apt's transactions (upgrade, full upgrade, downgrade) run held: debhelper's maintainer
scripts restart a package's units after an upgrade (``invoke-rc.d``/``deb-systemd-invoke
restart``, which also starts a stopped, enabled unit), so the units stackstep stopped
before the upgrade would start on the new code before the database migration. Both
tools ask ``/usr/sbin/policy-rc.d`` first and do nothing when it exits 101 (Debian's
invoke-rc.d policy interface; there is no environment variable for it), so
:data:`HOLD_SCRIPT` puts one there for the transaction and removes it after, keeping
apt's exit status. A site's own policy-rc.d is moved to ``policy-rc.d.stackstep-saved``
meanwhile and put back, never overwritten; a run killed inside leaves stackstep's file
(recognised by its marker line) and the saved one, and the step run again finishes the
job. The download (``--download-only``) and ``apt-get update`` start nothing and run as
they are.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from fnmatch import fnmatch

from stackstep.drivers.dpkg import dpkg_query_command, parse_dpkg_query
from stackstep.drivers.rpm import parse_rpm_qa, rpm_qa_command
from stackstep.model.command import Command, Token, cmd, operands
from stackstep.model.inventory import PackageManager

_APT_ENV = (("DEBIAN_FRONTEND", "noninteractive"),)
_APT_KEEP = ("-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")


POLICY_RC_D = "/usr/sbin/policy-rc.d"
HOLD_MARK = "# stackstep: no service starts or restarts during this package upgrade"
HOLD_NAME = "stackstep-hold-restarts"  # the script's $0: names it in ps and in the plan
_HOLD = r"""p=@POLICY@
saved="$p.stackstep-saved" new="$p.stackstep-new"
mark='@MARK@'
there() { [ -e "$1" ] || [ -L "$1" ]; }
ours() { [ -f "$p" ] && [ ! -L "$p" ] && grep -qxF -e "$mark" "$p"; }
put_back() {
  if ours; then rm -f "$p" || return 1; fi
  there "$saved" || return 0
  if there "$p"; then
    echo "stackstep: $p was replaced during the package transaction; the site's own" \
      "policy-rc.d is still $saved: keep the one you need as $p and delete the other" >&2
    return 1
  fi
  mv -f "$saved" "$p"
}
if there "$p" && ! ours; then
  if there "$saved"; then
    echo "stackstep: both $p and $saved exist and neither is stackstep's hold: $saved is" \
      "a policy-rc.d an unfinished run set aside. Keep the one you need as $p, delete" \
      "$saved, then run the step again (stackstep resume); nothing was changed" >&2
    exit 1
  fi
  mv "$p" "$saved" || exit 1
fi
why="# for one package transaction, then removed; a site policy-rc.d waits in $saved"
if ! { printf '#!/bin/sh\n%s\n%s\nexit 101\n' "$mark" "$why" >"$new" &&
  chmod 755 "$new" && mv -f "$new" "$p"; }; then
  rm -f "$new"
  put_back
  exit 1
fi
"$@"
status=$?
put_back || [ "$status" -ne 0 ] || status=1
exit "$status"
"""


def hold_script_for(policy_rc_d: str) -> str:
    """The hold script for the policy file at ``policy_rc_d`` (an absolute path). The
    commands always use :data:`HOLD_SCRIPT` (Debian's path); tests run the script
    against a file of their own."""
    if not policy_rc_d.startswith("/"):
        raise ValueError(f"policy-rc.d path must be absolute: {policy_rc_d!r}")
    return _HOLD.replace("@POLICY@", shlex.quote(policy_rc_d)).replace("@MARK@", HOLD_MARK)


HOLD_SCRIPT = hold_script_for(POLICY_RC_D)


def _held(*argv: str) -> Command:
    """``argv`` run by :data:`HOLD_SCRIPT` (as the script's arguments: nothing is pasted
    into the shell text)."""
    return Command(("sh", "-c", HOLD_SCRIPT, HOLD_NAME, *argv), _APT_ENV)


def _apt_get(*args: str) -> tuple[str, ...]:
    return ("apt-get", "-y", *_APT_KEEP, *args)


def _apt(*args: str) -> Command:
    """An apt transaction, held."""
    return _held(*_apt_get(*args))


# $@: the apt-get command, "--", the globs. apt-get gets the installed packages the globs
# match instead (none: nothing to do, exit 0). apt-get itself refuses a glob that matches
# no package it knows of at all, where yum/dnf skip it, so a catalog glob for a package a
# host never had (python3-keystone* where keystone is one package) would fail the whole
# transaction; dpkg-query reads only the dpkg database, each glob after its own "--".
# Names from it are dpkg package names ([a-z0-9][a-z0-9+.-]*): split, never globbed.
_INSTALLED = r"""n=$#; at=0; i=0
for a do i=$((i + 1)); [ "$at" -eq 0 ] && [ "$a" = -- ] && at=$i; done
[ "$at" -gt 0 ] || { echo "stackstep: no -- before the globs" >&2; exit 2; }
names=$(i=0; for g do
  i=$((i + 1))
  [ "$i" -gt "$at" ] || continue
  dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' -- "$g" 2>/dev/null
done | awk '$1 ~ /^.i/ { print $2 }' | sort -u)
if [ -z "$names" ]; then
  echo "stackstep: no installed package matches; nothing to upgrade"
  exit 0
fi
i=0; for a do i=$((i + 1)); [ "$i" -le "$at" ] && set -- "$@" "$a"; done
shift "$n"
set -f
exec "$@" $names
"""
INSTALLED_NAME = "stackstep-upgrade-installed"


def held_argv(command: Command) -> tuple[Token, ...]:
    """The package manager's argv of ``command``: inside the hold script for a held apt
    transaction (and inside the script that hands an upgrade the installed packages its
    globs match), else the command's own."""
    argv = command.argv
    for script, name in ((HOLD_SCRIPT, HOLD_NAME), (_INSTALLED, INSTALLED_NAME)):
        if argv[:4] == ("sh", "-c", script, name):
            argv = argv[4:]
    return argv


def is_apt(command: Command) -> bool:
    """Whether ``command`` runs apt-get (held or not)."""
    return held_argv(command)[:1] == ("apt-get",)


def upgrade(
    pm: PackageManager, globs: tuple[str, ...], cached: bool = False
) -> tuple[Command, ...]:
    """Upgrade the installed packages matching ``globs`` (never install new ones).

    ``cached``: the packages were downloaded ahead (:func:`download`), so yum/dnf run
    from the cache (``-C``): no repository metadata is fetched inside the outage (a repo
    with ``metadata_expire=0`` would refetch it on every call). apt never refreshes its
    lists on ``install`` and takes downloaded packages from its cache anyway.
    """
    if pm == "apt":
        apt_get = _apt_get("install", "--only-upgrade", "--", *globs)
        return (_held("sh", "-c", _INSTALLED, INSTALLED_NAME, *apt_get),)
    return (cmd(pm, "-y", *(("-C",) if cached else ()), "upgrade", *operands(*globs)),)


def uncached(command: Command) -> Command | None:
    """``command`` without yum/dnf's ``-C`` (for when the cache lacks a package: cleaned
    since the prefetch); None when it had none."""
    argv = command.argv
    if argv[:1] not in (("yum",), ("dnf",)) or argv[2:3] != ("-C",):
        return None
    return Command(argv[:2] + argv[3:], command.env)


def download(pm: PackageManager) -> tuple[Command, ...]:
    """Fetch every pending upgrade into the cache without installing: less downtime later."""
    if pm == "apt":
        return (Command(("apt-get", "-y", "--download-only", "dist-upgrade"), _APT_ENV),)
    return (cmd(pm, "-y", "upgrade", "--downloadonly"),)


def full_upgrade(pm: PackageManager, cached: bool = False) -> tuple[Command, ...]:
    """Every pending upgrade; ``cached`` as for :func:`upgrade`."""
    if pm == "apt":
        return (_apt("dist-upgrade"),)
    return (cmd(pm, "-y", *(("-C",) if cached else ()), "upgrade"),)


def refresh(pm: PackageManager) -> tuple[Command, ...]:
    """Re-read repository metadata after a repository was added."""
    if pm == "apt":
        return (Command(("apt-get", "update"), _APT_ENV),)
    return (cmd(pm, "-y", "makecache"),)


def downgrade(pm: PackageManager, pins: Sequence[tuple[str, str]]) -> tuple[Command, ...]:
    """Put packages back to the given versions, in one transaction.

    ``pins`` are ``(name, version)`` as the package database reported them before
    (rpm: ``[epoch:]version-release``; dpkg: the Debian version).
    """
    if not pins:
        return ()
    if pm == "apt":
        return (_apt("install", "--allow-downgrades", *operands(*(f"{n}={v}" for n, v in pins))),)
    return (cmd(pm, "-y", "downgrade", *operands(*(f"{n}-{v}" for n, v in pins))),)


def installed_command(pm: PackageManager, globs: Sequence[str]) -> Command:
    """The installed packages matching ``globs``, with their versions."""
    return dpkg_query_command(globs) if pm == "apt" else rpm_qa_command(globs)


def parse_installed(pm: PackageManager, text: str) -> dict[str, str]:
    """``installed_command``'s output -> ``{name: version}``."""
    found = parse_dpkg_query(text) if pm == "apt" else parse_rpm_qa(text)
    return {name: package.version for name, package in found.items()}


def matching(versions: Mapping[str, str], globs: Sequence[str]) -> list[tuple[str, str]]:
    """``(name, version)`` of the packages whose name matches one of ``globs``, sorted."""
    return [(n, v) for n, v in sorted(versions.items()) if any(fnmatch(n, g) for g in globs)]


def changed_since(
    before: Mapping[str, str], now: Mapping[str, str], globs: Sequence[str]
) -> list[tuple[str, str]]:
    """``(name, version before)`` for each package matching ``globs`` whose installed
    version differs from ``before``; packages installed since, or removed since, are
    not in it (a downgrade can do nothing about them)."""
    return [(n, v) for n, v in matching(before, globs) if now.get(n, v) != v]
