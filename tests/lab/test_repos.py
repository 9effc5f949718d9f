"""The lab's package repositories, checked with the real clients: dnf, apt-get and dpkg.

Packages are installed into scratch roots (``dnf --installroot``, ``dpkg --root``) that
hold nothing but a copied ``/bin/sh``, so scriptlets really run; repositories are read
through ``file://`` URLs, and ``serve_command`` is checked over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackstep.lab.errors import LabError
from stackstep.lab.repos import BASE_PACKAGE, LabRepos, PackageSpec, run_tool

TOOLS = {"rpmbuild": "rpm", "createrepo_c": "createrepo-c", "dnf": "dnf"}
OTHER_TOOLS = ("dpkg-deb", "dpkg", "apt-get", "ldd")
CONF = "/etc/lab-demo/demo.conf"
POST_LOG = "var/lib/lab-demo/post.log"
EDITED = "# edited by the operator\n[DEFAULT]\ndebug = true\n"


def demo(version: str) -> PackageSpec:
    return PackageSpec(
        name="lab-demo",
        version=version,
        summary="Lab demo service",
        files={"/usr/share/lab-demo/VERSION": f"{version}\n", "/var/lib/lab-demo/.keep": b""},
        config_files={CONF: f"# lab-demo {version} default\n[DEFAULT]\nrelease = {version}\n"},
        executables={"/usr/bin/lab-demo-manage": f'#!/bin/sh\necho "lab-demo {version} $*"\n'},
        requires=("lab-base", "/bin/sh"),
        post_install=f'echo "post $* {version}" >> /{POST_LOG}',
    )


QUANTUM = PackageSpec(
    name="openstack-quantum",
    version="2013.1",
    executables={"/usr/bin/quantum-server": "#!/bin/sh\necho quantum\n"},
)
NEUTRON = PackageSpec(
    name="openstack-neutron",
    version="2013.2",
    executables={"/usr/bin/neutron-server": "#!/bin/sh\necho neutron\n"},
    obsoletes=("openstack-quantum < 2013.2",),
)
FILLERS = [
    PackageSpec(
        name=f"lab-filler{i}",
        version="1.0",
        files={f"/usr/share/lab-filler{i}/data.txt": "x" * 200 * i},
        config_files={f"/etc/lab-filler{i}/filler.conf": f"n = {i}\n"},
        executables={f"/usr/bin/lab-filler{i}": "#!/bin/sh\n"},
        post_install="true",
    )
    for i in range(12)
]
V1 = [BASE_PACKAGE, demo("1.0"), QUANTUM]
V2 = [demo("2.0"), NEUTRON]


# --- tools and scratch roots -----------------------------------------------------------


def _missing() -> list[str]:
    return [tool for tool in [*TOOLS, *OTHER_TOOLS] if shutil.which(tool) is None]


def _apt_install(packages: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    for steps in ([install], [["apt-get", "update", "-q"], install]):
        if all(subprocess.run(s, env=env, capture_output=True, check=False).returncode == 0
               for s in steps):  # fmt: skip
            return


@pytest.fixture(scope="module")
def repo_tools() -> None:
    """Skip unless root with the tools; as root, apt-get install the missing ones first."""
    if os.geteuid() != 0:
        pytest.skip("needs root (dnf --installroot, dpkg --root, chrooted scriptlets)")
    packages = sorted({TOOLS[tool] for tool in _missing() if tool in TOOLS})
    if packages and shutil.which("apt-get"):
        _apt_install(packages)
    if missing := _missing():
        pytest.skip(f"missing tools {missing}: apt-get install rpm dnf createrepo-c")


def scratch_root(path: Path) -> Path:
    """An empty merged-/usr root whose only program is /bin/sh (dash and its libraries)."""
    for directory in ("usr/bin", "usr/lib", "usr/lib64", "var/tmp", "var/lib/dpkg/info"):
        (path / directory).mkdir(parents=True, exist_ok=True)
    (path / "var/lib/dpkg/updates").mkdir()
    (path / "var/lib/dpkg/status").touch()
    for link in ("bin", "lib", "lib64"):
        (path / link).symlink_to(f"usr/{link}")
    shutil.copy2("/usr/bin/dash", path / "usr/bin/sh")
    ldd = subprocess.run(["ldd", "/usr/bin/dash"], capture_output=True, text=True, check=True)
    for word in ldd.stdout.split():
        if word.startswith("/"):
            (path / word.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(word, path / word.lstrip("/"))
    return path


def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return str(done.stdout)


def dnf(root: Path, repos: LabRepos, *args: str) -> str:
    (root.parent / "dnf.conf").write_text("[main]\ngpgcheck=0\nskip_if_unavailable=0\n")
    return run([
        "dnf", f"--installroot={root}", f"--config={root.parent / 'dnf.conf'}",
        f"--setopt=reposdir={root.parent / 'no-repos'}", "--noplugins", "--releasever=9",
        f"--repofrompath=lab,file://{repos.rpm_dir}", "--nogpgcheck", "-y", *args,
    ])  # fmt: skip


def rpm_installed(root: Path) -> set[str]:
    return set(run(["rpm", f"--root={root}", "-qa", "--qf", "%{NVR}\\n"]).split())


def parse_packages(text: str) -> list[dict[str, str]]:
    """deb822 paragraphs (Packages, dpkg status); continuation lines are left out."""
    paragraphs = []
    for block in text.strip().split("\n\n"):
        fields = [line.partition(":") for line in block.splitlines() if line[:1] != " "]
        paragraphs.append({key: value.strip() for key, _, value in fields})
    return paragraphs


# --- pure parts ------------------------------------------------------------------------


def test_texts_for_hosts_and_the_server() -> None:
    repos = LabRepos(Path("/srv/lab"))
    text = repos.rpm_repo_file("http://10.9.0.1:8080/")
    assert "baseurl=http://10.9.0.1:8080/rpm\n" in text
    assert "gpgcheck=0\n" in text and "metadata_expire=0\n" in text and text.startswith("[lab]")
    assert repos.apt_source_line("http://10.9.0.1:8080") == (
        "deb [trusted=yes] http://10.9.0.1:8080/deb ./"
    )
    assert repos.serve_command("10.9.0.1", 8080) == [
        "python3", "-m", "http.server", "--bind", "10.9.0.1", "8080", "--directory", "/srv/lab",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "wrong"),
    [
        ({"name": "Bad_Name"}, "invalid name"),
        ({"version": "1.0-2"}, "invalid version"),
        ({"files": {"etc/relative": "x"}}, "unsupported file path"),
        ({"files": {"/etc/a b": "x"}}, "unsupported file path"),
        ({"files": {"/a": "x"}, "executables": {"/a": "y"}}, "listed twice"),
        ({"requires": ("foo >=1",)}, "invalid dependency"),
    ],
)
def test_specs_are_checked(fields: dict[str, object], wrong: str) -> None:
    with pytest.raises(LabError, match=wrong):
        PackageSpec(**{"name": "ok", "version": "1", **fields})  # type: ignore[arg-type]


def test_runner_names_the_command_and_its_stderr() -> None:
    with pytest.raises(LabError) as failed:
        run_tool(["sh", "-c", "echo noise; echo 'rpmbuild: boom' >&2; exit 3"])
    assert "`sh -c" in failed.value.message and "exit status 3" in failed.value.message
    assert failed.value.message.endswith("rpmbuild: boom")
    with pytest.raises(LabError, match="not installed") as missing:
        run_tool(["createrepo_c-nonexistent"])
    assert missing.value.hint == "apt-get install createrepo_c-nonexistent"


# --- RPM with dnf ----------------------------------------------------------------------


@pytest.mark.root
@pytest.mark.slow
def test_dnf_upgrade_keeps_edited_config_and_replaces_obsoleted(
    repo_tools: None, tmp_path: Path
) -> None:
    repos = LabRepos(tmp_path / "repo")
    repos.release(V1)
    host = scratch_root(tmp_path / "host")
    dnf(host, repos, "install", "lab-demo", "openstack-quantum")
    assert rpm_installed(host) >= {"lab-base-1-1", "lab-demo-1.0-1", "openstack-quantum-2013.1-1"}
    assert (host / "usr/bin/lab-demo-manage").stat().st_mode & 0o777 == 0o755
    assert (host / POST_LOG).read_text() == "post 1 1.0\n"
    (host / CONF.lstrip("/")).write_text(EDITED)

    repos.release(V2)
    dnf(host, repos, "--refresh", "upgrade")
    installed = rpm_installed(host)
    assert {"lab-demo-2.0-1", "openstack-neutron-2013.2-1"} <= installed
    assert not any(nvr.startswith("openstack-quantum") for nvr in installed)
    assert not (host / "usr/bin/quantum-server").exists()
    assert (host / CONF.lstrip("/")).read_text() == EDITED
    rpmnew = host / (CONF.lstrip("/") + ".rpmnew")
    assert rpmnew.read_text() == demo("2.0").config_files[CONF]
    assert (host / "usr/share/lab-demo/VERSION").read_text() == "2.0\n"
    assert (host / POST_LOG).read_text() == "post 1 1.0\npost 2 2.0\n"


@pytest.mark.root
def test_release_is_reproducible_and_refuses_changed_content(
    repo_tools: None, tmp_path: Path
) -> None:
    repos = LabRepos(tmp_path / "repo")
    repos.release([QUANTUM])
    rpm, deb = repos.rpm_path(QUANTUM).read_bytes(), repos.deb_path(QUANTUM).read_bytes()
    repos.release([QUANTUM])  # the same spec again: the same bytes, nothing to do
    assert repos.rpm_path(QUANTUM).read_bytes() == rpm
    assert repos.deb_path(QUANTUM).read_bytes() == deb
    changed = PackageSpec(name=QUANTUM.name, version=QUANTUM.version, summary="changed")
    with pytest.raises(LabError, match="already released with different content"):
        repos.release([changed])
    assert repos.rpm_path(QUANTUM).read_bytes() == rpm


# --- apt side: one repository holding two releases ---------------------------------------


@pytest.fixture(scope="module")
def released(repo_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRepos]:
    repos = LabRepos(tmp_path_factory.mktemp("released"))
    started = time.perf_counter()
    repos.release([*V1, *FILLERS])
    seconds = time.perf_counter() - started
    assert seconds < 20, f"releasing 15 small packages took {seconds:.1f} s"
    repos.release(V2)
    yield repos


@pytest.mark.root
@pytest.mark.slow
def test_apt_upgrade_with_confold_keeps_edited_conffile(released: LabRepos, tmp_path: Path) -> None:
    host = scratch_root(tmp_path / "host")
    etc = tmp_path / "apt-etc"
    for directory in ("apt-etc/parts", "apt-state/lists/partial", "apt-cache/archives/partial"):
        (tmp_path / directory).mkdir(parents=True)
    (tmp_path / "apt-log").mkdir()
    (etc / "sources.list").write_text(released.apt_source_line(f"file://{released.root}") + "\n")
    config = {
        "Dir::Etc::main": "/dev/null", "Dir::Etc::parts": etc / "parts",
        "Dir::Etc::sourcelist": etc / "sources.list", "Dir::Etc::sourceparts": etc / "parts",
        "Dir::Etc::preferencesparts": etc / "parts", "Dir::State": tmp_path / "apt-state",
        "Dir::State::status": host / "var/lib/dpkg/status", "Dir::Cache": tmp_path / "apt-cache",
        "Dir::Log": tmp_path / "apt-log", "Debug::NoLocking": "true",
        "APT::Sandbox::User": "root",
    }  # fmt: skip
    text = "".join(f'{key} "{value}";\n' for key, value in config.items())
    dpkg_log = tmp_path / "apt-log/dpkg.log"
    text += f'DPkg::Options {{ "--root={host}"; "--log={dpkg_log}"; "--force-confold"; }};\n'
    (tmp_path / "apt.conf").write_text(text)
    env = {
        **os.environ,
        "APT_CONFIG": str(tmp_path / "apt.conf"),
        "DEBIAN_FRONTEND": "noninteractive",
    }
    apt = ["apt-get", "-y", "-q"]
    run([*apt, "update"], env=env)
    run([*apt, "install", "lab-demo=1.0-1", "openstack-quantum"], env=env)
    assert (host / CONF.lstrip("/")).read_text() == demo("1.0").config_files[CONF]
    assert (host / POST_LOG).read_text() == "post configure  1.0\n"
    (host / CONF.lstrip("/")).write_text(EDITED)

    run([*apt, "install", "lab-demo", "openstack-neutron"], env=env)
    assert (host / CONF.lstrip("/")).read_text() == EDITED
    dist = host / (CONF.lstrip("/") + ".dpkg-dist")
    assert dist.read_text() == demo("2.0").config_files[CONF]
    assert (host / POST_LOG).read_text() == "post configure  1.0\npost configure 1.0-1 2.0\n"
    status = parse_packages((host / "var/lib/dpkg/status").read_text())
    installed = {p["Package"]: p["Version"] for p in status if p["Status"].endswith(" installed")}
    assert installed["lab-demo"] == "2.0-1" and "openstack-quantum" not in installed


@pytest.mark.root
def test_apt_index_lists_every_version(released: LabRepos) -> None:
    deb = released.deb_dir
    text = (deb / "Packages").read_text()
    assert gzip.decompress((deb / "Packages.gz").read_bytes()).decode() == text
    index = {(p["Package"], p["Version"]): p for p in parse_packages(text)}
    assert len(index) == 17
    for version in ("1.0", "2.0"):
        entry = index["lab-demo", f"{version}-1"]
        assert entry["Architecture"] == "all"
        assert entry["Depends"] == "lab-base"  # /bin/sh: a file dependency, RPM only
        assert entry["Description"] == "Lab demo service"
        data = (deb / entry["Filename"]).read_bytes()
        assert entry["Size"] == str(len(data))
        assert entry["SHA256"] == hashlib.sha256(data).hexdigest()
    neutron = index["openstack-neutron", "2013.2-1"]
    for key in ("Conflicts", "Breaks", "Replaces"):
        assert neutron[key] == "openstack-quantum (<< 2013.2)"
    assert index["lab-base", "1-1"]["Provides"] == "bash, systemd, python3"
    release = (deb / "Release").read_text()
    for name in ("Packages", "Packages.gz"):
        data = (deb / name).read_bytes()
        assert f" {hashlib.sha256(data).hexdigest()} {len(data)} {name}\n" in release


@pytest.mark.root
def test_apt_index_without_dpkg_scanpackages_is_the_same(
    released: LabRepos, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(released.root, tmp_path / "copy")
    copy = LabRepos(tmp_path / "copy")
    monkeypatch.setattr("stackstep.lab.repos.shutil.which", lambda name: None)
    copy.release([])
    ours = parse_packages((copy.deb_dir / "Packages").read_text())
    theirs = parse_packages((released.deb_dir / "Packages").read_text())
    key = lambda p: (p["Package"], p["Version"])  # noqa: E731
    assert sorted(ours, key=key) == sorted(theirs, key=key)


# --- served over HTTP -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.root
def test_serve_command_serves_both_repositories(released: LabRepos) -> None:
    port = _free_port()
    argv = released.serve_command("127.0.0.1", port)
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"{base}/rpm/repodata/repomd.xml", timeout=2) as r:
                    repomd = r.read()
                break
            except OSError:
                assert time.monotonic() < deadline, f"{argv} did not answer"
                time.sleep(0.05)
        assert repomd == (released.rpm_dir / "repodata/repomd.xml").read_bytes()
        with urllib.request.urlopen(f"{base}/deb/Release", timeout=2) as r:
            assert r.read() == (released.deb_dir / "Release").read_bytes()
    finally:
        server.terminate()
        server.wait(timeout=10)
