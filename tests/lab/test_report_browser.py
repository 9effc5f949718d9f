"""The run report of a real lab upgrade (Grizzly -> Havana) in headless Chromium
(issue 13's acceptance): the JSON validates against its schema and agrees with the
journal; the HTML page opens with no console error and fetches nothing, has one step bar
per started step and an outage shading for every service the prober saw down; a
screenshot (light and dark) and an A4 print are written as test artefacts
($STACKSTEP_ARTIFACTS, else tests/artifacts/).

Deploys a fresh cloud (`cloud` fixture, ~20 s) and upgrades it (several minutes)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import jsonschema
from labcloud import stackstep

from browser import check_report_page, started_steps

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())


def test_the_report_of_a_lab_upgrade_opens_in_chromium(cloud, tmp_path):
    _, inventory = cloud
    state = tmp_path / "state"
    upgrade = stackstep(state, "upgrade", "-i", str(inventory), "--yes", "--json")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr[-3000:]
    run_id = json.loads(upgrade.stdout)["run"]

    shown = stackstep(state, "report", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["run"]["status"] == "done"
    db = sqlite3.connect(state / "journal.sqlite")
    try:
        journal = dict(db.execute("SELECT step_id, state FROM steps WHERE run_id=?", (run_id,)))
    finally:
        db.close()
    assert {s["id"]: s["state"] for s in doc["steps"]} == journal
    assert doc["downtime"]["probed"]
    # every API the lab stops for its upgrade was seen down, each window named a step
    down = {s["service"]: s for s in doc["downtime"]["services"] if s["outage"]}
    assert down, doc["downtime"]["services"]
    for service in down.values():
        assert all(w["steps"] for w in service["windows"]), service

    page = tmp_path / "report.html"
    written = stackstep(state, "report", run_id, "--html", str(page))
    assert written.returncode == 0 and written.stdout.strip() == str(page), written.stderr
    assert doc["totals"]["started"] == started_steps(state, run_id)
    shot = check_report_page(page, state, doc, "report-lab")
    assert shot.stat().st_size > 10_000
