"""The run report as data: everything a journal knows of one run, as one JSON document
(``stackstep report --json``; docs/report.md, docs/report.schema.json).

:func:`run_report` reads the journal only; the downtime figures are
:func:`stackstep.report.downtime.run_downtime`'s (the one reading the console summary
and ``bench/downtime.py`` share), the load's :func:`stackstep.report.load.run_load`'s.
A run that failed or was interrupted reports as far as it got: steps not started are
listed as ``pending``, a step whose process died as ``running``, an outage still open
when the probing stopped has ``open: true``.

Times are seconds since the Unix epoch (UTC, ``time.time()``: the journal's clock);
durations are seconds. ``run_html.py`` draws the HTML page from this same document.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from stackstep.engine.journal import Journal, RunRecord, StepRecord
from stackstep.model.plan import Json, Step, StepKind, steps_from_json
from stackstep.model.states import StepState
from stackstep.reboot.detect import needs_from_journal
from stackstep.report.downtime import Downtime, ServiceDowntime, Window, run_downtime
from stackstep.report.load import load_report, run_load

SCHEMA = "stackstep-report"
SCHEMA_VERSION = 1
OUTPUT_LINES = 20  # the last lines of a failed step's output the report keeps

Doc = dict[str, Any]


def run_report(journal: Journal, run_id: str | None = None) -> Doc:
    """The report document of run ``run_id`` (a unique prefix; None: the latest run)."""
    record = journal.run(run_id)
    plan: dict[str, Json] = json.loads(record.plan_json or "{}")
    records = journal.steps(record.id)
    planned = list(steps_from_json(plan.get("root")))
    downtime = run_downtime(journal, record.id)
    steps = [_step(step, records.get(step.id)) for step in planned]
    known = {s.id for s in planned}
    steps += [_step(None, rec) for sid, rec in sorted(records.items()) if sid not in known]
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "generated": time.time(),
        "run": _run(record, plan),
        "request": record.request,
        "hosts": _hosts(plan, steps),
        "services": [s.service for s in downtime.services],
        "steps": steps,
        "downtime": _downtime(downtime),
        "load": load_report(run_load(journal, record.id)),
        "totals": _totals(steps, downtime),
        "config_files": _config_files(records),
        "restarts": _restarts(records),
        "reboots": [
            need.to_json()
            for need in needs_from_journal(record.id, records, journal.events(record.id))
        ],
    }


def _run(record: RunRecord, plan: Mapping[str, Json]) -> Doc:
    return {
        "id": record.id,
        "cloud": record.cloud,
        "status": str(record.status),
        "message": record.message,
        "who": record.who,
        "tool_version": record.tool_version,
        "created": record.created,
        "updated": record.updated,
        "inventory": record.inventory,
        "plan_hash": record.plan_hash,
        "from": _text(plan.get("from")),
        "to": _text(plan.get("to")),
        "strategy": _text(plan.get("strategy")),
    }


def _text(value: Json | None) -> str | None:
    return None if value is None else str(value)


def _hosts(plan: Mapping[str, Json], steps: Sequence[Doc]) -> list[str]:
    """The plan's hosts in its order, then any host only a step names."""
    listed = plan.get("hosts")
    hosts = [str(h) for h in listed] if isinstance(listed, list) else []
    for step in steps:
        if step["host"] is not None and step["host"] not in hosts:
            hosts.append(step["host"])
    return hosts


def _step(step: Step | None, rec: StepRecord | None) -> Doc:
    """One step: the plan's view (title, commands) and the journal's (times, state)."""
    started = rec.started if rec else None
    finished = rec.finished if rec and rec.state != StepState.RUNNING else None
    state = rec.state if rec else StepState.PENDING
    tail = rec.output_tail if rec and state == StepState.FAILED else ""
    return {
        "id": step.id if step else rec.step_id if rec else "",
        "kind": str(step.kind) if step else rec.kind if rec else "",
        "title": step.title if step else "",
        "service": step.service if step else None,
        "host": step.host if step else rec.host if rec else None,
        "commands": [c.render() for c in step.commands] if step else [],
        "state": str(state),
        "started": started,
        "finished": finished,
        "duration": None if started is None or finished is None else max(0.0, finished - started),
        "exit_status": rec.exit_status if rec else None,
        "attempts": rec.attempts if rec else 0,
        "message": rec.message if rec else "",
        "output": tail.splitlines()[-OUTPUT_LINES:] if tail else None,
    }


def _window(w: Window) -> Doc:
    return {
        "start": w.window.start,
        "end": w.window.end,
        "duration": w.duration,
        "open": w.window.open,
        "last_up": w.window.last_up,
        "detail": w.window.detail,
        "steps": list(w.steps),
        "command": w.command,
    }


def _service(s: ServiceDowntime) -> Doc:
    return {
        "service": s.service,
        "probed": s.probed,
        "outage": s.outage,
        "windows": [_window(w) for w in s.windows],
        "floor": s.floor,
        "ratio": s.ratio,
        "endpoints": [
            {
                "endpoint": endpoint,
                "outage": sum(w.duration for w in windows),
                "windows": [_window(w) for w in windows],
            }
            for endpoint, windows in s.endpoints.items()
        ],
    }


def _downtime(d: Downtime) -> Doc:
    return {
        "probed": d.probed,
        "sessions": [
            {
                "command": s.command,
                "started": s.started,
                "ended": s.ended,
                "interval": s.interval,
                "transitions": len(s.transitions),
            }
            for s in d.sessions
        ],
        "services": [_service(s) for s in d.services],
        "hosts": [
            {
                "service": target.service,
                "host": target.host,
                "outage": sum(w.duration for w in windows),
                "windows": [_window(w) for w in windows],
            }
            for target, windows in d.hosts.items()
        ],
    }


def _totals(steps: Sequence[Doc], d: Downtime) -> Doc:
    """Steps by state, and the wall time from the first step's start to the last
    step's end (or the last start, for a step still running when the run stopped)."""
    began = [s["started"] for s in steps if s["started"] is not None]
    ended = [s["finished"] or s["started"] for s in steps if s["started"] is not None]
    first, last = (min(began), max(ended)) if began else (None, None)
    return {
        "steps": len(steps),
        "by_state": dict(Counter(s["state"] for s in steps)),
        "started": len(began),
        "first_start": first,
        "last_end": last,
        "wall_time": None if first is None or last is None else last - first,
        "outage": {s.service: s.outage for s in d.services},
    }


def _config_files(records: Mapping[str, StepRecord]) -> list[Doc]:
    """The files the package manager set aside (collect-configs' results), as the
    summary lists them."""
    return [
        {"host": rec.host, "file": name, "step": rec.step_id}
        for rec in records.values()
        if rec.kind == StepKind.COLLECT_CONFIGS
        for name in rec.result.files
    ]


def _restarts(records: Mapping[str, StepRecord]) -> list[Doc]:
    """What the after-upgrade restarts restarted, and why (the step's message)."""
    return [
        {
            "host": rec.host,
            "units": list(rec.result.restarted),
            "reason": rec.message,
            "step": rec.step_id,
        }
        for rec in records.values()
        if rec.kind == StepKind.RESTART_UNITS and rec.result.restarted
    ]
