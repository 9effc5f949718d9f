"""`stackstep report`: the JSON document and the HTML page of a run, from journals built
with the Journal API on a controlled clock (report/run_report.py, report/run_html.py).

The run below: keystone on ctl is stopped, upgraded, migrated and started (an outage of
4.0 s, its endpoint 3.6 s); nova on cmp1 is stopped and its package upgrade fails (the
outage is still open when probing stops); a step on a host with an unsafe name was
running when the process died; a config file was set aside, a unit restarted and ctl
needs a reboot.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

import stackstep.engine.journal as journal_module
from stackstep.cli.main import cli
from stackstep.engine.journal import Journal
from stackstep.model.availability import ProbeTarget, Transition
from stackstep.model.command import cmd
from stackstep.model.plan import Group, Plan, Step, StepKind
from stackstep.model.states import RunStatus, StepState
from stackstep.report.run_html import render_html, write_html_report
from stackstep.report.run_report import run_report

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
T0 = 1_800_000_000.0
BAD_HOST = "cmp&<i>x"
HOSTILE = "<script>alert('owned')</script> & \"quotes\""
KS = ProbeTarget("keystone", host="ctl")
NOVA = ProbeTarget("nova", host="cmp1")
VIP = ProbeTarget("keystone", endpoint="http://vip:5000/")


class Clock:
    """The journal's clock, moved by the test."""

    strftime = staticmethod(time.strftime)

    def __init__(self) -> None:
        self.now = T0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(journal_module, "time", fake)
    return fake


def _step(sid: str, kind: StepKind, host: str, service: str | None = None) -> Step:
    argv = ("systemctl", "stop", "--", f"unit of {sid}")
    return Step(sid, kind, f"title of {sid}", host, service, (cmd(*argv),))


PLAN_STEPS = (
    _step("services/keystone/ctl/stop-units", StepKind.STOP_UNITS, "ctl", "keystone"),
    _step("services/keystone/ctl/upgrade-packages", StepKind.UPGRADE_PACKAGES, "ctl", "keystone"),
    _step("services/keystone/ctl/migrate-db", StepKind.MIGRATE_DB, "ctl", "keystone"),
    _step("services/keystone/ctl/start-units", StepKind.START_UNITS, "ctl", "keystone"),
    _step("services/nova/cmp1/stop-units", StepKind.STOP_UNITS, "cmp1", "nova"),
    _step(f"services/nova/{BAD_HOST}/stop-units", StepKind.STOP_UNITS, BAD_HOST, "nova"),
    _step("services/nova/cmp1/upgrade-packages", StepKind.UPGRADE_PACKAGES, "cmp1", "nova"),
    _step("services/nova/cmp1/start-units", StepKind.START_UNITS, "cmp1", "nova"),
    _step("configs/ctl/collect", StepKind.COLLECT_CONFIGS, "ctl"),
    _step("restart/ctl/restart-units", StepKind.RESTART_UNITS, "ctl"),
    _step("reboot/ctl/check", StepKind.REBOOT_CHECK, "ctl"),
)


def _plan(steps: tuple[Step, ...] = PLAN_STEPS) -> Plan:
    return Plan(
        "lab",
        "grizzly",
        "havana",
        "service-by-service",
        Group("plan", "plan", "sequential", steps),
        hosts=("ctl", "cmp1", BAD_HOST),
        services=("keystone", "nova"),
    )


def _run_step(
    journal: Journal,
    clock: Clock,
    run_id: str,
    sid: str,
    start: float,
    end: float | None,
    state: StepState = StepState.DONE,
    **ended: Any,
) -> None:
    clock.now = T0 + start
    journal.step_started(run_id, sid)
    if end is not None:
        clock.now = T0 + end
        journal.step_ended(run_id, sid, state, **ended)


def _transition(journal: Journal, session: int, target: ProbeTarget, *samples: Any) -> None:
    """Samples ``(at, up)``: each after the first with the sample before it 0.2 s earlier."""
    for n, (at, up) in enumerate(samples):
        detail = "" if up else f"GET {target.label} -> 503"
        previous = None if n == 0 else T0 + at - 0.2
        journal.add_transition(session, Transition(target, T0 + at, up, detail, previous))


def _failed_run(journal: Journal, clock: Clock) -> str:
    run_id = journal.new_run(_plan(), {}, {"strategy": "service-by-service"}, "lab.yaml", "", "")
    session = journal.probe_started(run_id, "upgrade", 0.2)
    _transition(journal, session, KS, (0.1, True), (1.2, False), (5.2, True))
    _transition(journal, session, NOVA, (0.1, True), (6.1, False))
    _transition(journal, session, VIP, (0.1, True), (1.4, False), (5.0, True))
    run = run_id
    _run_step(journal, clock, run, "services/keystone/ctl/stop-units", 1.0, 1.5)
    _run_step(journal, clock, run, "services/keystone/ctl/upgrade-packages", 1.5, 3.5)
    _run_step(journal, clock, run, "services/keystone/ctl/migrate-db", 3.5, 4.5)
    _run_step(journal, clock, run, "services/keystone/ctl/start-units", 4.5, 5.0)
    _run_step(journal, clock, run, "services/nova/cmp1/stop-units", 6.0, 6.2)
    _run_step(journal, clock, run, f"services/nova/{BAD_HOST}/stop-units", 6.0, None)
    output = "\n".join([f"line {n}" for n in range(1, 31)] + [HOSTILE])
    _run_step(
        journal,
        clock,
        run,
        "services/nova/cmp1/upgrade-packages",
        6.2,
        7.0,
        StepState.FAILED,
        message=f"yum failed: {HOSTILE}",
        exit_status=1,
        output_tail=output,
    )
    _run_step(
        journal,
        clock,
        run,
        "configs/ctl/collect",
        7.0,
        7.1,
        data={"files": ["/etc/keystone/keystone.conf.rpmnew"]},
    )
    _run_step(
        journal,
        clock,
        run,
        "restart/ctl/restart-units",
        7.1,
        7.5,
        message="restarted openstack-keystone (started before python-x was installed)",
        data={"restarted": ["openstack-keystone"]},
    )
    _run_step(
        journal,
        clock,
        run,
        "reboot/ctl/check",
        7.5,
        7.6,
        data={"reboot_needed": True, "running": "5.14.0-70.el9", "newest": "5.14.0-162.el9"},
    )
    clock.now = T0 + 9.0
    journal.probe_ended(session)
    journal.set_status(run_id, RunStatus.FAILED, "services/nova/cmp1/upgrade-packages failed")
    return run_id


@pytest.fixture
def failed(tmp_path: Path, clock: Clock) -> tuple[Journal, str]:
    journal = Journal(tmp_path / "state")
    return journal, _failed_run(journal, clock)


def _validate(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(json.dumps(doc)))


def test_the_schema_is_a_valid_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_the_document_holds_the_run_its_steps_and_totals(failed):
    journal, run_id = failed
    doc = run_report(journal, run_id)
    _validate(doc)
    assert (doc["schema"], doc["schema_version"]) == ("stackstep-report", 1)
    run = doc["run"]
    assert (run["id"], run["cloud"], run["status"]) == (run_id, "lab", "failed")
    assert run["message"] == "services/nova/cmp1/upgrade-packages failed"
    assert (run["from"], run["to"], run["created"]) == ("grizzly", "havana", T0)
    assert doc["request"] == {"strategy": "service-by-service"}
    assert doc["hosts"] == ["ctl", "cmp1", BAD_HOST]
    steps = {s["id"]: s for s in doc["steps"]}
    assert [s["id"] for s in doc["steps"]] == [s.id for s in PLAN_STEPS]  # plan order
    upgrade = steps["services/keystone/ctl/upgrade-packages"]
    assert upgrade["duration"] == pytest.approx(2.0)
    assert (upgrade["state"], upgrade["host"], upgrade["service"]) == ("done", "ctl", "keystone")
    assert upgrade["commands"] == [
        "systemctl stop -- 'unit of services/keystone/ctl/upgrade-packages'"
    ]
    assert upgrade["output"] is None  # output is kept for failures only
    failed_step = steps["services/nova/cmp1/upgrade-packages"]
    assert (failed_step["state"], failed_step["exit_status"]) == ("failed", 1)
    assert failed_step["output"][-1] == HOSTILE
    assert failed_step["output"][0] == "line 12"  # the last 20 lines
    assert len(failed_step["output"]) == 20
    died = steps[f"services/nova/{BAD_HOST}/stop-units"]
    assert (died["state"], died["finished"], died["duration"]) == ("running", None, None)
    pending = steps["services/nova/cmp1/start-units"]
    assert (pending["state"], pending["started"], pending["attempts"]) == ("pending", None, 0)
    totals = doc["totals"]
    assert totals["by_state"] == {"done": 8, "failed": 1, "running": 1, "pending": 1}
    assert (totals["steps"], totals["started"]) == (11, 10)
    assert totals["wall_time"] == pytest.approx(6.6)  # first start 1.0, last end 7.6
    assert totals["outage"] == {"keystone": pytest.approx(4.0), "nova": pytest.approx(2.9)}


def test_outage_windows_floors_and_ratios_per_service_endpoint_and_host(failed):
    journal, run_id = failed
    down = run_report(journal, run_id)["downtime"]
    assert down["probed"] is True
    (session,) = down["sessions"]
    assert session == {
        "command": "upgrade",
        "started": T0,
        "ended": T0 + 9.0,
        "interval": 0.2,
        "transitions": 8,
    }
    keystone, nova = down["services"]
    (window,) = keystone["windows"]
    assert (window["start"], window["end"], window["open"]) == (T0 + 1.2, T0 + 5.2, False)
    assert window["duration"] == pytest.approx(4.0)
    assert window["last_up"] == pytest.approx(T0 + 1.0)
    assert window["steps"] == ["services/keystone/ctl/stop-units"]
    assert window["command"] == "upgrade"
    assert window["detail"] == "GET keystone@ctl -> 503"
    assert keystone["floor"] == pytest.approx(3.5)  # upgrade 2.0 + migrate 1.0 + start 0.5
    assert keystone["ratio"] == pytest.approx(4.0 / 3.5)
    (endpoint,) = keystone["endpoints"]
    assert endpoint["endpoint"] == "http://vip:5000/"
    assert endpoint["outage"] == pytest.approx(3.6)
    (open_window,) = nova["windows"]
    assert open_window["open"] is True
    assert open_window["end"] == T0 + 9.0  # where probing stopped
    assert open_window["steps"] == [
        "services/nova/cmp1/stop-units",
        f"services/nova/{BAD_HOST}/stop-units",
    ]
    hosts = {(h["service"], h["host"]): h for h in down["hosts"]}
    assert sorted(hosts) == [("keystone", "ctl"), ("nova", "cmp1")]
    assert hosts["nova", "cmp1"]["outage"] == pytest.approx(2.9)


def test_config_files_restarts_and_reboots_are_listed(failed):
    journal, run_id = failed
    doc = run_report(journal, run_id)
    assert doc["config_files"] == [
        {"host": "ctl", "file": "/etc/keystone/keystone.conf.rpmnew", "step": "configs/ctl/collect"}
    ]
    assert doc["restarts"] == [
        {
            "host": "ctl",
            "units": ["openstack-keystone"],
            "reason": "restarted openstack-keystone (started before python-x was installed)",
            "step": "restart/ctl/restart-units",
        }
    ]
    (reboot,) = doc["reboots"]
    assert (reboot["host"], reboot["needed"]) == ("ctl", True)
    assert "5.14.0-162.el9" in reboot["why"]


def test_a_run_never_probed_and_never_started_reports_what_it_has(tmp_path, clock):
    journal = Journal(tmp_path / "state")
    run_id = journal.new_run(_plan(), {}, {}, "lab.yaml", "", "")
    journal.set_status(run_id, RunStatus.INTERRUPTED, "interrupted before the first step")
    doc = run_report(journal, run_id[:10])  # a unique prefix is enough
    _validate(doc)
    assert doc["downtime"]["probed"] is False
    assert [(s["service"], s["probed"], s["outage"]) for s in doc["downtime"]["services"]] == [
        ("keystone", False, None),
        ("nova", False, None),
    ]
    assert doc["totals"]["by_state"] == {"pending": 11}
    assert doc["totals"]["wall_time"] is None
    page = render_html(doc)
    assert "No step started." in page
    assert "No availability probe watched this run" in page
    assert _Tags.of(page).count("rect", "step-bar") == 0


def test_a_killed_run_keeps_the_outage_it_was_in_open_until_its_last_step_began(tmp_path, clock):
    """The process died while keystone was down: the prober's last record is keystone's
    failed probe, but the journal saw the run alive later (migrate-db began at +3.5 s):
    keystone was down, unseen up, until then at least."""
    journal = Journal(tmp_path / "state")
    run_id = journal.new_run(_plan(PLAN_STEPS[:4]), {}, {}, "lab.yaml", "", "")
    session = journal.probe_started(run_id, "upgrade", 0.2)
    _transition(journal, session, KS, (0.1, True), (1.2, False))
    _run_step(journal, clock, run_id, "services/keystone/ctl/stop-units", 1.0, 1.5)
    _run_step(journal, clock, run_id, "services/keystone/ctl/upgrade-packages", 1.5, 3.5)
    _run_step(journal, clock, run_id, "services/keystone/ctl/migrate-db", 3.5, None)
    doc = run_report(journal, run_id)
    _validate(doc)
    assert doc["downtime"]["sessions"][0]["ended"] is None
    (window,) = doc["downtime"]["services"][0]["windows"]
    assert (window["start"], window["end"], window["open"]) == (T0 + 1.2, T0 + 3.5, True)
    assert doc["totals"]["outage"]["keystone"] == pytest.approx(2.3)
    tags = _Tags.of(render_html(doc))
    assert [o["data-service"] for o in tags.find("rect", "outage")] == ["keystone"]


def test_a_host_still_down_at_the_last_record_of_a_killed_run_is_flagged(tmp_path, clock):
    """The failed probe is the last thing the killed process journalled: the host's
    window is open and 0 s long (nothing shows how long after it the process lived), no
    service-level window; the page still says keystone was down on ctl at the end."""
    journal = Journal(tmp_path / "state")
    run_id = journal.new_run(_plan(PLAN_STEPS[:4]), {}, {}, "lab.yaml", "", "")
    session = journal.probe_started(run_id, "upgrade", 0.2)
    _run_step(journal, clock, run_id, "services/keystone/ctl/stop-units", 1.0, 1.5)
    _run_step(journal, clock, run_id, "services/keystone/ctl/upgrade-packages", 1.5, None)
    _transition(journal, session, KS, (0.1, True), (1.6, False))
    doc = run_report(journal, run_id)
    (host,) = doc["downtime"]["hosts"]
    (window,) = host["windows"]
    assert (window["open"], window["duration"]) == (True, 0.0)
    assert doc["downtime"]["services"][0]["windows"] == []
    page = render_html(doc)
    assert "keystone</td><td>0.00 <b>still down</b> on ctl" in page


class _Tags(HTMLParser):
    """Every start tag of a page with its attributes; the text of each <pre>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.pre: list[str] = []
        self._in_pre = False

    @classmethod
    def of(cls, page: str) -> _Tags:
        parser = cls()
        parser.feed(page)
        parser.close()
        return parser

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))
        self._in_pre = tag == "pre"
        if self._in_pre:
            self.pre.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data: str) -> None:
        if self._in_pre:
            self.pre[-1] += data

    def find(self, tag: str, cls: str) -> list[dict[str, str]]:
        return [a for t, a in self.tags if t == tag and cls in a.get("class", "").split()]

    def count(self, tag: str, cls: str) -> int:
        return len(self.find(tag, cls))


def test_the_page_has_one_bar_per_started_step_and_the_outages_shaded(failed):
    journal, run_id = failed
    doc = run_report(journal, run_id)
    page = render_html(doc)
    tags = _Tags.of(page)
    bars = tags.find("rect", "step-bar")
    assert len(bars) == doc["totals"]["started"] == 10
    states = sorted(b["class"].split()[1] for b in bars)
    assert states == ["state-done"] * 8 + ["state-failed", "state-running"]
    outages = tags.find("rect", "outage")
    assert [(o["data-service"], "open" in o["class"].split()) for o in outages] == [
        ("keystone", False),
        ("nova", True),
    ]
    assert tags.count("rect", "host-outage") == 2
    # the SVG is well-formed XML (everything in it escaped), its bars with their titles
    svg = ET.fromstring(page[page.index("<svg") : page.index("</svg>") + len("</svg>")])
    ns = "{http://www.w3.org/2000/svg}"
    titled = [r for r in svg.iter(f"{ns}rect") if "step-bar" in r.get("class", "")]
    tips = {r.get("data-step"): r.find(f"{ns}title").text for r in titled}
    tip = tips["services/keystone/ctl/migrate-db"]
    assert "done, 1.00 s" in tip
    assert "$ systemctl stop -- 'unit of services/keystone/ctl/migrate-db'" in tip


def test_every_text_from_the_journal_is_escaped(failed):
    journal, run_id = failed
    page = render_html(run_report(journal, run_id))
    assert "<script" not in page.lower()
    assert "<i>" not in page
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in page
    assert "cmp&amp;&lt;i&gt;x" in page  # the host's lane label and steps
    tags = _Tags.of(page)
    assert tags.pre == ["\n".join([f"line {n}" for n in range(12, 31)] + [HOSTILE])]


def test_the_page_is_self_contained_prints_and_has_a_dark_mode(failed):
    journal, run_id = failed
    page = render_html(run_report(journal, run_id))
    tags = _Tags.of(page)
    assert not [a for t, a in tags.tags if t in ("script", "link", "img", "iframe")]
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "").replace(
        "http://vip:5000/", ""
    )
    assert "@media print" in page and "size: A4 landscape" in page
    assert "@media (prefers-color-scheme: dark)" in page


def test_a_thousand_steps_on_two_hundred_hosts_stay_one_drawing(tmp_path, clock):
    hosts = [f"compute{n:03d}" for n in range(200)]
    steps = tuple(
        _step(f"final/{h}/full-upgrade-{k}", StepKind.FULL_UPGRADE, h)
        for h in hosts
        for k in range(5)
    )
    plan = Plan(
        "big", "a", "b", "all-at-once", Group("p", "p", "parallel", steps), hosts=tuple(hosts)
    )
    journal = Journal(tmp_path / "state")
    run_id = journal.new_run(plan, {}, {}, "big.yaml", "", "")
    for n, step in enumerate(steps):
        _run_step(journal, clock, run_id, step.id, n * 0.01, n * 0.01 + 0.5)
    started = time.perf_counter()
    page = render_html(run_report(journal, run_id))
    took = time.perf_counter() - started
    tags = _Tags.of(page)
    assert tags.count("rect", "step-bar") == 1000
    assert tags.count("text", "lane-label") == 0  # 200 lanes: too thin for labels
    (svg,) = [a for t, a in tags.tags if t == "svg"]
    height = float(svg["viewbox"].split()[3])
    assert height == pytest.approx(200 * 3.0 + 26.0)  # 3 units a lane, and the axis
    assert len(page) < 1_000_000
    assert took < 5.0


def test_write_html_report_writes_next_to_the_run_log_privately(failed):
    journal, run_id = failed
    path = write_html_report(journal, run_id)
    assert path == journal.state_dir / "runs" / run_id / "report.html"
    assert path.stat().st_mode & 0o777 == 0o600
    assert "step-bar" in path.read_text()
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no leftover


def test_the_command_prints_json_writes_html_and_refuses_a_bad_file(failed, tmp_path):
    journal, run_id = failed
    state = str(journal.state_dir)
    shown = CliRunner().invoke(cli, ["report", "--state-dir", state, "--json"])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    _validate(doc)
    assert doc["run"]["id"] == run_id
    written = CliRunner().invoke(cli, ["report", run_id, "--state-dir", state])
    assert written.exit_code == 0, written.output
    assert written.stdout.strip() == str(journal.state_dir / "runs" / run_id / "report.html")
    elsewhere = tmp_path / "r.html"
    chosen = CliRunner().invoke(cli, ["report", "--state-dir", state, "--html", str(elsewhere)])
    assert chosen.exit_code == 0 and chosen.stdout.strip() == str(elsewhere)
    assert elsewhere.read_text().startswith("<!DOCTYPE html>")
    both = tmp_path / "both.html"
    together = CliRunner().invoke(
        cli, ["report", "--state-dir", state, "--json", "--html", str(both)]
    )
    assert together.exit_code == 0, together.output
    assert json.loads(together.stdout)["run"]["id"] == run_id  # stdout stays JSON
    assert together.stderr.strip() == str(both) and both.exists()
    bad = CliRunner().invoke(
        cli, ["report", "--state-dir", state, "--html", str(tmp_path / "no" / "r.html")]
    )
    assert bad.exit_code == 2
    assert f"cannot write the report {tmp_path / 'no' / 'r.html'}" in bad.stderr
    unknown = CliRunner().invoke(cli, ["report", "nosuchrun", "--state-dir", state])
    assert unknown.exit_code == 2
    assert "no run matching 'nosuchrun'" in unknown.stderr
