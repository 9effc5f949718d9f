"""The config review after a run: the files a package manager set aside, and what to
do with each (``stackstep configs``, docs/configs.md).

Async functions over one host's transport: find and read the set-aside files, recover
a merge base from the old package (:mod:`stackstep.drivers.pkgcache`), and carry out
``keep``, ``accept`` or a merge. The text work is pure (:mod:`.merge`).

Files are read and written as bytes decoded with ``surrogateescape``, so a byte that is
not UTF-8 comes back out unchanged. A file is replaced *in place* (``cp`` onto the
existing file), so it keeps its owner, group, mode and SELinux label: services read
their configs as their own user. Whatever an action removes that the site wrote is
kept under ``PATH.stackstep-RUN``; only a package's own default is deleted outright.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from stackstep.configs.merge import unified_diff
from stackstep.drivers import pkgcache
from stackstep.drivers.leftovers import find_leftovers, leftover
from stackstep.engine.hooks import kept_name
from stackstep.errors import CommandTimeout, InputError, StackstepError
from stackstep.model.catalog import Family
from stackstep.model.command import Command, cmd
from stackstep.model.inventory import PackageManager
from stackstep.model.plan import Json
from stackstep.transport.base import Result, Transport

# the package's new default was set aside; the others set the site's own file aside
NEW_DEFAULT_KINDS = frozenset({"rpmnew", "dpkg-dist", "dpkg-new", "ucf-dist", "ucf-new"})
TIMEOUT = 300.0
DOWNLOAD_TIMEOUT = 120.0
ENCODING = ("utf-8", "surrogateescape")


@dataclass(frozen=True)
class SetAside:
    """One set-aside file with both texts: ``ours`` the site's version, ``theirs`` the
    package's new default (None: that file does not exist)."""

    host: str
    path: str  # the set-aside file, e.g. /etc/nova/nova.conf.rpmnew
    live: str  # the file the service reads, e.g. /etc/nova/nova.conf
    kind: str  # rpmnew, rpmsave, dpkg-dist, ...
    ours: str | None
    theirs: str | None

    @property
    def new_default_aside(self) -> bool:
        return self.kind in NEW_DEFAULT_KINDS

    @property
    def ours_path(self) -> str:
        return self.live if self.new_default_aside else self.path

    @property
    def theirs_path(self) -> str:
        return self.path if self.new_default_aside else self.live

    def diff(self) -> str:
        """Yours -> the new default."""
        missing = " (no such file)"
        return unified_diff(
            self.ours or "",
            self.theirs or "",
            f"yours: {self.ours_path}{missing if self.ours is None else ''}",
            f"new default: {self.theirs_path}{missing if self.theirs is None else ''}",
        )


@dataclass(frozen=True)
class Base:
    """The old package's default of a file (the merge base), or why there is none."""

    text: str | None
    source: str


@dataclass(frozen=True)
class Done:
    message: str
    backup: str | None = None
    data: dict[str, Json] = field(default_factory=dict)


def _fail(result: Result, hint: str) -> StackstepError:
    tail = result.tail(5).strip()
    detail = f": {tail}" if tail else ""
    return StackstepError(
        f"{result.host}: `{result.command}` exited with status {result.exit_status}{detail}",
        hint=hint,
    )


async def _checked(transport: Transport, command: Command, hint: str) -> Result:
    result = await transport.run(command, timeout=TIMEOUT)
    if not result.ok:
        raise _fail(result, hint)
    return result


async def read_text(transport: Transport, path: str) -> str | None:
    """The file's text, or None when there is no such file."""
    probe = await transport.run(cmd("test", "-f", path), timeout=TIMEOUT)
    if not probe.ok:
        return None
    return (await transport.get(path)).decode(*ENCODING)


async def find_set_aside(
    transport: Transport, dirs: Sequence[str], suffixes: Sequence[str]
) -> list[str]:
    """The set-aside files under ``dirs`` now (a missing directory is not an error)."""
    if not dirs:
        return []
    result = await transport.run(find_leftovers(tuple(dirs), tuple(suffixes)), timeout=TIMEOUT)
    return sorted(line for line in result.stdout.splitlines() if leftover(line.strip()))


async def read_set_aside(transport: Transport, path: str) -> SetAside:
    found = leftover(path)
    if found is None:
        raise InputError(
            f"{transport.host}: {path} is not a file a package manager sets aside",
            hint="name the live file or its .rpmnew/.rpmsave/.dpkg-dist/... copy",
        )
    aside, live = await read_text(transport, path), await read_text(transport, found.original)
    if aside is None:
        raise InputError(
            f"{transport.host}: {path} does not exist (any more)",
            hint="`stackstep configs --host HOST` lists what is set aside now",
        )
    new = found.kind in NEW_DEFAULT_KINDS
    ours, theirs = (live, aside) if new else (aside, live)
    return SetAside(transport.host, path, found.original, found.kind, ours, theirs)


async def recover_base(
    transport: Transport,
    family: Family,
    pm: PackageManager,
    path: str,
    previous: Mapping[str, str],
    extra_caches: Sequence[str] = (),
    download: bool = True,
) -> Base:
    """The old package's copy of ``path``: from a cached package, else (``download``)
    fetched when the version before the upgrade is known from the run's facts."""
    owner_result = await transport.run(pkgcache.owner_command(family, path), timeout=TIMEOUT)
    name = pkgcache.parse_owner(family, path, owner_result.stdout) if owner_result.ok else None
    if name is None:
        return Base(None, f"no installed package owns {path}")
    installed_result = await transport.run(pkgcache.version_command(family, name), timeout=TIMEOUT)
    installed = pkgcache.parse_version(installed_result.stdout) if installed_result.ok else None
    dirs = (*extra_caches, *pkgcache.caches(family))
    base = await _from_packages(transport, family, name, path, dirs, installed, previous.get(name))
    if base is not None:
        return base
    why = f"no older {name} package in {', '.join(dirs)}"
    old = previous.get(name)
    if not download or not old or old == installed:
        known = "" if old else " and the version before the upgrade is unknown"
        return Base(None, why + known)
    fetched = await _download(transport, family, pm, name, old, path)
    return fetched if fetched.text is not None else Base(None, f"{why}; {fetched.source}")


async def _from_packages(
    transport: Transport,
    family: Family,
    name: str,
    path: str,
    dirs: Sequence[str],
    installed: str | None,
    previous: str | None,
) -> Base | None:
    listing = await transport.run(pkgcache.cached_command(family, name, dirs), timeout=TIMEOUT)
    cached = pkgcache.parse_cached(family, name, listing.stdout)
    chosen = pkgcache.choose_base(family, cached, installed, previous)
    if chosen is None:
        return None
    text = await transport.run(pkgcache.extract_command(family, chosen.path, path), timeout=TIMEOUT)
    if not text.ok or not text.stdout:
        return None
    return Base(text.stdout, f"{PurePosixPath(chosen.path).name} ({chosen.path})")


async def _download(
    transport: Transport, family: Family, pm: PackageManager, name: str, version: str, path: str
) -> Base:
    made = await transport.run(pkgcache.download_dir_command(), timeout=TIMEOUT)
    dest = made.stdout.strip()
    if not made.ok or not dest:
        return Base(None, f"could not make a download directory: {made.tail(2)}")
    try:
        try:
            got = await transport.run(
                pkgcache.download_command(pm, name, version, dest), timeout=DOWNLOAD_TIMEOUT
            )
        except CommandTimeout:
            return Base(None, f"downloading {name} {version} took over {DOWNLOAD_TIMEOUT:g} s")
        if not got.ok:
            return Base(None, f"{name} {version} could not be downloaded: {got.tail(2)}")
        base = await _from_packages(transport, family, name, path, (dest,), None, version)
        if base is None:
            return Base(None, f"the downloaded {name} {version} has no {path}")
        return Base(base.text, f"{name} {version}, downloaded")
    finally:
        await transport.run(pkgcache.cleanup_command(dest), timeout=TIMEOUT)


# ----------------------------------------------------------------------------- actions


async def backup(transport: Transport, path: str, run_id: str, *, move: bool = False) -> str:
    """Copy (or move) ``path`` to ``PATH.stackstep-RUN`` (``.N`` added if that exists)."""
    target = first = kept_name(path, run_id)
    n = 1
    while (await transport.run(cmd("test", "-e", target), timeout=TIMEOUT)).ok:
        target, n = f"{first}.{n}", n + 1
    verb = cmd("mv", "--", path, target) if move else cmd("cp", "-p", "--", path, target)
    await _checked(transport, verb, f"check the permissions of {path}'s directory")
    return target


async def _install(transport: Transport, source: str, live: str, live_exists: bool) -> None:
    """``source``'s content into ``live``: onto the existing file (keeps its owner, mode,
    label), or the file itself moved there when there is no live file."""
    command = cmd("cp", "--", source, live) if live_exists else cmd("mv", "--", source, live)
    await _checked(transport, command, f"the backup is still there; put {live} right by hand")


async def _discard(transport: Transport, item: SetAside, run_id: str) -> str | None:
    """Remove the set-aside file: a package default is deleted, the site's file moved to
    a backup name. Returns that name (None when deleted)."""
    if item.new_default_aside:
        await _checked(transport, cmd("rm", "-f", "--", item.path), "remove it by hand")
        return None
    return await backup(transport, item.path, run_id, move=True)


async def keep(transport: Transport, item: SetAside, run_id: str) -> Done:
    """Keep the site's version: drop a new default; put a set-aside site file back."""
    if item.new_default_aside:
        await _discard(transport, item, run_id)
        return Done(f"kept {item.live}; removed the new default {item.path}")
    saved = await backup(transport, item.live, run_id) if item.theirs is not None else None
    await _install(transport, item.path, item.live, item.theirs is not None)
    if item.theirs is not None:
        await _checked(transport, cmd("rm", "-f", "--", item.path), "remove it by hand")
    where = f" (the new default saved as {saved})" if saved else ""
    return Done(f"put your {item.path} back as {item.live}{where}", saved)


async def accept(transport: Transport, item: SetAside, run_id: str) -> Done:
    """Take the package's new default; the site's version is kept as a backup."""
    if not item.new_default_aside:
        saved = await _discard(transport, item, run_id)
        return Done(f"kept the new default {item.live}; yours saved as {saved}", saved)
    saved = await backup(transport, item.live, run_id) if item.ours is not None else None
    await _install(transport, item.path, item.live, item.ours is not None)
    if item.ours is not None:
        await _discard(transport, item, run_id)
    where = f"; yours saved as {saved}" if saved else ""
    return Done(f"installed the new default as {item.live}{where}", saved)


async def apply_merge(transport: Transport, item: SetAside, merged: str, run_id: str) -> Done:
    """Write ``merged`` into the live file (backed up first), then drop the set-aside one."""
    live_text = item.ours if item.new_default_aside else item.theirs
    saved = None
    if merged != live_text:
        saved = await backup(transport, item.live, run_id)
        temp = f"{item.live}.stackstep-tmp"
        await transport.put(merged.encode(*ENCODING), temp, 0o600)
        try:
            await _install(transport, temp, item.live, True)
        finally:
            await transport.run(cmd("rm", "-f", "--", temp), timeout=TIMEOUT)
    aside = await _discard(transport, item, run_id)
    changed = f"merged into {item.live} (was saved as {saved})" if saved else "already merged"
    dropped = f"; your {item.path} saved as {aside}" if aside else f"; removed {item.path}"
    return Done(changed + dropped, saved, {"set_aside_backup": aside})
