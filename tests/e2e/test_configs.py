"""`stackstep configs`: after a run whose package upgrade set an edited keystone.conf's new
default aside as .rpmnew, the file is listed with a diff, and merged (three-way with the
old package from a cache, two-way without), kept or accepted, each journalled.

The fake host's ``yum`` writes the .rpmnew files when keystone is upgraded, as yum does
for an edited ``%config(noreplace)`` file; ``find`` is the real one and ``rpm`` answers
``-qf`` for keystone's files; the old package in the cache is a real RPM (rpmbuild)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat

import pytest

from pkgbuild import build_rpm, have
from stackstep_testing import ROOT

CONFIGS = ROOT / "tests" / "data" / "configs"
KEYSTONE_OLD, KEYSTONE_LIVE, KEYSTONE_NEW = (
    (CONFIGS / f"keystone.conf.{v}").read_text() for v in ("grizzly", "site", "havana")
)
PASTE_OLD = "[pipeline:public_api]\npipeline = token_auth json_body public_service\n"
PASTE_LIVE = "[pipeline:public_api]\npipeline = token_auth json_body site_audit public_service\n"
PASTE_NEW = "[pipeline:public_api]\npipeline = access_log token_auth json_body public_service\n"
POLICY_LIVE = '{\n    "admin_required": "role:admin or role:site_admin"\n}\n'
POLICY_NEW = '{\n    "admin_required": "role:admin or is_admin:1"\n}\n'
LOGGING_LIVE = "[loggers]\nkeys = root\n"
LOGGING_NEW = "[loggers]\nkeys = root,keystone\n"
FILES = {  # name: (old default, live, new default)
    "keystone.conf": (KEYSTONE_OLD, KEYSTONE_LIVE, KEYSTONE_NEW),
    "keystone-paste.ini": (PASTE_OLD, PASTE_LIVE, PASTE_NEW),
    "policy.json": (POLICY_NEW, POLICY_LIVE, POLICY_NEW),
    "logging.conf": (LOGGING_LIVE, LOGGING_LIVE, LOGGING_NEW),
}


def wrap(cloud, host: str, tool: str, script: str) -> None:
    """Put ``script`` in front of the fake ``tool`` on ``host``."""
    bin_dir, real = cloud.host(host) / "bin", cloud.host(host) / "real"
    real.mkdir(exist_ok=True)
    (real / tool).symlink_to(os.readlink(bin_dir / tool))
    (bin_dir / tool).unlink()
    (bin_dir / tool).write_text(f'#!/bin/sh\n{script}\nexec {real / tool} "$@"\n')
    (bin_dir / tool).chmod(0o755)


@pytest.fixture
def keystone(fake_cloud, tmp_path):
    """keystone's config directory on ctl, edited by the site; an upgrade sets the new
    defaults aside."""
    etc = fake_cloud.host("ctl") / "etc" / "keystone"
    news = tmp_path / "havana"
    etc.mkdir(parents=True)
    news.mkdir()
    copies = []
    for name, (_, live, new) in FILES.items():
        (etc / name).write_text(live)
        (etc / name).chmod(0o640)
        (news / name).write_text(new)
        copies.append(f"cp {shlex.quote(str(news / name))} {shlex.quote(str(etc / name))}.rpmnew")
    catalog = fake_cloud.catalog.read_text()
    fake_cloud.catalog.write_text(catalog.replace('"/etc/keystone"', f'"{etc}"'))
    (fake_cloud.host("ctl") / "bin" / "find").unlink()
    (fake_cloud.host("ctl") / "bin" / "find").symlink_to(shutil.which("find"))
    wrap(
        fake_cloud,
        "ctl",
        "yum",
        'case "$*" in *"upgrade -- *keystone*"*) ' + " && ".join(copies) + " ;; esac",
    )
    wrap(
        fake_cloud,
        "ctl",
        "rpm",
        '[ "$1" = -qf ] && { echo openstack-keystone; exit 0; }\n'
        '[ "$1" = -q ] && [ "$2" = --qf ] && { echo "(none):2013.2-1.el6"; exit 0; }',
    )
    return etc


def upgrade(cloud) -> str:
    proc = cloud.stackstep("upgrade", *cloud.args("--yes"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return re.search(r"run (\d{8}-\d{6}-[0-9a-f]{4})", proc.stdout).group(1)


def configs(cloud, *args: str):
    return cloud.stackstep("configs", *args, "--state-dir", str(cloud.state))


def old_package_cache(tmp_path, etc):
    cache = tmp_path / "cache"
    cache.mkdir()
    files = {str(etc / name): old for name, (old, _, _) in FILES.items()}
    rpm = build_rpm(tmp_path, "openstack-keystone", "2013.1.4", "1.el6", files)
    shutil.copy(rpm, cache)
    return cache


def test_the_upgrade_lists_them_and_configs_diffs_them(fake_cloud, keystone):
    run = upgrade(fake_cloud)
    listed = configs(fake_cloud)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    out = listed.stdout
    assert f"run {run}: 4 config file(s) set aside" in out
    assert f"{keystone}/keystone.conf.rpmnew (rpmnew: new default set aside)" in out
    assert f"--- yours: {keystone}/keystone.conf" in out
    assert f"+++ new default: {keystone}/keystone.conf.rpmnew" in out
    assert "-expiration = 28800" in out
    assert "+provider = keystone.token.providers.pki.Provider" in out
    assert "-admin_token = ******" in out  # secrets masked
    assert "-connection = mysql://keystone:******@10.0.0.10/keystone" in out
    assert "Kp4ss" not in out and "7a1e0f2c" not in out
    body = json.loads(configs(fake_cloud, run, "--json").stdout)
    files = body["hosts"][0]["files"]
    assert body["hosts"][0]["host"] == "ctl" and len(files) == 4
    assert {f["set_aside"] for f in files} == {"new-default"}


@pytest.mark.skipif(
    not (have("rpmbuild", "rpm2cpio") and (have("cpio") or have("rpm2archive"))),
    reason="needs rpmbuild, rpm2cpio and cpio or rpm2archive",
)
def test_three_way_merge_keep_and_accept(fake_cloud, keystone, tmp_path):
    cache = old_package_cache(tmp_path, keystone)
    run = upgrade(fake_cloud)
    live = keystone / "keystone.conf"
    cached = ("--package-cache", str(cache))

    look = configs(fake_cloud, "merge", str(live), "--host", "ctl", *cached, "--dry-run")
    assert look.returncode == 0, look.stdout + look.stderr
    assert "three-way: old default from openstack-keystone-2013.1.4-1.el6.noarch.rpm" in look.stdout
    assert "+provider = keystone.token.providers.pki.Provider" in look.stdout
    assert live.read_text() == KEYSTONE_LIVE

    done = configs(fake_cloud, "merge", str(live), "--host", "ctl", *cached, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    merged = live.read_text()
    assert "# admin_token = ADMIN\nadmin_token = 7a1e0f2c\n" in merged
    assert "connection = mysql://keystone:Kp4ss@10.0.0.10/keystone" in merged
    assert "provider = keystone.token.providers.pki.Provider" in merged
    assert "# site: tokens live 8 hours (security review 2013-09)\nexpiration = 28800\n" in merged
    assert merged.endswith(
        "# site: our directory\n[ldap]\nurl = ldap://ldap.example.com\nsuffix = dc=example,dc=com\n"
    )
    assert "that can be used to bootstrap Keystone" in merged  # the new comments
    assert stat.S_IMODE(live.stat().st_mode) == 0o640  # written in place
    assert (keystone / f"keystone.conf.stackstep-{run}").read_text() == KEYSTONE_LIVE
    assert not (keystone / "keystone.conf.rpmnew").exists()

    # both sides changed the pipeline: refused (exit 4) until someone chooses
    paste = str(keystone / "keystone-paste.ini")
    clash = configs(fake_cloud, "merge", paste, "--host", "ctl", *cached, "--yes")
    assert clash.returncode == 4, clash.stdout + clash.stderr
    assert "CONFLICT [pipeline:public_api] pipeline" in clash.stdout
    assert "1 conflict(s)" in clash.stderr and "--resolve" in clash.stderr
    assert (keystone / "keystone-paste.ini").read_text() == PASTE_LIVE
    pick = ("--theirs", "pipeline:public_api.pipeline", "--yes")
    chosen = configs(fake_cloud, "merge", paste, "--host", "ctl", *cached, *pick)
    assert chosen.returncode == 0, chosen.stdout + chosen.stderr
    assert (keystone / "keystone-paste.ini").read_text() == PASTE_NEW

    policy = str(keystone / "policy.json")
    assert configs(fake_cloud, "merge", policy, "--host", "ctl", "--yes").returncode == 2
    accepted = configs(fake_cloud, "accept", policy, "--host", "ctl", "--yes")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert (keystone / "policy.json").read_text() == POLICY_NEW
    assert (keystone / f"policy.json.stackstep-{run}").read_text() == POLICY_LIVE

    kept = configs(fake_cloud, run, "keep", str(keystone / "logging.conf.rpmnew"), "--yes")
    assert kept.returncode == 0, kept.stdout + kept.stderr  # the one host holding it
    assert (keystone / "logging.conf").read_text() == LOGGING_LIVE
    assert not (keystone / "logging.conf.rpmnew").exists()

    after = configs(fake_cloud)
    assert "0 config file(s) set aside" in after.stdout
    assert f"done earlier on ctl: configs merge {live}" in after.stdout
    body = json.loads(configs(fake_cloud, "--json").stdout)
    assert [d["configs"]["action"] for d in body["done"]] == ["merge", "merge", "accept", "keep"]
    assert body["done"][0]["configs"]["mode"] == "three-way"
    log = (fake_cloud.state / "runs" / run / "run.log").read_text()
    assert f"configs merge {live}" in log and "Kp4ss" not in log


def test_two_way_merge_without_the_old_package(fake_cloud, keystone):
    upgrade(fake_cloud)
    live = str(keystone / "keystone.conf")
    done = configs(fake_cloud, "merge", live, "--host", "ctl", "--no-download", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "two-way, base not recoverable: no older openstack-keystone package" in done.stdout
    assert "[token] expiration: kept local value (not in the new default)" in done.stdout
    merged = (keystone / "keystone.conf").read_text()
    assert "expiration = 28800" in merged
    assert "provider = keystone.token.providers.pki.Provider" in merged


def test_mistakes_are_named_with_what_to_do(fake_cloud, keystone):
    upgrade(fake_cloud)
    live = str(keystone / "keystone.conf")
    unknown = configs(fake_cloud, "merge", live, "--host", "nohost", "--yes")
    assert unknown.returncode == 2
    assert "no host 'nohost'" in unknown.stderr and "ctl" in unknown.stderr
    nothing = configs(fake_cloud, "keep", "/etc/nova/nova.conf", "--host", "ctl", "--yes")
    assert nothing.returncode == 2
    assert "nothing is set aside for /etc/nova/nova.conf" in nothing.stderr
    asked = configs(fake_cloud, "accept", live, "--host", "ctl")
    assert asked.returncode == 2 and "--yes" in asked.stderr
    assert (keystone / "keystone.conf").read_text() == KEYSTONE_LIVE
    wrong = configs(fake_cloud, "frobnicate", live)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "[RUN] [ACTION PATH]" in wrong.stderr
