"""The run report as one self-contained HTML page (``stackstep report --html``).

Drawn from :func:`stackstep.report.run_report.run_report`'s document, nothing else: a
header with the run's facts, an SVG timeline (one lane per host, one bar per started
step coloured by state, each with a ``<title>`` naming the step, its commands and its
duration; every service's outage windows shaded across the lanes; a time axis), the
downtime table and every outage window, the failures with the last lines of their
output, the config files set aside, the restarts and why, the hosts needing a reboot,
the probe sessions and every step.

One file, inline CSS and SVG, no script and nothing fetched: it opens offline, prints
on A4 landscape (the SVG scales to the page's width) and follows a dark-mode browser.
Every text the journal holds (host names, messages, output) is escaped.

Size: the SVG's lanes share a fixed height (:data:`LANES_HEIGHT`) until they reach
their least height (:data:`MIN_LANE`), so up to ~150 hosts fit one drawing of constant
height; past that each lane keeps its least height and the drawing grows. Lane labels
are drawn while a lane is at least :data:`LABEL_LANE` high (~55 hosts); below that the
host of a bar is in its title. Bars are one ``<rect>`` each: 1,000 steps make a page of
about half a megabyte that a browser draws at once.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path

from stackstep.engine.journal import Journal
from stackstep.errors import InputError
from stackstep.report.run_report import Doc, run_report
from stackstep.report.summary import report_path

WIDTH = 1000.0  # the SVG's user units across; it scales to the page
LEFT = 150.0  # room for the lane labels
RIGHT = 12.0
AXIS = 26.0  # the time axis under the lanes
LANES_HEIGHT = 440.0
MIN_LANE = 3.0
MAX_LANE = 24.0
LABEL_LANE = 8.0
SERVICE_COLOURS = 8  # .svc-0 .. .svc-7, then round again
NO_HOST = "(no host)"


def write_html_report(journal: Journal, run_id: str, path: Path | None = None) -> Path:
    """Write run ``run_id``'s HTML report to ``path`` (default: ``report.html`` next to
    the run log, in the run's directory) and return where. The file is replaced whole
    (written beside it, then renamed) and readable by its owner only, like the journal."""
    doc = run_report(journal, run_id)
    if path is None:
        journal.run_dir(doc["run"]["id"])  # made (0700) if it is not there yet
    target = path if path is not None else report_path(journal, doc["run"]["id"])
    text = render_html(doc)
    partial = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InputError(
            f"cannot write the report {target}: {exc.strerror}",
            hint="choose another file with --html FILE",
        ) from None
    return target


def render_html(doc: Doc) -> str:
    """The page of a report document (``run_report``'s)."""
    run = doc["run"]
    parts = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>stackstep run {_e(run['id'])} ({_e(run['cloud'])})</title>",
        f"<style>{CSS}</style></head><body>",
        _header(doc),
        _timeline_section(doc),
        _downtime_section(doc),
        _load_section(doc),
        _failures_section(doc),
        _configs_section(doc),
        _restarts_section(doc),
        _reboots_section(doc),
        _probes_section(doc),
        _steps_section(doc),
        f"<footer>{_e(doc['schema'])} {doc['schema_version']}, written "
        f"{_e(_stamp(doc['generated']))} by stackstep {_e(run['tool_version'])}</footer>",
        "</body></html>\n",
    ]
    return "\n".join(parts)


# -- helpers ------------------------------------------------------------------------


def _e(value: object) -> str:
    """Text from the journal, safe in HTML text and attribute values."""
    return escape("" if value is None else str(value), quote=True)


def _stamp(at: float | None) -> str:
    if at is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    """A table of cells already escaped (``head``: plain words)."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    heads = "".join(f"<th>{_e(h)}</th>" for h in head)
    klass = f" class='{cls}'" if cls else ""
    return f"<table{klass}><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def _section(ident: str, title: str, body: str) -> str:
    return f"<section id='{ident}'><h2>{_e(title)}</h2>{body}</section>"


# -- header -------------------------------------------------------------------------


def _header(doc: Doc) -> str:
    run, totals = doc["run"], doc["totals"]
    counts = ", ".join(f"{n} {_e(state)}" for state, n in sorted(totals["by_state"].items()))
    facts = [
        ("status", f"<span class='status status-{_e(run['status'])}'>{_e(run['status'])}</span>"),
        ("upgrade", f"{_e(run['from'] or '?')} → {_e(run['to'] or '?')}"),
        ("strategy", _e(run["strategy"] or "-")),
        ("by", _e(run["who"])),
        ("stackstep", _e(run["tool_version"])),
        ("created", _e(_stamp(run["created"]))),
        ("updated", _e(_stamp(run["updated"]))),
        ("wall time", f"{_secs(totals['wall_time'])} s"),
        ("steps", f"{totals['steps']} ({counts})"),
        ("hosts", str(len(doc["hosts"]))),
        ("plan", f"<code>{_e(run['plan_hash'][:16])}</code>"),
        ("inventory", f"<code>{_e(run['inventory'])}</code>"),
    ]
    if run["message"]:
        facts.append(("message", _e(run["message"])))
    items = "".join(f"<div><dt>{_e(k)}</dt><dd>{v}</dd></div>" for k, v in facts)
    return (
        f"<header><h1>stackstep run <code>{_e(run['id'])}</code> · cloud "
        f"{_e(run['cloud'])}</h1><dl class='facts'>{items}</dl></header>"
    )


# -- the timeline -------------------------------------------------------------------


class _Scale:
    """Run time to the SVG's x."""

    def __init__(self, start: float, end: float) -> None:
        self.start = start
        self.span = max(end - start, 1e-3)

    def x(self, at: float) -> float:
        return LEFT + (at - self.start) / self.span * (WIDTH - LEFT - RIGHT)


def _bounds(doc: Doc) -> tuple[float, float] | None:
    """The times the drawing spans: every started step, every outage window and every
    failed request of the load kept."""
    times = [t for s in doc["steps"] for t in (s["started"], s["finished"]) if t is not None]
    for window in _all_windows(doc):
        times += [window["start"], window["end"]]
    times += [f["at"] for s in doc.get("load", {}).get("services", []) for f in s["failures"]]
    return (min(times), max(times)) if times else None


def _all_windows(doc: Doc) -> list[Doc]:
    down = doc["downtime"]
    found = [w for s in down["services"] for w in s["windows"]]
    found += [w for h in down["hosts"] for w in h["windows"]]
    return found


def _timeline_section(doc: Doc) -> str:
    bounds = _bounds(doc)
    if bounds is None:
        return _section("timeline", "Timeline", "<p>No step started.</p>")
    return _section("timeline", "Timeline", _svg(doc, _Scale(*bounds)) + _legend(doc))


def _lanes(doc: Doc) -> list[str]:
    lanes = list(doc["hosts"])
    if any(s["host"] is None and s["started"] is not None for s in doc["steps"]):
        lanes.append(NO_HOST)
    return lanes or [NO_HOST]


def _svg(doc: Doc, scale: _Scale) -> str:
    lanes = _lanes(doc)
    lane = max(MIN_LANE, min(MAX_LANE, LANES_HEIGHT / len(lanes)))
    height = lane * len(lanes)
    total = height + AXIS
    index = {name: i for i, name in enumerate(lanes)}
    colour = {name: i % SERVICE_COLOURS for i, name in enumerate(doc["services"])}
    out = [
        f"<svg class='timeline' xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {WIDTH:g} "
        f"{total:.1f}' role='img' aria-label='timeline of run {_e(doc['run']['id'])}'>"
    ]
    for i, name in enumerate(lanes):
        y = i * lane
        out.append(
            f"<rect class='lane lane-{i % 2}' x='{LEFT:g}' y='{y:.2f}' "
            f"width='{WIDTH - LEFT - RIGHT:g}' height='{lane:.2f}'/>"
        )
        if lane >= LABEL_LANE:
            size = min(11.0, lane * 0.75)
            label = name if len(name) <= 24 else name[:23] + "…"
            out.append(
                f"<text class='lane-label' x='{LEFT - 5:g}' y='{y + lane / 2:.2f}' "
                f"font-size='{size:.1f}'>{_e(label)}<title>{_e(name)}</title></text>"
            )
    out += _outages(doc, scale, height, colour)
    out += _host_outages(doc, scale, lane, index, colour)
    out += _bars(doc, scale, lane, index)
    out += _load_failures(doc, scale, height)
    out += _axis(scale, height)
    out.append("</svg>")
    return "".join(out)


def _outages(doc: Doc, scale: _Scale, height: float, colour: dict[str, int]) -> list[str]:
    """Each service's own outage windows, shaded across every lane."""
    out = []
    for service in doc["downtime"]["services"]:
        name = service["service"]
        for w in service["windows"]:
            x0, x1 = scale.x(w["start"]), scale.x(w["end"])
            opened = " open" if w["open"] else ""
            tip = (
                f"{name} down {w['duration']:.2f} s{' (still down: open)' if w['open'] else ''}"
                f"\nfrom {_stamp(w['start'])}\nbegan during: {', '.join(w['steps']) or '-'}"
            )
            out.append(
                f"<rect class='outage svc-{colour.get(name, 0)}{opened}' "
                f"data-service='{_e(name)}' x='{x0:.2f}' y='0' width='{max(x1 - x0, 1.0):.2f}' "
                f"height='{height:.2f}'><title>{_e(tip)}</title></rect>"
            )
    return out


def _load_failures(doc: Doc, scale: _Scale, height: float) -> list[str]:
    """The load's failed requests (those kept), a red tick each at the top of the
    drawing; those within one unit of each other share a tick (its title counts them)."""
    ticks: dict[int, list[Doc]] = {}
    for service in doc.get("load", {}).get("services", []):
        for f in service["failures"]:
            ticks.setdefault(round(scale.x(f["at"])), []).append(
                {**f, "service": service["service"]}
            )
    out = []
    for x, failures in sorted(ticks.items()):
        kinds = ", ".join(f"{f['service']} {f['request']}: {f['kind']}" for f in failures[:5]) + (
            f", ... ({len(failures)} in all)" if len(failures) > 5 else ""
        )
        tip = f"{len(failures)} failed request(s) at {_stamp(failures[0]['at'])}\n{kinds}"
        out.append(
            f"<rect class='load-failure' x='{x - 0.5:.1f}' y='0' width='1' "
            f"height='{min(height, 10.0):.1f}'><title>{_e(tip)}</title></rect>"
        )
    return out


def _host_outages(
    doc: Doc, scale: _Scale, lane: float, index: dict[str, int], colour: dict[str, int]
) -> list[str]:
    """Each host's own windows (a service down on that host), a strip along its lane."""
    out = []
    strip = max(1.0, lane * 0.18)
    for target in doc["downtime"]["hosts"]:
        i = index.get(target["host"])
        if i is None:
            continue
        y = (i + 1) * lane - strip
        for w in target["windows"]:
            x0, x1 = scale.x(w["start"]), scale.x(w["end"])
            tip = f"{target['service']} down on {target['host']} {w['duration']:.2f} s"
            out.append(
                f"<rect class='host-outage svc-{colour.get(target['service'], 0)}' "
                f"data-service='{_e(target['service'])}' x='{x0:.2f}' y='{y:.2f}' "
                f"width='{max(x1 - x0, 1.0):.2f}' height='{strip:.2f}'>"
                f"<title>{_e(tip)}</title></rect>"
            )
    return out


def _bars(doc: Doc, scale: _Scale, lane: float, index: dict[str, int]) -> list[str]:
    """One bar per started step on its host's lane; a step still running (its process
    died, or the run is going on) reaches the drawing's end."""
    out = []
    end_of_drawing = scale.start + scale.span
    for step in doc["steps"]:
        if step["started"] is None:
            continue
        i = index.get(step["host"] if step["host"] is not None else NO_HOST, 0)
        finished = step["finished"] if step["finished"] is not None else end_of_drawing
        x0, x1 = scale.x(step["started"]), scale.x(finished)
        took = "still running" if step["duration"] is None else f"{step['duration']:.2f} s"
        tip = "\n".join(
            [
                f"{step['id']} ({step['state']}, {took})",
                f"host {step['host'] or '-'}",
                *(f"$ {c}" for c in step["commands"][:6]),
                *(["…"] if len(step["commands"]) > 6 else []),
            ]
        )
        out.append(
            f"<rect class='step-bar state-{_e(step['state'])}' data-step='{_e(step['id'])}' "
            f"x='{x0:.2f}' y='{i * lane + lane * 0.15:.2f}' width='{max(x1 - x0, 0.8):.2f}' "
            f"height='{lane * 0.7:.2f}'><title>{_e(tip)}</title></rect>"
        )
    return out


def _tick(span: float) -> float:
    """A round step (1, 2 or 5 × 10^n s) giving about 8 ticks over ``span``."""
    raw = span / 8
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1.0, 2.0, 5.0, 10.0) if m * power >= raw)


def _axis(scale: _Scale, height: float) -> list[str]:
    step = _tick(scale.span)
    out = [
        f"<line class='axis' x1='{LEFT:g}' y1='{height:.2f}' x2='{WIDTH - RIGHT:g}' "
        f"y2='{height:.2f}'/>"
    ]
    n = 0
    while n * step <= scale.span + 1e-9:
        x = scale.x(scale.start + n * step)
        label = _offset(n * step, step)
        first = " first" if n == 0 else ""
        out.append(
            f"<line class='tick' x1='{x:.2f}' y1='0' x2='{x:.2f}' y2='{height + 4:.2f}'/>"
            f"<text class='tick-label{first}' x='{x:.2f}' y='{height + 16:.2f}'>{label}</text>"
        )
        n += 1
    out.append(
        f"<text class='axis-label' x='{LEFT - 8:g}' y='{height + 16:.2f}'>"
        f"{_e(time.strftime('%H:%M:%S', time.gmtime(scale.start)))} UTC +</text>"
    )
    return out


def _offset(seconds: float, step: float) -> str:
    if step >= 60 and seconds >= 60:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}"
    return f"{seconds:.{0 if step >= 1 else 1 if step >= 0.1 else 2}f}s"


def _legend(doc: Doc) -> str:
    states = sorted({s["state"] for s in doc["steps"] if s["started"] is not None})
    colour = {name: i % SERVICE_COLOURS for i, name in enumerate(doc["services"])}
    down = [s["service"] for s in doc["downtime"]["services"] if s["windows"]]
    items = [f"<span class='key state-{_e(s)}'></span>{_e(s)}" for s in states]
    items += [
        f"<span class='key outage-key svc-{colour[name]}'></span>{_e(name)} down"
        for name in down
        if name in colour
    ]
    return f"<p class='legend'>{' '.join(items)}</p>"


# -- the tables ---------------------------------------------------------------------


def _downtime_section(doc: Doc) -> str:
    down = doc["downtime"]
    if not down["probed"]:
        note = "<p>No availability probe watched this run (--no-probe, or no probes).</p>"
    else:
        note = ""
    still = _still_down(doc)
    rows = []
    for s in down["services"]:
        endpoints = "; ".join(
            f"{_e(e['endpoint'])}: {e['outage']:.2f} s ({len(e['windows'])})"
            for e in s["endpoints"]
        )
        hosts = still.get(s["service"])
        rows.append(
            [
                _e(s["service"]),
                (_secs(s["outage"]) if s["probed"] else "not probed")
                + (f" <b>still down</b> on {_e(', '.join(hosts))}" if hosts else ""),
                str(len(s["windows"])) if s["probed"] else "-",
                _secs(s["floor"]),
                "-" if s["ratio"] is None else f"{s['ratio']:.2f}",
                endpoints or "-",
            ]
        )
    head = ["service", "outage (s)", "windows", "floor (s)", "outage ÷ floor", "endpoint outages"]
    table = _table(head, rows, "numbers") if rows else ""
    return _section("downtime", "Downtime", note + table + _windows_table(doc))


def _load_section(doc: Doc) -> str:
    """What ``--load`` sent and what failed (nothing when no command asked for it)."""
    load = doc.get("load") or {}
    if not load.get("asked"):
        return ""
    notes = [s["note"] for s in load["sessions"] if s["note"]]
    if not load["ran"]:
        return _section("load", "Load", f"<p>Nothing sent: {_e('; '.join(notes))}.</p>")
    rows = []
    for svc in load["services"]:
        for s in svc["streams"]:
            kinds = ", ".join(f"{k} {n}" for k, n in s["kinds"].items())
            kept = "" if s["kept_rate"] else " <b>rate not kept</b>"
            rows.append(
                [
                    _e(svc["service"]),
                    _e(s["request"]),
                    str(s["requests"]),
                    str(s["failed"]),
                    f"{s['rate']:.1f}",
                    ("-" if s["achieved"] is None else f"{s['achieved']:.1f}") + kept,
                    _e(kinds or "-"),
                ]
            )
    head = ["service", "request", "requests", "failed", "asked/s", "sent/s", "failures"]
    rates = "/".join(f"{r:g}" for r in dict.fromkeys(s["rate"] for s in load["sessions"]))
    text = (
        f"<p>Requests sent through the load balancer (<code>--load {_e(rates)}</code>, no "
        "retry, a new connection each); every failed request is counted, the first "
        f"{load['sessions'][0]['keep']} of each service are marked on the timeline.</p>"
    )
    if load["tokens_off"]:
        text += f"<p>Token load off: {_e(load['tokens_off'])}; keystone got GETs only.</p>"
    if not load["kept_rate"]:
        text += "<p><b>The load generator could not keep its rate</b> (sent/s below).</p>"
    return _section("load", "Load", text + _table(head, rows, "load"))


def _still_down(doc: Doc) -> dict[str, list[str]]:
    """Per service, the hosts down when probing stopped (an open window; for a killed
    process it may be 0 s long, and then in no service-level window)."""
    found: dict[str, list[str]] = {}
    for target in doc["downtime"]["hosts"]:
        if any(w["open"] for w in target["windows"]):
            found.setdefault(target["service"], []).append(target["host"])
    return found


def _windows_table(doc: Doc) -> str:
    """Every outage window: the service's own, its endpoints', each host's."""
    start = doc["totals"]["first_start"]
    rows = []
    down = doc["downtime"]
    found: list[tuple[str, Doc]] = [
        (s["service"], w) for s in down["services"] for w in s["windows"]
    ]
    found += [
        (f"{s['service']} via {e['endpoint']}", w)
        for s in down["services"]
        for e in s["endpoints"]
        for w in e["windows"]
    ]
    found += [(f"{h['service']} on {h['host']}", w) for h in down["hosts"] for w in h["windows"]]
    for what, w in found:
        since = "" if start is None else f" (+{w['start'] - start:.2f} s)"
        rows.append(
            [
                _e(what),
                _e(_stamp(w["start"])) + since,
                _secs(w["duration"]) + (" <b>open</b>" if w["open"] else ""),
                _e(", ".join(w["steps"]) or "-"),
                _e(w["command"]),
                _e(w["detail"]),
            ]
        )
    if not rows:
        return ""
    head = ["down", "from", "for (s)", "steps running when it began", "seen by", "first failure"]
    return "<h3>Outage windows</h3>" + _table(head, rows)


def _failures_section(doc: Doc) -> str:
    failed = [s for s in doc["steps"] if s["state"] == "failed"]
    running = [s for s in doc["steps"] if s["state"] == "running"]
    blocks = []
    for s in failed:
        status = "" if s["exit_status"] is None else f", exit status {s['exit_status']}"
        output = "\n".join(s["output"] or [])
        blocks.append(
            f"<div class='failure'><h3><code>{_e(s['id'])}</code> on {_e(s['host'] or '-')}"
            f"{_e(status)}</h3><p>{_e(s['message'])}</p>"
            + (f"<pre>{_e(output)}</pre>" if output else "")
            + "</div>"
        )
    for s in running:
        blocks.append(
            f"<div class='failure running'><h3><code>{_e(s['id'])}</code> on "
            f"{_e(s['host'] or '-')}</h3><p>was running when the run stopped "
            "(resume re-checks it)</p></div>"
        )
    if not blocks:
        return ""
    return _section("failures", "Failures", "".join(blocks))


def _configs_section(doc: Doc) -> str:
    files = doc["config_files"]
    if not files:
        return ""
    rows = [[_e(f["host"]), f"<code>{_e(f['file'])}</code>"] for f in files]
    return _section(
        "configs",
        "Config files set aside",
        "<p>The package manager kept these beside the files in use; review and merge them "
        "(<code>stackstep configs</code>).</p>" + _table(["host", "file"], rows),
    )


def _restarts_section(doc: Doc) -> str:
    if not doc["restarts"]:
        return ""
    rows = [[_e(r["host"]), _e(", ".join(r["units"])), _e(r["reason"])] for r in doc["restarts"]]
    return _section("restarts", "Restarts", _table(["host", "units", "why"], rows))


def _reboots_section(doc: Doc) -> str:
    needs = [r for r in doc["reboots"] if r["needed"] is not False]
    if not needs:
        return ""
    rows = [[_e(r["host"]), "yes" if r["needed"] else "not known", _e(r["why"])] for r in needs]
    return _section(
        "reboots",
        "Reboot needed",
        _table(["host", "needed", "why"], rows)
        + "<p><code>stackstep reboot</code> reboots them one at a time.</p>",
    )


def _probes_section(doc: Doc) -> str:
    sessions = doc["downtime"]["sessions"]
    if not sessions:
        return ""
    rows = [
        [
            _e(s["command"]),
            _e(_stamp(s["started"])),
            _e(_stamp(s["ended"])) if s["ended"] is not None else "killed (no end)",
            f"{s['interval']:g} s",
            str(s["transitions"]),
        ]
        for s in sessions
    ]
    head = ["command", "started", "ended", "interval", "transitions"]
    return _section("probes", "Probe sessions", _table(head, rows))


def _steps_section(doc: Doc) -> str:
    rows = [
        [
            f"<code>{_e(s['id'])}</code>",
            _e(s["host"] or "-"),
            f"<span class='state state-{_e(s['state'])}'>{_e(s['state'])}</span>",
            _e(_stamp(s["started"])),
            _secs(s["duration"]),
            "-" if s["exit_status"] is None else str(s["exit_status"]),
            str(s["attempts"]),
            _e(s["message"]),
        ]
        for s in doc["steps"]
    ]
    head = ["step", "host", "state", "started", "took (s)", "exit", "attempts", "message"]
    return _section(
        "steps",
        "Steps",
        f"<details><summary>all {len(rows)} steps</summary>{_table(head, rows)}</details>",
    )


CSS = """
:root { --bg: #fff; --fg: #1b1f24; --muted: #59636e; --line: #d0d7de; --lane0: #f6f8fa;
  --lane1: #eef1f4; --done: #2da44e; --failed: #cf222e; --running: #bf8700;
  --skipped: #8c959f; --pending: #d0d7de; --outage: .22;
  --s0: #e5534b; --s1: #539bf5; --s2: #c69026; --s3: #986ee2; --s4: #57ab5a;
  --s5: #dc6d1a; --s6: #39c5cf; --s7: #e275ad; color-scheme: light dark; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d;
    --lane0: #151b23; --lane1: #1c232c; --done: #3fb950; --failed: #f85149;
    --running: #d29922; --skipped: #6e7681; --pending: #3d444d; --outage: .30; } }
body { background: var(--bg); color: var(--fg); margin: 1.5rem auto; max-width: 1200px;
  padding: 0 1rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
h1 { font-size: 1.4rem; margin: 0 0 .5rem; } h2 { font-size: 1.15rem; margin: 1.6rem 0 .5rem;
  border-bottom: 1px solid var(--line); } h3 { font-size: 1rem; margin: .8rem 0 .3rem; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
.facts { display: flex; flex-wrap: wrap; gap: .3rem 1.5rem; margin: 0; }
.facts dt { color: var(--muted); font-size: .8rem; } .facts dd { margin: 0; }
.status { font-weight: bold; } .status-done { color: var(--done); }
.status-failed, .status-interrupted { color: var(--failed); }
.status-running, .status-halted { color: var(--running); }
table { border-collapse: collapse; width: 100%; margin: .3rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .2rem .5rem; text-align: left;
  vertical-align: top; } th { color: var(--muted); font-weight: 600; }
table.numbers td:nth-child(n+2):nth-child(-n+5),
table.numbers th:nth-child(n+2):nth-child(-n+5) { text-align: right;
  font-variant-numeric: tabular-nums; }
pre { background: var(--lane0); border: 1px solid var(--line); padding: .5rem;
  overflow-x: auto; white-space: pre-wrap; word-break: break-all; margin: .3rem 0; }
.failure h3 { color: var(--failed); } .failure.running h3 { color: var(--running); }
svg.timeline { width: 100%; height: auto; display: block; font-family: inherit; }
.lane-0 { fill: var(--lane0); } .lane-1 { fill: var(--lane1); }
.lane-label { fill: var(--fg); text-anchor: end; dominant-baseline: central; }
.step-bar { stroke: var(--bg); stroke-width: .3; }
.state-done { fill: var(--done); background: var(--done); }
.state-failed { fill: var(--failed); background: var(--failed); }
.state-running { fill: var(--running); background: var(--running); }
.state-skipped { fill: var(--skipped); background: var(--skipped); }
.state-pending { fill: var(--pending); background: var(--pending); }
span.state { color: #fff; padding: 0 .35rem; border-radius: .25rem; font-size: .85rem; }
.outage { fill-opacity: var(--outage); } .outage.open { stroke: var(--failed);
  stroke-dasharray: 4 3; stroke-width: 1; }
.host-outage { fill-opacity: .9; } .load-failure { fill: var(--failed); }
.svc-0 { fill: var(--s0); background: var(--s0); }
.svc-1 { fill: var(--s1); background: var(--s1); }
.svc-2 { fill: var(--s2); background: var(--s2); }
.svc-3 { fill: var(--s3); background: var(--s3); }
.svc-4 { fill: var(--s4); background: var(--s4); }
.svc-5 { fill: var(--s5); background: var(--s5); }
.svc-6 { fill: var(--s6); background: var(--s6); }
.svc-7 { fill: var(--s7); background: var(--s7); }
.axis, .tick { stroke: var(--muted); stroke-width: .5; } .tick { stroke-opacity: .35; }
.tick-label, .axis-label { fill: var(--muted); font-size: 10px; text-anchor: middle; }
.axis-label { text-anchor: end; } .tick-label.first { text-anchor: start; }
.legend { color: var(--muted); font-size: .85rem; }
.key { display: inline-block; width: .9em; height: .9em; margin: 0 .25em 0 .8em;
  vertical-align: -.1em; border-radius: 2px; } .outage-key { opacity: .6; }
details summary { cursor: pointer; color: var(--muted); }
footer { color: var(--muted); font-size: .8rem; margin-top: 2rem; }
@page { size: A4 landscape; margin: 10mm; }
@media print {
  :root { --bg: #fff; --fg: #000; --muted: #444; --line: #bbb; --lane0: #f4f4f4;
    --lane1: #e9e9e9; }
  body { margin: 0; max-width: none; padding: 0; font-size: 9pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  section, .failure, tr { break-inside: avoid; } thead { display: table-header-group; }
  h2 { break-after: avoid; } pre { white-space: pre-wrap; } }
"""
