"""The lab's package repositories: small RPMs and debs built from specs, then published.

A :class:`LabRepos` root holds two repositories that the lab serves over HTTP to its
hosts: ``root/rpm`` (createrepo_c metadata, for dnf) and ``root/deb`` (a flat apt
repository: ``Packages``, ``Packages.gz``, ``Release``, used with ``[trusted=yes]``).
:meth:`LabRepos.release` builds every :class:`PackageSpec` in both formats in one temp
dir (one ``rpmbuild`` call for all the RPMs), adds the files and refreshes both indexes.
Old versions stay, so hosts upgrade from one release to the next as from a real mirror.

Builds are reproducible (fixed ``SOURCE_DATE_EPOCH``, build host and file times), so
releasing the same spec twice is a no-op, while releasing *changed* content under an
already-published name-version-release is refused: the hosts would never see it.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from stackstep.lab.errors import LabError

EPOCH = 1_420_070_400  # 2015-01-01: build time and file mtime of every lab package
TOOL_TIMEOUT = 600.0
TAIL_LINES = 15
MAINTAINER = "stackstep lab <lab@example.invalid>"
TOOL_PACKAGES = {"rpmbuild": "rpm", "createrepo_c": "createrepo-c", "dpkg-scanpackages": "dpkg-dev"}
DEB_ARCH = {"noarch": "all", "x86_64": "amd64", "aarch64": "arm64", "i686": "i386"}
RPM_MACROS = {
    "__os_install_post": "%{nil}",  # no strip, no byte-compiling, no man page compression
    "debug_package": "%{nil}",
    "__check_files": "%{nil}",  # %files is generated from the very payload staged
    "_build_id_links": "none",
    "use_source_date_epoch_as_buildtime": "1",
    "clamp_mtime_to_source_date_epoch": "1",
    "_buildhost": "lab.invalid",
    "_binary_payload": "w6.gzdio",
    "_rpmfilename": "%%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm",
}
_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")
_VERSION = re.compile(r"[0-9][A-Za-z0-9.+~]*")
_RELEASE = re.compile(r"[A-Za-z0-9.+~]+")
_ARCH = re.compile(r"[a-z0-9_]+")
_PATH = re.compile(r"(/[A-Za-z0-9._+@,=:-]+)+")
_DEPENDENCY = re.compile(
    r"(?P<name>[A-Za-z0-9_./+()-]+)(?: (?P<op><=|>=|<|>|=) (?P<ver>[\w.+~:-]+))?"
)
RPM_SCRIPTS = ("pre", "preun", "postun", "posttrans")
DEB_SCRIPTS = ("preinst", "prerm", "postrm")
_DEB_OPERATOR = {"<": "<<", ">": ">>", "<=": "<=", ">=": ">=", "=": "="}


def run_tool(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> str:
    """Run ``argv`` (never through a shell) and return its stdout; raise LabError if it fails."""
    command = shlex.join(argv)
    full_env = {**os.environ, "LC_ALL": "C", **(env or {})}
    try:
        done = subprocess.run(
            list(argv), cwd=cwd, env=full_env, capture_output=True, text=True,
            errors="replace", timeout=TOOL_TIMEOUT, check=False,
        )  # fmt: skip
    except FileNotFoundError as exc:
        package = TOOL_PACKAGES.get(argv[0], argv[0])
        raise LabError(f"`{argv[0]}` is not installed", hint=f"apt-get install {package}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{command}` did not finish within {TOOL_TIMEOUT:g} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr.strip() or done.stdout.strip()).splitlines()[-TAIL_LINES:])
        raise LabError(f"`{command}` failed with exit status {done.returncode}:\n{tail}")
    return done.stdout


@dataclass(frozen=True)
class PackageSpec:
    """One lab package, built both as an RPM and as a deb.

    Paths are absolute; ``config_files`` are ``%config(noreplace)`` / conffiles, so a
    locally edited one survives an upgrade (``.rpmnew`` / ``.dpkg-dist`` get the new
    default). ``post_install`` is POSIX sh run after install and upgrade; ``scripts``
    adds other scriptlets by name: RPM ``pre``/``preun``/``postun``/``posttrans``, deb
    ``preinst``/``prerm``/``postrm`` (each format takes its own names). Dependencies
    use RPM syntax (``name``, ``name >= 1.2``); file dependencies (``/bin/sh``) are
    left out of the deb, which has none.
    """

    name: str
    version: str
    release: str = "1"
    summary: str = ""
    files: Mapping[str, str | bytes] = field(default_factory=dict)
    config_files: Mapping[str, str] = field(default_factory=dict)
    executables: Mapping[str, str] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    obsoletes: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    post_install: str = ""
    arch: str = "noarch"
    trees: Mapping[str, str] = field(default_factory=dict)  # installed dir -> local dir
    scripts: Mapping[str, str] = field(default_factory=dict)  # scriptlet name -> sh

    def __post_init__(self) -> None:
        self._check_fields()
        if unknown := set(self.scripts) - {*RPM_SCRIPTS, *DEB_SCRIPTS}:
            raise LabError(f"package {self.name}: unknown scriptlets {sorted(unknown)}")
        self._check_paths()
        for dependency in (*self.requires, *self.obsoletes, *self.provides):
            if not _DEPENDENCY.fullmatch(dependency):
                raise LabError(f"package {self.name}: invalid dependency {dependency!r}")

    def _check_fields(self) -> None:
        """Name, version, release and arch as rpm and dpkg take them; a one-line summary."""
        for label, value, pattern in (
            ("name", self.name, _NAME), ("version", self.version, _VERSION),
            ("release", self.release, _RELEASE), ("arch", self.arch, _ARCH),
        ):  # fmt: skip
            if not pattern.fullmatch(value):
                raise LabError(f"package {self.name!r}: invalid {label} {value!r}")
        if "\n" in self.summary:
            raise LabError(f"package {self.name}: the summary must be one line")

    def _check_paths(self) -> None:
        """Trees are directories here; every installed path is plain, absolute and listed once."""
        paths = [*self.files, *self.config_files, *self.executables, *self.trees]
        for tree, source in self.trees.items():
            if not Path(source).is_dir():
                raise LabError(f"package {self.name}: {source} (for {tree}) is not a directory")
        for path in paths:
            parts = path.split("/")
            if not _PATH.fullmatch(path) or {".", ".."} & set(parts) or parts[1] == "DEBIAN":
                raise LabError(f"package {self.name}: unsupported file path {path!r}")
        if len(set(paths)) != len(paths):
            raise LabError(f"package {self.name}: a path is listed twice")

    @property
    def nvr(self) -> str:
        return f"{self.name}-{self.version}-{self.release}"

    @property
    def rpm_filename(self) -> str:
        return f"{self.nvr}.{self.arch}.rpm"

    @property
    def deb_version(self) -> str:
        return f"{self.version}-{self.release}"

    @property
    def deb_filename(self) -> str:
        return f"{self.name}_{self.deb_version}_{DEB_ARCH.get(self.arch, self.arch)}.deb"

    def payload(self) -> dict[str, tuple[bytes, int]]:
        """Every file the package installs: path -> (content, mode)."""
        out: dict[str, tuple[bytes, int]] = {}
        for files, mode in ((self.files, 0o644), (self.config_files, 0o644)):
            out.update((p, (_bytes(c), mode)) for p, c in files.items())
        out.update((p, (_bytes(c), 0o755)) for p, c in self.executables.items())
        return out

    def tree_kib(self) -> int:
        return sum(
            (f.stat().st_size + 1023) // 1024
            for source in self.trees.values()
            for f in Path(source).rglob("*")
            if f.is_file() and not f.is_symlink()
        )


BASE_PACKAGE = PackageSpec(
    name="lab-base",
    version="1",
    summary="What the Debian base of lab hosts provides, for rpm dependency resolution",
    provides=(
        "/bin/sh", "/bin/bash", "/usr/bin/sh", "bash", "systemd", "python3", "/usr/bin/python3",
    ),
)  # fmt: skip


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def _stage(spec: PackageSpec, root: Path) -> None:
    """Write the payload and ``DEBIAN/`` under ``root``, with fixed modes and times."""
    root.mkdir(parents=True)
    for path, (content, mode) in spec.payload().items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(mode)
    for path, source in spec.trees.items():
        shutil.copytree(source, root / path.lstrip("/"), symlinks=True)
    _stage_debian(spec, root / "DEBIAN")
    for directory, _, names in os.walk(root):
        Path(directory).chmod(0o755)
        for name in [*names, "."]:
            os.utime(Path(directory, name), (EPOCH, EPOCH), follow_symlinks=False)


# --- RPM -----------------------------------------------------------------------------


def _rpm_spec(spec: PackageSpec, stage: Path) -> str:
    def escape(text: str) -> str:
        return text.replace("%", "%%")

    summary = escape(spec.summary or spec.name)
    # big trees (a venv): zstd on every core, far faster than gzip -6 for the same size
    lines = ["%define _binary_payload w3T0.zstdio"] if spec.trees else []
    lines += [
        f"Name: {spec.name}", f"Version: {spec.version}", f"Release: {spec.release}",
        f"Summary: {summary}", "License: Proprietary", f"BuildArch: {spec.arch}",
        "AutoReqProv: no",
    ]  # fmt: skip
    for tag, values in (("Requires", spec.requires), ("Provides", spec.provides)):
        lines += [f"{tag}: {value}" for value in values]
    lines += [f"Obsoletes: {value}" for value in spec.obsoletes]
    lines += ["", "%description", summary, "", "%install", "mkdir -p %{buildroot}"]
    lines.append(f"cp -a {shlex.quote(str(stage))}/. %{{buildroot}}/")
    lines.append("rm -rf %{buildroot}/DEBIAN")
    if spec.post_install:
        lines += ["", "%post", escape(spec.post_install.rstrip("\n"))]
    for name in RPM_SCRIPTS:
        if name in spec.scripts:
            lines += ["", f"%{name}", escape(spec.scripts[name].rstrip("\n"))]
    lines += ["", "%files", "%defattr(-,root,root,-)"]
    for path, (_, mode) in sorted(spec.payload().items()):
        config = "%config(noreplace) " if path in spec.config_files else ""
        lines.append(f'%attr({mode:04o},root,root) {config}"{path}"')
    lines += [f'%attr(-,root,root) "{path}"' for path in sorted(spec.trees)]
    return "\n".join(lines) + "\n"


def _build_rpms(specs: Sequence[PackageSpec], work: Path, out: Path) -> None:
    """Build every RPM with one ``rpmbuild`` call in one topdir."""
    if not specs:
        return
    spec_files = []
    for spec in specs:
        spec_file = work / "SPECS" / f"{spec.nvr}.spec"
        spec_file.parent.mkdir(parents=True, exist_ok=True)
        spec_file.write_text(_rpm_spec(spec, work / "stage" / spec.nvr))
        spec_files.append(str(spec_file))
    macros = {**RPM_MACROS, "_topdir": str(work), "_rpmdir": str(out)}
    macros["_tmppath"] = str(work / "tmp")
    (work / "tmp").mkdir(exist_ok=True)
    argv = ["rpmbuild", "-bb", "--quiet", "--noclean"]
    for name, value in macros.items():
        argv += ["--define", f"{name} {value}"]
    run_tool([*argv, *spec_files], cwd=work, env={"SOURCE_DATE_EPOCH": str(EPOCH)})


# --- deb -----------------------------------------------------------------------------


def _deb_relations(values: Sequence[str]) -> str:
    """RPM dependencies as a deb relation list; file dependencies are dropped."""
    out = []
    for value in values:
        match = _DEPENDENCY.fullmatch(value)
        if match is None or match["name"].startswith("/"):
            continue
        relation = match["name"]
        if match["op"]:
            relation += f" ({_DEB_OPERATOR[match['op']]} {match['ver']})"
        out.append(relation)
    return ", ".join(out)


def _deb_control(spec: PackageSpec) -> str:
    size = sum((len(content) + 1023) // 1024 for content, _ in spec.payload().values())
    size += spec.tree_kib()
    fields = {
        "Package": spec.name,
        "Version": spec.deb_version,
        "Architecture": DEB_ARCH.get(spec.arch, spec.arch),
        "Maintainer": MAINTAINER,
        "Installed-Size": str(max(size, 1)),
        "Depends": _deb_relations(spec.requires),
        "Provides": _deb_relations(spec.provides),
        "Conflicts": _deb_relations(spec.obsoletes),
        "Breaks": _deb_relations(spec.obsoletes),
        "Replaces": _deb_relations(spec.obsoletes),
        "Section": "misc",
        "Priority": "optional",
        "Description": spec.summary or spec.name,
    }
    return "".join(f"{key}: {value}\n" for key, value in fields.items() if value)


def _stage_debian(spec: PackageSpec, debian: Path) -> None:
    """The deb control dir: control, conffiles, postinst."""
    debian.mkdir()
    texts = {"control": _deb_control(spec)}
    if spec.config_files:
        texts["conffiles"] = "".join(f"{path}\n" for path in sorted(spec.config_files))
    if spec.post_install:
        body = spec.post_install.rstrip("\n")
        texts["postinst"] = f'#!/bin/sh\n[ "$1" = configure ] || exit 0\n{body}\n'
    for name in DEB_SCRIPTS:
        if name in spec.scripts:
            texts[name] = "#!/bin/sh\n" + spec.scripts[name].rstrip("\n") + "\n"
    for name, text in texts.items():
        (debian / name).write_text(text)
        (debian / name).chmod(0o644 if name in ("control", "conffiles") else 0o755)


def _build_deb(spec: PackageSpec, stage: Path, out: Path) -> None:
    # big trees (a venv): zstd, as for the RPMs; unpacking it costs the host far less CPU
    compress = "-Zzstd" if spec.trees else "-Zgzip"
    argv = ["dpkg-deb", "--root-owner-group", compress, "--build", str(stage)]
    run_tool([*argv, str(out / spec.deb_filename)], env={"SOURCE_DATE_EPOCH": str(EPOCH)})


def _packages_index(deb_dir: Path) -> str:
    """The apt ``Packages`` text for every .deb in ``deb_dir`` (all versions)."""
    if shutil.which("dpkg-scanpackages"):
        return run_tool(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=deb_dir)
    paragraphs = []
    for deb in sorted(deb_dir.glob("*.deb")):
        data = deb.read_bytes()
        control = run_tool(["dpkg-deb", "--field", str(deb)]).rstrip("\n")
        extra = [f"Filename: ./{deb.name}", f"Size: {len(data)}"]
        for label, algorithm in (("MD5sum", "md5"), ("SHA1", "sha1"), ("SHA256", "sha256")):
            extra.append(f"{label}: {hashlib.new(algorithm, data).hexdigest()}")
        paragraphs.append("\n".join([control, *extra]) + "\n")
    return "\n".join(paragraphs)


def _release_file(deb_dir: Path, architectures: set[str]) -> str:
    lines = [
        "Origin: stackstep-lab", "Label: stackstep-lab", "Suite: lab", "Codename: lab",
        f"Date: {email.utils.formatdate(time.time(), usegmt=True)}",
        f"Architectures: {' '.join(sorted(architectures | {'all'}))}",
        "Description: stackstep lab packages",
    ]  # fmt: skip
    for title, algorithm in (("MD5Sum", "md5"), ("SHA256", "sha256")):
        lines.append(f"{title}:")
        for name in ("Packages", "Packages.gz"):
            data = (deb_dir / name).read_bytes()
            lines.append(f" {hashlib.new(algorithm, data).hexdigest()} {len(data)} {name}")
    return "\n".join(lines) + "\n"


def _write_apt_index(deb_dir: Path) -> None:
    packages = _packages_index(deb_dir).encode()
    (deb_dir / "Packages").write_bytes(packages)
    with gzip.GzipFile(deb_dir / "Packages.gz", "wb", compresslevel=9, mtime=0) as gz:
        gz.write(packages)
    arches = {deb.name.rsplit("_", 1)[-1].removesuffix(".deb") for deb in deb_dir.glob("*.deb")}
    (deb_dir / "Release").write_text(_release_file(deb_dir, arches))


# --- the repositories ----------------------------------------------------------------


def _publish(built: Sequence[tuple[Path, Path]]) -> None:
    """Copy (file, repo) pairs; a file already there must be identical (and is left alone)."""
    for path, repo in built:
        target = repo / path.name
        if target.exists() and target.read_bytes() != path.read_bytes():
            raise LabError(
                f"{target} was already released with different content",
                hint="bump the package's version or release, or start from an empty root",
            )
    for path, repo in built:
        if not (repo / path.name).exists():
            shutil.copy2(path, repo / path.name)


FORMATS = ("rpm", "deb")


def build_packages(
    specs: Sequence[PackageSpec], work: Path, formats: Sequence[str] = FORMATS
) -> list[Path]:
    """Build every spec in the given formats under ``work``; the package files back."""
    nvrs = [spec.nvr for spec in specs]
    if len(set(nvrs)) != len(nvrs):
        raise LabError(f"the same package version is listed twice in {nvrs}")
    rpms, debs = work / "out-rpm", work / "out-deb"
    rpms.mkdir(parents=True, exist_ok=True)
    debs.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        _stage(spec, work / "stage" / spec.nvr)
    with ThreadPoolExecutor(max_workers=2) as pool:
        rpm_build = pool.submit(_build_rpms, specs if "rpm" in formats else [], work, rpms)
        for spec in specs if "deb" in formats else []:
            _build_deb(spec, work / "stage" / spec.nvr, debs)
        rpm_build.result()
    return sorted([*rpms.iterdir(), *debs.iterdir()])


class LabRepos:
    """An RPM and an apt repository under one root, served to the lab hosts over HTTP."""

    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.rpm_dir = self.root / "rpm"
        self.deb_dir = self.root / "deb"

    def rpm_path(self, spec: PackageSpec) -> Path:
        return self.rpm_dir / spec.rpm_filename

    def deb_path(self, spec: PackageSpec) -> Path:
        return self.deb_dir / spec.deb_filename

    def release(self, specs: Sequence[PackageSpec], formats: Sequence[str] = FORMATS) -> None:
        """Build every spec (as .rpm and .deb by default), add them to the repos, refresh
        the indexes.

        Nothing is published unless every package built; a spec whose name-version-release
        is already published with different content is refused (LabError).
        """
        with tempfile.TemporaryDirectory(prefix="lab-repos-") as temp:
            self.add(build_packages(specs, Path(temp), formats))

    def add(self, files: Sequence[Path]) -> None:
        """Publish already built ``.rpm``/``.deb`` files and refresh the indexes."""
        self.rpm_dir.mkdir(parents=True, exist_ok=True)
        self.deb_dir.mkdir(parents=True, exist_ok=True)
        rpms = [(p, self.rpm_dir) for p in sorted(files) if p.suffix == ".rpm"]
        debs = [(p, self.deb_dir) for p in sorted(files) if p.suffix == ".deb"]
        _publish(rpms + debs)
        run_tool(["createrepo_c", "--update", "--no-database", "--quiet", str(self.rpm_dir)])
        _write_apt_index(self.deb_dir)

    def rpm_repo_file(self, base_url: str, name: str = "lab") -> str:
        """The text of ``/etc/yum.repos.d/NAME.repo`` for hosts reaching us at ``base_url``."""
        return (
            f"[{name}]\nname=stackstep lab packages ({name})\n"
            f"baseurl={base_url.rstrip('/')}/rpm\n"
            "enabled=1\ngpgcheck=0\nrepo_gpgcheck=0\nmetadata_expire=0\n"
        )

    def apt_source_line(self, base_url: str) -> str:
        return f"deb [trusted=yes] {base_url.rstrip('/')}/deb ./"

    def serve_command(self, address: str, port: int) -> list[str]:
        """The argv serving ``root`` over HTTP (the lab runs it in its own namespace)."""
        return [
            "python3", "-m", "http.server", "--bind", address, str(port),
            "--directory", str(self.root),
        ]  # fmt: skip
