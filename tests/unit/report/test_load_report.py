"""A run's load as the summary, `--json` and `stackstep report` show it, from a journal
written with the Journal API: an upgrade's load session (keystone failed 5 requests) and
its resume's (the generator fell behind on keystone's validations)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from stackstep.engine.journal import Journal
from stackstep.model.command import cmd
from stackstep.model.load import LoadCount, LoadFailure
from stackstep.model.plan import Group, Plan, Step, StepKind
from stackstep.report.load import analyse, load_json, load_lines, run_load
from stackstep.report.run_html import render_html
from stackstep.report.run_report import run_report

ROOT = Path(__file__).resolve().parents[3]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
T0 = 1_800_000_000.0
VIP = "http://192.0.2.10:5000/v3"
GLANCE = "http://192.0.2.10:9292/"


def _plan() -> Plan:
    step = Step("services/keystone/ctl/stop-units", StepKind.STOP_UNITS, "stop", "ctl", "keystone")
    step = Step(step.id, step.kind, step.title, step.host, step.service, (cmd("true"),))
    group = Group("plan", "plan", "sequential", (step,))
    return Plan("lab", "a", "b", "rolling", group, hosts=("ctl",), services=("keystone",))


def _journal(tmp_path: Path) -> tuple[Journal, str]:
    journal = Journal(tmp_path / "state")
    run = journal.new_run(_plan(), {}, {}, "cloud.yaml", "d", "c")
    first = journal.load_started(run, "upgrade", 20.0, 2.0, 1000)
    journal.load_counted(
        first,
        [
            LoadCount("keystone", VIP, "validate", 20.0, T0, T0 + 10, 201, 4, {"refused": 4}),
            LoadCount("keystone", VIP, "issue", 2.0, T0, T0 + 10, 21, 1, {"http 503": 1}),
            LoadCount("glance", GLANCE, "get", 5.0, T0, T0 + 10, 51, 0, {}),
        ],
        [
            *(
                LoadFailure("keystone", "validate", T0 + 5 + i / 20, "refused", "x")
                for i in range(4)
            ),
            LoadFailure("keystone", "issue", T0 + 5.07, "http 503", "POST -> 503"),
        ],
    )
    journal.load_ended(first)
    second = journal.load_started(run, "resume", 20.0, 2.0, 1000)
    journal.load_tokens(second, "OS_PASSWORD not set in the environment (source an openrc)")
    journal.load_counted(
        second,
        [LoadCount("keystone", VIP, "get", 20.0, T0 + 100, T0 + 110, 150, 0, {}, late=40)],
        [],
    )
    journal.load_ended(second)
    return journal, run


def test_the_sessions_add_up_per_service_and_request(tmp_path):
    journal, run = _journal(tmp_path)
    load = run_load(journal, run)
    assert [(s.service, s.requests, s.failed) for s in load.services] == [
        ("keystone", 372, 5),
        ("glance", 51, 0),
    ]
    keystone = load.services[0]
    assert keystone.kinds == {"refused": 4, "http 503": 1}
    assert [(s.request, s.rate, s.achieved) for s in keystone.streams] == [
        ("validate", 20.0, 20.0),
        ("issue", 2.0, 2.0),
        ("get", 20.0, 14.9),
    ]
    assert len(keystone.failures) == 5 and not load.kept_rate
    assert load.tokens_off.startswith("OS_PASSWORD not set")


def test_the_summary_table_says_what_failed_and_that_the_rate_was_not_kept(tmp_path):
    journal, run = _journal(tmp_path)
    lines = [text for text, _ in load_lines(run_load(journal, run))]
    assert lines == [
        "load through the load balancer (--load 20; no retry, 2 s timeout): 5 failed request(s)",
        "  service   request   requests  failed  asked/s  sent/s  failures",
        "  keystone  validate       201       4     20.0    20.0  refused 4",
        "  keystone  issue           21       1      2.0     2.0  http 503 1",
        "  keystone  get            150       0     20.0    14.9",
        "  glance    get             51       0      5.0     5.0",
        "  token load off: OS_PASSWORD not set in the environment (source an openrc); "
        "keystone got GETs only",
        "  !! the load generator could not keep its rate: keystone get asked 20.0/s, "
        "sent 14.9/s, 40 late",
    ]
    assert load_lines(analyse([])) == []


def test_json_and_the_report_carry_the_figures_and_the_failures(tmp_path):
    journal, run = _journal(tmp_path)
    body = load_json(run_load(journal, run))
    assert (body["asked"], body["ran"], body["kept_rate"]) == (True, True, False)
    assert [s["command"] for s in body["sessions"]] == ["upgrade", "resume"]
    keystone = body["services"][0]
    assert (keystone["requests"], keystone["failed"]) == (372, 5)
    doc = run_report(journal, run)
    jsonschema.Draft202012Validator(SCHEMA).validate(json.loads(json.dumps(doc)))
    failures = doc["load"]["services"][0]["failures"]
    assert [f["kind"] for f in failures] == ["refused"] * 2 + ["http 503"] + ["refused"] * 2
    page = render_html(doc)
    assert "<td>refused 4</td>" in page and "<td>http 503 1</td>" in page
    assert page.count("class='load-failure'") == 5  # each failure kept, on the timeline
    assert "keystone issue: http 503" in page
