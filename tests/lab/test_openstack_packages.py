"""The stand-in OpenStack packages: built with LabRepos, checked with rpm, upgraded with dnf.

Grizzly and Havana go to two repositories (as the lab deploy publishes them). A scratch
root (only /bin/sh, so scriptlets run but systemctl, useradd... are absent) gets an
all-in-one Grizzly host with dnf --installroot, the operator's edits, then the Havana
upgrade: quantum's edited config must become .rpmsave, the others .rpmnew, kernels stay
installed side by side.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from fnmatch import fnmatch
from pathlib import Path

import pytest

from stackstep.catalog.loader import load_catalog
from stackstep.lab.openstack import packages
from stackstep.lab.openstack.configs import config_files
from stackstep.lab.openstack.services import document
from stackstep.lab.repos import BASE_PACKAGE, LabRepos, PackageSpec

TOOLS = ("rpmbuild", "createrepo_c", "dnf", "rpm", "dpkg-deb", "ldd", "dash")
OLD_KERNEL, NEW_KERNEL = "70.13.1", "162.6.1"
EDITED = "\n# site edit\n[DEFAULT]\ndebug = True\n"


def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return str(done.stdout)


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LabRepos]:
    if os.geteuid() != 0:
        pytest.skip("needs root (dnf --installroot, chrooted scriptlets)")
    if missing := [tool for tool in TOOLS if shutil.which(tool) is None]:
        pytest.skip(f"missing tools {missing}: apt-get install rpm dnf createrepo-c")
    root = tmp_path_factory.mktemp("openstack-repos")
    out, seconds = {}, {}
    for release, kernel in (("grizzly", OLD_KERNEL), ("havana", NEW_KERNEL)):
        specs = [*packages.release_packages(release), packages.kernel_package(kernel)]
        if release == "grizzly":
            specs += [BASE_PACKAGE, packages.release_repo_package("havana", "http://127.0.0.1:9")]
        started = time.perf_counter()
        out[release] = LabRepos(root / release)
        out[release].release(specs)
        seconds[release] = time.perf_counter() - started
    assert sum(seconds.values()) < 180, seconds
    return out


def rpm_query(rpm: Path, *query: str) -> str:
    return run(["rpm", "-qp", *query, str(rpm)])


def rpm_of(repos: dict[str, LabRepos], release: str, name: str) -> Path:
    spec = next(s for s in packages.release_packages(release) if s.name == name)
    return repos[release].rpm_path(spec)


@pytest.mark.root
def test_rpms_have_rdo_names_versions_obsoletes_and_config_flags(
    repos: dict[str, LabRepos],
) -> None:
    for release, version in (("grizzly", "2013.1"), ("havana", "2013.2")):
        specs: list[PackageSpec] = packages.release_packages(release)
        found = {
            line
            for rpm in sorted(repos[release].rpm_dir.glob("*.rpm"))
            for line in rpm_query(rpm, "--qf", "%{NAME} %{VERSION}\n").splitlines()
        }
        assert {f"{s.name} {s.version}" for s in specs} <= found
        assert {s.version for s in specs if s.name.startswith("openstack-")} == {version}
        for package, files in config_files(release).items():
            flags = rpm_query(
                rpm_of(repos, release, package), "--qf", "[%{FILEFLAGS:fflags} %{FILENAMES}\n]"
            )
            for path in files:
                assert f"cn {path}\n" in flags, (package, path, flags)  # %config(noreplace)
    assert rpm_query(rpm_of(repos, "havana", "openstack-neutron"), "--obsoletes").split("\n")[
        0
    ] == ("openstack-quantum < 2013.2")
    ovs = rpm_query(rpm_of(repos, "havana", "openstack-neutron-openvswitch"), "--obsoletes")
    assert ovs.strip() == "openstack-quantum-openvswitch < 2013.2"
    scripts = rpm_query(rpm_of(repos, "grizzly", "openstack-nova-compute"), "--scripts")
    assert "systemctl preset openstack-nova-compute.service" in scripts
    unit = rpm_query(rpm_of(repos, "grizzly", "openstack-nova-compute"), "--list")
    assert unit.strip() == "/usr/lib/systemd/system/openstack-nova-compute.service"
    kernel = repos["havana"].rpm_dir / f"kernel-5.14.0-{NEW_KERNEL}.el9.x86_64.rpm"
    assert rpm_query(kernel, "--list").strip() == (
        f"/lib/modules/5.14.0-{NEW_KERNEL}.el9.x86_64/lab-kernel"
    )


def scratch_root(path: Path) -> Path:
    """An empty merged-/usr root whose only program is /bin/sh (dash and its libraries),
    with /dev/null and /run as scriptlets expect."""
    for directory in ("usr/bin", "usr/lib", "usr/lib64", "var/tmp", "run", "dev"):
        (path / directory).mkdir(parents=True, exist_ok=True)
    os.mknod(path / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    for link in ("bin", "lib", "lib64"):
        (path / link).symlink_to(f"usr/{link}")
    shutil.copy2(shutil.which("dash") or "/usr/bin/dash", path / "usr/bin/sh")
    ldd = run(["ldd", shutil.which("dash") or "/usr/bin/dash"])
    for word in ldd.split():
        if word.startswith("/"):
            (path / word.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(word, path / word.lstrip("/"))
    return path


def dnf(root: Path, repos: list[LabRepos], *args: str) -> str:
    (root.parent / "dnf.conf").write_text("[main]\ngpgcheck=0\ninstallonly_limit=3\n")
    from_paths = [f"--repofrompath=lab{i},file://{r.rpm_dir}" for i, r in enumerate(repos)]
    return run(
        [
            "dnf",
            f"--installroot={root}",
            f"--config={root.parent / 'dnf.conf'}",
            f"--setopt=reposdir={root.parent / 'no-repos'}",
            "--noplugins",
            "--releasever=9",
            *from_paths,
            "--nogpgcheck",
            "-y",
            *args,
        ]
    )


@pytest.mark.root
@pytest.mark.slow
def test_dnf_upgrade_grizzly_to_havana_like_rdo(repos: dict[str, LabRepos], tmp_path: Path) -> None:
    host = scratch_root(tmp_path / "host")
    wanted = packages.role_packages("grizzly", "all-in-one")
    dnf(host, [repos["grizzly"]], "install", *wanted, "kernel")
    installed = set(run(["rpm", f"--root={host}", "-qa", "--qf", "%{NAME}\n"]).split())
    assert {*wanted, "openstack-nova-common", "openstack-swift", "lab-base"} <= installed
    assert (host / "usr/lib/openstack-lab/standin.py").read_text() == packages.standin_source()
    assert (host / "usr/local/bin/uname").stat().st_mode & 0o755 == 0o755
    running = f"5.14.0-{OLD_KERNEL}.el9.x86_64"
    assert (host / "run/lab-kernel").read_text().strip() == running  # the first kernel "booted"
    etc = host / "etc"
    for path in ("quantum/quantum.conf", "keystone/keystone.conf"):
        with (etc / path).open("a") as edit:
            edit.write(EDITED)
    settings = etc / "openstack-dashboard/local_settings"
    settings.write_text(settings.read_text() + "SECRET_KEY = 'site'\n")

    dnf(host, [repos["grizzly"], repos["havana"]], "--refresh", "upgrade")
    nvrs = set(run(["rpm", f"--root={host}", "-qa", "--qf", "%{NAME}-%{VERSION}\n"]).split())
    assert {"openstack-neutron-2013.2", "openstack-neutron-openvswitch-2013.2"} <= nvrs
    assert {"openstack-keystone-2013.2", "python-glanceclient-0.12.0", "httpd-2.2.15"} <= nvrs
    assert not any(nvr.startswith("openstack-quantum") for nvr in nvrs)
    assert (etc / "quantum/quantum.conf.rpmsave").read_text().endswith(EDITED)
    assert not (etc / "quantum/quantum.conf").exists()
    assert not (etc / "quantum/plugin.ini").exists()  # unedited: removed, no .rpmsave
    assert not (etc / "quantum/plugin.ini.rpmsave").exists()
    keystone = config_files("havana")["openstack-keystone"]["/etc/keystone/keystone.conf"]
    assert (etc / "keystone/keystone.conf").read_text().endswith(EDITED)
    assert (etc / "keystone/keystone.conf.rpmnew").read_text() == keystone
    assert "ALLOWED_HOSTS" in (etc / "openstack-dashboard/local_settings.rpmnew").read_text()
    assert (etc / "neutron/neutron.conf").exists() and not (etc / "neutron/plugin.ini").exists()
    kernels = run(["rpm", f"--root={host}", "-q", "--last", "kernel"], {"LC_ALL": "C"})
    # both kernels kept (installonly); `--last` orders by install time, which can tie
    assert sorted(line.split()[0] for line in kernels.splitlines()) == sorted(
        [
            f"kernel-5.14.0-{NEW_KERNEL}.el9.x86_64",
            f"kernel-5.14.0-{OLD_KERNEL}.el9.x86_64",
        ]
    )
    assert (host / "run/lab-kernel").read_text().strip() == running  # until the host reboots

    dnf(host, [repos["grizzly"]], "install", "rdo-release-havana")
    repo_file = (etc / "yum.repos.d/lab-havana.repo").read_text()
    assert "baseurl=http://127.0.0.1:9/rpm\n" in repo_file and "gpgcheck=0\n" in repo_file


def test_uname_shim_answers_the_kernel_recorded_at_boot(tmp_path: Path) -> None:
    record, modules = tmp_path / "lab-kernel", tmp_path / "modules"
    shim = tmp_path / "uname"
    shim.write_text(packages.UNAME_SHIM.replace("/run/lab-kernel", str(record)))
    boot = tmp_path / "record"
    boot.write_text(
        packages.KERNEL_RECORD.replace("/run/lab-kernel", str(record)).replace(
            "/lib/modules", str(modules)
        )
    )
    real = run(["uname", "-r"])
    assert run(["sh", str(shim), "-r"]) == real  # no lab kernel: the real one
    assert run(["sh", str(shim), "-s"]) == run(["uname", "-s"])
    for number in (OLD_KERNEL, "9.1", NEW_KERNEL):
        kernel = packages.kernel_package(number)
        for path, (content, _) in kernel.payload().items():
            target = modules / path.removeprefix("/lib/modules/")
            target.parent.mkdir(parents=True)
            target.write_bytes(content)
    run(["sh", str(boot)])  # the next boot
    assert run(["sh", str(shim), "-r"]) == f"5.14.0-{NEW_KERNEL}.el9.x86_64\n"
    assert run(["sh", str(shim), "-s"]) == run(["uname", "-s"])


def test_units_probes_databases_and_clis_match_the_rdo_2013_catalog() -> None:
    series = next(s for s in load_catalog().series if s.name == "rdo-2013")
    roles = load_catalog().roles
    for release in packages.RELEASES:
        by_unit = {unit: (package, c) for package, unit, _, c in packages.units(release)}
        for service in series.services:
            name = "quantum" if service.name == "neutron" and release == "grizzly" else service.name
            doc = document(name, release)
            for component in service.components:
                old = release == "grizzly"
                for unit in component.units_to_stop("rpm") if old else component.units.get("rpm"):
                    package, standin_component = by_unit[unit]
                    assert f"{standin_component}-".startswith(f"{component.name}-"), unit
                    globs = service.packages.get("rpm")
                    assert component.httpd or any(fnmatch(package, g) for g in globs), package
            if service.probe is not None:
                api = doc["components"][service.probe_on]
                assert (api["port"], api["path"]) == (service.probe.port, service.probe.path)
                assert api["status"] in service.probe.expect
            if service.database is not None:
                db = service.database
                assert (doc["database"]["section"], doc["database"]["key"]) == (db.section, db.key)
                assert release == "grizzly" or doc["database"]["config"] == db.config
            hooks = [*service.migrate] if release == "havana" else [*service.pre_upgrade]
            for hook in (h for h in hooks if h.argv[0].endswith("-manage")):
                words = " ".join(w for w in hook.argv[1:] if not w.startswith(("--", "/")))
                assert hook.argv[0] == doc["cli"], hook.argv
                assert any(f"{words} ".startswith(f"{c} ") for c in doc["commands"]), hook.argv
        for role in packages.ROLES:
            expected = set()
            for entry in roles[role]:
                service_name, _, part = entry.partition(":")
                found = series.service(service_name)
                for c in found.components if found else ():
                    if part in ("", c.name):
                        grizzly = release == "grizzly"
                        expected |= set(c.units_to_stop("rpm") if grizzly else c.units.get("rpm"))
            assert set(packages.role_units(release, role)) == expected, (release, role)


@pytest.mark.skipif(shutil.which("systemctl") is None, reason="needs systemctl")
def test_units_are_enabled_by_preset_and_a_role_preset_limits_them(tmp_path: Path) -> None:
    every = {*(f"{u}.service" for _, u, _, _ in packages.units("havana")), "lab-kernel.service"}
    for root in (tmp_path / "default", tmp_path / "compute"):
        for spec in packages.release_packages("havana"):
            for path, (content, _) in spec.payload().items():
                if path.startswith("/usr/lib/systemd/system/"):
                    (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
                    (root / path.lstrip("/")).write_bytes(content)
        (root / "etc/systemd/system-preset").mkdir(parents=True)
    preset = tmp_path / "compute/etc/systemd/system-preset/50-lab.preset"
    preset.write_text(packages.unit_preset(["compute"]))
    for root, enabled in (
        (tmp_path / "default", every - {"lab-kernel.service"}),
        (
            tmp_path / "compute",
            {"openstack-nova-compute.service", "neutron-openvswitch-agent.service"},
        ),
    ):
        run(["systemctl", f"--root={root}", "preset", *sorted(every)])
        wants = root / "etc/systemd/system/multi-user.target.wants"
        assert {p.name for p in wants.iterdir()} == enabled
        assert (root / "etc/systemd/system/sysinit.target.wants/lab-kernel.service").is_symlink()
