"""The catalog's file hooks: link a file, move renamed config files, merge a Python
settings file (horizon's ``local_settings``) into its new default.

The text transforms (``rename_config_text``, ``assignments``, ``carry_settings``) are
pure functions; the async functions move files with the transport and run the few
commands needed. Database backups and restores: engine/backup.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath

from stackstep.errors import StepFailed
from stackstep.model.command import Command, cmd, path_operand
from stackstep.model.params import HookParams
from stackstep.model.plan import Json, Step
from stackstep.transport.base import Result, Transport

OnCommand = Callable[[Step, Result], None]


def rename_config_text(text: str, old: str, new: str, keep: list[str]) -> str:
    """Replace ``old`` by ``new`` (also Capitalised and UPPER, as in class names such as
    OVSQuantumPluginV2) on every line except those setting a ``keep`` key."""
    pairs = [(old, new), (old.capitalize(), new.capitalize()), (old.upper(), new.upper())]
    out = []
    for line in text.splitlines(keepends=True):
        key = line.split("=", 1)[0].strip() if "=" in line else ""
        changed = line
        if key not in keep:
            for a, b in pairs:
                changed = changed.replace(a, b)
        out.append(changed)
    return "".join(out)


_ASSIGN = re.compile(r"^([A-Z_][A-Z0-9_]*)\s*=", re.MULTILINE)


def assignments(text: str) -> dict[str, str]:
    """Top-level ``NAME = value`` statements of a Python settings file (value may span lines)."""
    found: dict[str, str] = {}
    matches = list(_ASSIGN.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        block = text[match.start() : end]
        lines = block.splitlines(keepends=True)
        kept = [lines[0]]
        for line in lines[1:]:
            if line.strip() and not line.startswith((" ", "\t", ")", "]", "}")):
                break
            kept.append(line)
        found[match.group(1)] = "".join(kept).rstrip("\n") + "\n"
    return found


def carry_settings(old: str, new: str, carry: list[str], add: list[str]) -> str:
    """The new default settings with ``carry`` names taken from the old file and ``add``
    statements appended where the name is not set (horizon's local_settings)."""
    old_values, result = assignments(old), new
    for name in carry:
        if name not in old_values:
            continue
        new_values = assignments(result)
        if name in new_values:
            result = result.replace(new_values[name], old_values[name], 1)
        else:
            result = result.rstrip("\n") + "\n" + old_values[name]
    for statement in add:
        name = statement.split("=", 1)[0].strip()
        if name not in assignments(result):
            result = result.rstrip("\n") + "\n" + statement.rstrip("\n") + "\n"
    return result


_SECTION = re.compile(r"^\s*\[([^\]]+)\]")


def ini_get(text: str, section: str, key: str) -> str | None:
    """The value of ``key`` in ``[section]`` of an INI file (oslo.config's: the last
    one wins, ``key = value`` or ``key=value``), None when it is not set."""
    current, found = None, None
    for line in text.splitlines():
        head = _SECTION.match(line)
        if head:
            current = head.group(1).strip()
            continue
        if current == section and "=" in line and not line.lstrip().startswith(("#", ";")):
            name, _, value = line.partition("=")
            if name.strip() == key:
                found = value.strip()
    return found


def ini_set(text: str, section: str, key: str, value: str) -> str:
    """``text`` with ``key = value`` added at the end of the (last) ``[section]``, or in
    a new section at the end of the file; nothing else changes."""
    lines = text.splitlines(keepends=True)
    at = None
    for index, line in enumerate(lines):
        head = _SECTION.match(line)
        if head and head.group(1).strip() == section:
            at = index + 1
            while at < len(lines) and not _SECTION.match(lines[at]):
                at += 1
            while at > index + 1 and not lines[at - 1].strip():
                at -= 1  # before the blank lines that end the section
    entry = f"{key} = {value}\n"
    if at is None:
        tail = "" if not text or text.endswith("\n") else "\n"
        return f"{text}{tail}\n[{section}]\n{entry}"
    if at > 0 and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    return "".join([*lines[:at], entry, *lines[at:]])


async def run_or_fail(
    step: Step,
    transport: Transport,
    on_command: OnCommand,
    command: Command,
    stdin: str | None = None,
    hint: str | None = None,
) -> Result:
    """Run ``command`` for ``step``, report it, and fail the step (with ``hint``, what to
    do next) when it exits non-zero."""
    result = await transport.run(command, timeout=step.timeout, stdin=stdin)
    on_command(step, result)
    if not result.ok:
        raise StepFailed(
            step.id,
            step.host,
            f"`{result.command}` exited with status {result.exit_status}",
            exit_status=result.exit_status,
            output_tail=result.tail(),
            hint=hint,
        )
    return result


def _params(step: Step) -> dict[str, Json]:
    params = step.params.params if isinstance(step.params, HookParams) else None
    return {k: v if isinstance(v, str) else list(v) for k, v in params or ()}


def _strs(value: Json | None) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


async def file_hook(step: Step, transport: Transport, on_command: OnCommand, run_id: str) -> str:
    """Carry out a file hook. Each is safe to repeat (resume repeats a hook that was
    running when stackstep died): its sources stay as they were, it writes the same
    result again, and a file of the site's that it replaces is kept as
    ``PATH.stackstep-RUN`` once per run, never overwritten."""
    kind = step.params.hook_kind if isinstance(step.params, HookParams) else None
    p = _params(step)
    if kind == "link":
        return await _link(step, transport, on_command, p, run_id)
    if kind == "rename-configs":
        return await _rename_configs(step, transport, on_command, p)
    if kind == "settings-merge":
        return await _settings_merge(step, transport, on_command, p, run_id)
    if kind == "ini-ensure":
        return await _ini_ensure(step, transport, on_command, p, run_id)
    raise StepFailed(step.id, step.host, f"unknown hook kind {kind!r}")


# $1 the file, $2 the name to keep it under: copied (owner, mode and times kept) through a
# temp name and renamed, so that $2 is whole when it exists; never overwritten
_KEEP = (
    '[ -e "$2" ] && exit 0; tmp="$2.stackstep-tmp"; cp -p -- "$1" "$tmp" && mv -f -- "$tmp" "$2"'
)


def kept_name(path: str, run_id: str) -> str:
    """Where a hook keeps the site's file it replaces (``stackstep configs``' name)."""
    return f"{path}.stackstep-{run_id}"


async def _keep(
    step: Step, transport: Transport, on_command: OnCommand, path: str, run_id: str
) -> str:
    keep = kept_name(path, run_id)
    await run_or_fail(step, transport, on_command, cmd("sh", "-c", _KEEP, "sh", path, keep))
    return keep


# $1 the target, $2 the link, $3 the name a site's own file (not a link) is kept under;
# prints $3 when it holds one
_LINK = (
    'if [ -e "$2" ] && [ ! -L "$2" ]; then '
    '[ -e "$3" ] && { echo "$2 is not a link and $3 exists: replacing neither" >&2; exit 1; }; '
    'mv -- "$2" "$3" || exit; fi; '
    'ln -sfn -- "$1" "$2" || exit; [ -e "$3" ] && echo "$3"; exit 0'
)


async def _link(
    step: Step, transport: Transport, on_command: OnCommand, p: dict[str, Json], run_id: str
) -> str:
    path, target, keep = str(p["path"]), str(p["target"]), kept_name(str(p["path"]), run_id)
    done = await run_or_fail(
        step, transport, on_command, cmd("sh", "-c", _LINK, "sh", target, path, keep)
    )
    kept = f" (your {path} kept as {keep})" if done.stdout.strip() else ""
    return f"{path} -> {target}{kept}"


async def _rename_configs(
    step: Step, transport: Transport, on_command: OnCommand, p: dict[str, Json]
) -> str:
    src, dst, suffix = str(p["from_dir"]), str(p["to_dir"]), str(p["suffix"])
    old, new, keep = str(p["replace"]), str(p["with"]), _strs(p.get("keep_lines"))
    listing = await transport.run(
        cmd("find", path_operand(src), "-maxdepth", "3", "-type", "f", "-name", f"*{suffix}"),
        timeout=step.timeout,
    )
    on_command(step, listing)
    files = sorted(line for line in listing.stdout.splitlines() if line.strip())
    if files:
        await run_or_fail(step, transport, on_command, cmd("mkdir", "-p", "--", dst))
    for path in files:
        relative = str(PurePosixPath(path).relative_to(src))[: -len(suffix)]
        target = str(PurePosixPath(dst) / relative.replace(old, new))
        text = (await transport.get(path)).decode()
        await run_or_fail(
            step, transport, on_command, cmd("mkdir", "-p", "--", str(PurePosixPath(target).parent))
        )
        data = rename_config_text(text, old, new, keep).encode()
        await _write_config(step, transport, on_command, data, target, like=path)
    return f"{len(files)} file(s) moved from {src} to {dst}"


# an existing file is rewritten in place (owner, group, mode and SELinux label stay: the
# service reads it as its own user); a new one is the temp file itself, given the owner
# and mode of ``like`` first and then renamed, so it never exists with the temp's mode
_IN_PLACE = (
    'if [ -e "$2" ]; then cat -- "$1" > "$2"; '
    'else chown --reference="$3" -- "$1" && chmod --reference="$3" -- "$1" '
    '&& mv -f -- "$1" "$2"; fi; '
    'rc=$?; rm -f -- "$1"; exit $rc'
)


async def _write_config(
    step: Step, transport: Transport, on_command: OnCommand, data: bytes, path: str, like: str
) -> None:
    temp = f"{path}.stackstep-tmp"
    await transport.put(data, temp, 0o600)
    await run_or_fail(
        step, transport, on_command, cmd("sh", "-c", _IN_PLACE, "sh", temp, path, like)
    )


async def _settings_merge(
    step: Step, transport: Transport, on_command: OnCommand, p: dict[str, Json], run_id: str
) -> str:
    """The new default with the site's settings carried over. The site's file is kept
    first (once per run) and the merge always reads that copy: a repeat after a kill,
    when the live file is already merged or half written, gives the same result."""
    live = str(p["file"])
    for suffix in (".rpmnew", ".dpkg-dist", ".ucf-dist"):
        probe = await transport.run(cmd("test", "-f", live + suffix), timeout=step.timeout)
        if probe.ok:
            new_default = live + suffix
            break
    else:
        return f"no new default for {live}: nothing to merge"
    keep = await _keep(step, transport, on_command, live, run_id)
    old = (await transport.get(keep)).decode()
    new = (await transport.get(new_default)).decode()
    merged = carry_settings(old, new, _strs(p.get("carry")), _strs(p.get("add")))
    await _write_config(step, transport, on_command, merged.encode(), live, like=keep)
    # the new default stays where the package put it, so the config review lists it
    return f"{live}: new default {new_default} merged (your file kept as {keep})"


async def _ini_ensure(
    step: Step, transport: Transport, on_command: OnCommand, p: dict[str, Json], run_id: str
) -> str:
    """``[section] key`` set in a config file: a value the site chose is kept and
    reported; an absent one is set to ``value`` (the site's file kept first, once per
    run). A repeat finds it set and changes nothing."""
    path, section, key, value = (str(p[k]) for k in ("file", "section", "key", "value"))
    if not (await transport.run(cmd("test", "-f", path), timeout=step.timeout)).ok:
        raise StepFailed(
            step.id, step.host, f"{path} does not exist", hint="is the service installed here?"
        )
    text = (await transport.get(path)).decode()
    found = ini_get(text, section, key)
    if found is not None:
        note = "" if found == value else f" (not {value}: the site's choice, kept)"
        return f"[{section}] {key} = {found} in {path}{note}"
    keep = await _keep(step, transport, on_command, path, run_id)
    data = ini_set(text, section, key, value).encode()
    await _write_config(step, transport, on_command, data, path, like=keep)
    return f"set [{section}] {key} = {value} in {path} (it was not set; your file kept as {keep})"
