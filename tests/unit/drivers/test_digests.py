"""Content digests before the full upgrade decide which units the after phase restarts:
recorded from real rpm packages and real Python processes whose files the "upgrade" wrote
again, with the same bytes or new ones (tests/data/outputs/digests/,
_scripts/record-digests.py), and the record commands run here on real data."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from stackstep.drivers import digests, loaded
from stackstep_testing import ROOT

OUT = ROOT / "tests" / "data" / "outputs" / "digests"
STANDIN, CLIENT = 25220, 25222  # the PIDs in the recordings
UNITS = {"openstack-lab-api": STANDIN, "openstack-lab-client": CLIENT}
SCRATCH = "/tmp/stackstep-digests-qow_x2ni/host/opt/openstack-lab"


def processes() -> loaded.Processes:
    data = loaded.parse_processes((OUT / "processes.txt").read_text())
    assert data is not None
    return data


def decide(check: str, data: loaded.Processes | None = None) -> dict[str, loaded.Verdict]:
    found = digests.parse_check((OUT / check).read_text())
    data = data or processes()
    return loaded.loaded_code_changed(UNITS, data, found.modules, found.same, found.files)


def test_the_candidates_are_the_files_written_since_a_process_started():
    assert loaded.candidate_files(processes()) == [
        f"{SCRATCH}/lib64/libfakeclient.so.1",
        f"{SCRATCH}/lib64/libstandin.so.1",
        f"{SCRATCH}/standin.py",
    ]


def test_code_written_again_with_the_same_content_keeps_its_unit():
    verdicts = decide("check.txt")
    api = verdicts["openstack-lab-api"]
    assert not api.changed
    assert api.same == (
        "libstandin.so.1 replaced with the same content",
        "standin.py replaced with the same content",
        "openstack-lab-common's Python 3.11 modules replaced with the same content",
    )
    assert api.kept_because() == (
        "libstandin.so.1 replaced with the same content; standin.py replaced with the "
        "same content (and 1 more)"
    )


def test_code_written_with_new_content_restarts_its_unit():
    client = decide("check.txt")["openstack-lab-client"]
    assert client.reasons == (
        f"maps {SCRATCH}/lib64/libfakeclient.so.1, replaced since it started",
    )
    # the module it imported was written with the same content: not a reason
    assert client.same == (
        "openstack-lab-common's Python 3.11 modules replaced with the same content",
    )


def test_without_a_record_every_file_written_since_counts_as_changed():
    verdicts = decide("check-no-record.txt")
    assert verdicts["openstack-lab-api"].reasons == (
        f"maps {SCRATCH}/lib64/libstandin.so.1, replaced since it started",
        f"its script {SCRATCH}/standin.py changed after it started",
        "openstack-lab-common changed Python 3.11 modules after it started, e.g. "
        f"{SCRATCH}/lib/python3.11/site-packages/standin_lib.py",
    )
    assert verdicts["openstack-lab-client"].changed


def test_a_record_taken_after_the_file_changed_under_the_process_vouches_for_nothing():
    # the same processes, as if they had started before the files' last change before
    # the record (an earlier transaction wrote them while they ran): what they loaded
    # may differ from what was recorded, so they are restarted
    data = processes()
    recorded = digests.parse_check((OUT / "check.txt").read_text()).files
    earlier = min(recorded.values()) - 1
    moved = {pid: dataclasses.replace(p, started=earlier) for pid, p in data.processes.items()}
    verdicts = decide("check.txt", dataclasses.replace(data, processes=moved))
    api = verdicts["openstack-lab-api"]
    assert api.changed and api.same == ()
    assert f"its script {SCRATCH}/standin.py changed after it started" in api.reasons


def test_check_output_parses_and_garbage_is_ignored():
    found = digests.parse_check((OUT / "check.txt").read_text())
    assert found.modules == []
    assert sorted((s.package, s.pydir) for s in found.same) == [
        ("openstack-lab-common", "-"),
        ("openstack-lab-common", "python3.11"),
    ]
    assert sorted(found.files) == [f"{SCRATCH}/lib64/libstandin.so.1", f"{SCRATCH}/standin.py"]
    empty = digests.parse_check("same a|b|x|y|/p\nfile same|garbage|/x\nfile changed|-|/y\nzz\n")
    assert empty == digests.Checked([], [], {})


def test_record_output_parses():
    made = digests.parse_record((OUT / "record-rpm.txt").read_text())
    assert made is not None and (made.kept, made.files) == (False, 5)
    again = digests.parse_record((OUT / "record-rpm-again.txt").read_text())
    assert again is not None and again.kept and again.path == made.path
    assert digests.parse_record("") is None
    assert digests.parse_record("recorded x /p\nkept relative\n") is None


def _run(command, env: dict[str, str]) -> str:
    done = subprocess.run(
        command.reveal(), capture_output=True, text=True, env={**os.environ, **env}, check=True
    )
    return done.stdout


def test_the_rpm_record_keeps_loaded_code_only_and_is_never_overwritten(tmp_path: Path):
    # rpm's real answer (its paths moved under tmp_path, where the files are laid out)
    raw = (OUT / "rpm-qa-filedigests.txt").read_text()
    shipped = {
        line.split(" ", 1)[1]: line.split(" ", 1)[0]
        for line in raw.splitlines()
        if not line.startswith("=")
    }
    for path in shipped:
        if not path.endswith("standin-manage"):  # one file is missing from the disk
            (tmp_path / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path.lstrip("/")).write_text("x\n")
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "rpm").write_text(
        f'#!/bin/sh\nexec sed "s| /opt/| {tmp_path}/opt/|" {OUT / "rpm-qa-filedigests.txt"}\n'
    )
    (bin_dir / "rpm").chmod(0o755)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "STACKSTEP_RECORD_DIR": str(tmp_path)}
    made = digests.parse_record(_run(digests.record_command("rpm", "run-1"), env))
    assert made == digests.Recorded(f"{tmp_path}/run-1/file-digests", False, 4)  # of 6
    record = Path(made.path)
    lines = record.read_text().splitlines()
    found = {line.split("|")[3]: line.split("|")[:2] for line in lines}
    # the README is no code, standin-manage is not on the disk; the rest with rpm's sha256
    assert found == {
        f"{tmp_path}{path}": ["sha256", digest]
        for path, digest in shipped.items()
        if not path.endswith(("README", "standin-manage"))
    }
    assert record.stat().st_mode & 0o777 == 0o600
    assert record.parent.stat().st_mode & 0o777 == 0o700
    # a second try (a resumed full upgrade) keeps the first record, whatever changed since
    (tmp_path / "opt" / "openstack-lab" / "standin.py").write_text("changed\n")
    again = digests.parse_record(_run(digests.record_command("rpm", "run-1"), env))
    assert again == digests.Recorded(made.path, True, 0)
    assert record.read_text().splitlines() == lines


@pytest.mark.skipif(not Path("/var/lib/dpkg/info/dpkg.md5sums").exists(), reason="no dpkg")
def test_the_dpkg_record_holds_the_md5sums_of_this_machines_code(tmp_path: Path):
    env = {"STACKSTEP_RECORD_DIR": str(tmp_path)}
    made = digests.parse_record(_run(digests.record_command("dpkg", "run-1"), env))
    assert made is not None and made.files > 100
    found = {}
    for line in Path(made.path).read_text().splitlines():
        algo, digest, _, path = line.split("|", 3)
        found[path] = (algo, digest)
    dpkg = Path("/usr/bin/dpkg")
    assert found[str(dpkg)] == ("md5", hashlib.md5(dpkg.read_bytes()).hexdigest())
    assert not [p for p in found if p.endswith(("/copyright", ".gz", ".txt", ".html"))]
