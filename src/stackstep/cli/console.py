"""What the operator sees while a run goes: live progress (rich) on a terminal, plain
timestamped lines otherwise. A listener on the event bus; the only printer of a run."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from stackstep.engine.events import Event
from stackstep.model.plan import Plan

if TYPE_CHECKING:
    from stackstep.engine.journal import Journal
    from stackstep.report.summary import Line

SHOWN = (
    "step-started",
    "step-finished",
    "step-failed",
    "step-skipped",
    "step-probed",
    "halt",
    "stopping",
    "message",
)
MARK = {
    "step-started": "..",
    "step-finished": "ok",
    "step-failed": "FAILED",
    "step-skipped": "skip",
    "step-probed": "probe",
    "stopping": "!!",
    "message": "--",
}


class PlainConsole:
    """One line per event that matters; for logs, pipes and CI."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, event: Event) -> None:
        if event.kind not in SHOWN:
            return
        stamp = time.strftime("%H:%M:%S", time.localtime(event.time))
        mark = MARK.get(event.kind, event.kind)
        seconds = event.seconds
        took = f" ({seconds} s)" if seconds is not None else ""
        step = event.step_id or ""
        self.console.print(
            f"{stamp} {mark:<6} {step} {event.message}{took}".rstrip(),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    def close(self) -> None:
        return None


class LiveConsole:
    """A live panel: elapsed time, current service and step, per-host state."""

    def __init__(self, console: Console, plan: Plan) -> None:
        self.console, self.plan = console, plan
        self.started = time.monotonic()
        self.total = sum(1 for _ in plan.steps())
        self.done = 0
        self.service = "-"
        self.hosts: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.live = Live(self, console=console, refresh_per_second=4, transient=True)
        self.live.start()

    def __call__(self, event: Event) -> None:
        if event.kind in ("step-finished", "step-skipped", "step-probed"):
            self.done += 1
        if event.kind in ("step-failed", "message", "stopping", "step-probed"):
            PlainConsole(self.console)(event)
        if event.step_id and event.step_id.startswith("services/"):
            self.service = event.step_id.split("/")[1]
        if event.host and event.kind.startswith("step-"):
            self.hosts[event.host] = (event.kind.removeprefix("step-"), event.step_id or "")
            self.hosts.move_to_end(event.host)
        self.live.refresh()

    def __rich__(self) -> Group:
        """Rendered on every refresh, so the elapsed time moves between events."""
        elapsed = time.monotonic() - self.started
        head = Text(
            f"{self.plan.from_release} -> {self.plan.to_release}  "
            f"service: {self.service}  steps: {self.done}/{self.total}  "
            f"elapsed: {elapsed:0.0f} s",
            style="bold",
        )
        table = Table(box=None, show_header=True, pad_edge=False)
        table.add_column("host")
        table.add_column("state")
        table.add_column("step")
        for host, (state, step) in list(self.hosts.items())[-12:]:
            style = {"failed": "red", "finished": "green", "started": "yellow"}.get(state, "")
            table.add_row(host, Text(state, style=style), step)
        return Group(head, table)

    def close(self) -> None:
        self.live.stop()


def write_report(console: Console, journal: Journal, run_id: str) -> None:
    """The run's HTML report next to its log (the summary prints its path); a report
    that cannot be written is said, and changes nothing of the command's outcome."""
    from stackstep.errors import InputError  # noqa: PLC0415
    from stackstep.report.run_html import write_html_report  # noqa: PLC0415

    try:
        write_html_report(journal, run_id)
    except InputError as exc:
        console.print(f"!! the report was not written: {exc.message}", style="yellow", markup=False)


def run_epilogue(console: Console, journal: Journal, run_id: str, probe_off: bool) -> None:
    """After a command that worked on a run besides `upgrade`/`resume` (`restore`, a
    rolling `reboot` of a run's hosts): the run's report brought up to date, and its
    measured downtime so far with the report's path."""
    from stackstep.report.summary import downtime_lines, report_line  # noqa: PLC0415

    write_report(console, journal, run_id)
    print_lines(
        console,
        [*downtime_lines(journal, run_id, probe_off=probe_off), report_line(journal, run_id)],
    )


def print_lines(console: Console, lines: Iterable[Line]) -> None:
    """Lines that report/ built, each in its style, as they are (no markup, no wrapping)."""
    for line in lines:
        console.print(
            line.text, style=line.style or None, markup=False, highlight=False, soft_wrap=True
        )
