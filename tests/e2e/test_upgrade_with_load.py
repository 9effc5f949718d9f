"""`stackstep upgrade --load 20` on the fake cloud, its APIs behind a "VIP" (127.0.0.1):
keystone is a real server answering like keystone's token API (tests/fakekeystone.py)
that answers 503 while the fake controller's keystone unit is stopped; glance and nova
answer GETs. The summary, `--json`, `status` and the journal show what was sent and
what failed, the failures fall inside keystone's stop-to-start span, and the password
shows nowhere."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakecloud import FakeCloud, build_fake_cloud
from fakekeystone import PASSWORD, FakeKeystone, openrc
from stackstep.engine.journal import Journal

HELD = 1.0  # keystone is held stopped this long


@pytest.fixture
def loaded_cloud(
    tmp_path: Path, api_port: int, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeCloud, FakeKeystone]]:
    cloud = build_fake_cloud(tmp_path, api_port)
    unit = cloud.host("ctl") / "units" / "openstack-keystone"

    def stopped() -> bool:
        return unit.exists() and unit.read_text().strip() != "active"

    keystone = FakeKeystone(stopped)
    keystone.up()
    blocks = cloud.catalog.read_text().split("[[service]]")
    for i, block in enumerate(blocks):
        if 'name = "keystone"' in block:
            blocks[i] = block.replace(f"port = {api_port}", f"port = {keystone.port}")
    cloud.catalog.write_text("[[service]]".join(blocks))
    cloud.inventory.write_text(cloud.inventory.read_text() + "vip: 127.0.0.1\n")
    for key, value in openrc().items():
        monkeypatch.setenv(key, value)
    yield cloud, keystone
    keystone.down()


def _span(cloud: FakeCloud) -> tuple[float, float]:
    """From keystone's stop to the end of its start, as the journal timed them."""
    db = sqlite3.connect(cloud.state / "journal.sqlite")
    try:
        times = dict(
            db.execute(
                "SELECT step_id, started FROM steps WHERE step_id LIKE 'services/keystone/ctl/%'"
            ).fetchall()
        )
        (ended,) = db.execute(
            "SELECT finished FROM steps WHERE step_id='services/keystone/ctl/start-units'"
        ).fetchone()
    finally:
        db.close()
    return times["services/keystone/ctl/stop-units"], ended


def test_upgrade_with_load_counts_every_request_and_the_failures_keystone_had(loaded_cloud):
    cloud, keystone = loaded_cloud
    (cloud.host("ctl") / "pause").write_text("systemctl stop -- openstack-keystone")
    run = cloud.start("upgrade", *cloud.args("--yes", "--no-discover", "--load", "20", "--json"))
    cloud.wait_paused("ctl", run)
    time.sleep(HELD)
    (cloud.host("ctl") / "release").write_text("")
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 0, output
    text, _, body = output.rpartition("\n{\n")
    result = json.loads("{\n" + body)
    lines = text.splitlines()

    load = result["load"]
    assert (load["asked"], load["ran"], load["tokens_off"]) == (True, True, None)
    by = {s["service"]: s for s in load["services"]}
    assert list(by) == ["keystone", "glance", "nova"]
    ks = by["keystone"]
    assert ks["endpoint"] == keystone.url
    assert [s["request"] for s in ks["streams"]] == ["validate", "issue"]
    assert [s["rate"] for s in ks["streams"]] == [20.0, 2.0]
    assert [s["rate"] for s in by["glance"]["streams"]] == [5.0]
    # keystone answered 503 while stopped: those are the failures, each counted (its
    # GETs are the prober's)
    tokens = {
        mode: keystone.seen[(mode, "validate")] + keystone.seen[(mode, "issue")]
        for mode in ("ok", "503")
    }
    assert ks["kinds"] == {"http 503": tokens["503"]}
    assert ks["failed"] == tokens["503"] >= 10
    assert ks["requests"] == tokens["ok"] + tokens["503"]
    assert by["glance"]["failed"] == by["nova"]["failed"] == 0
    assert by["glance"]["requests"] > 0

    # the summary's table says the same
    head = next(i for i, line in enumerate(lines) if line.startswith("load through the load"))
    assert lines[head].startswith("load through the load balancer (--load 20; no retry, 2 s")
    assert lines[head].endswith(f"{ks['failed']} failed request(s)")
    validate = next(line.split() for line in lines[head:] if "keystone  validate" in line)
    stream = ks["streams"][0]
    assert validate[2:5] == [str(stream["requests"]), str(stream["failed"]), "20.0"]
    assert validate[6:] == ["http", "503", str(stream["kinds"]["http 503"])]

    # each failure the journal kept was sent between keystone's stop and its start
    journal = Journal(cloud.state)
    (session,) = journal.load_sessions(result["run"])
    journal.close()
    stop, started = _span(cloud)
    assert len(session.failures) == ks["failed"]
    assert all(stop - 0.1 <= f.at <= started + 0.1 for f in session.failures)

    status = cloud.stackstep("status", "--state-dir", str(cloud.state), "--json")
    assert json.loads(status.stdout)["load"]["services"] == load["services"]
    # the password reached keystone, and nothing stackstep shows or keeps
    assert keystone.issued
    assert PASSWORD not in output + status.stdout + status.stderr
    for path in cloud.state.rglob("*"):
        assert not path.is_file() or PASSWORD.encode() not in path.read_bytes(), path


def test_without_credentials_or_endpoints_the_summary_says_what_was_not_loaded(
    loaded_cloud, monkeypatch
):
    cloud, keystone = loaded_cloud
    monkeypatch.delenv("OS_PASSWORD")
    done = cloud.stackstep("upgrade", *cloud.args("--yes", "--no-discover", "--load", "5"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "  token load off: OS_PASSWORD not set in the environment (source an openrc); "
        "keystone got GETs only"
    ) in done.stdout.splitlines()
    assert not keystone.issued and keystone.seen[("ok", "get")] > 0

    cloud.inventory.write_text(cloud.inventory.read_text().replace("vip: 127.0.0.1\n", ""))
    done = cloud.stackstep("upgrade", *cloud.args("--yes", "--no-discover", "--load", "5"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "load: nothing sent: the inventory declares no load-balanced endpoint (vip: or endpoints:)"
    ) in done.stdout.splitlines()


@pytest.mark.parametrize("rate", ["0.5", "1001", "fast"])
def test_a_rate_outside_1_to_1000_is_refused(loaded_cloud, rate):
    cloud, _ = loaded_cloud
    done = cloud.stackstep("upgrade", *cloud.args("--yes", "--load", rate))
    assert done.returncode == 2 and "--load" in done.stderr


def test_resume_sends_the_rate_the_run_had_unless_told_otherwise(loaded_cloud):
    cloud, _ = loaded_cloud
    (cloud.host("ctl") / "pause").write_text("systemctl stop -- openstack-keystone")
    run = cloud.start("upgrade", *cloud.args("--yes", "--no-discover", "--load", "5"))
    cloud.wait_paused("ctl", run)
    time.sleep(1.5)  # a flush of the counts (once a second) before the kill
    cloud.kill(run)
    done = cloud.stackstep("resume", "--state-dir", str(cloud.state), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    load = json.loads(done.stdout)["load"]
    assert [(s["command"], s["rate"]) for s in load["sessions"]] == [
        ("upgrade", 5.0),
        ("resume", 5.0),
    ]
    assert load["sessions"][0]["ended"] is None  # killed
    # keystone was stopped (503) from the pause until the resume started it again
    ks = next(s for s in load["services"] if s["service"] == "keystone")
    assert ks["kinds"].get("http 503", 0) > 0 and ks["requests"] > ks["failed"]
    assert "load through the load balancer (--load 5; " in done.stderr
