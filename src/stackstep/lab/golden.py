"""The golden image: a Debian rootfs built once with debootstrap and cached.

Its directory name carries the recipe hash, so a changed recipe builds a new image; an
image is never changed once built (hosts mount it read-only as their overlay's lower
layer). The build goes to a temporary directory renamed into place when complete, so an
interrupted build leaves nothing half-made behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from stackstep.lab.system import require_tools, run

PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "python3",
    "python3-venv",
    "iproute2",
    "procps",
    "curl",
    "ca-certificates",
    "rpm",
    "dnf",
    "sudo",
    "apt-utils",
    "mariadb-server",
    "python3-pymysql",
    "haproxy",
)
RECIPE_VERSION = 3  # bump when the customisation below changes


@dataclass(frozen=True)
class Recipe:
    suite: str = "bookworm"
    variant: str = "minbase"
    packages: tuple[str, ...] = PACKAGES
    version: int = RECIPE_VERSION

    @property
    def hash(self) -> str:
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def debian_mirror() -> str:
    """The Debian mirror this machine's apt already uses."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    sources = Path("/etc/apt/sources.list")
    if sources.exists():
        for line in sources.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0] == "deb" and "debian" in parts[1]:
                return parts[1]
    return "http://deb.debian.org/debian"


def golden_path(cache: Path, recipe: Recipe = Recipe()) -> Path:
    return cache / f"golden-{recipe.hash}"


def ensure_golden(
    cache: Path, recipe: Recipe = Recipe(), log: Path | None = None
) -> tuple[Path, float]:
    """The cached image for ``recipe``, built first if missing. Returns (path, seconds built)."""
    target = golden_path(cache, recipe)
    if (target / ".complete").exists():
        return target, 0.0
    require_tools(["debootstrap"])
    started = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    work = cache / f".building-{recipe.hash}"
    shutil.rmtree(work, ignore_errors=True)
    run(
        [
            "debootstrap",
            f"--variant={recipe.variant}",
            "--include=" + ",".join(recipe.packages),
            recipe.suite,
            work,
            debian_mirror(),
        ],
        timeout=1800,
        log=log,
    )
    _customise(work, log)
    (work / ".complete").write_text(json.dumps(asdict(recipe)))
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    return target, time.monotonic() - started


def _customise(root: Path, log: Path | None) -> None:
    yum = root / "usr/bin/yum"
    if not yum.exists():
        yum.symlink_to("dnf")  # as RHEL 8+ ships it
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()  # each host gets its own
    for cert in Path("/usr/local/share/ca-certificates").glob("*.crt"):
        shutil.copy(cert, root / "usr/local/share/ca-certificates" / cert.name)
    run(["chroot", root, "update-ca-certificates"], check=False, log=log)
    (root / "etc/machine-id").write_text("")  # systemd makes one per host at first boot
    run(["chroot", root, "systemctl", "enable", "ssh.service"], check=False, log=log)
    # MariaDB and HAProxy run only where the lab's deploy enables them (db, lb)
    for unit in ("mariadb.service", "haproxy.service"):
        run(["chroot", root, "systemctl", "disable", unit], check=False, log=log)
    for unit in (
        "apt-daily.timer",
        "apt-daily-upgrade.timer",
        "dnf-makecache.timer",
        "e2scrub_all.timer",
        "fstrim.timer",
    ):
        run(["chroot", root, "systemctl", "mask", unit], check=False, log=log)
    shutil.rmtree(root / "var/cache/apt/archives", ignore_errors=True)
    (root / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)


def prune_golden(cache: Path, keep: Path) -> list[Path]:
    """Remove images of older recipes (call only while no lab host runs)."""
    removed = []
    for old in cache.glob("golden-*"):
        if old != keep and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed
