#!/usr/bin/env python3
"""Stand-in for systemctl, service, yum, the *-manage tools, find... on a fake host.

Every program name on the fake host's PATH links here. It appends its argv to
``$FAKE_ROOT/calls.log``, keeps unit states under ``$FAKE_ROOT/units/``, and obeys two
files the test writes: ``$FAKE_ROOT/pause`` (a substring: the first matching call
applies its effect, writes ``$FAKE_ROOT/paused`` and waits for ``$FAKE_ROOT/release``,
so the test can kill or interrupt stackstep mid-step) and ``$FAKE_ROOT/fail`` (a
substring: matching calls print an error and exit 1). Until the lab cloud exists
(issue 4) this is the peer for engine end-to-end tests; the transport, executor and
journal under test are all real. With ``$FAKE_ROOT/packages`` ("NAME VERSION" lines),
``rpm -qa --qf`` reports those versions and ``yum upgrade``/``downgrade`` change them.
Reboots: see ``reboots`` (tests/e2e/test_reboot.py links cat, hostname, nova... here).
SysV hosts: see ``sysv`` (tests/e2e/test_sysv_hosts.py links test and chkconfig here).
"""

import fnmatch
import os
import signal
import sys
import time
import uuid
from pathlib import Path

root = Path(os.environ["FAKE_ROOT"])
name = Path(sys.argv[0]).name
line = " ".join([name, *sys.argv[1:]])
units = root / "units"
units.mkdir(parents=True, exist_ok=True)
with open(root / "calls.log", "a") as log:
    log.write(line + "\n")


def matches(file: str) -> bool:
    path = root / file
    return path.exists() and path.read_text().strip() in line


if matches("fail"):
    print(f"{name}: simulated failure", file=sys.stderr)
    print("the last line of output says why")
    sys.exit(1)


def read(file: str, default: str = "") -> str:
    path = root / file
    return path.read_text() if path.exists() else default


def unit_state(unit: str) -> str:
    return read(f"units/{unit}", "active")


def list_unit_files(patterns: list[str]) -> int:
    known = read("unit-files").split()
    found = [u for u in known if any(fnmatch.fnmatch(f"{u}.service", p) for p in patterns)]
    for unit in found:
        print(f"{unit}.service enabled enabled")
    return 0 if found else 1


def show(units: list[str]) -> int:
    records = []
    for unit in units:
        name = unit.removesuffix(".service")
        state = unit_state(name)
        records.append(
            f"Id={name}.service\nLoadState=loaded\nActiveState={state}\n"
            f"SubState={'running' if state == 'active' else 'dead'}\n"
            "UnitFileState=enabled\nMainPID=1\nExecMainStartTimestampMonotonic=1\n"
        )
    print("\n".join(records), end="")
    return 0


def versions() -> dict[str, str]:
    """``$FAKE_ROOT/packages``: "NAME VERSION" lines, the installed packages' versions."""
    return dict(line.split(None, 1) for line in read("packages").splitlines() if line.strip())


def rpm_versions(globs: list[str]) -> int:
    for pkg, version in versions().items():
        if not globs or any(fnmatch.fnmatch(pkg, g) for g in globs):
            print(f"{pkg}\t{version}\tnoarch\t0")
    return 0


def yum_versions(action: str, specs: list[str]) -> None:
    """``upgrade GLOB...`` takes versions from ``$FAKE_ROOT/upgrades`` ("NAME VERSION");
    ``downgrade NAME-VERSION...`` sets them."""
    found = versions()
    newer = dict(line.split(None, 1) for line in read("upgrades").splitlines() if line.strip())
    for spec in specs:
        if action == "upgrade":
            found.update({p: newer[p] for p in found if fnmatch.fnmatch(p, spec) and p in newer})
            continue
        pkg = max((p for p in found if spec.startswith(p + "-")), key=len)
        found[pkg] = spec[len(pkg) + 1 :]
    (root / "packages").write_text("".join(f"{p} {v}\n" for p, v in found.items()))


def cut_ssh_session() -> None:
    """Kill the sshd process serving this command, as a reboot cuts the connection."""
    pid = os.getppid()
    while pid > 1:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.index("(") + 1 : stat.rindex(")")].startswith("sshd"):
            os.kill(pid, signal.SIGKILL)
            return
        pid = int(stat.rpartition(")")[2].split()[1])


REBOOT_TOOLS = ("cat", "hostname", "nova", "openstack", "shutdown")


def reboots(args: list[str]) -> int:
    """``cat`` of the boot id answers ``boot_id``; ``systemctl reboot`` (SysV: ``shutdown -r
    now``) writes a new one, runs the ``uname-after-reboot`` kernel, leaves
    ``after-reboot-failed`` units failed and with ``reboot-cuts-ssh`` kills its SSH session
    (with ``reboot-hangs``: nothing, the host never comes back); ``hostname`` is the fake
    host's name; ``nova``/``openstack`` print ``service-list`` when asked for a list."""
    if name == "cat" and args == ["/proc/sys/kernel/random/boot_id"]:
        if not (root / "boot_id").exists():
            (root / "boot_id").write_text(f"{uuid.uuid4()}\n")
        print(read("boot_id"), end="")
    elif name == "cat":
        os.execv("/bin/cat", ["cat", *args])
    elif (
        name in ("systemctl", "shutdown")
        and args[-1:] in (["reboot"], ["now"])
        and not (root / "reboot-hangs").exists()
    ):
        (root / "boot_id").write_text(f"{uuid.uuid4()}\n")
        if (root / "uname-after-reboot").exists():
            (root / "uname").write_text(read("uname-after-reboot"))
        for unit in read("after-reboot-failed").split():
            (units / unit).write_text("failed")
        if (root / "reboot-cuts-ssh").exists():
            cut_ssh_session()
    elif name == "hostname":
        print(root.name)
    elif name in ("nova", "openstack") and ("service-list" in args or "list" in args):
        print(read("service-list"), end="")
    return 0


def sysv(args: list[str]) -> int:
    """With ``$FAKE_ROOT/sysv`` the host has no systemd: ``test -d /run/systemd/system``
    fails, ``systemctl`` is not found, ``chkconfig --list`` lists the ``unit-files`` as
    init scripts (on in runlevels 2-5); other ``test`` calls are the real one's."""
    if name == "test" and args != ["-d", "/run/systemd/system"]:
        os.execv("/usr/bin/test", ["test", *args])
    if name == "chkconfig":
        for unit in read("unit-files").split():
            print(f"{unit:<15} \t0:off\t1:off\t2:on\t3:on\t4:on\t5:on\t6:off")
        return 0
    if name == "systemctl":
        print("sh: systemctl: command not found", file=sys.stderr)
        return 127
    return 1  # no /run/systemd/system


def upgrade_status(argv: list[str]) -> int:
    """``<svc>-status upgrade check`` (run through runuser): ``$FAKE_ROOT/status-exit``
    holds its exit status (0 when absent), ``status-exit-new`` the new code's once the
    service's packages were upgraded; with the report oslo.upgradecheck prints."""
    service = argv[0].removesuffix("-status")
    upgraded = f"yum -y upgrade -- *{service}*" in read("calls.log")
    wanted = read("status-exit-new") if upgraded and (root / "status-exit-new").exists() else ""
    code = int((wanted or read("status-exit", "0")).strip() or "0")
    result = {0: "Success", 1: "Warning", 2: "Failure"}.get(code, "Error")
    print("+----------------------------------+")
    print("| Upgrade Check Results            |")
    print(f"| Check: Policy File JSON to YAML   |\n| Result: {result}")
    if code:
        print("| Details: the policy file is still JSON |")
    return code


def effect() -> int:
    # stackstep ends options with "--" before names; runuser's marks the command
    args = sys.argv[1:] if name == "runuser" else [a for a in sys.argv[1:] if a != "--"]
    if name in ("test", "chkconfig") or (name == "systemctl" and (root / "sysv").exists()):
        return sysv(args)
    if name == "runuser" and "--" in args and args[args.index("--") + 1].endswith("-status"):
        return upgrade_status(args[args.index("--") + 1 :])
    if name in REBOOT_TOOLS or (name, args) in (
        ("systemctl", ["reboot"]),
        ("shutdown", ["-r", "now"]),
    ):
        return reboots(args)
    if (root / "packages").exists():  # the test keeps package versions
        if name == "rpm" and args[:1] == ["-qa"] and "%{VERSION}" in " ".join(args):
            return rpm_versions(args[3:])
        if name == "yum" and args[1:2] in (["upgrade"], ["downgrade"]) and args[2:]:
            yum_versions(args[1], args[2:])
    if name == "systemctl" and args[0] == "list-unit-files":
        return list_unit_files([a for a in args[1:] if not a.startswith("-")])
    if name == "systemctl" and args[0] == "show":
        return show(
            [a for a in args[1:] if not a.startswith("-") and "=" not in a and "," not in a]
        )
    if name == "uname":
        print(read("uname", "5.14.0-70.el9.x86_64\n").strip())
        return 0
    if name == "rpm" and args[:2] == ["-q", "--last"]:
        print(read("kernels"), end="")
        return 0
    if name == "rpm" and args[:1] == ["-qa"] and "--qf" in args:
        print(read("installed"), end="")  # "EPOCH NAME" lines (INSTALLTIME)
        return 0
    if name == "rpm" and args[:1] == ["-qa"]:
        print(read("rpm-qa"), end="")
        return 0
    if name == "yum" and args == ["-y", "upgrade"]:
        # the full upgrade installs what the test listed in final-upgrade-installs
        stamp = int(time.time())
        with open(root / "installed", "a") as out:
            out.writelines(f"{stamp} {p}\n" for p in read("final-upgrade-installs").split())
    if name == "df":
        canned = root / "df.txt"
        if not canned.exists():
            os.execv("/bin/df", ["df", *sys.argv[1:]])
        print(canned.read_text(), end="")
    if name == "systemctl" and args[0] in ("stop", "start", "restart"):
        for unit in args[1:]:
            (units / unit).write_text("inactive" if args[0] == "stop" else "active")
    elif name == "systemctl" and args[0] == "is-active":
        states = [(units / u).read_text() if (units / u).exists() else "active" for u in args[1:]]
        print("\n".join(states))
        return 0 if all(s == "active" for s in states) else 3
    elif name == "service":
        unit, action = args[0], args[1]
        if action == "status":
            state = (units / unit).read_text() if (units / unit).exists() else "active"
            return 0 if state == "active" else 3
        (units / unit).write_text("inactive" if action == "stop" else "active")
    return 0


status = effect()
if matches("pause"):
    (root / "pause").unlink()
    (root / "paused").write_text(line)
    deadline = time.monotonic() + 60
    while not (root / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
sys.exit(status)
