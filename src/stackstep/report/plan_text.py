"""Render a plan as a numbered text tree: the dry run an operator reads.

Steps of one parallel group that do the same thing on several hosts are shown once,
with the hosts compressed (``compute[01:20]``); ``expand=True`` shows every host.
:func:`plan_outline` is the short form (per phase and per service: hosts and step
counts) that ``stackstep demo`` shows on a terminal. Pure: returns text, prints nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from stackstep.model.command import Command
from stackstep.model.hostrange import compress
from stackstep.model.params import (
    BackupParams,
    HookParams,
    HookValue,
    PreflightParams,
    VerifyParams,
)
from stackstep.model.plan import Group, Plan, Step

INDENT = "  "


DRY_RUN_FOOTER = "Nothing has been changed. Run `stackstep upgrade` with the same options to do it."


def render_plan(
    plan: Plan,
    *,
    expand: bool = False,
    footer: str = DRY_RUN_FOOTER,
    endpoints: Sequence[str] = (),
) -> str:
    """The plan as a numbered tree; ``footer`` its last line ("" none: a command that goes
    on to change the cloud must not say nothing has been changed); ``endpoints``: the
    load-balanced endpoints the run will probe (``keystone via http://...``), named
    before the footer when there are any."""
    lines = _head(plan)
    if plan.warnings:
        lines.append("")
        lines.append("warnings:")
        lines.extend(f"  ! {w}" for w in plan.warnings)
    if plan.left_alone:
        lines.append("")
        lines.append("hosts left alone (no step; --include-unassigned upgrades their packages):")
        lines.extend(f"  - {host}: {why}" for host, why in plan.left_alone)
    lines.append("")
    for index, child in enumerate(plan.root.children, start=1):
        lines.extend(_node(child, str(index), 0, expand))
    if endpoints or footer:
        lines.append("")
    if endpoints:
        lines.append("load-balanced endpoints probed during the run (besides each API's hosts):")
        lines.extend(f"  - {endpoint}" for endpoint in endpoints)
    if footer:
        lines.append(footer)
    return "\n".join(_printable(line) for line in lines) + "\n"


def _head(plan: Plan) -> list[str]:
    """The plan's first lines: cloud, releases, strategy, counts, where the facts came from."""
    return [
        f"Plan for cloud {plan.cloud!r}: {plan.from_release} -> {plan.to_release}",
        f"strategy {plan.strategy} · {_count(len(plan.hosts), 'host')} · "
        f"{_count(len(plan.services), 'service')} ({', '.join(plan.services) or 'none'}) · "
        f"{_count(sum(1 for _ in plan.steps()), 'step')}",
        f"facts from the {plan.facts_source} · plan {plan.hash[:12]}",
    ]


MAX_HOST_NAMES = 4  # an outline line names at most this many host ranges, else counts them


def plan_outline(plan: Plan) -> str:
    """The plan in a few lines: its head, then each phase (and each group of a phase made
    of groups, e.g. one per service) with its hosts and how many steps it has. Warnings
    and hosts left alone are kept: they are what a reader must not miss."""
    lines = _head(plan)
    lines.extend(f"  ! {w}" for w in plan.warnings)
    if plan.left_alone:
        hosts = ", ".join(compress([host for host, _ in plan.left_alone]))
        lines.append(f"  hosts left alone (no step): {hosts}")
    lines.append("")
    for index, child in enumerate(plan.root.children, start=1):
        lines.append(_outline_line(child, f"{index}. "))
        if (
            isinstance(child, Group)
            and child.children
            and all(isinstance(c, Group) for c in child.children)
        ):
            for sub, node in enumerate(child.children, start=1):
                lines.append(_outline_line(node, f"  {index}.{sub}. "))
    return "\n".join(_printable(line) for line in lines) + "\n"


def _outline_line(node: Group | Step, head: str) -> str:
    steps = [node] if isinstance(node, Step) else [s for s in node.walk() if isinstance(s, Step)]
    hosts = list(dict.fromkeys(s.host for s in steps if s.host))
    names = compress(hosts)
    where = ", ".join(names) if len(names) <= MAX_HOST_NAMES else _count(len(hosts), "host")
    return f"{head}{node.title}: {_count(len(steps), 'step')}" + (f" on {where}" if hosts else "")


def _printable(text: str) -> str:
    """``text`` on one line: a newline, escape or lone surrogate in a name is shown escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


def _escape(char: str) -> str:
    return char.encode("unicode_escape").decode("ascii")


def _node(node: Group | Step, number: str, depth: int, expand: bool) -> list[str]:
    pad = INDENT * depth
    if isinstance(node, Step):
        return _leaf([node], f"{pad}{number}. ", pad + INDENT)
    mode = "in parallel" if node.mode == "parallel" else "in order"
    if node.mode == "parallel" and node.limit and len(node.children) > node.limit:
        mode += f", {node.limit} at a time"
    lines = [f"{pad}{number}. {node.title}  [{mode}]"]
    if node.mode == "parallel" and not expand and all(isinstance(c, Step) for c in node.children):
        for bucket in _buckets([c for c in node.children if isinstance(c, Step)]):
            lines.extend(_leaf(bucket, f"{pad}{INDENT}- ", pad + INDENT * 2, node.title))
        return lines
    for index, child in enumerate(node.children, start=1):
        lines.extend(_node(child, f"{number}.{index}", depth + 1, expand))
    if not node.children:
        lines.append(f"{pad}{INDENT}(nothing to do)")
    return lines


def _key(step: Step) -> tuple[str, ...]:
    return (step.title, *(_render(c) for c in step.commands), repr(_extras(step)))


SCRIPT_SHOWN = 80  # an inline script longer than this is named, not printed


@lru_cache(maxsize=4096)
def _render(command: Command) -> str:
    """Most hosts run the same commands: quote each distinct one once. An inline
    multi-line script (HAProxy's admin socket client) is named by its size; the plan's
    JSON has it whole."""
    argv = tuple(
        f"<{t.count(chr(10)) + 1}-line script, whole in the JSON plan>"
        if isinstance(t, str) and "\n" in t and len(t) > SCRIPT_SHOWN
        else t
        for t in command.argv
    )
    return Command(argv, command.env).render()


def _buckets(steps: list[Step]) -> list[list[Step]]:
    buckets: dict[tuple[str, ...], list[Step]] = {}
    for step in steps:
        buckets.setdefault(_key(step), []).append(step)
    return list(buckets.values())


def _leaf(steps: list[Step], head: str, pad: str, group_title: str = "") -> list[str]:
    first = steps[0]
    hosts = [s.host for s in steps if s.host]
    where = ", ".join(compress(hosts)) if hosts else "-"
    flag = "  (restores service: runs even after a halt)" if first.restore else ""
    title = "" if group_title.startswith(first.title) else f": {first.title}"
    lines = [f"{head}{where}{title}{flag}"]
    lines.extend(f"{pad}  $ {_render(c)}" for c in first.commands)
    lines.extend(f"{pad}  {text}" for text in _extras(first))
    return lines


def _extras(step: Step) -> list[str]:
    params = step.params
    out: list[str] = []
    if isinstance(params, HookParams) and params.when is not None:
        argv = " ".join(params.when.argv)
        codes = "/".join(str(c) for c in params.when.exit_codes)
        out.append(
            f"only if `{argv}` exits {codes}"
            if codes
            else f"only if `{argv}` prints /{params.when.output_matches}/"
        )
    if isinstance(params, HookParams) and params.again_exit is not None:
        out.append(f"run again while it exits {params.again_exit} (more to do), until 0")
    if isinstance(params, HookParams) and params.params is not None:
        values = sorted(params.params)
        out.append("with " + ", ".join(f"{k}={_short(v)}" for k, v in values))
    if isinstance(params, VerifyParams) and params.probe is not None:
        url = params.probe.url
        path = url.split("://", 1)[-1].split("/", 1)
        where = ":" + path[0].rsplit(":", 1)[-1] + "/" + (path[1] if len(path) > 1 else "")
        expect = "/".join(str(c) for c in params.probe.expect)
        out.append(f"probe GET {where} expects HTTP {expect}")
    for late in params.behind if isinstance(params, PreflightParams) else ():
        out.append(
            f"KNOWN PROBLEM: {late.service}: {late.package} {late.have}"
            f" here, {late.newest} on {late.on}"
        )
    if isinstance(params, BackupParams):
        out.append(
            "dump kept on the host in /var/lib/stackstep/backups/RUN/ (its path in the journal); "
            "`stackstep restore` puts it back"
        )
    return out


def _short(value: HookValue) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
