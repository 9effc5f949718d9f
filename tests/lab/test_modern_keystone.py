"""Real keystone on the lab: stackstep upgrades PyPI's keystone 28.1.0 (2025.2) to 29.1.0
(2026.1) on MariaDB; the schema really migrates and a token issued before the upgrade is
still valid after it. The first run builds both venvs and RPMs into the lab cache (a few
minutes, from PyPI); later runs reuse them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stackstep.lab.lab import Lab
from stackstep.lab.openstack import keystone
from stackstep.lab.openstack.deploy import deploy

pytestmark = pytest.mark.slow

ISSUE = (
    "curl -s -i -X POST -H 'Content-Type: application/json' "
    f"-d @{keystone.AUTH_FILE} http://127.0.0.1:5000/v3/auth/tokens"
)


def sh(lab: Lab, script: str) -> str:
    done = lab.host("controller").exec(["sh", "-c", script], check=False)
    return done.stdout + done.stderr


def db_version(lab: Lab) -> str:
    out = sh(lab, "runuser -u keystone -- keystone-manage db_version 2>/dev/null")
    return out.strip().splitlines()[-1]


def issue_token(lab: Lab) -> str:
    out = sh(lab, ISSUE)
    assert out.startswith("HTTP/1.1 201"), out
    found = re.search(r"^X-Subject-Token: (\S+)", out, re.MULTILINE | re.IGNORECASE)
    assert found, out
    return found.group(1)


def validate(lab: Lab, auth: str, subject: str) -> str:
    """The HTTP status keystone answers when ``auth`` asks whether ``subject`` is valid."""
    return sh(
        lab,
        "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5000/v3/auth/tokens "
        f"-H 'X-Auth-Token: {auth}' -H 'X-Subject-Token: {subject}'",
    ).strip()


def test_stackstep_upgrades_real_keystone_and_old_tokens_stay_valid(lab: Lab, tmp_path: Path):
    try:
        done = deploy(lab, "modern", "controller")
        assert db_version(lab) == "47147121"
        assert "openstack-keystone-28.1.0" in sh(lab, "rpm -q openstack-keystone")
        old_token = issue_token(lab)

        env = {k: v for k, v in os.environ.items() if not k.startswith("STACKSTEP_")}
        env["STACKSTEP_PLAIN"] = "1"
        proc = subprocess.run(
            [sys.executable, "-m", "stackstep", "upgrade", "-i", str(done.inventory), "--yes",
             "--state-dir", str(tmp_path / "state")],
            capture_output=True, text=True, timeout=900, env=env, check=False,
        )  # fmt: skip
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert "flamingo" in out and "gazpacho" in out

        # the package, the schema and the running code are the new release's
        assert "openstack-keystone-29.1.0" in sh(lab, "rpm -q openstack-keystone")
        assert db_version(lab) == "742c857f1dfb"
        assert "keystone-29.1.0" in sh(lab, "systemctl show -p ExecStart httpd")
        # the site's edit survived; the new default was set aside and reported
        assert "expiration = 28800" in sh(lab, "cat /etc/keystone/keystone.conf")
        assert "/etc/keystone/keystone.conf.rpmnew" in out
        # the health gate issued a real token on the new code
        log = re.search(r"log: (\S+)", out)
        assert log, out
        text = Path(log.group(1)).read_text()
        assert "smoke `curl" in text
        assert " ok" in text
        # preflight ran keystone's own upgrade check with the installed code, as keystone
        check = re.search(
            r"runuser -u keystone -- keystone-status upgrade check\n\s+exit (\d)", text
        )
        assert check, text[:3000]
        assert check.group(1) in ("0", "1")  # 1: warnings, reported, not blocking
        # and again with the new code, after the package upgrade, before db_sync
        new = re.search(
            r"step-finished\s+\[controller\] services/keystone/controller/upgrade-check "
            r"(all upgrade checks passed|WARNINGS)",
            text,
        )
        assert new, text[-3000:]
        assert text.index("keystone/controller/upgrade-check") < text.index("db_sync")

        new_token = issue_token(lab)
        assert validate(lab, new_token, old_token) == "200"
        assert validate(lab, new_token, "not-a-token") == "404"
    finally:
        lab.destroy()
