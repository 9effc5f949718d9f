import shutil
import subprocess
from pathlib import Path

import pytest

from stackstep.drivers.dpkg import (
    dpkg_query_command,
    list_upgradable_command,
    parse_apt_list_upgradable,
    parse_apt_simulate,
    parse_dpkg_query,
    simulate_upgrade_command,
)
from stackstep.drivers.versions import Upgrade, deb_version_key

OUTPUTS = Path(__file__).resolve().parents[2] / "data" / "outputs"


def read(tool: str, name: str) -> str:
    return (OUTPUTS / tool / name).read_text()


def test_commands():
    assert dpkg_query_command(["openssh*"]).reveal() == [
        "dpkg-query",
        "-W",
        r"-f=${Package}\t${Version}\t${db:Status-Abbrev}\n",
        "--",
        "openssh*",
    ]
    assert simulate_upgrade_command().render() == "LC_ALL=C apt-get -s dist-upgrade"
    assert list_upgradable_command().render() == "LC_ALL=C apt list --upgradable"


def test_openssh_client_installed_server_only_known_by_name():
    packages = parse_dpkg_query(read("dpkg-query", "host-openssh.txt"))
    assert list(packages) == ["openssh-client"]
    assert packages["openssh-client"].version == "1:9.2p1-2+deb12u6"


def test_python3_packages_of_this_machine():
    packages = parse_dpkg_query(read("dpkg-query", "host-python3.txt"))
    assert len(packages) == 46  # of 74 lines: the others are "un" (known, not installed)
    assert packages["python3"].version == "3.11.2-1+b1"
    assert packages["python3.11"].version == "3.11.2-6+deb12u6"


def test_no_package_matches():
    assert parse_dpkg_query(read("dpkg-query", "host-none-rc1.txt")) == {}


def test_removed_package_with_config_kept_is_not_installed():
    before = parse_dpkg_query(read("dpkg-query", "scratch-openstack.txt"))
    after = parse_dpkg_query(read("dpkg-query", "scratch-after-upgrade.txt"))
    assert "nova-scheduler" not in before  # "rc": removed, its configuration kept
    assert before["nova-api"].version == "2:27.1.0-1"
    assert after["nova-api"].version == "2:27.2.0-1"
    assert after["python3-nova"].version == "2:27.1.0-1"


def test_held_package_counts_as_installed():
    assert list(parse_dpkg_query("nova-api\t2:27.1.0-1\thi \n")) == ["nova-api"]


def test_simulated_dist_upgrade_with_a_new_kernel_abi():
    upgrades = parse_apt_simulate(read("apt", "scratch-simulate-dist-upgrade.txt"))
    by_name = {u.name: u for u in upgrades}
    assert len(upgrades) == 6
    assert by_name["nova-api"] == Upgrade(
        "nova-api", "2:27.2.0-1", "all", current="2:27.1.0-1", origin="localhost"
    )
    new_kernel = by_name["linux-image-6.1.0-28-amd64"]
    assert new_kernel.current is None and new_kernel.version == "6.1.119-1"
    quiet = parse_apt_simulate(read("apt", "scratch-simulate-dist-upgrade-quiet.txt"))
    assert quiet == upgrades


def test_simulated_dist_upgrade_of_this_machine():
    upgrades = parse_apt_simulate(read("apt", "host-simulate-dist-upgrade.txt"))
    by_name = {u.name: u for u in upgrades}
    assert len(upgrades) == 128
    ssh = by_name["openssh-client"]
    assert (ssh.current, ssh.version, ssh.arch) == (
        "1:9.2p1-2+deb12u6",
        "1:9.2p1-2+deb12u10",
        "amd64",
    )
    # an origin naming two suites, and apt's trailing "[]"
    py = by_name["python3.11"]
    assert py.origin == "Debian-Security:12/oldstable-security" and py.version == "3.11.2-6+deb12u9"
    assert all(deb_version_key(u.version) > deb_version_key(u.current or "") for u in upgrades)


def test_apt_list_upgradable():
    scratch = parse_apt_list_upgradable(read("apt", "scratch-list-upgradable.txt"))
    assert [u.name for u in scratch] == [
        "glance-common",
        "linux-image-amd64",
        "nova-api",
        "nova-common",
        "python3-nova",
    ]
    assert scratch[2].current == "2:27.1.0-1" and scratch[2].version == "2:27.2.0-1"
    host = parse_apt_list_upgradable(read("apt", "host-list-upgradable.txt"))
    simulated = parse_apt_simulate(read("apt", "host-simulate-dist-upgrade.txt"))
    assert {(u.name, u.version) for u in host} == {(u.name, u.version) for u in simulated}


# --- live: this machine's own dpkg and apt --------------------------------------------


@pytest.mark.skipif(not shutil.which("dpkg-query"), reason="dpkg-query not installed")
def test_live_dpkg_query_here():
    command = dpkg_query_command(["dpkg", "no-such-package-*"])
    out = subprocess.run(command.reveal(), capture_output=True, text=True, check=False)
    assert out.returncode == 1  # one glob matched nothing
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "dpkg"], capture_output=True, text=True, check=True
    ).stdout
    assert parse_dpkg_query(out.stdout)["dpkg"].version == version


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("apt-get"), reason="apt-get not installed")
def test_live_apt_simulation_here():
    command = simulate_upgrade_command()
    env = dict(command.env)
    out = subprocess.run(
        command.reveal(),
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    installed = parse_dpkg_query(
        subprocess.run(
            dpkg_query_command(["*"]).reveal(), capture_output=True, text=True, check=True
        ).stdout
    )
    for upgrade in parse_apt_simulate(out.stdout):
        if upgrade.current is not None:
            assert installed[upgrade.name.split(":")[0]].version == upgrade.current
