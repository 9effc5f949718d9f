"""Bad input gets one clear message (file:line, key, what to do) and exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stackstep.cli.commands import register
from stackstep.cli.main import cli

register(cli)

GOOD_HOSTS = """
hosts:
  ctl:
    address: 127.0.0.1
    roles: [controller]
"""

# name -> (inventory text, expected fragments of the message: "LINE" is replaced by
# ":<line>:" of the inventory file)
INVENTORY_MISTAKES = {
    "yaml-syntax": (
        "hosts:\n  ctl:\n    address: [127.0.0.1\n    roles: x\n",
        [":4:", "not valid YAML"],
    ),
    "top-level-typo": (
        "release: grizzly\nhost:\n  ctl: {}\n",
        [":2:", "unknown top-level key 'host'", "did you mean 'hosts'"],
    ),
    "missing-hosts": ("cloud: lab\nrelease: grizzly\n", ["missing required key 'hosts'"]),
    "port-not-number": (
        "hosts:\n  ctl:\n    port: twenty-two\n",
        [":3:", "hosts.ctl.port", "expected a whole number"],
    ),
    "port-out-of-range": ("hosts:\n  ctl:\n    port: 70000\n", [":3:", "out of range"]),
    "bad-range": (
        "hosts:\n  compute[01-20]:\n    roles: [compute]\n",
        [":2:", "hosts.compute[01-20]", "compute[01:20]"],
    ),
    "address-range-mismatch": (
        "hosts:\n  c[1:3]:\n    address: 10.0.0.[1:2]\n    roles: [compute]\n",
        [":3:", "2 addresses for 3 hosts"],
    ),
    "duplicate-host": (
        "hosts:\n  c[1:3]: {roles: [compute]}\n  c2: {roles: [compute]}\n",
        [":3:", "'c2' is defined twice", "first at line 2"],
    ),
    "host-key-typo": (
        "hosts:\n  ctl:\n    adress: 10.0.0.1\n",
        [":3:", "unknown key 'adress'", "did you mean 'address'"],
    ),
    "become-not-bool": ("hosts:\n  ctl:\n    become: please\n", [":3:", "true or false"]),
    "package-manager": (
        "defaults:\n  package_manager: apt-get\nhosts:\n  ctl: {}\n",
        [":2:", "defaults.package_manager", "did you mean 'apt'"],
    ),
    "roles-not-list": ("hosts:\n  ctl:\n    roles: 5\n", [":3:", "a list of strings"]),
    "unknown-role": (
        "hosts:\n  ctl:\n    roles: [controler]\n",
        [":2:", "'controler' is neither a role nor a service"],
    ),
    "duplicate-yaml-key": (
        "hosts:\n  ctl:\n    port: 22\n    port: 2222\n",
        [":4:", "duplicate key"],
    ),
    "conflicting-roles": (
        "hosts:\n  ctl: {roles: [controller]}\n  cmp:\n"
        "    roles: [compute, compute-nova-network]\n",
        [":3:", "conflicting roles compute and compute-nova-network", "not both"],
    ),
    "empty-file": ("", ["the inventory is empty"]),
    "not-a-mapping": ("- ctl\n- compute\n", [":1:", "expected a mapping"]),
    "migrate-on-wrong-host": (
        "hosts:\n  ctl: {roles: [controller]}\n  cmp:\n"
        "    roles: [compute]\n    migrate: [keystone]\n",
        ["cmp (line 3)", "does not run keystone"],
    ),
}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


@pytest.mark.parametrize("name", sorted(INVENTORY_MISTAKES))
def test_inventory_mistake_gives_one_clear_message(name, tmp_path):
    text, fragments = INVENTORY_MISTAKES[name]
    path = tmp_path / "cloud.yaml"
    path.write_text(text)
    code, out = run("plan", "-i", str(path), "--from", "grizzly")
    assert code == 2, out
    assert "Traceback" not in out
    assert "cloud.yaml" in out or "does not run" in out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in:\n{out}"


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "cloud.yaml"
    path.write_text("hosts:\n  a:\n    port: x\n    adress: y\n  b:\n    become: 3\n")
    code, out = run("plan", "-i", str(path), "--from", "grizzly")
    assert code == 2
    assert "3 problems in the inventory" in out
    assert ":3:" in out and ":4:" in out and ":6:" in out


def test_ansible_ini_mistake_names_its_line(tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text("[control]\nctl1\n\n[control:foo]\nx=1\n")
    code, out = run("plan", "-i", str(path), "--from", "grizzly")
    assert code == 2 and "hosts.ini:4:" in out


def test_missing_inventory_file(tmp_path):
    code, out = run("plan", "-i", str(tmp_path / "nope.yaml"), "--from", "grizzly")
    assert code == 2 and "cannot read the inventory" in out and "nope.yaml" in out


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--to", "hvana"], "unknown release 'hvana'"),
        (["--to", "icehouse"], "not an upgrade path"),
        (["--only", "nvoa"], "unknown service 'nvoa'"),
        (["--from", "icehouse", "--to", "juno"], "no service data for icehouse"),
    ],
)
def test_impossible_request_is_refused(args, fragment, tmp_path):
    path = tmp_path / "cloud.yaml"
    path.write_text("release: grizzly\n" + GOOD_HOSTS)
    code, out = run("plan", "-i", str(path), *args)
    assert code == 2 and fragment in out, out
    assert "hint:" in out


def test_not_an_upgrade_path_says_where_one_can_go(tmp_path):
    path = tmp_path / "cloud.yaml"
    path.write_text(GOOD_HOSTS)
    code, out = run("plan", "-i", str(path), "--from", "2023.1", "--to", "2025.1")
    assert code == 2
    assert "from antelope you can go to bobcat (2023.2) or caracal (2024.1)" in out


CATALOG_MISTAKES = {
    "toml-syntax": ('series = "rdo-2013"\n[[service]\nname = "x"\n', [":2:", "not valid TOML"]),
    "service-key-typo": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\nmigrate_onn = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n',
        [":5:", "unknown key 'migrate_onn'", "did you mean 'migrate_on'"],
    ),
    "after-cycle": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\nafter = ["nova"]\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n',
        ["form a cycle", "keystone -> nova -> keystone"],
    ),
    "migrate-on-unknown-component": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\nmigrate_on = "api"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n',
        [":5:", "service[0].migrate_on", "no component named 'api'"],
    ),
    "bad-release-version": (
        'release = [\n  { name = "zebra", version = "2027.3" },\n]\n',
        [":2:", "release[0].version", "YYYY.1 or YYYY.2"],
    ),
    "unknown-series": ('series = "folsom"\n', [":1:", "no series named 'folsom'"]),
    "hook-without-argv": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n'
        '[[service.migrate]]\nname = "db-sync"\n',
        [":9:", "needs argv"],
    ),
    "unknown-role-entry": (
        '[roles]\nweb = ["horizon", "apache"]\n',
        [":2:", "roles.web", "'apache' is neither a role nor"],
    ),
}


@pytest.mark.parametrize("name", sorted(CATALOG_MISTAKES))
def test_catalog_mistake_gives_one_clear_message(name, tmp_path):
    text, fragments = CATALOG_MISTAKES[name]
    path = tmp_path / "site.toml"
    path.write_text(text)
    code, out = run("catalog", "--catalog", str(path))
    assert code == 2, out
    assert "Traceback" not in out and "site.toml" in out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in:\n{out}"


def test_real_process_exit_code_and_no_traceback(tmp_path):
    path = tmp_path / "cloud.yaml"
    path.write_text("hosts:\n  ctl:\n    adress: 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "stackstep", "plan", "-i", str(path), "--from", "grizzly"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert f"{path}:3: hosts.ctl.adress: unknown key 'adress'" in proc.stderr


def test_json_mode_reports_errors_as_json(tmp_path):
    import json

    path = tmp_path / "cloud.yaml"
    path.write_text("hosts:\n  ctl:\n    port: x\n")
    proc = subprocess.run(
        [sys.executable, "-m", "stackstep", "plan", "-i", str(path), "--from", "grizzly", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    body = json.loads(proc.stdout)
    assert body["exit_code"] == 2
    assert body["error"]["problems"][0]["line"] == 3
    assert body["error"]["problems"][0]["key"] == "hosts.ctl.port"


def test_usage_error_exits_2(tmp_path: Path):
    code, _out = run("plan", "--parallel", "0", "-i", "x.yaml")
    assert code == 2
