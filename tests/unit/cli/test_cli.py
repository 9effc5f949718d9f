"""The command line as a user meets it: entry points, help, plan and catalog output."""

from __future__ import annotations

import json
import subprocess
import sys

from stackstep_testing import EXAMPLES, ROOT


def stackstep(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackstep", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )


def test_version_and_help():
    from stackstep import __version__

    assert stackstep("--version").stdout.strip().endswith(__version__)
    out = stackstep("--help").stdout
    assert "plan" in out and "catalog" in out and "Exit codes" in out


def test_plan_text_is_the_golden_dry_run():
    proc = stackstep("plan", "-i", str(EXAMPLES / "rdo-seed.yaml"))
    assert proc.returncode == 0, proc.stderr
    golden = (ROOT / "tests" / "data" / "golden" / "rdo-seed.txt").read_text()
    assert proc.stdout == golden
    assert "Nothing has been changed" in proc.stdout


def test_plan_json_round_trips():
    proc = stackstep("plan", "-i", str(EXAMPLES / "ubuntu-apt.yaml"), "--json")
    body = json.loads(proc.stdout)
    assert body["schema"] == "stackstep.plan" and body["schema_version"] == 1
    assert (body["from"], body["to"]) == ("flamingo", "gazpacho")


def test_expand_shows_every_host():
    compact = stackstep("plan", "-i", str(EXAMPLES / "rdo-seed.yaml")).stdout
    expanded = stackstep("plan", "-i", str(EXAMPLES / "rdo-seed.yaml"), "--expand").stdout
    assert "compute[1:3]" in compact and "compute[1:3]" not in expanded
    assert "compute2" in expanded


def test_catalog_lists_releases_and_paths():
    out = stackstep("catalog").stdout
    assert "2013.1  grizzly    -> havana" in out
    assert "2025.1* epoxy      -> flamingo, gazpacho" in out
    body = json.loads(stackstep("catalog", "--json").stdout)
    assert [s["name"] for s in body["series"]] == ["modern", "rdo-2013"]
    assert stackstep("catalog", "--series", "nope").returncode == 2
