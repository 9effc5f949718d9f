"""Build small real packages (RPM with rpmbuild, .deb with dpkg-deb) that ship config
files, for tests that read files back out of a package as a host would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SPEC = """\
Name: {name}
Version: {version}
Release: {release}
Summary: stackstep test package
License: Apache-2.0
BuildArch: noarch
%description
A package shipping config files, built by the stackstep tests.
%install
{install}
%files
{files}
"""
CONTROL = """\
Package: {name}
Version: {version}
Architecture: all
Maintainer: stackstep tests <tests@example.invalid>
Description: a package shipping config files, built by the stackstep tests
"""


def have(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


def build_rpm(work: Path, name: str, version: str, release: str, files: dict[str, str]) -> Path:
    """``NAME-VERSION-RELEASE.noarch.rpm`` shipping ``files`` as %config(noreplace)."""
    top = work / f"rpmbuild-{name}-{version}"
    sources = top / "SOURCES"
    sources.mkdir(parents=True)
    install, listed = [], []
    for index, (path, text) in enumerate(files.items()):
        (sources / f"f{index}").write_text(text)
        install.append(f"install -D -m 0644 %{{_sourcedir}}/f{index} %{{buildroot}}{path}")
        listed.append(f"%config(noreplace) {path}")
    spec = top / f"{name}.spec"
    spec.write_text(
        SPEC.format(
            name=name,
            version=version,
            release=release,
            install="\n".join(install),
            files="\n".join(listed),
        )
    )
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", "--quiet", str(spec)],
        check=True,
        capture_output=True,
    )
    return next((top / "RPMS" / "noarch").glob("*.rpm"))


def build_deb(work: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """``NAME_VERSION_all.deb`` (an epoch's colon written ``%3a``, as apt names them)."""
    root = work / f"deb-{name}-{version}"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(CONTROL.format(name=name, version=version))
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    out = work / f"{name}_{version.replace(':', '%3a')}_all.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(root), str(out)],
        check=True,
        capture_output=True,
    )
    return out
