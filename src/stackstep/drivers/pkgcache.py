"""The old package of a config file's owner: where a merge base (the old default) comes from.

Reads are commands plus pure parsers, as everywhere in drivers. The owner of a file is
``rpm -qf`` / ``dpkg-query -S``; its installed version ``rpm -q`` / ``dpkg-query -W``.
Cached packages are found with ``find`` in the package managers' caches: yum and dnf
keep downloaded packages only with ``keepcache=1``, apt keeps
``/var/cache/apt/archives`` until ``apt-get clean``. A file is read out of a package
with ``rpm2cpio | cpio`` (``rpm2archive | tar`` where cpio is missing) or
``dpkg-deb --fsys-tarfile | tar``. When no cache has the old version, it can be
downloaded (``dnf download``, ``yumdownloader``, ``apt-get download``) if a repository
still serves it. The shell snippets take their paths as ``$1``/``$2``: nothing is
pasted into shell text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote

from stackstep.drivers.versions import deb_version_key, rpm_evr_key
from stackstep.model.catalog import Family
from stackstep.model.command import Command, cmd, operands, path_operand
from stackstep.model.inventory import PackageManager

RPM_CACHES = ("/var/cache/dnf", "/var/cache/yum", "/var/cache/libdnf5")
DEB_CACHES = ("/var/cache/apt/archives",)
DOWNLOAD_TEMPLATE = "/var/tmp/stackstep-base.XXXXXX"
_RPM_VERSION = r"%{EPOCH}:%{VERSION}-%{RELEASE}\n"
_EXTRACT_RPM = (
    'if command -v cpio >/dev/null 2>&1; then rpm2cpio "$1" | cpio -i --quiet --to-stdout "$2"; '
    'else rpm2archive - < "$1" | tar -xzOf - "$2"; fi'
)
_EXTRACT_DEB = 'dpkg-deb --fsys-tarfile "$1" | tar -xOf - "$2"'
_APT_DOWNLOAD = 'cd -- "$1" && apt-get download -q -- "$2"'


@dataclass(frozen=True)
class CachedPackage:
    path: str  # the package file on the host
    version: str  # rpm: "version-release" (file names carry no epoch); deb: with epoch


def caches(family: Family) -> tuple[str, ...]:
    return RPM_CACHES if family == "rpm" else DEB_CACHES


def owner_command(family: Family, path: str) -> Command:
    """Which installed package ships ``path``."""
    if family == "rpm":
        return cmd("rpm", "-qf", "--qf", r"%{NAME}\n", *operands(path))
    return cmd("dpkg-query", "-S", *operands(path))


def parse_owner(family: Family, path: str, text: str) -> str | None:
    """The owning package's name, or None (not owned: ``rpm -qf`` says so on stdout)."""
    for line in text.splitlines():
        if family == "rpm":
            name = line.strip()
            return name if name and " " not in name else None
        if line.startswith("diversion ") or not line.endswith(f": {path}"):
            continue
        first = line.removesuffix(f": {path}").split(", ")[0]
        return first.split(":")[0].strip() or None  # "libfoo:amd64" -> "libfoo"
    return None


def version_command(family: Family, name: str) -> Command:
    if family == "rpm":
        return cmd("rpm", "-q", "--qf", _RPM_VERSION, *operands(name))
    return cmd("dpkg-query", "-W", "-f=${Version}\\n", *operands(name))


def parse_version(text: str) -> str | None:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line.removeprefix("(none):") or None


def cached_command(family: Family, name: str, dirs: Sequence[str]) -> Command:
    """``find`` the package files of ``name`` under ``dirs`` (a missing dir: exit 1, the
    others still listed)."""
    pattern = f"{name}-*.rpm" if family == "rpm" else f"{name}_*.deb"
    points = (path_operand(d) for d in dirs)
    return cmd("find", *points, "-type", "f", "-name", pattern, "-print")


def parse_cached(family: Family, name: str, text: str) -> list[CachedPackage]:
    """Package files of exactly ``name`` (``nova-*.rpm`` also finds ``nova-common``)."""
    found = []
    for line in text.splitlines():
        file = PurePosixPath(line.strip()).name
        version = (
            _rpm_file_version(name, file) if family == "rpm" else _deb_file_version(name, file)
        )
        if version:
            found.append(CachedPackage(line.strip(), version))
    return found


def _rpm_file_version(name: str, file: str) -> str | None:
    """``NAME-VERSION-RELEASE.ARCH.rpm`` -> ``VERSION-RELEASE``."""
    if not file.startswith(f"{name}-") or not file.endswith(".rpm"):
        return None
    rest = file[len(name) + 1 : -len(".rpm")].rpartition(".")[0]
    return rest if rest[:1].isdigit() and "-" in rest else None


def _deb_file_version(name: str, file: str) -> str | None:
    """``NAME_VERSION_ARCH.deb`` -> ``VERSION`` (the epoch's colon is written ``%3a``)."""
    parts = file.removesuffix(".deb").split("_")
    if not file.endswith(".deb") or len(parts) != 3 or parts[0] != name:
        return None
    return unquote(parts[1])


def _comparable(family: Family, version: str) -> str:
    """rpm file names carry no epoch: compare rpm versions without it."""
    if family == "rpm" and ":" in version:
        return version.partition(":")[2]
    return version


def choose_base(
    family: Family, cached: Sequence[CachedPackage], installed: str | None, previous: str | None
) -> CachedPackage | None:
    """The package the live file came from: exactly ``previous`` (the version before the
    upgrade, from the run's facts) when known, else the newest one older than
    ``installed``; None when neither is known or cached."""
    norm = [(_comparable(family, c.version), c) for c in cached]
    now = _comparable(family, installed or "")
    if previous and _comparable(family, previous) != now:
        want = _comparable(family, previous)
        return next((c for v, c in norm if v == want), None)
    if not installed:
        return None
    if family == "rpm":
        rpm_older = [c for v, c in norm if rpm_evr_key(v) < rpm_evr_key(now)]
        return max(rpm_older, key=lambda c: rpm_evr_key(c.version), default=None)
    deb_older = [c for v, c in norm if deb_version_key(v) < deb_version_key(now)]
    return max(deb_older, key=lambda c: deb_version_key(c.version), default=None)


def extract_command(family: Family, package: str, path: str) -> Command:
    """Print ``path`` as the package ships it (its archive names files ``./etc/...``, so
    the member is always ``./...``: never an option of cpio or tar)."""
    member = "./" + path.lstrip("/")
    script = _EXTRACT_RPM if family == "rpm" else _EXTRACT_DEB
    return cmd("sh", "-c", script, "stackstep-extract", package, member)


def download_dir_command() -> Command:
    return cmd("mktemp", "-d", DOWNLOAD_TEMPLATE)


def download_command(pm: PackageManager, name: str, version: str, dest: str) -> Command:
    """Fetch ``name`` at ``version`` into ``dest`` without installing it."""
    if pm == "apt":
        return cmd("sh", "-c", _APT_DOWNLOAD, "stackstep-download", dest, f"{name}={version}")
    spec = f"{name}-{_comparable('rpm', version)}"
    if pm == "dnf":
        return cmd("dnf", "-q", "download", "--destdir", dest, *operands(spec))
    return cmd("yumdownloader", "-q", "--destdir", dest, *operands(spec))


def cleanup_command(dest: str) -> Command:
    return cmd("rm", "-rf", "--", dest)
