import shutil
import subprocess
from pathlib import Path

import pytest

from stackstep.drivers.rpm import (
    check_update_command,
    list_upgrades_command,
    parse_check_update,
    parse_rpm_qa,
    parse_rpm_qa_list,
    rpm_qa_command,
    upgrades_pending,
)
from stackstep.drivers.versions import Upgrade

OUTPUTS = Path(__file__).resolve().parents[2] / "data" / "outputs"
SPEC = OUTPUTS / "_scripts" / "throwaway.spec"


def read(tool: str, name: str) -> str:
    return (OUTPUTS / tool / name).read_text()


def test_rpm_qa_command_keeps_the_format_literal():
    command = rpm_qa_command(["openstack-*"])
    assert command.reveal()[:3] == ["rpm", "-qa", "--qf"]
    assert command.reveal()[3].startswith(r"%{NAME}\t%{EPOCH}:")
    assert command.reveal()[-1] == "openstack-*"


def test_nova_installed_with_its_epoch():
    packages = parse_rpm_qa(read("rpm", "qa-nova.txt"))
    assert sorted(packages) == ["openstack-nova-api", "openstack-nova-common"]
    api = packages["openstack-nova-api"]
    assert (api.version, api.arch) == ("1:27.1.0-1.el9", "noarch")
    assert api.install_time is not None and api.install_time > 1_600_000_000


def test_package_without_epoch_has_plain_version():
    packages = parse_rpm_qa(read("rpm", "qa-all.txt"))
    assert packages["python-novaclient"].version == "17.0.0-1.el9"
    assert len(packages) == 7


def test_kernels_repeat_and_the_newest_version_wins():
    text = read("rpm", "qa-openstack.txt")
    kernels = [p.version for p in parse_rpm_qa_list(text) if p.name == "kernel"]
    assert sorted(kernels) == ["5.14.0-284.11.1.el9_2", "5.14.0-362.el9", "5.14.0-70.13.1.el9_0"]
    # 284 was installed last (a rollback), but 362 is the newest
    assert parse_rpm_qa(text)["kernel"].version == "5.14.0-362.el9"


def test_nothing_matches():
    assert parse_rpm_qa(read("rpm", "qa-none.txt")) == {}


def test_check_update_commands():
    assert (
        check_update_command("dnf", ["openstack-*"]).render()
        == "dnf -q check-update -- 'openstack-*'"
    )
    assert list_upgrades_command("dnf").render() == "dnf -q list --upgrades"
    assert list_upgrades_command("yum").render() == "yum -q list updates"


def test_exit_status_100_means_upgrades_pending():
    assert upgrades_pending(100) is True
    assert upgrades_pending(0) is False
    assert upgrades_pending(1) is None


def test_dnf_check_update_lists_upgrades_and_obsoletes():
    upgrades = parse_check_update(read("dnf", "check-update-quiet-rc100.txt"))
    by_name = {u.name: u for u in upgrades}
    assert sorted(by_name) == [
        "kernel",
        "openstack-nova-api",
        "openstack-nova-common",
        "python3-neutron-dynamic-routing-tests-tempest-plugin",
        "python3-nova",
        "python3-novaclient",
    ]
    assert by_name["openstack-nova-common"] == Upgrade(
        "openstack-nova-common", "1:27.2.0-1.el9", "noarch", origin="rec"
    )
    assert by_name["kernel"].version == "5.14.0-427.13.1.el9_4"
    assert by_name["python3-novaclient"].replaces == "python-novaclient"


def test_dnf_chatter_without_quiet_is_ignored():
    quiet = parse_check_update(read("dnf", "check-update-quiet-rc100.txt"))
    assert parse_check_update(read("dnf", "check-update-verbose-rc100.txt")) == quiet


def test_dnf_check_update_of_a_glob():
    upgrades = parse_check_update(read("dnf", "check-update-nova-glob-rc100.txt"))
    assert [(u.name, u.version) for u in upgrades] == [
        ("openstack-nova-api", "1:27.2.0-1.el9"),
        ("openstack-nova-common", "1:27.2.0-1.el9"),
    ]


def test_dnf_list_upgrades():
    upgrades = parse_check_update(read("dnf", "list-upgrades-quiet.txt"))
    assert len(upgrades) == 5 and all(u.replaces is None for u in upgrades)


def test_nothing_to_upgrade():
    assert parse_check_update(read("dnf", "check-update-none-rc0.txt")) == []
    assert parse_check_update(read("dnf", "list-upgrades-none.txt")) == []


def test_yum_rhel7_wrapped_long_name():
    upgrades = parse_check_update(read("yum", "check-update-rhel7-rc100.handwritten.txt"))
    by_name = {u.name: u for u in upgrades}
    assert len(upgrades) == 5
    wrapped = by_name["python-neutron-dynamic-routing-tests-tempest"]
    assert (wrapped.version, wrapped.origin) == (
        "2:12.0.1-1.el7ost",
        "rhel-7-server-openstack-13-rpms",
    )
    assert by_name["python2-novaclient"].replaces == "python-novaclient"


# --- live: the real rpm on a scratch database ---------------------------------------

needs_rpm = pytest.mark.skipif(
    not (shutil.which("rpm") and shutil.which("rpmbuild")), reason="rpm/rpmbuild not installed"
)


def _build(tmp: Path, name: str, epoch: str | None, version: str) -> Path:
    defines = {"_topdir": str(tmp / "build"), "pkgname": name, "pkgver": version}
    defines |= {"pkgrel": "1.el9", "pkgarch": "noarch", "_target_cpu": "x86_64"}
    if epoch is not None:
        defines["pkgepoch"] = epoch
    args = [a for k, v in defines.items() for a in ("--define", f"{k} {v}")]
    subprocess.run(
        ["rpmbuild", "-bb", "--quiet", *args, str(SPEC)], check=True, capture_output=True
    )
    return next((tmp / "build" / "RPMS" / "noarch").glob(f"{name}-{version}-*.rpm"))


@needs_rpm
def test_live_rpm_qa_on_a_scratch_database(tmp_path):
    db = tmp_path / "db"
    rpms = [
        _build(tmp_path, "openstack-keystone", "1", "25.0.0"),
        _build(tmp_path, "keystone-extra", None, "1.2"),
    ]
    rpm = ["rpm", "--dbpath", str(db)]
    subprocess.run([*rpm, "--initdb"], check=True)
    subprocess.run(
        [*rpm, "-i", "--justdb", "--nodeps", *map(str, rpms)], check=True, capture_output=True
    )
    command = rpm_qa_command(["*keystone*"])
    out = subprocess.run([*rpm, *command.reveal()[1:]], capture_output=True, text=True, check=True)
    packages = parse_rpm_qa(out.stdout)
    assert packages["openstack-keystone"].version == "1:25.0.0-1.el9"
    assert packages["keystone-extra"].version == "1.2-1.el9"
