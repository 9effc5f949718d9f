"""What `stackstep configs` shows: set-aside files with diffs, merges with their notes
and conflicts, as text or JSON. Secrets (passwords, tokens, URL passwords) are masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from stackstep.configs.ini import Values
from stackstep.configs.merge import Conflict, MergeResult, Note, mask_line, mask_value
from stackstep.configs.review import Base, SetAside
from stackstep.engine.events import Event
from stackstep.model.states import StepState

NOT_SET = "(not set)"


@dataclass(frozen=True)
class HostListing:
    host: str
    collected: str  # the state of the run's collect-configs step on the host
    items: tuple[SetAside, ...] = ()
    error: str | None = None


def safe(text: str) -> str:
    """Printable text: bytes that were not UTF-8 shown as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def masked(text: str) -> str:
    return "".join(mask_line(line) for line in safe(text).splitlines(keepends=True))


def echo_diff(diff: str, indent: str = "    ") -> None:
    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in masked(diff).splitlines():
        head = line[:3] in ("+++", "---")
        fg = None if head else colours.get(line[:1])
        click.secho(indent + line, fg=fg, bold=head)


def describe(item: SetAside) -> str:
    if item.new_default_aside:
        what = "new default set aside" if item.ours is not None else "new default; NO live file"
    elif item.theirs is None:
        what = "your file set aside; no live file (package removed?)"
    else:
        what = "your file set aside; the live file is the new default"
    same = "; identical to yours" if item.ours == item.theirs else ""
    return f"{item.path} ({item.kind}: {what}{same})"


def echo_listing(run_id: str, listings: list[HostListing], handled: list[Event]) -> None:
    shown: dict[str, str] = {}
    total = sum(len(x.items) for x in listings)
    click.echo(f"run {run_id}: {total} config file(s) set aside")
    for listing in listings:
        click.secho(f"{listing.host}:", bold=True)
        if listing.error:
            click.secho(f"  cannot read: {listing.error}", fg="red")
            continue
        if listing.collected != StepState.DONE:
            click.echo(f"  (the run has not collected config files here: {listing.collected})")
        if not listing.items:
            click.echo("  nothing set aside")
        for item in listing.items:
            click.echo(f"  {describe(item)}")
            diff = item.diff()
            if diff and diff in shown:
                click.echo(f"    (same diff as {shown[diff]})")
            elif diff:
                shown[diff] = f"{listing.host}:{item.path}"
                echo_diff(diff)
    for event in handled:
        click.echo(f"done earlier on {event.host}: {event.message}")
    if total:
        click.echo(
            "next: stackstep configs [RUN] merge|keep|accept PATH --host HOST (docs/configs.md)"
        )


def listing_json(run_id: str, listings: list[HostListing], handled: list[Event]) -> dict[str, Any]:
    return {
        "run": run_id,
        "hosts": [
            {
                "host": x.host,
                "collected": x.collected,
                "error": x.error,
                "files": [item_json(item) for item in x.items],
            }
            for x in listings
        ],
        "done": [{"host": e.host, "message": e.message, **e.data} for e in handled],
    }


def item_json(item: SetAside) -> dict[str, Any]:
    return {
        "path": item.path,
        "live": item.live,
        "kind": item.kind,
        "set_aside": "new-default" if item.new_default_aside else "yours",
        "live_exists": (item.ours if item.new_default_aside else item.theirs) is not None,
        "identical": item.ours == item.theirs,
        "diff": masked(item.diff()),
    }


def _show(key: str, values: Values) -> str:
    if not values:
        return NOT_SET
    return " | ".join(safe(mask_value(key, v)).replace("\n", "\\n") for v in values)


def _where(section: str, key: str) -> str:
    if not key:
        return "line"
    return f"[{section}] {key}" if section else key


def note_line(note: Note) -> str:
    if not note.key:  # a settings line that could not be carried
        return f"{note.what}: {_show('', note.ours)}"
    return (
        f"{_where(note.section, note.key)}: {note.what} "
        f"(yours: {_show(note.key, note.ours)}; new default: {_show(note.key, note.theirs)})"
    )


def conflict_line(c: Conflict) -> str:
    chosen = {None: "UNRESOLVED", "ours": "-> yours", "theirs": "-> new default"}[c.resolution]
    return (
        f"{_where(c.section, c.key)}: old default {_show(c.key, c.base)}, "
        f"yours {_show(c.key, c.ours)}, new default {_show(c.key, c.theirs)}  {chosen}"
    )


def echo_merge(host: str, item: SetAside, base: Base, result: MergeResult, diff: str) -> None:
    click.secho(f"merge {item.live} on {host} ({item.path}):", bold=True)
    if base.text is not None:
        click.echo(f"  three-way: old default from {base.source}")
    else:
        click.echo(f"  two-way, base not recoverable: {base.source}")
        click.echo("  (your value wins for every key you set; each difference is listed)")
    if diff:
        click.echo("  the live file would change like this:")
        echo_diff(diff)
    elif result.unresolved:
        click.echo("  until the conflicts below are settled the merge keeps your values")
    else:
        click.echo(f"  the live file already holds the merge: applying only removes {item.path}")
    for note in result.notes:
        click.echo(f"  note: {note_line(note)}")
    for conflict in result.conflicts:
        colour = "red" if conflict.resolution is None else "yellow"
        click.secho(f"  CONFLICT {conflict_line(conflict)}", fg=colour)


def merge_json(base: Base, result: MergeResult, diff: str) -> dict[str, Any]:
    return {
        "mode": result.mode,
        "base": base.source,
        "diff": masked(diff),
        "notes": [note_line(n) for n in result.notes],
        "conflicts": [
            {
                "section": c.section,
                "key": c.key,
                "base": [mask_value(c.key, v) for v in c.base],
                "ours": [mask_value(c.key, v) for v in c.ours],
                "theirs": [mask_value(c.key, v) for v in c.theirs],
                "resolution": c.resolution,
            }
            for c in result.conflicts
        ],
    }
