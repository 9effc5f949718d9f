"""`stackstep report` of real runs on the fake cloud: a `stackstep upgrade` whose keystone
API (a real HTTP server on 127.0.0.1) answers 503 while keystone's unit is stopped on
ctl, held down ~1 s at its migration; then the report as JSON (checked against its
schema and the journal) and as HTML, loaded in headless Chromium (tests/browser.py).
A run killed mid-step reports as far as it got."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from browser import check_report_page, started_steps
from fakecloud import FakeCloud, build_fake_cloud

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "report.schema.json").read_text())
MIGRATE = "keystone-manage db_sync"
HELD = 1.0  # seconds keystone is held down at its migration


def _keystone_handler(ctl: Path) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        """keystone's probe path (/v3) fails while its unit is stopped on the fake ctl."""

        def do_GET(self) -> None:
            unit = ctl / "units" / "openstack-keystone"
            stopped = unit.exists() and unit.read_text().strip() == "inactive"
            self.send_response(503 if stopped and self.path == "/v3" else 200)
            self.end_headers()
            self.wfile.write(b'{"version": "fake"}')

        def log_message(self, *args: object) -> None:
            return

    return Handler


@pytest.fixture
def watched_cloud(tmp_path: Path) -> Iterator[FakeCloud]:
    """A fake cloud whose keystone API goes down when keystone is stopped."""
    handler = _keystone_handler(tmp_path / "hosts" / "ctl")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield build_fake_cloud(tmp_path, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _upgrade_holding_keystone_down(cloud: FakeCloud) -> str:
    """A real upgrade; keystone's migration is held ``HELD`` s. The run's id."""
    (cloud.host("ctl") / "pause").write_text(MIGRATE)
    proc = cloud.start("upgrade", *cloud.args("--yes"))
    cloud.wait_paused("ctl", proc)
    time.sleep(HELD)
    (cloud.host("ctl") / "release").write_text("")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    return _latest_run(cloud)


def _latest_run(cloud: FakeCloud) -> str:
    listed = cloud.stackstep("runs", "--state-dir", str(cloud.state), "--json")
    return str(json.loads(listed.stdout)[0]["id"])


def _report_json(cloud: FakeCloud, *args: str) -> dict[str, Any]:
    proc = cloud.stackstep("report", *args, "--state-dir", str(cloud.state), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc: dict[str, Any] = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return doc


def _stop_windows(doc: dict[str, Any], service: str) -> list[dict[str, Any]]:
    """The service's outage windows that began while its stop step ran on ctl (a window
    a loaded machine's slow first probe makes at the start is not one of them)."""
    (found,) = [s for s in doc["downtime"]["services"] if s["service"] == service]
    stop = f"services/{service}/ctl/stop-units"
    return [w for w in found["windows"] if stop in w["steps"]]


def test_report_of_a_real_run_json_and_html_in_chromium(watched_cloud: FakeCloud) -> None:
    cloud = watched_cloud
    run_id = _upgrade_holding_keystone_down(cloud)
    doc = _report_json(cloud)
    assert doc["run"]["id"] == run_id and doc["run"]["status"] == "done"
    steps = doc["steps"]
    assert isinstance(steps, list)
    states = cloud.step_states()
    assert {s["id"]: s["state"] for s in steps} == states
    assert len(steps) == started_steps(cloud.state, run_id)  # every step ran
    (window,) = _stop_windows(doc, "keystone")
    # down from about the stop to about the start: the held migration is inside it
    assert HELD <= window["duration"] < HELD + 5
    assert window["command"] == "upgrade" and not window["open"]
    assert "503" in window["detail"]
    keystone = doc["downtime"]["services"][0]
    assert keystone["service"] == "keystone"
    assert keystone["outage"] >= window["duration"]
    assert keystone["floor"] and keystone["floor"] >= HELD  # the migration was held
    restarts = {r["host"] for r in doc["restarts"]}
    assert restarts == {"cmp1", "cmp2"}

    # default: next to the run log, its path printed
    written = cloud.stackstep("report", run_id, "--state-dir", str(cloud.state))
    assert written.returncode == 0, written.stderr
    html = Path(written.stdout.strip())
    assert html == cloud.state / "runs" / run_id / "report.html"
    assert (html.parent / "run.log").exists()
    chosen = cloud.root.parent / "chosen.html"
    elsewhere = cloud.stackstep("report", "--state-dir", str(cloud.state), "--html", str(chosen))
    assert elsewhere.returncode == 0 and elsewhere.stdout.strip() == str(chosen)
    assert f"stackstep run {run_id}" in chosen.read_text()
    check_report_page(html, cloud.state, doc, "report-fake-cloud")


def test_a_run_killed_mid_step_reports_as_far_as_it_got(watched_cloud: FakeCloud) -> None:
    cloud = watched_cloud
    (cloud.host("ctl") / "pause").write_text(MIGRATE)
    proc = cloud.start("upgrade", *cloud.args("--yes"))
    cloud.wait_paused("ctl", proc)
    time.sleep(0.6)  # a few probes see keystone down
    cloud.kill(proc)
    run_id = _latest_run(cloud)
    doc = _report_json(cloud, run_id)
    steps = {s["id"]: s for s in doc["steps"]}
    assert doc["run"]["status"] == "running"  # killed: never updated
    migrate = steps["services/keystone/ctl/migrate-db"]
    assert (migrate["state"], migrate["finished"]) == ("running", None)
    assert steps["services/keystone/ctl/stop-units"]["state"] == "done"
    assert steps["services/glance/ctl/stop-units"]["state"] == "pending"
    (session,) = doc["downtime"]["sessions"]
    assert session["ended"] is None  # its process was killed
    # keystone on ctl was down at the last probe the killed process journalled
    (host,) = [h for h in doc["downtime"]["hosts"] if h["service"] == "keystone"]
    (window,) = [w for w in host["windows"] if "services/keystone/ctl/stop-units" in w["steps"]]
    assert window["open"] is True
    # its service-level window, when the journal saw the process alive after that probe
    # (a step began later), is open too and lasts until then; else it is 0 s: none
    for service_window in _stop_windows(doc, "keystone"):
        assert service_window["open"] is True
        assert service_window["end"] >= migrate["started"]
    page = cloud.root.parent / "killed.html"
    written = cloud.stackstep("report", "--state-dir", str(cloud.state), "--html", str(page))
    assert written.returncode == 0, written.stderr
    text = page.read_text()
    assert text.count("class='step-bar ") == started_steps(cloud.state, run_id)
    assert "class='step-bar state-running'" in text
    assert "was running when the run stopped" in text
    assert "<b>still down</b> on ctl" in text
