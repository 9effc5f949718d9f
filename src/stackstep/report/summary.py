"""The end-of-run summary and `stackstep status`: honest about what was done and what
is down, with the exact command to go on, and the run's measured downtime (per service:
outage, windows, floor, outage ÷ floor; :mod:`stackstep.report.downtime` is its one
reading) with the path of its report. Built here as text lines (each with a style for
the terminal) and as JSON; cli/ prints them."""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackstep.engine.executor import RunResult
from stackstep.engine.journal import (
    Journal,
    RunRecord,
    StepRecord,
    left_down,
    left_drained,
    left_held,
)
from stackstep.engine.preflight import Finding, from_json, grouped
from stackstep.engine.runlock import Holder, has_lock, holder
from stackstep.model.hostrange import compress
from stackstep.model.params import VerifyParams
from stackstep.model.plan import Json, StepKind, steps_from_json
from stackstep.model.states import FINISHED, RunStatus, StepState
from stackstep.report.downtime import Downtime, ServiceDowntime, Window, run_downtime
from stackstep.report.load import load_json, load_lines, run_load
from stackstep.restore.plan import history


@dataclass(frozen=True)
class Line:
    """One line of text, and its style on a terminal (rich's style names; "": none)."""

    text: str
    style: str = ""


def _p(out: list[Line], text: str, style: str = "") -> None:
    out.append(Line(text, style))


def _failure_block(out: list[Line], rec: StepRecord) -> None:
    _p(out, f"  {rec.message}", "red")
    if rec.exit_status is not None:
        _p(out, f"    exit status {rec.exit_status}")
    for line in rec.output_tail.splitlines()[-10:]:
        _p(out, f"    | {line}")
    if rec.result.hint:
        _p(out, f"    fix: {rec.result.hint}")


def finding_lines(findings: list[Finding], indent: str = "") -> list[Line]:
    """Preflight findings, the same one on many hosts once (hosts as ranges)."""
    out: list[Line] = []
    for first, hosts in grouped(findings):
        label, style = ("PROBLEM", "red") if first.severity == "problem" else ("warning", "yellow")
        where = f"{', '.join(compress(hosts))}: " if hosts else ""
        _p(out, f"{indent}{label} [{first.check}] {where}{first.message}", style)
        _p(out, f"{indent}    fix: {first.fix}")
    return out


def _configs(steps: dict[str, StepRecord]) -> list[str]:
    out = []
    for rec in steps.values():
        if rec.kind == "collect-configs":
            out += [f"{rec.host}: {f}" for f in rec.result.files]
    return out


def _restarted(steps: dict[str, StepRecord]) -> dict[str, str]:
    """Per host, what the after-upgrade restart did and why (its step message)."""
    return {
        rec.host or "?": rec.message
        for rec in steps.values()
        if rec.kind == "restart-units" and rec.result.restarted
    }


def _findings(steps: dict[str, StepRecord]) -> dict[str, Json]:
    """Per host, what preflight found (problems and warnings; hosts with none left out)."""
    return {
        rec.host or "?": list(rec.result.findings)
        for rec in steps.values()
        if rec.kind == "preflight" and rec.result.findings
    }


def _reboots(steps: dict[str, StepRecord]) -> list[str]:
    return [
        r.host or "?" for r in steps.values() if r.kind == "reboot-check" and r.result.reboot_needed
    ]


def service_states(steps: dict[str, StepRecord], order: list[str]) -> dict[str, str]:
    """Each service of the run, in plan ``order``, and where it stands: upgraded, DOWN
    (stopped for the upgrade and not started again), up but failing its health check, part
    way, or not started yet (still the old release, untouched)."""
    per_service: dict[str, list[StepRecord]] = {name: [] for name in order}
    for sid, rec in steps.items():
        parts = sid.split("/")
        if parts[0] == "services" and len(parts) == 4:
            per_service.setdefault(parts[1], []).append(rec)
    down = left_down(steps)
    out: dict[str, str] = {}
    for service, recs in per_service.items():
        if not recs:
            continue
        states = {r.state for r in recs}
        failed = sorted({r.host or "?" for r in recs if r.state == StepState.FAILED})
        if service in down:
            out[service] = f"DOWN on {', '.join(down[service])}"
        elif failed and all(r.kind == "verify" for r in recs if r.state == StepState.FAILED):
            out[service] = f"running, health check FAILED on {', '.join(failed)}"
        elif states <= FINISHED:
            out[service] = "upgraded"
        elif states == {StepState.PENDING}:
            out[service] = "not started yet (old release, untouched)"
        else:
            done = sum(r.state in FINISHED for r in recs)
            where = f", failed on {', '.join(failed)}" if failed else ""
            out[service] = f"part way ({done} of {len(recs)} steps done{where})"
    return out


def _services(record: RunRecord) -> list[str]:
    """The plan's services in their order."""
    names = json.loads(record.plan_json or "{}").get("services")
    return [str(n) for n in names] if isinstance(names, list) else []


def services_line(states: dict[str, str]) -> str:
    """``services: a, b upgraded; c DOWN on h; ...`` (services in the same state together)."""
    groups: dict[str, list[str]] = {}
    for service, state in states.items():
        groups.setdefault(state, []).append(service)
    return "services: " + "; ".join(
        f"{', '.join(names)} {state}" for state, names in groups.items()
    )


def summary_lines(
    journal: Journal,
    run_id: str,
    result: RunResult,
    resume: str,
    log: Path,
    *,
    probe_off: bool = False,
) -> list[Line]:
    """What a run did, at its end: counts, failures, what is down, the measured downtime
    (``probe_off``: this command ran with ``--no-probe``), the log and the report, what to
    do next."""
    out: list[Line] = []
    steps = journal.steps(run_id)
    counts = Counter(r.state for r in steps.values())
    tally = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    style = "green" if result.status == RunStatus.DONE else "red"
    _p(out, f"run {run_id}: {result.status.upper()} ({tally})", f"bold {style}")
    _failure_lines(out, steps)
    down = left_down(steps)
    states = service_states(steps, _services(journal.run(run_id)))
    if result.status != RunStatus.DONE and states:
        _p(out, services_line(states), "bold")
    for service, hosts in down.items():
        _p(
            out,
            f"!! {service} is STOPPED on {', '.join(hosts)}: it was stopped for the "
            "upgrade and not started again",
            "bold red",
        )
    for node in left_drained(steps):
        _p(
            out,
            f"!! {node} is OUT of rotation in the load balancer (drained): `resume` "
            "finishes its upgrade and puts it back",
            "bold red",
        )
    _config_lines(out, steps, resume)
    _restart_lines(out, steps)
    _reboot_lines(out, steps)
    out.extend(downtime_lines(journal, run_id, probe_off=probe_off))
    out.extend(Line(text, style) for text, style in load_lines(run_load(journal, run_id)))
    _p(out, f"log: {log}")
    out.append(report_line(journal, run_id))
    if result.status != RunStatus.DONE:
        _p(out, f"to go on: {resume}", "bold")
    return out


def _failure_lines(out: list[Line], steps: dict[str, StepRecord]) -> None:
    """Each failed step's block; a failed preflight's findings grouped, as preflight prints."""
    failed = [rec for rec in steps.values() if rec.state == StepState.FAILED]
    found = [
        f for rec in failed if rec.kind == "preflight" for f in from_json(list(rec.result.findings))
    ]
    for rec in failed:
        if not (rec.kind == "preflight" and rec.result.findings):
            _failure_block(out, rec)
    if found:
        _p(out, "preflight findings:", "red")
        out.extend(finding_lines(found, indent="  "))


def _config_lines(out: list[Line], steps: dict[str, StepRecord], resume: str) -> None:
    configs = _configs(steps)
    if configs:
        _p(out, f"config files set aside by the package manager ({len(configs)}), review them:")
        for line in configs:
            _p(out, f"  {line}")
        _p(out, "  diff and merge them: " + resume.replace(" resume ", " configs ", 1))


def _restart_lines(out: list[Line], steps: dict[str, StepRecord]) -> None:
    for rec in steps.values():
        units = rec.result.restarted if rec.kind == "restart-units" else ()
        if len(units) > 2:
            names = ", ".join(str(u) for u in units)
            why = "their loaded code changed; why, unit by unit: the run log and the report"
            _p(out, f"{rec.host}: restarted {names} ({why})")
        elif units:
            _p(out, f"{rec.host}: {rec.message}")


def _reboot_lines(out: list[Line], steps: dict[str, StepRecord]) -> None:
    reboots = _reboots(steps)
    if reboots:
        _p(
            out,
            f"reboot needed (new kernel) on: {', '.join(reboots)}; "
            "`stackstep reboot` reboots them one at a time (or --at HH:MM)",
            "bold",
        )


@dataclass(frozen=True)
class Process:
    """Who carries a run out now: ``holder`` (a live process holds its lock), else
    ``gone`` (journalled running, lock free: its process died; None: no lock to ask,
    the run began under a stackstep before run locks)."""

    holder: Holder | None
    gone: bool | None

    @classmethod
    def of(cls, journal: Journal, record: RunRecord) -> Process:
        found = holder(journal.state_dir, record.id)
        if found is not None or record.status != RunStatus.RUNNING:
            return cls(found, False)
        return cls(None, True if has_lock(journal.state_dir, record.id) else None)


def status_json(journal: Journal, record: RunRecord, resume: str) -> dict[str, Any]:
    """`stackstep status --json`: where a run stands."""
    steps = journal.steps(record.id)
    process = Process.of(journal, record)
    return {
        "id": record.id,
        "status": record.status,
        "cloud": record.cloud,
        "plan_hash": record.plan_hash,
        "message": record.message,
        "counts": dict(Counter(r.state for r in steps.values())),
        "left_down": left_down(steps),
        "left_drained": left_drained(steps),
        "left_held": left_held(steps, _apt_hosts(record)),
        "services": service_states(steps, _services(record)),
        "failed": [
            {
                "step": r.step_id,
                "host": r.host,
                "message": r.message,
                "exit_status": r.exit_status,
                "output_tail": r.output_tail,
            }
            for r in steps.values()
            if r.state == StepState.FAILED
        ],
        "running": [r.step_id for r in steps.values() if r.state == StepState.RUNNING],
        "restores": history(journal.events(record.id)),
        "downtime": downtime_json(journal, record.id),
        "load": load_json(run_load(journal, record.id)),
        "report": str(report_path(journal, record.id)),
        "resume": resume if record.status != RunStatus.DONE else None,
        "pid": record.pid,
        "live": process.holder is not None,
        "holder": process.holder.to_json() if process.holder else None,
        "gone": process.gone,
    }


def _apt_hosts(record: RunRecord) -> set[str]:
    """The run's hosts that use apt (from the facts it planned with)."""
    try:
        facts = json.loads(record.facts_json or "{}")
    except ValueError:
        return set()
    hosts = facts.get("hosts") if isinstance(facts, dict) else None
    found = hosts if isinstance(hosts, list) else []
    return {
        str(h.get("name"))
        for h in found
        if isinstance(h, dict) and h.get("package_manager") == "apt"
    }


def status_lines(journal: Journal, record: RunRecord, resume: str) -> list[Line]:
    """`stackstep status`: where a run stands, what failed, what is down, what next."""
    out: list[Line] = []
    steps = journal.steps(record.id)
    counts = Counter(r.state for r in steps.values())
    down = left_down(steps)
    restores = history(journal.events(record.id))
    process = Process.of(journal, record)
    _p(
        out,
        f"run {record.id}  cloud {record.cloud}  status {record.status}  "
        f"plan {record.plan_hash[:12]}  by {record.who}  stackstep {record.tool_version}",
    )
    _process_line(out, record, process, resume)
    _p(out, "steps: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    states = service_states(steps, _services(record))
    if record.status != RunStatus.DONE and states:
        _p(out, services_line(states))
    for rec in steps.values():
        if rec.state == StepState.RUNNING and process.holder is not None:
            _p(out, f"  running: {rec.step_id} on {rec.host}")
        elif rec.state == StepState.RUNNING:
            _p(out, f"  was running: {rec.step_id} on {rec.host} (resume re-checks it)")
        if rec.state == StepState.FAILED:
            _failure_block(out, rec)
    for service, hosts in down.items():
        _p(out, f"!! {service} is STOPPED on {', '.join(hosts)}", "bold red")
    for node in left_drained(steps):
        _p(out, f"!! {node} is OUT of rotation in the load balancer (drained)", "bold red")
    for host in left_held(steps, _apt_hosts(record)):
        _p(
            out,
            f"!! {host}: its package transaction was interrupted; service starts may still "
            "be held there by stackstep's /usr/sbin/policy-rc.d (packages installed meanwhile "
            "start nothing): `resume` runs the step again and removes it",
            "bold red",
        )
    again = _restores(out, restores)
    out.extend(downtime_lines(journal, record.id))
    out.extend(Line(text, style) for text, style in load_lines(run_load(journal, record.id)))
    out.append(report_line(journal, record.id))
    if process.holder is None and (again or record.status != RunStatus.DONE):
        _p(out, f"to go on: {again or resume}", "bold")
    return out


def _process_line(out: list[Line], record: RunRecord, process: Process, resume: str) -> None:
    """Whether a live process carries the run out now, or the one that did is gone."""
    pid = f"pid {record.pid}" if record.pid is not None else "pid unknown"
    found = process.holder
    if found is not None:
        since = time.strftime("%H:%M:%S", time.localtime(found.since)) if found.since else "?"
        who = f"pid {found.pid}" if found.pid is not None else "pid unknown"
        stop = f"kill {found.pid}" if found.pid is not None else "kill it"
        _p(
            out,
            f"running now: `stackstep {found.command}` ({who}) since {since}; wait for it, "
            f"or stop it with Ctrl-C / {stop}",
            "bold",
        )
    elif process.gone:
        _p(
            out,
            f"!! interrupted: its process ({pid}) is gone (killed, or its machine "
            f"restarted) while the journal says running; to go on: {resume}",
            "bold red",
        )
    elif process.gone is None and record.status == RunStatus.RUNNING:
        _p(
            out,
            f"journalled running by {pid} of a stackstep without run locks: whether that "
            "process is still at work cannot be told here (look for it on its machine)",
            "bold",
        )


def _restores(out: list[Line], restores: list[dict[str, Json]]) -> str:
    """`stackstep restore` of this run, each, with the state the latest one of a service
    left it in if it failed; returns the command that runs that one again, or ""."""
    latest = {str(r["service"]): r for r in restores}
    for r in restores:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(str(r["time"]))))
        style = "bold" if r["restored"] else "bold red"
        _p(out, f"{'' if r['restored'] else '!! '}{stamp} {r['message']}", style)
        state = r.get("state") if latest[str(r["service"])] is r else None
        for line in state if isinstance(state, list) else []:
            _p(out, f"   {line}", "red")
    failed = [str(r.get("again")) for r in latest.values() if not r["restored"]]
    return next((again for again in failed if again), "")


def result_json(
    journal: Journal,
    run_id: str,
    result: RunResult,
    resume: str,
    log: Path,
    code: int,
    *,
    probe_off: bool = False,
) -> dict[str, Any]:
    """`stackstep upgrade --json`'s result: what the summary says, as data (``downtime``
    and ``report``: docs/downtime.md)."""
    steps = journal.steps(run_id)
    body = {
        "run": run_id,
        "status": result.status,
        "exit_code": code,
        "counts": dict(Counter(r.state for r in steps.values())),
        "failures": [
            {
                "step": f.step_id,
                "host": f.host,
                "message": f.message,
                "exit_status": f.exit_status,
                "output_tail": f.output_tail,
                "hint": f.hint,
            }
            for f in (*result.failures, *result.tolerated)
        ],
        "left_down": left_down(steps),
        "left_drained": left_drained(steps),
        "services": service_states(steps, _services(journal.run(run_id))),
        "config_files": _configs(steps),
        "restarted": _restarted(steps),
        "reboot_needed": _reboots(steps),
        "preflight": _findings(steps),
        "downtime": downtime_json(journal, run_id, probe_off=probe_off),
        "load": load_json(run_load(journal, run_id)),
        "log": str(log),
        "report": str(report_path(journal, run_id)),
        "resume": resume if result.status != RunStatus.DONE else None,
    }
    return body


# -- measured downtime ----------------------------------------------------------------

REPORT_FILE = "report.html"  # `stackstep report`'s default, in the run's directory


def report_path(journal: Journal, run_id: str) -> Path:
    """Where `stackstep report RUN` writes the run's HTML report by default (the run's
    directory, next to its log; not created here)."""
    return journal.state_dir / "runs" / run_id / REPORT_FILE


def _with_probe(plan_json: Json) -> list[str]:
    """The services of a stored plan that have an API probe (their verify steps do)."""
    root = plan_json.get("root") if isinstance(plan_json, dict) else None
    found = [
        str(s.service)
        for s in steps_from_json(root, kind=StepKind.VERIFY)
        if isinstance(s.params, VerifyParams) and s.params.probe is not None and s.service
    ]
    return list(dict.fromkeys(found))


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _interval(downtime: Downtime) -> str:
    intervals = sorted({s.interval for s in downtime.sessions})
    return "/".join(f"{i:g}" for i in intervals)


def _row(name: str, windows: tuple[Window, ...], outage: float | None) -> list[str]:
    count = "-" if outage is None else str(len(windows))
    still = "  still down when probing ended" if any(w.window.open for w in windows) else ""
    return [name, _seconds(outage), count, still]


def _table(downtime: Downtime) -> list[tuple[list[str], str]]:
    """Rows of (cells, style): a service's row, then one per declared endpoint."""
    rows: list[tuple[list[str], str]] = []
    for svc in downtime.services:
        name, outage, count, still = _row(svc.service, svc.windows, svc.outage)
        ratio = "-" if svc.ratio is None else f"{svc.ratio:.2f}"
        style = "red" if still else ("yellow" if svc.windows else "")
        rows.append(([name, outage, count, _seconds(svc.floor), ratio, still], style))
        for endpoint, windows in svc.endpoints.items():
            outage_s = sum(w.duration for w in windows)
            name, outage, count, still = _row(f"  via {endpoint}", windows, outage_s)
            rows.append(([name, outage, count, "", "", still], "red" if still else ""))
    return rows


def downtime_lines(journal: Journal, run_id: str, *, probe_off: bool = False) -> list[Line]:
    """The measured downtime of a run as a table (per service: outage (s), windows,
    floor (s), outage ÷ floor; a row per declared endpoint under its service), and what
    was not measured and why. ``probe_off``: this command ran with ``--no-probe`` (said,
    since what it changed is then not in the figures)."""
    out: list[Line] = []
    downtime = run_downtime(journal, run_id)
    unprobed = [s.service for s in downtime.services if not s.probed]
    with_probe = _with_probe(json.loads(journal.run(run_id).plan_json or "{}")) if unprobed else []
    if not downtime.probed:
        if probe_off:
            why = "the probe was off (--no-probe)"
        elif with_probe:
            why = "no probe session in the journal (--no-probe, or a stackstep before it)"
        else:
            why = "no service of this plan has an API probe in the catalog"
        _p(out, f"downtime: not measured: {why}", "yellow")
    else:
        _p(out, f"downtime, measured by probing every {_interval(downtime)} s:", "bold")
        head = ["service", "outage (s)", "windows", "floor (s)", "outage/floor", ""]
        rows = _table(downtime)
        width = max(len(cells[0]) for cells, _ in [(head, ""), *rows])
        for cells, style in [(head, "bold"), *rows]:
            name, *figures, still = cells
            text = f"  {name:<{width}}" + "".join(
                f"  {f:>{len(h)}}" for f, h in zip(figures, head[1:5], strict=True)
            )
            _p(out, (text + still).rstrip(), style)
        for why, names in (
            ("no API probe in the catalog", [s for s in unprobed if s not in with_probe]),
            ("no probe sample recorded", [s for s in unprobed if s in with_probe]),
        ):
            if names:
                _p(out, f"  not measured ({why}): {', '.join(names)}")
        if probe_off:
            _p(out, "  this command ran with --no-probe: its outages are not counted", "yellow")
    return out


def report_line(journal: Journal, run_id: str) -> Line:
    """``report: PATH (stackstep report RUN)``: where the run's report is, and how to
    write it."""
    return Line(f"report: {report_path(journal, run_id)} (stackstep report {run_id})")


def _windows_json(windows: tuple[Window, ...]) -> dict[str, Json]:
    return {
        "outage_s": round(sum(w.duration for w in windows), 3),
        "windows": len(windows),
        "open": any(w.window.open for w in windows),
    }


def _service_json(svc: ServiceDowntime) -> dict[str, Json]:
    own: dict[str, Json] = _windows_json(svc.windows) if svc.probed else {}
    return {
        "service": svc.service,
        "probed": svc.probed,
        "outage_s": own.get("outage_s"),
        "windows": own.get("windows"),
        "open": own.get("open", False),
        "floor_s": None if svc.floor is None else round(svc.floor, 3),
        "ratio": None if svc.ratio is None else round(svc.ratio, 3),
        "endpoints": [
            {"endpoint": endpoint, **_windows_json(windows)}
            for endpoint, windows in svc.endpoints.items()
        ],
    }


def downtime_json(journal: Journal, run_id: str, *, probe_off: bool = False) -> dict[str, Json]:
    """The figures of :func:`downtime_lines` as data (docs/downtime.md, "In the result")."""
    downtime = run_downtime(journal, run_id)
    return {
        "measured": downtime.probed,
        "probe_off": probe_off,
        "sessions": [
            {"command": s.command, "started": s.started, "ended": s.ended, "interval": s.interval}
            for s in downtime.sessions
        ],
        "services": [_service_json(s) for s in downtime.services],
    }
