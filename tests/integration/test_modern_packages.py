"""The modern stand-in packages, built with the lab's build_packages and read back with rpm
and dpkg-deb: config files noreplace, and scriptlets that restart running units on an
upgrade as RDO's and debhelper's do. The scriptlets run here under sh with ``systemctl``
and ``invoke-rc.d`` replaced by recorders on PATH."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stackstep.lab.errors import LabError
from stackstep.lab.openstack import keystone, modern
from stackstep.lab.repos import BASE_PACKAGE, DEB_ARCH, LabRepos, PackageSpec, build_packages

RECORDER = '#!/bin/sh\necho "$(basename "$0") $*" >> "$RECORD"\nexit "${RECORDER_EXIT:-0}"\n'


def _run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done.stdout


def _specs(flavour: str, names: set[str]) -> list[PackageSpec]:
    return [s for s in modern.release_packages("gazpacho", flavour) if s.name in names]


@pytest.fixture
def recorder(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir, record = tmp_path / "bin", tmp_path / "record"
    bin_dir.mkdir()
    for tool in ("systemctl", "invoke-rc.d", "useradd", "getent", "chown", "mkdir"):
        (bin_dir / tool).write_text(RECORDER)
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "RECORD": str(record)}
    return env, record


def _scriptlet(env: dict[str, str], record: Path, script: str, *args: str) -> list[str]:
    record.write_text("")
    done = subprocess.run(["sh", "-c", script, "scriptlet", *args], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return record.read_text().splitlines()


def test_rpm_restarts_running_units_in_postun_on_upgrade_only(
    tmp_path: Path, recorder: tuple[dict[str, str], Path]
) -> None:
    if shutil.which("rpmbuild") is None or shutil.which("rpm") is None:
        pytest.skip("needs rpmbuild and rpm (apt-get install rpm)")
    names = {"openstack-nova-common", "openstack-nova-conductor"}
    built = build_packages(_specs("rpm", names), tmp_path / "work", formats=("rpm",))
    conductor = next(p for p in built if p.name.startswith("openstack-nova-conductor-33.0.0"))
    common = next(p for p in built if p.name.startswith("openstack-nova-common-33.0.0"))
    scripts = _run(["rpm", "-qp", "--scripts", str(conductor)])
    assert (
        "postuninstall scriptlet" in scripts
        and "try-restart openstack-nova-conductor.service" in scripts
    )
    flags = _run(
        ["rpm", "-qp", "--queryformat", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]", str(common)]
    )
    assert "cn /etc/nova/nova.conf" in flags.splitlines()  # %config(noreplace)
    env, record = recorder
    postun = _run(["rpm", "-qp", "--queryformat", "%{POSTUN}", str(conductor)])
    upgrade = _scriptlet(env, record, postun, "1")  # $1 = 1: the old one, after an upgrade
    assert "systemctl try-restart openstack-nova-conductor.service" in upgrade
    assert not any("try-restart" in line for line in _scriptlet(env, record, postun, "0"))
    preun = _run(["rpm", "-qp", "--queryformat", "%{PREUN}", str(conductor)])
    assert _scriptlet(env, record, preun, "1") == []  # an upgrade stops nothing
    assert any("disable --now" in line for line in _scriptlet(env, record, preun, "0"))


def test_deb_restarts_through_invoke_rc_d_on_upgrade(
    tmp_path: Path, recorder: tuple[dict[str, str], Path]
) -> None:
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb")
    built = build_packages(_specs("deb", {"nova-common", "nova-conductor"}), tmp_path / "work",
                           formats=("deb",))  # fmt: skip
    conductor = next(p for p in built if p.name.startswith("nova-conductor_"))
    common = next(p for p in built if p.name.startswith("nova-common_"))
    control = tmp_path / "control"
    _run(["dpkg-deb", "-e", str(conductor), str(control)])
    _run(["dpkg-deb", "-e", str(common), str(tmp_path / "common")])
    assert (tmp_path / "common" / "conffiles").read_text().split() == ["/etc/nova/nova.conf"]
    assert "Depends: nova-common (= 33.0.0-0ubuntu1)\n" in (control / "control").read_text()
    env, record = recorder
    postinst, prerm = (control / "postinst").read_text(), (control / "prerm").read_text()
    assert os.access(control / "prerm", os.X_OK)
    upgrade = _scriptlet(env, record, postinst, "configure", "32.0.0-0ubuntu1")
    assert "invoke-rc.d nova-conductor restart" in upgrade
    fresh = _scriptlet(env, record, postinst, "configure", "")
    assert "invoke-rc.d nova-conductor start" in fresh and any("enable" in x for x in fresh)
    # policy-rc.d denying (invoke-rc.d exits 101) does not fail the package
    assert _scriptlet({**env, "RECORDER_EXIT": "101"}, record, postinst, "configure", "1")
    assert _scriptlet(env, record, prerm, "upgrade", "33.0.0-0ubuntu1") == []
    assert _scriptlet(env, record, prerm, "remove") == ["invoke-rc.d nova-conductor stop"]


def test_keystone_deb_is_ubuntus_package_in_apache2_restarted_on_upgrade(
    tmp_path: Path, recorder: tuple[dict[str, str], Path]
) -> None:
    """The lab's keystone as a deb (a small stand-in venv here): Ubuntu's name, served by
    apache2.service, keystone.conf a conffile, debhelper's restart after an upgrade."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "keystone-manage").write_text("#!/bin/sh\n")
    spec = keystone.package_spec("29.1.0", venv, "deb")
    built = build_packages([spec], tmp_path / "work", formats=("deb",))
    assert [p.name for p in built] == [f"keystone_29.1.0-0ubuntu1_{DEB_ARCH[spec.arch]}.deb"]
    control = tmp_path / "control"
    _run(["dpkg-deb", "-e", str(built[0]), str(control)])
    assert (control / "conffiles").read_text().split() == ["/etc/keystone/keystone.conf"]
    listing = _run(["dpkg-deb", "-c", str(built[0])])
    assert "./usr/lib/systemd/system/apache2.service" in listing
    assert "./opt/venvs/keystone-29.1.0/bin/keystone-manage" in listing
    env, record = recorder
    postinst = (control / "postinst").read_text()
    assert "invoke-rc.d apache2 restart" in _scriptlet(env, record, postinst, "configure", "28")
    # the rpm is RDO's: httpd.service, no restart of its own
    rpm = keystone.package_spec("29.1.0", venv, "rpm")
    assert rpm.name == "openstack-keystone" and not rpm.scripts
    assert "/usr/lib/systemd/system/httpd.service" in rpm.files


def test_units_and_roles_per_flavour() -> None:
    specs = {s.name: s for s in modern.release_packages("flamingo", "rpm")}
    unit = str(specs["openstack-nova-conductor"].files[
        "/usr/lib/systemd/system/openstack-nova-conductor.service"])  # fmt: skip
    assert f"ExecStart=/usr/bin/python3 {modern.SCRIPT} serve nova conductor" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit and "Type=notify" in unit
    assert modern.role_units("deb", "compute") == ["nova-compute", "neutron-openvswitch-agent"]
    assert "openstack-nova-compute" not in modern.role_packages("rpm", "controller")
    assert {"nova-compute", "neutron-plugin-ml2"} <= set(modern.role_packages("deb", "compute"))
    ml2 = specs["openstack-neutron-ml2"]
    assert "/etc/neutron/plugins/ml2/ml2_conf.ini" in ml2.config_files
    assert "ln -s plugins/ml2/ml2_conf.ini /etc/neutron/plugin.ini" in ml2.post_install
    with pytest.raises(LabError, match="unknown scriptlets"):
        PackageSpec(name="xx", version="1", scripts={"postinstall": "true"})


def test_site_config_sets_each_database_once() -> None:
    parser = configparser.ConfigParser(interpolation=None)  # strict: no section twice
    parser.read_string(modern.site_config("nova", "gazpacho", "db")["/etc/nova/nova.conf"])
    assert parser.get("api_database", "connection") == "mysql+pymysql://nova:nova@db/nova_api"
    assert parser.get("database", "connection") == "mysql+pymysql://nova:nova@db/nova"
    assert parser.get("service_user", "send_service_user_token") == "true"
    assert not parser.has_option("upgrade_levels", "compute")  # stackstep's to set
    for service in modern.VERSIONS:
        text = modern.site_config(service, "flamingo", "db")
        assert sum(t.count("connection = mysql") for t in text.values()) == (
            2 if service == "nova" else 1
        )


def _root_with_a_shell(root: Path) -> Path:
    """An empty merged-/usr root with only /bin/sh (dash), ln, their libraries and a recording
    ``systemctl``, so rpm runs the packages' real scriptlets in it."""
    for name in ("usr/bin", "usr/lib", "usr/lib64", "dev", "run", "var/tmp"):
        (root / name).mkdir(parents=True, exist_ok=True)
    for link in ("bin", "lib", "lib64"):
        (root / link).symlink_to(f"usr/{link}")
    programs = {"sh": shutil.which("dash") or "/usr/bin/dash", "ln": shutil.which("ln") or ""}
    for name, program in programs.items():
        libraries = [w for w in _run(["ldd", program]).split() if w.startswith("/")]
        for source, target in [(program, f"usr/bin/{name}"), *((p, p[1:]) for p in libraries)]:
            (root / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / target)
    (root / "dev/null").touch()  # a file will do for >/dev/null here
    recorder = RECORDER.replace('"$RECORD"', "/var/tmp/systemctl.log").replace(
        '$(basename "$0")', "systemctl"
    )
    (root / "usr/bin/systemctl").write_text(recorder)
    (root / "usr/bin/systemctl").chmod(0o755)
    return root


def test_dnf_upgrade_try_restarts_the_units_through_the_old_packages_postun(
    tmp_path: Path,
) -> None:
    tools = ("rpmbuild", "createrepo_c", "dnf", "rpm", "dash", "ldd")
    if os.geteuid() != 0 or any(shutil.which(t) is None for t in tools):
        pytest.skip(f"needs root and {', '.join(tools)}")
    repos = {r: LabRepos(tmp_path / "repos" / r) for r in modern.RELEASES}
    repos["flamingo"].release([*modern.release_packages("flamingo"), BASE_PACKAGE], ("rpm",))
    repos["gazpacho"].release(modern.release_packages("gazpacho"), ("rpm",))
    host = _root_with_a_shell(tmp_path / "host")
    (tmp_path / "dnf.conf").write_text("[main]\ngpgcheck=0\n")

    def dnf(releases: tuple[str, ...], *args: str) -> None:
        paths = [f"--repofrompath={r},file://{repos[r].rpm_dir}" for r in releases]
        _run(["dnf", f"--installroot={host}", f"--config={tmp_path / 'dnf.conf'}",
              f"--setopt=reposdir={tmp_path / 'none'}", "--noplugins", "--releasever=9",
              "--nogpgcheck", "-y", "-q", *paths, *args])  # fmt: skip

    dnf(("flamingo",), "install", *modern.role_packages("rpm", "compute"))
    log = host / "var/tmp/systemctl.log"
    assert "systemctl preset openstack-nova-compute.service" in log.read_text()
    assert (host / "etc/neutron/plugin.ini").is_symlink()
    nova_conf = host / "etc/nova/nova.conf"
    nova_conf.write_text(nova_conf.read_text() + "[upgrade_levels]\ncompute = auto\n")
    log.write_text("")
    dnf(modern.RELEASES, "upgrade")
    installed = _run(["rpm", f"--root={host}", "-q", "openstack-nova-compute"]).strip()
    assert installed == "openstack-nova-compute-33.0.0-1.el9.noarch"
    restarts = [line for line in log.read_text().splitlines() if "try-restart" in line]
    assert "systemctl try-restart openstack-nova-compute.service" in restarts
    assert "systemctl try-restart neutron-openvswitch-agent.service" in restarts
    assert "compute = auto" in nova_conf.read_text()  # noreplace: the edit stays
    assert "33.0.0" in (host / "etc/nova/nova.conf.rpmnew").read_text()
