"""Can this host reach the target release's repository? A read-only question, asked
before anything is changed.

The "enable the repository" command (the catalog's, or the inventory's
``repo_command``) says where the target release comes from:

- a URL (``yum install https://.../rdo-release-havana.rpm``): fetch it (``curl``);
- a release package (``dnf install centos-release-openstack-gazpacho``): already
  installed, or offered by the enabled repositories (``dnf list --available``,
  metadata refreshed), which also proves those repositories answer;
- an Ubuntu Cloud Archive pocket (``add-apt-repository cloud-archive:caracal``): its
  ``Release`` file for this host's codename answers;
- an apt package (``apt-get install ...``): ``apt-cache policy`` has a candidate.

Anything else (a site's own script) cannot be judged and is not checked. Each check is a
``sh -c`` script taking its values as ``$1``.. (nothing pasted into shell text); exit 0
means reachable, and the output says why not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stackstep.model.command import Command, cmd
from stackstep.model.inventory import PackageManager

CLOUD_ARCHIVE = "http://ubuntu-cloud.archive.canonical.com/ubuntu"
TIMEOUT_S = 20

_URL = (
    f'for u in "$@"; do curl -fsSL -o /dev/null --max-time {TIMEOUT_S} "$u" 2>&1 '
    '|| { echo "cannot fetch $u"; exit 1; }; done'
)
_RPM_PACKAGE = (
    'pm="$1"; shift; for p in "$@"; do rpm -q "$p" >/dev/null 2>&1 && continue; '
    'if [ "$pm" = dnf ]; then o=$(dnf -q --refresh list --available "$p" 2>&1); '
    'else o=$(yum -q list available "$p" 2>&1); fi '
    '|| { echo "$p is not offered by the enabled repositories (or they do not answer): '
    '$(printf %s "$o" | grep . | tail -n 1)"; exit 1; }; done'
)
_CLOUD_ARCHIVE = (
    '. /etc/os-release; u="$1/dists/${VERSION_CODENAME}-updates/$2/Release"; '
    f'curl -fsSL -o /dev/null --max-time {TIMEOUT_S} "$u" 2>&1 '
    '|| { echo "cannot fetch $u"; exit 1; }'
)
_APT_PACKAGE = (
    'for p in "$@"; do c=$(apt-cache policy "$p" 2>/dev/null '
    "| sed -n 's/^ *Candidate: *//p'); "
    'case "$c" in ""|"(none)") echo "no candidate for $p in the apt sources"; exit 1;; esac; '
    "done"
)
_INSTALL_FLAGS = {"-y", "-q", "--assumeyes", "--quiet", "install"}


@dataclass(frozen=True)
class RepoCheck:
    command: Command
    what: str  # e.g. "https://.../rdo-release-havana.rpm answers"


def _sh(script: str, *args: str) -> Command:
    return cmd("sh", "-c", script, "stackstep-repo-check", *args)


def repo_check(argv: Sequence[str], pm: PackageManager) -> RepoCheck | None:
    """The read-only check for the enable command ``argv``, or None when it cannot be
    judged (a site's own script)."""
    urls = [a for a in argv if a.startswith(("http://", "https://", "ftp://"))]
    if urls:
        return RepoCheck(_sh(_URL, *urls), " ".join(urls) + " answers")
    pockets = [a.removeprefix("cloud-archive:") for a in argv if a.startswith("cloud-archive:")]
    if pockets:
        name = pockets[0].split("-")[0]
        return RepoCheck(
            _sh(_CLOUD_ARCHIVE, CLOUD_ARCHIVE, name), f"the Ubuntu Cloud Archive has {name}"
        )
    if len(argv) < 2 or "install" not in argv:
        return None
    tool = argv[0].rsplit("/", 1)[-1]
    names = [a for a in argv[1:] if a not in _INSTALL_FLAGS and not a.startswith("-")]
    if not names:
        return None
    if tool in ("yum", "dnf"):
        manager = "dnf" if tool == "dnf" or pm == "dnf" else "yum"
        return RepoCheck(_sh(_RPM_PACKAGE, manager, *names), " ".join(names) + " can be installed")
    if tool in ("apt-get", "apt"):
        return RepoCheck(_sh(_APT_PACKAGE, *names), " ".join(names) + " can be installed")
    return None
