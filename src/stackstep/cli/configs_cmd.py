"""`stackstep configs`: review the config files the package manager set aside in a run.

``stackstep configs [RUN]`` lists them per host with a diff (yours -> the new default);
``stackstep configs [RUN] keep|accept|merge PATH --host HOST`` settles one of them and
records it in the run's journal as an event (docs/configs.md). The hosts are reached as
the run reached them: through the inventory the run was started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from typing import Any

import click

from stackstep.cli import exit_codes
from stackstep.cli import options as opt
from stackstep.cli.configs_view import (
    HostListing,
    echo_diff,
    echo_listing,
    echo_merge,
    item_json,
    listing_json,
    merge_json,
)
from stackstep.cli.main import handle_errors
from stackstep.configs import review as ops
from stackstep.configs.ini import Key, Side
from stackstep.configs.load import Review, load_review
from stackstep.configs.merge import (
    FileKind,
    MergeOptions,
    file_kind,
    merge_config,
    parse_key,
    unified_diff,
)
from stackstep.configs.review import Base, Done, SetAside
from stackstep.drivers.leftovers import leftover
from stackstep.engine.events import Event, EventBus
from stackstep.engine.hooks import kept_name
from stackstep.engine.logfile import LogWriter
from stackstep.engine.runlock import claim
from stackstep.errors import InputError, TransportError
from stackstep.model.inventory import Host
from stackstep.transport.base import Transport
from stackstep.transport.factory import TransportPool

ACTIONS = ("keep", "accept", "merge")
PARALLEL = 20


def _parse_words(words: tuple[str, ...]) -> tuple[str | None, str | None, str | None]:
    """``[RUN] [ACTION PATH]``: run ids start with a digit, so never read as an action."""
    rest = list(words)
    run_id = rest.pop(0) if rest and rest[0] not in ACTIONS else None
    if not rest:
        return run_id, None, None
    action = rest.pop(0)
    if action not in ACTIONS or len(rest) != 1:
        raise InputError(
            f"cannot read {' '.join(words)!r} as [RUN] [ACTION PATH]",
            hint="stackstep configs [RUN], or stackstep configs [RUN] keep|accept|merge PATH "
            "--host HOST",
        )
    return run_id, action, rest[0]


def _host(review: Review, name: str) -> Host:
    host = review.hosts.get(name)
    if host is None:
        known = ", ".join(review.collected) or ", ".join(review.hosts)
        raise InputError(
            f"no host {name!r} in the run's inventory ({review.record.inventory})",
            hint=f"hosts whose config files the run reviews: {known}",
        )
    return host


def _belongs(file: str, path: str) -> bool:
    found = leftover(file)
    return file == path or (found is not None and found.original == path)


def _host_for(review: Review, path: str, name: str | None) -> Host:
    """``--host``, or the one host on which the run found ``path`` set aside."""
    if name:
        return _host(review, name)
    holders = [h for h, c in review.collected.items() if any(_belongs(f, path) for f in c.files)]
    if len(holders) != 1:
        where = f" it is set aside on {', '.join(holders)}" if holders else ""
        raise InputError(f"which host's {path}?{where}", hint="pass --host HOST")
    return _host(review, holders[0])


# ----------------------------------------------------------------------------- listing


async def _list_host(review: Review, transport: Transport) -> HostListing:
    info = review.collected.get(transport.host)
    if info is None:
        return HostListing(transport.host, "not planned: no config directories on this host")
    try:
        paths = await ops.find_set_aside(transport, info.dirs, info.suffixes)
        items = [await ops.read_set_aside(transport, p) for p in paths]
    except TransportError as exc:
        return HostListing(transport.host, info.state, error=exc.render())
    return HostListing(transport.host, info.state, tuple(items))


async def _gather(review: Review, names: list[str], kw: dict[str, Any]) -> list[HostListing]:
    limit = asyncio.Semaphore(PARALLEL)
    async with TransportPool(opt.transport_options(kw)) as pool:

        async def one(name: str) -> HostListing:
            async with limit:
                return await _list_host(review, await pool.get(review.hosts[name]))

        return list(await asyncio.gather(*(one(n) for n in names)))


def _list(review: Review, kw: dict[str, Any]) -> int:
    names = [kw["host_name"]] if kw["host_name"] else list(review.collected)
    for name in names:
        _host(review, name)
    listings = asyncio.run(_gather(review, names, kw))
    handled = [e for e in review.handled() if e.host in names]
    if kw["as_json"]:
        click.echo(json.dumps(listing_json(review.record.id, listings, handled), indent=2))
    else:
        echo_listing(review.record.id, listings, handled)
    return exit_codes.BLOCKED if any(x.error for x in listings) else exit_codes.OK


# ----------------------------------------------------------------------------- actions


async def _locate(review: Review, transport: Transport, path: str) -> SetAside:
    """The set-aside file ``path`` names: itself, or the one set aside for a live file."""
    if leftover(path) is not None:
        return await ops.read_set_aside(transport, path)
    info = review.collected.get(transport.host)
    now = await ops.find_set_aside(transport, info.dirs, info.suffixes) if info else []
    matches = sorted({f for f in now if _belongs(f, path)})
    if len(matches) != 1:
        what = f"{', '.join(matches)} are" if matches else "nothing is"
        raise InputError(
            f"{transport.host}: {what} set aside for {path}",
            hint=f"name the set-aside file itself; `stackstep configs --host {transport.host}`"
            " lists them",
        )
    return await ops.read_set_aside(transport, matches[0])


def _finish(out: dict[str, Any], kw: dict[str, Any], code: int) -> int:
    if kw["as_json"]:
        click.echo(json.dumps({**out, "exit_code": code}, indent=2))
    return code


def _refuse(out: dict[str, Any], kw: dict[str, Any], message: str, hint: str) -> int:
    click.echo(f"error: {message}\n  hint: {hint}", err=True)
    out["error"] = {"type": "Refused", "message": message, "hint": hint}
    return _finish(out, kw, exit_codes.REFUSED)


async def _confirm(question: str, kw: dict[str, Any]) -> bool:
    return await asyncio.to_thread(
        opt.confirm,
        question,
        bool(kw["yes"]),
        "refusing to change a host's config file without confirmation",
        "read the above, then rerun with --yes (or with --dry-run, only to look)",
    )


async def _changed(transport: Transport, item: SetAside) -> bool:
    fresh = await ops.read_set_aside(transport, item.path)
    return (fresh.ours, fresh.theirs) != (item.ours, item.theirs)


def _record(review: Review, item: SetAside, action: str, done: Done, **extra: Any) -> None:
    """The action as an event in the run's journal and log (paths and counts, no values)."""
    data = {"action": action, "path": item.path, "live": item.live, "backup": done.backup}
    event = Event(
        "message",
        review.record.id,
        host=item.host,
        message=f"configs {action} {item.live}: {done.message}",
        data={"configs": {**data, **done.data, **extra}},
    )
    bus = EventBus()
    bus.subscribe(lambda logged: _log(review, logged))
    review.journal.publish(event, bus)


def _log(review: Review, event: Event) -> None:
    """``event`` appended to the run's log."""
    log = LogWriter(review.journal.run_dir(review.record.id) / "run.log")
    try:
        log(event)
    finally:
        log.close()


def _intent(item: SetAside, action: str, run_id: str) -> str:
    backup = kept_name(item.live, run_id)
    if action == "keep" and item.new_default_aside:
        return f"keep yours; delete the new default {item.path}"
    if action == "keep":
        return f"put your {item.path} back as {item.live} (the new default saved as {backup})"
    if item.new_default_aside:
        return f"install the new default as {item.live} (yours saved as {backup})"
    return (
        f"keep the new default {item.live}; move your {item.path} to {kept_name(item.path, run_id)}"
    )


async def _keep_or_accept(
    review: Review, transport: Transport, item: SetAside, action: str, kw: dict[str, Any]
) -> int:
    out: dict[str, Any] = {"action": action, "host": item.host, **item_json(item), "applied": False}
    if not kw["as_json"]:
        click.echo(f"{action} on {item.host}: {_intent(item, action, review.record.id)}")
        echo_diff(item.diff())
    if kw["dry_run"] or not await _confirm(f"{action.capitalize()} {item.path}?", kw):
        return _finish(out, kw, exit_codes.OK)
    if await _changed(transport, item):
        return _refuse(out, kw, f"{item.host}: {item.path} changed meanwhile", "run it again")
    act = ops.keep if action == "keep" else ops.accept
    done = await act(transport, item, review.record.id)
    _record(review, item, action, done)
    out.update(applied=True, message=done.message, backup=done.backup)
    if not kw["as_json"]:
        click.echo(done.message)
    return _finish(out, kw, exit_codes.OK)


def _picks(kw: dict[str, Any], kind: FileKind) -> dict[Key, Side]:
    picks: dict[Key, Side] = {}
    sides: tuple[tuple[str, Side], ...] = (("pick_ours", "ours"), ("pick_theirs", "theirs"))
    for option, side in sides:
        for text in kw[option]:
            key = parse_key(text, kind)
            if picks.setdefault(key, side) != side:
                raise InputError(f"{text} is given to both --ours and --theirs")
    return picks


async def _base(review: Review, transport: Transport, item: SetAside, kw: dict[str, Any]) -> Base:
    facts = review.facts.get(transport.host)
    if facts is None:
        return Base(None, "the run journalled no facts for this host")
    return await ops.recover_base(
        transport,
        facts.family,
        facts.package_manager,
        item.live,
        facts.versions,
        kw["package_cache"],
        download=not kw["no_download"],
    )


async def _merge(review: Review, transport: Transport, item: SetAside, kw: dict[str, Any]) -> int:
    host, kind = item.host, file_kind(item.live)
    if item.ours is None or item.theirs is None:
        missing = item.ours_path if item.ours is None else item.theirs_path
        raise InputError(
            f"{host}: cannot merge {item.path}: {missing} does not exist",
            hint="keep or accept it instead",
        )
    picks = _picks(kw, kind) if kind else {}
    base = await _base(review, transport, item, kw) if kind else Base(None, "")
    carry, add = review.settings.get(item.live, ((), ()))
    options = MergeOptions(picks, kw["resolve"], carry, add)
    result = merge_config(item.live, base.text, item.ours, item.theirs, options)
    live = item.ours if item.new_default_aside else item.theirs
    diff = unified_diff(live, result.text, f"live: {item.live}", f"merged: {item.live}")
    out = {"action": "merge", "host": host, **item_json(item), "applied": False}
    out["merge"] = merge_json(base, result, diff)
    if not kw["as_json"]:
        echo_merge(host, item, base, result, diff)
    if result.unresolved:
        return _refuse(
            out,
            kw,
            f"{len(result.unresolved)} conflict(s) in {item.live} on {host}: nothing written",
            "choose with --resolve ours (your values) or --resolve theirs (the new default's), "
            "or per key with --ours/--theirs SECTION.KEY; or edit the file by hand, then `keep`",
        )
    if kw["dry_run"] or not await _confirm(f"Write the merge into {item.live} on {host}?", kw):
        return _finish(out, kw, exit_codes.OK)
    if await _changed(transport, item):
        return _refuse(out, kw, f"{host}: {item.live} changed meanwhile", "run the merge again")
    done = await ops.apply_merge(transport, item, result.text, review.record.id)
    resolved = {f"{c.section}.{c.key}": c.resolution for c in result.conflicts}
    _record(review, item, "merge", done, mode=result.mode, base=base.source, resolved=resolved)
    out.update(applied=True, message=done.message, backup=done.backup)
    if not kw["as_json"]:
        click.echo(done.message)
    return _finish(out, kw, exit_codes.OK)


async def _act(review: Review, host: Host, action: str, path: str, kw: dict[str, Any]) -> int:
    async with TransportPool(opt.transport_options(kw)) as pool:
        transport = await pool.get(host)
        item = await _locate(review, transport, path)
        if action == "merge":
            return await _merge(review, transport, item, kw)
        return await _keep_or_accept(review, transport, item, action, kw)


configs_options = opt.options(
    click.argument("words", nargs=-1, metavar="[RUN] [keep|accept|merge PATH]"),
    click.option("--host", "host_name", metavar="HOST", help="only this host / the file's host."),
    opt.state_dir("where the journal is (docs/state.md)."),
    click.option(
        "--resolve",
        type=click.Choice(["ours", "theirs"]),
        help="merge: settle every conflict with your value or the new default's.",
    ),
    click.option(
        "--ours",
        "pick_ours",
        multiple=True,
        metavar="SECTION.KEY",
        help="merge: your value for this key (repeatable; NAME in settings files).",
    ),
    click.option(
        "--theirs",
        "pick_theirs",
        multiple=True,
        metavar="SECTION.KEY",
        help="merge: the new default's value for this key (repeatable).",
    ),
    click.option(
        "--package-cache",
        multiple=True,
        metavar="DIR",
        help="merge: look for the old package in DIR on the host too (the merge base).",
    ),
    click.option(
        "--no-download",
        is_flag=True,
        help="merge: do not download the old package when no cache has it.",
    ),
    click.option("--dry-run", is_flag=True, help="show what would be done; change nothing."),
    opt.yes,
    opt.host_keys,
    opt.as_json("print one JSON document."),
)


@click.command()
@configs_options
@handle_errors
def configs(words: tuple[str, ...], **kw: Any) -> None:
    """Review the config files a run's upgrades set aside (.rpmnew, .dpkg-dist, ...).

    \b
    stackstep configs [RUN]                        each host's files, diffed
    stackstep configs [RUN] keep PATH --host H     keep yours, drop the new default
    stackstep configs [RUN] accept PATH --host H   take the new default (yours backed up)
    stackstep configs [RUN] merge PATH --host H    merge key by key (INI, Python settings)

    RUN defaults to the latest run; PATH is the live file or the set-aside one.
    Exit 4 when a merge has conflicts that --resolve/--ours/--theirs do not settle.
    """
    run_id, action, path = _parse_words(words)
    review = load_review(run_id, kw["state_dir"])
    if action is None or path is None:
        sys.exit(_list(review, kw))
    if kw["as_json"] and not (kw["yes"] or kw["dry_run"]):
        raise InputError("--json cannot ask for confirmation", hint="add --yes or --dry-run")
    host = _host_for(review, path, kw["host_name"])
    record, resume = review.record, opt.resume_for(kw)
    lock = (
        contextlib.nullcontext()
        if kw["dry_run"]  # changes nothing: no lock to take
        else claim(review.journal, record.id, record.cloud, "configs", resume)
    )
    with lock:
        sys.exit(asyncio.run(_act(review, host, action, path, kw)))
