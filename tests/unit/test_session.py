"""The run request as the journal keeps it, and the journal's schema version: what a
release wrote is read by the next one, what a newer one wrote is refused, not misread."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from stackstep.cli import options
from stackstep.engine.journal import SCHEMA_VERSION, Journal
from stackstep.engine.prober import DEFAULT_INTERVAL
from stackstep.errors import InputError
from stackstep.planner import AUTO, STRATEGIES, PlanOptions
from stackstep.planner.options import DEFAULT_PARALLEL
from stackstep.session import REQUEST_VERSION, RunRequest, prepare
from stackstep_testing import EXAMPLES, ROOT

LEGACY = ROOT / "tests" / "data" / "journal-v0" / "journal.sqlite"


def user_version(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    shutil.copyfile(LEGACY, state / "journal.sqlite")
    return state


def test_a_request_round_trips_through_json():
    request = RunRequest(
        Path("/srv/cloud.yaml"),
        (Path("/srv/a.toml"), Path("/srv/b.toml")),
        PlanOptions("grizzly", "havana", "all-at-once", ("nova",), ("glance",), 3, False, False),
    )
    data = request.to_json()
    assert data["version"] == REQUEST_VERSION == 1
    assert RunRequest.from_json(data) == request


def test_the_json_does_not_name_command_line_flags():
    data = RunRequest(Path("c.yaml"), options=PlanOptions(prefetch=False)).to_json()
    assert not {k for k in data if k.startswith("no_")}
    assert data["prefetch"] is False and data["backup"] is True


def test_the_old_journals_request_is_read_as_the_command_line_meant_it(legacy):
    journal = Journal(legacy)
    (record,) = journal.runs()
    request = RunRequest.from_json(record.request)
    assert request == RunRequest(
        Path("/tmp/stackstep-legacy/cloud.yaml"),
        (Path("/tmp/stackstep-legacy/series.toml"),),
        # the release that wrote it planned one service at a time (no auto then)
        PlanOptions(
            strategy="service-by-service", only=("keystone", "glance"), parallel=2, backup=False
        ),
        version=0,
    )


def test_opening_an_old_journal_marks_its_version(legacy):
    assert user_version(legacy / "journal.sqlite") == 0
    journal = Journal(legacy)
    assert [r.status for r in journal.runs()] == ["running"]
    journal.close()
    assert user_version(legacy / "journal.sqlite") == SCHEMA_VERSION == 3


def test_a_new_journal_has_the_schema_version(tmp_path):
    Journal(tmp_path / "state").close()
    assert user_version(tmp_path / "state" / "journal.sqlite") == SCHEMA_VERSION


def test_a_journal_of_a_newer_version_is_refused(tmp_path):
    Journal(tmp_path / "state").close()
    db = sqlite3.connect(tmp_path / "state" / "journal.sqlite")
    db.execute("PRAGMA user_version=7")
    db.close()
    with pytest.raises(InputError, match=r"journal.sqlite is a journal of version 7, newer"):
        Journal(tmp_path / "state")


def test_a_request_of_a_newer_version_is_refused():
    with pytest.raises(InputError, match="request is version 2"):
        RunRequest.from_json({"version": 2, "inventory": "c.yaml"})


@pytest.mark.parametrize(
    ("key", "value", "what"),
    [("parallel", "3", "a whole number"), ("only", "nova", "a list of texts")],
)
def test_a_damaged_request_names_the_key(key, value, what):
    with pytest.raises(InputError, match=f"{key} should be {what}"):
        RunRequest.from_json({"version": 1, "inventory": "c.yaml", key: value})


def test_prepare_plans_what_the_request_asks():
    request = RunRequest(EXAMPLES / "rdo-seed.yaml", options=PlanOptions(only=("keystone",)))
    prepared = prepare(request)
    assert prepared.request is request
    assert prepared.plan.services == ("keystone",)
    assert prepared.inventory.source == str(EXAMPLES / "rdo-seed.yaml")


def test_the_cli_repeats_the_planners_choices():
    assert options.STRATEGIES == STRATEGIES
    assert options.AUTO == AUTO
    assert options.DEFAULT_PARALLEL == DEFAULT_PARALLEL
    assert options.PROBE_INTERVAL == DEFAULT_INTERVAL
