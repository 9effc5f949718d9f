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
    "option-like-release-name": (
        'release = [\n  { name = "-x", version = "2027.1" },\n]\n',
        [":2:", "release[0].name", "release name '-x' starts with '-'"],
    ),
    "file-action-params": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n'
        '[[service.post_upgrade]]\nname = "rename"\nkind = "rename-configs"\n'
        'params = { from_dir = "etc/q", to_dir = "/etc/n", suffix = "/../x", replace = "q", '
        'with = "n" }\n',
        [
            ":12: service[0].post_upgrade[0].params.from_dir: path 'etc/q' is not an absolute",
            ":12: service[0].post_upgrade[0].params.suffix: file suffix '/../x' is not",
        ],
    ),
    "before-stop-after-the-upgrade": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n'
        '[[service.post_upgrade]]\nname = "x"\nargv = ["true"]\nbefore_stop = true\n',
        [":12:", "post_upgrade[0].before_stop", "applies to pre_upgrade hooks only"],
    ),
    "rolling-key-typo": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n'
        '[service.rolling]\nhealthcheck_disabled = "/etc/k/x"\n',
        [":10:", "service[0].rolling", "unknown key 'healthcheck_disabled'", "did you mean"],
    ),
    "rolling-relative-disable-file": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n'
        '[service.rolling]\nhealthcheck_disable = "etc/k/x"\n',
        [":10:", "rolling.healthcheck_disable", "is not an absolute path"],
    ),
    "guard-without-test": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n'
        '[[service.migrate]]\nname = "x"\nargv = ["true"]\nwhen = { argv = ["true"] }\n',
        [":12:", "migrate[0].when", "needs output_matches = REGEX or exit = [CODES]"],
    ),
    "guard-bad-exit": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n'
        '[[service.migrate]]\nname = "x"\nargv = ["true"]\n'
        'when = { argv = ["true"], exit = [300] }\n',
        [":12:", "migrate[0].when.exit", "exit statuses (0-255)"],
    ),
    "again-exit-zero": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n'
        '[[service.post_start]]\nname = "x"\nargv = ["true"]\nagain_exit = 0\n',
        [":12:", "post_start[0].again_exit", "out of range"],
    ),
    "ini-ensure-newline-value": (
        'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
        'packages = { rpm = ["*keystone*"], deb = ["keystone"] }\n'
        '[[service.component]]\nname = "keystone"\nunits = { rpm = ["a"], deb = ["a"] }\n'
        '[service.rolling]\n[[service.rolling.before_start]]\nname = "x"\nkind = "ini-ensure"\n'
        'params = { file = "/etc/n.conf", section = "a", key = "b", value = "x\\ny" }\n',
        [":13:", "before_start[0].params.value", "control character"],
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


# --- hostile input (issue 11, defects 2, 5 and 6): exit 2, file:line and key, bounded ---

CTL = "hosts:\n  ctl:\n    address: 127.0.0.1\n    roles: [controller]\n"


def _bomb() -> str:
    """The billion laughs: 9 levels of 9 aliases each, 9**9 strings once expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _ini_chain(depth: int) -> str:
    lines = ["[g0]", "h1 ansible_host=127.0.0.1"]
    for i in range(depth):
        lines += [f"[g{i + 1}:children]", f"g{i}"]
    lines += ["[controller:children]", f"g{depth}"]  # h1, at the bottom, is a controller
    return "\n".join(lines) + "\n"


def bounded(*args: str, seconds: float = 30) -> tuple[int | None, str, float]:
    """Run stackstep in a child with 1 GB of address space; None if it ran out of time."""
    import resource
    import time

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "stackstep", *args],
            capture_output=True,
            text=True,
            timeout=seconds,
            preexec_fn=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, "", time.monotonic() - started
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


def load_time(path: Path) -> float:
    """CPU seconds the loader takes to refuse ``path`` (it must refuse it); CPU, not wall
    time, so that a loaded machine does not fail the test."""
    import time

    from stackstep.errors import InventoryError
    from stackstep.inventory.loader import load_inventory

    started = time.process_time()
    with pytest.raises(InventoryError):
        load_inventory(path)
    return time.process_time() - started


# name -> (file name, text, fragments of the message)
HOSTILE_INVENTORIES = {
    "alias-bomb": ("cloud.yaml", _bomb() + CTL, ["cloud.yaml:", "alias", "expand"]),
    "huge-range": (
        "cloud.yaml",
        "hosts:\n  c[1:100000000]:\n    roles: [compute]\n",
        ["cloud.yaml:2:", "hosts.c[1:100000000]", "100000000 names", "100000"],
    ),
    "huge-address-range": (
        "cloud.yaml",
        "hosts:\n  c:\n    address: 10.[0:255].[0:255].[0:255]\n",
        ["cloud.yaml:3:", "hosts.c.address", "100000"],
    ),
    "many-ranges-in-one-file": (
        "hosts.ini",
        "".join(f"[g{i}]\nc[1:90000]\n" for i in range(40)),
        ["hosts.ini:", "more than 100000"],
    ),
    "recursive-alias": ("cloud.yaml", "x: &r [*r]\n" + CTL, ["cloud.yaml:1:", "recursive alias"]),
    "deep-yaml": (
        "cloud.yaml",
        "hosts: " + "[" * 900 + "]" * 900 + "\n",
        ["cloud.yaml:1:", "deep"],
    ),
    "deep-ansible-yaml": (
        "hosts.yml",
        "all:\n  children:\n"
        + "".join(
            f"{'  ' * (2 * i + 2)}g{i}:\n{'  ' * (2 * i + 3)}children:\n" for i in range(450)
        ),
        ["hosts.yml:", "deep"],
    ),
    "lone-surrogate": (
        "cloud.yaml",
        'cloud: "lab\\udc80"\n' + CTL,
        ["cloud.yaml:1:", "cloud", "surrogate"],
    ),
    "env-key-runs-a-command": (
        "cloud.yaml",
        CTL + "    env:\n      \"-S sh -c 'touch pwned' #\": x\n",
        ["cloud.yaml:6:", "hosts.ctl.env", "-S sh -c", "[A-Za-z_][A-Za-z0-9_]*"],
    ),
    "env-key-with-equals": (
        "cloud.yaml",
        CTL + "    env:\n      A=B: x\n",
        ["cloud.yaml:6:", "hosts.ctl.env.A=B", "not a valid environment variable name"],
    ),
    "env-key-in-defaults": (
        "cloud.yaml",
        "defaults:\n  env:\n    1BAD: x\n" + CTL,
        ["cloud.yaml:3:", "defaults.env.1BAD"],
    ),
    "newline-in-cloud-name": (
        "cloud.yaml",
        'cloud: "lab\\n  1. FAKE"\n' + CTL,
        ["cloud.yaml:1:", "cloud", "control character"],
    ),
    "newline-in-host-name": (
        "cloud.yaml",
        'hosts:\n  "ctl\\n  1. FAKE STEP":\n    address: 127.0.0.1\n    roles: [controller]\n',
        ["cloud.yaml:2:", "host name", "\\n"],
    ),
    "option-like-host-name": (
        "cloud.yaml",
        "hosts:\n  -oProxyCommand=x:\n    address: 127.0.0.1\n    roles: [controller]\n",
        ["cloud.yaml:2:", "-oProxyCommand=x", "host name"],
    ),
    "address-with-url-characters": (
        "cloud.yaml",
        "hosts:\n  ctl:\n    address: evil.example/x?y@10.0.0.1\n    roles: [controller]\n",
        ["cloud.yaml:3:", "hosts.ctl.address", "IP address or a DNS name"],
    ),
    "address-with-space": (
        "cloud.yaml",
        "hosts:\n  ctl:\n    address: 10.0.0.1 -p 1\n    roles: [controller]\n",
        ["cloud.yaml:3:", "hosts.ctl.address"],
    ),
    "option-like-user": (
        "cloud.yaml",
        CTL + "    user: -oProxyCommand=touch\n",
        ["cloud.yaml:5:", "hosts.ctl.user", "user name"],
    ),
    "migrate-typo": (
        "cloud.yaml",
        CTL + "    migrate: [nvoa]\n",
        ["cloud.yaml:5:", "hosts.ctl.migrate", "'nvoa'", "did you mean 'nova'"],
    ),
    "smoke-unknown-service": (
        "cloud.yaml",
        CTL + "smoke:\n  nvoa: [nova list]\n",
        ["cloud.yaml:6:", "smoke.nvoa", "unknown service 'nvoa'"],
    ),
    "smoke-service-not-in-series": (
        "cloud.yaml",
        CTL + "smoke:\n  placement: [openstack resource provider list]\n",
        ["cloud.yaml:6:", "smoke.placement", "unknown service 'placement'"],
    ),
    "ini-bad-section": (
        "hosts.ini",
        "[control]\nctl1\n[bad group]\nx\n",
        ["hosts.ini:3: [bad group]: invalid section header"],
    ),
    "ansible-host-with-url-characters": (
        "hosts.ini",
        "[controller]\nctl1 ansible_host=10.0.0.1/evil\n",
        ["hosts.ini:2:", "ansible_host", "IP address or a DNS name"],
    ),
    "ansible-port-not-a-port": (
        "hosts.ini",
        "[controller]\nctl1 ansible_port=70000\nctl2 ansible_port=ssh\n",
        ["hosts.ini:2: ctl1.ansible_port: ansible_port 70000", "hosts.ini:3: ctl2.ansible_port"],
    ),
    "ansible-package-manager-typo": (
        "hosts.ini",
        "[controller]\nctl1 stackstep_package_manager=yumm\n",
        ["hosts.ini:2: ctl1.stackstep_package_manager: 'yumm' is not allowed"],
    ),
    "ansible-user-option-like": (
        "hosts.ini",
        "[controller]\nctl1 ansible_user=-oProxyCommand=x\n",
        ["hosts.ini:2:", "ansible_user", "user name"],
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_INVENTORIES))
def test_hostile_inventory_is_refused_clearly_and_quickly(name, tmp_path):
    file, text, fragments = HOSTILE_INVENTORIES[name]
    path = tmp_path / file
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    code, out, _seconds = bounded("plan", "-i", str(path), "--from", "grizzly")
    assert code == 2, out
    assert "Traceback" not in out and "internal error" not in out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in:\n{out}"
    if name not in ("smoke-unknown-service", "smoke-service-not-in-series", "migrate-typo"):
        assert load_time(path) < 2.0


def test_nothing_runs_from_an_env_key(tmp_path):
    path = tmp_path / "cloud.yaml"
    marker = tmp_path / "pwned"
    path.write_text(
        "hosts:\n  me:\n    transport: local\n    roles: [controller]\n"
        f"    env:\n      \"-S sh -c 'touch {marker}' #\": x\n"
    )
    code, out, _ = bounded("discover", "-i", str(path))
    assert code == 2 and "me.env" in out, out
    assert not marker.exists()


@pytest.mark.parametrize("depth", [500, 2000])
def test_long_ini_children_chain_is_read_without_recursion(depth, tmp_path):
    path = tmp_path / "hosts.ini"
    path.write_text(_ini_chain(depth))
    code, out, _ = bounded("plan", "-i", str(path), "--from", "grizzly", "--json")
    assert "internal error" not in out and "Traceback" not in out, out
    assert code == 0 and '"h1"' in out


@pytest.mark.parametrize(
    ("files", "fragments"),
    [
        ({"cloud.yaml": "ansible: cloud.yaml\n"}, ["cloud.yaml:1:", "ansible", "includes itself"]),
        (
            {"a.yaml": "ansible: b.yaml\n", "b.yaml": "ansible: a.yaml\n"},
            ["b.yaml:1:", "ansible", "includes itself"],
        ),
        ({"a.yaml": "ansible: /dev/zero\n"}, ["a.yaml:1:", "ansible", "not a regular file"]),
        ({"a.yaml": "ansible: .\n"}, ["a.yaml:1:", "ansible", "not a regular file"]),
    ],
)
def test_ansible_key_cannot_loop_or_read_forever(files, fragments, tmp_path):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    first = tmp_path / next(iter(files))
    code, out, _ = bounded("plan", "-i", str(first), "--from", "grizzly")
    assert code == 2, out
    assert "internal error" not in out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in:\n{out}"
    assert load_time(first) < 2.0


def test_inventory_larger_than_the_cap_is_refused_unread(tmp_path):
    path = tmp_path / "cloud.yaml"
    with path.open("wb") as handle:
        handle.write(b"hosts: {}\n")
        handle.truncate(17 * 1024 * 1024)
    code, out, _ = bounded("plan", "-i", str(path), "--from", "grizzly")
    assert code == 2 and "cloud.yaml" in out and "16 MiB" in out, out
    code, out, _ = bounded("plan", "-i", "/dev/zero", "--from", "grizzly")
    assert code == 2 and "not a regular file" in out, out


HOSTILE_CATALOGS = {
    "deep-toml": (b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n", ["site.toml:1:", "deep"]),
    "not-utf8": (b'series = "rdo-2013"\n# caf\xe9\n', ["site.toml", "not a UTF-8 text file"]),
}

SERVICE = (
    'series = "rdo-2013"\n\n[[service]]\nname = "keystone"\n'
    'packages = {{ rpm = ["{package}"], deb = ["keystone"] }}\n'
    "config_dirs = [{config_dir}]\n"
    '[[service.component]]\nname = "keystone"\nunits = {{ rpm = ["{unit}"], deb = ["a"] }}\n'
    '[[service.migrate]]\nname = "db-sync"\nargv = ["keystone-manage", "db_sync"]\n'
    'user = "{user}"\n'
)
GOOD = {"package": "*keystone*", "config_dir": '"/etc/keystone"', "unit": "k", "user": "keystone"}
BAD_CATALOG_VALUES = {
    "unit": ("-Hroot@10.0.0.1", [":9:", "service[0].component[0].units.rpm[0]", "unit name"]),
    "package": ("--setopt=x", [":5:", "service[0].packages.rpm[0]", "package name"]),
    "config_dir": ('"etc/keystone"', [":6:", "service[0].config_dirs[0]", "absolute path"]),
    "user": ("-oFoo", [":13:", "service[0].migrate[0].user", "user name"]),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_CATALOGS))
def test_hostile_catalog_is_refused_clearly(name, tmp_path):
    data, fragments = HOSTILE_CATALOGS[name]
    path = tmp_path / "site.toml"
    path.write_bytes(data)
    code, out, _seconds = bounded("catalog", "--catalog", str(path))
    assert code == 2, out
    assert "internal error" not in out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in:\n{out}"


@pytest.mark.parametrize("name", sorted(BAD_CATALOG_VALUES))
def test_option_like_catalog_value_is_refused(name, tmp_path):
    value, fragments = BAD_CATALOG_VALUES[name]
    path = tmp_path / "site.toml"
    path.write_text(SERVICE.format(**{**GOOD, name: value}))
    code, out = run("catalog", "--catalog", str(path))
    assert code == 2, out
    for fragment in ["site.toml", *fragments]:
        assert fragment in out, f"{fragment!r} not in:\n{out}"


def test_the_good_catalog_values_pass(tmp_path):
    path = tmp_path / "site.toml"
    path.write_text(SERVICE.format(**GOOD))
    code, out = run("catalog", "--catalog", str(path))
    assert code == 0, out


@pytest.mark.parametrize(
    ("text", "args", "fragments"),
    [
        (
            "cloud: c\nrelease: grizz\nhosts:\n  ctl: {roles: [controller]}\n",
            [],
            ["cloud.yaml:2: release: unknown release 'grizz'", "did you mean 'grizzly'"],
        ),
        (
            "release: grizzly\ntarget: hvana\nhosts:\n  ctl: {roles: [controller]}\n",
            [],
            ["cloud.yaml:2: target: unknown release 'hvana'", "did you mean 'havana'"],
        ),
        (  # the option, when given, is what is named
            "release: grizzly\nhosts:\n  ctl: {roles: [controller]}\n",
            ["--to", "hvana"],
            ["--to: unknown release 'hvana'", "did you mean 'havana'"],
        ),
        (  # PyYAML gives an offset only: the line is counted from it
            'release: grizzly\nhosts:\n  ctl: {roles: [controller]}\ncloud: "a\0b"\n',
            [],
            ["cloud.yaml:4: not valid YAML: character U+0000 is not allowed"],
        ),
    ],
)
def test_a_release_typo_or_a_control_character_names_its_line(text, args, fragments, tmp_path):
    path = tmp_path / "cloud.yaml"
    path.write_text(text)
    code, out = run("plan", "-i", str(path), *args)
    assert code == 2, out
    assert "--from" not in out and "Traceback" not in out
    for fragment in fragments:
        assert fragment in out, f"{fragment!r} not in:\n{out}"
