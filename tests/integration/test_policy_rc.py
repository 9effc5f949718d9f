"""The hold around apt's transactions (drivers/packages.py), run for real with ``sh``.

The script is the one the commands carry, built for a policy-rc.d in a temporary
directory instead of /usr/sbin (``hold_script_for``); the command it wraps is a small
shell script standing in for apt-get, which reads the file as invoke-rc.d would. The
real ``deb-systemd-invoke`` (Debian's debhelper helper, which reads
``$DPKG_ROOT/usr/sbin/policy-rc.d``) is asked to restart a unit under the hold.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from stackstep.drivers import packages

SITE = b"#!/bin/sh\n# the site's own: no starts in this container\nexit 101\n"
# stands in for apt-get: shows the policy file, asks it as invoke-rc.d does, says what it got
APT = 'cat "$1"; "$1" nova-api restart; echo "policy said $?"; exit "${2:-0}"'


def _held(root: Path, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    policy = root / "usr" / "sbin" / "policy-rc.d"
    script = packages.hold_script_for(str(policy))
    return subprocess.run(
        ["sh", "-c", script, packages.HOLD_NAME, *argv],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _apt(root: Path, status: int = 0) -> subprocess.CompletedProcess:
    return _held(root, "sh", "-c", APT, "apt-get", str(_policy(root)), str(status))


def _policy(root: Path) -> Path:
    return root / "usr" / "sbin" / "policy-rc.d"


def _saved(root: Path) -> Path:
    return root / "usr" / "sbin" / "policy-rc.d.stackstep-saved"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root whose name the script must quote (a space, a quote, a ``$``)."""
    root = tmp_path / "it's a $root"
    (root / "usr" / "sbin").mkdir(parents=True)
    return root


def _site_file(root: Path, mode: int = 0o750) -> None:
    _policy(root).write_bytes(SITE)
    _policy(root).chmod(mode)


def test_no_policy_file_one_denies_during_the_transaction_and_is_gone_after(root: Path) -> None:
    done = _apt(root)
    assert done.returncode == 0, done.stderr
    assert packages.HOLD_MARK in done.stdout
    assert "policy said 101" in done.stdout
    assert sorted(p.name for p in (root / "usr" / "sbin").iterdir()) == []


def test_the_transactions_exit_status_is_kept_and_the_file_still_removed(root: Path) -> None:
    failed = _apt(root, 100)
    assert failed.returncode == 100
    assert "policy said 101" in failed.stdout
    assert sorted(p.name for p in (root / "usr" / "sbin").iterdir()) == []


def test_a_sites_own_file_is_set_aside_and_put_back_as_it_was(root: Path) -> None:
    _site_file(root, 0o750)
    show_saved = 'cat "$3"; ' + APT
    done = _held(
        root, "sh", "-c", show_saved, "apt-get", str(_policy(root)), "0", str(_saved(root))
    )
    assert done.returncode == 0, done.stderr
    assert SITE.decode() in done.stdout  # the site's file waited beside ours
    assert packages.HOLD_MARK in done.stdout and "policy said 101" in done.stdout
    assert _policy(root).read_bytes() == SITE
    assert _policy(root).stat().st_mode & 0o7777 == 0o750
    assert not _saved(root).exists()


def test_a_run_killed_inside_is_finished_by_the_next_one(root: Path) -> None:
    _site_file(root, 0o700)
    # apt-get's stand-in kills the hold script (its parent) with SIGKILL, as a lost host would
    killed = _held(root, "sh", "-c", 'kill -KILL "$PPID"; sleep 0.2')
    assert killed.returncode == -9
    assert packages.HOLD_MARK in _policy(root).read_text()  # ours left behind
    assert _saved(root).read_bytes() == SITE
    again = _apt(root)
    assert again.returncode == 0, again.stderr
    assert "policy said 101" in again.stdout
    assert _policy(root).read_bytes() == SITE
    assert _policy(root).stat().st_mode & 0o7777 == 0o700
    assert not _saved(root).exists()


def test_a_run_killed_inside_without_a_site_file_leaves_nothing_after_the_next(
    root: Path,
) -> None:
    killed = _held(root, "sh", "-c", 'kill -KILL "$PPID"; sleep 0.2')
    assert killed.returncode == -9
    assert packages.HOLD_MARK in _policy(root).read_text()
    assert _apt(root).returncode == 0
    assert sorted(p.name for p in (root / "usr" / "sbin").iterdir()) == []


def test_a_site_file_and_a_saved_one_are_both_left_alone_and_the_step_refused(
    root: Path,
) -> None:
    _site_file(root, 0o755)
    older = b"#!/bin/sh\nexit 0\n"
    _saved(root).write_bytes(older)
    ran = root / "apt-ran"
    refused = _held(root, "sh", "-c", 'touch "$1"', "apt-get", str(ran))
    assert refused.returncode == 1
    assert not ran.exists()
    assert f"both {_policy(root)} and {_saved(root)} exist" in refused.stderr
    assert f"delete {_saved(root)}, then run the step again" in refused.stderr.replace("\n", " ")
    assert _policy(root).read_bytes() == SITE and _saved(root).read_bytes() == older
    assert _policy(root).stat().st_mode & 0o7777 == 0o755
    assert sorted(p.name for p in (root / "usr" / "sbin").iterdir()) == [
        "policy-rc.d",
        "policy-rc.d.stackstep-saved",
    ]


def test_debhelpers_deb_systemd_invoke_does_not_restart_under_the_hold(tmp_path: Path) -> None:
    invoke = shutil.which("deb-systemd-invoke")
    if invoke is None:
        pytest.skip("needs deb-systemd-invoke (init-system-helpers)")
    root = tmp_path  # deb-systemd-invoke pastes $DPKG_ROOT into shell text: a plain name
    (root / "usr" / "sbin").mkdir(parents=True)
    bin_dir = root / "bin"
    bin_dir.mkdir()
    log = root / "systemctl.log"
    systemctl = bin_dir / "systemctl"  # records a call instead of restarting anything
    systemctl.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    systemctl.chmod(0o755)
    env = {"DPKG_ROOT": str(root), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    # a postinst's restart-after-upgrade, inside the hold
    done = _held(root, invoke, "restart", "nova-api.service", env=env)
    assert done.returncode == 0, done.stderr
    assert "returned 101, not running 'restart nova-api.service'" in done.stderr
    assert not log.exists()
    # and the same call with no hold reaches systemctl: the stub is what it would run
    subprocess.run([invoke, "restart", "nova-api.service"], env={**os.environ, **env}, check=False)
    assert "restart" in log.read_text()


def test_a_policy_file_written_during_the_transaction_is_kept_beside_the_sites(
    root: Path,
) -> None:
    """A package that ships its own policy-rc.d: neither file is lost, the step fails."""
    _site_file(root)
    shipped = "#!/bin/sh\nexit 0\n"
    writes = 'printf "%s" "$2" > "$1.new" && mv -f "$1.new" "$1"'
    done = _held(root, "sh", "-c", writes, "apt-get", str(_policy(root)), shipped)
    assert done.returncode == 1
    assert f"the site's own policy-rc.d is still {_saved(root)}" in " ".join(done.stderr.split())
    assert _policy(root).read_text() == shipped
    assert _saved(root).read_bytes() == SITE
