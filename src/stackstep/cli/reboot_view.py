"""What `stackstep reboot` prints: who needs a reboot and why, the order, the outcome."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from stackstep.model.plan import Json
from stackstep.reboot.computes import ComputeControl
from stackstep.reboot.detect import HostOutcome, Need, Target

STATES = ("rebooted", "scheduled", "skipped", "failed")


def _p(console: Console, text: str, style: str = "") -> None:
    console.print(text, style=style or None, markup=False, highlight=False, soft_wrap=True)


def _rows(console: Console, title: str, needs: Sequence[Need], width: int, style: str = "") -> None:
    if not needs:
        return
    _p(console, f"{title} ({len(needs)}):", style)
    for need in needs:
        _p(console, f"  {need.host:<{width}}  {need.why}")


def print_needs(
    console: Console, title: str, needs: Sequence[Need], targets: Sequence[Target]
) -> None:
    """Which hosts need a reboot and why (running vs newest kernel), which do not."""
    _p(console, f"reboot check: {title}", "bold")
    width = max((len(n.host) for n in needs), default=0)
    _rows(console, "needs a reboot", [n for n in needs if n.needed], width, "bold")
    _rows(console, "no reboot needed", [n for n in needs if n.needed is False], width)
    unknown = [n for n in needs if n.needed is None]
    _rows(console, "not known", unknown, width, "yellow")
    if unknown:
        _p(console, "  (`stackstep reboot -i INVENTORY` checks every host now)", "yellow")
    known = {t.name for t in targets}
    for need in needs:
        if need.needed and need.host not in known:
            _p(console, f"  {need.host} is not in the inventory: left alone", "yellow")
    if not targets:
        _p(console, "no host to reboot", "green")


def print_order(
    console: Console,
    targets: Sequence[Target],
    control: ComputeControl | None,
    parallel: int,
    no_disable: bool,
) -> None:
    first = [t.name for t in targets if t.serves_api]
    rest = [t.name for t in targets if not t.serves_api]
    steps = []
    if first:
        steps.append(f"{', '.join(first)} one at a time (they serve an API)")
    if rest:
        steps.append(f"{', '.join(rest)} {parallel} at a time")
    _p(console, "rolling reboot: " + ", then ".join(steps) + "; each must come back healthy")
    computes = [t.name for t in targets if t.compute]
    if computes and control is not None:
        _p(
            console,
            f"nova-compute disabled first on {', '.join(computes)}: "
            f"{control.shown('disable', computes[0])}",
        )
    elif computes and no_disable:
        _p(
            console,
            f"--no-disable: nova-compute stays ENABLED on {', '.join(computes)} while they "
            "reboot; the scheduler may send them new instances",
            "bold yellow",
        )


def print_outcomes(console: Console, outcomes: Sequence[HostOutcome], again: str) -> None:
    for state in STATES:
        mine = [o for o in outcomes if o.state == state]
        if not mine:
            continue
        style = {"failed": "bold red", "skipped": "yellow"}.get(state, "green")
        _p(console, f"{state} ({len(mine)}): {', '.join(o.host for o in mine)}", style)
        for outcome in mine:
            _p(console, f"  {outcome.host}: {outcome.message}", "red" if state == "failed" else "")
            if outcome.hint:
                _p(console, f"    hint: {outcome.hint}")
    if any(o.state == "scheduled" for o in outcomes):
        _p(
            console,
            "the scheduled reboots are not health-checked and nova-compute is not disabled "
            "for them; cancel one with `shutdown -c` on its host",
            "bold",
        )
    if any(o.state in ("failed", "skipped") for o in outcomes):
        _p(console, f"to go on: {again}", "bold")


def result_json(
    op_id: str, mode: str, needs: Sequence[Need], outcomes: Sequence[HostOutcome], log: str
) -> dict[str, Json]:
    body: dict[str, Json] = {
        "run": op_id,
        "mode": mode,
        "needs": [n.to_json() for n in needs],
        "hosts": [o.to_json() for o in outcomes],
    }
    for state in STATES:
        body[state] = [o.host for o in outcomes if o.state == state]
    body["log"] = log
    return body
