"""The fault table's faults (bench/faults.py, tests/lab/test_campaign.py): each is put in
place at a moment of a lab upgrade (before it, or when a step is journalled started), must
stop the run with a one-screen explanation (host, step, cause, each service's state, the
exact resume command), and the run must end correctly with `stackstep resume --yes` once
the fault is taken away.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stackstep.lab import faults, network
from stackstep.lab.campaign import Outcome, Reference, Snapshot, Trigger, run_stackstep
from stackstep.lab.endstate import capture, differences
from stackstep.lab.lab import Lab

SCREEN = 40  # lines: the explanation after `run ...: FAILED` must fit a terminal


def sh(lab: Lab, host: str, script: str) -> str:
    proc = lab.host(host).exec(["sh", "-c", script], check=False)
    return proc.stdout + proc.stderr


@dataclass(frozen=True)
class Fault:
    name: str
    host: str
    step: str  # the step expected to fail (a regular expression: one of these)
    cause: str  # a regular expression the explanation must match (the cause)
    inject: Callable[[Lab], object]
    remove: Callable[[Lab], object]
    when: Trigger | None = None  # None: before the run starts
    service: str = ""  # the service the explanation must say is down or failed
    options: tuple[str, ...] = ()
    slow: bool = False  # minutes (network timeouts, the command timeout): bench only


def _dropin(unit: str, text: str) -> Callable[[Lab], object]:
    def inject(lab: Lab) -> str:
        folder = f"/etc/systemd/system/{unit}.service.d"
        return sh(
            lab,
            "controller",
            f"mkdir -p {folder} && printf '{text}' > {folder}/zz-fault.conf && "
            "systemctl daemon-reload",
        )

    return inject


def _undrop(unit: str, restart: bool, stop: bool = False) -> Callable[[Lab], object]:
    """Take the drop-in away; ``restart`` the unit (the operator's fix of a unit that runs
    but is sick) or ``stop`` it (cancels a start that hangs)."""

    def remove(lab: Lab) -> str:
        again = f" && systemctl restart {unit}" if restart else ""
        again += f" && systemctl stop {unit}" if stop else ""
        return sh(
            lab,
            "controller",
            f"rm -rf /etc/systemd/system/{unit}.service.d && systemctl daemon-reload{again}",
        )

    return remove


def _sshd_down(lab: Lab) -> str:
    """sshd stopped and its sessions gone (the host answers nobody over SSH)."""
    faults.apply(lab, "compute1", "sshd-stop")
    return sh(lab, "compute1", "for p in $(pgrep -x sshd); do kill -9 $p; done; true")


def _started(step: str) -> Trigger:
    return Trigger(event="step-started", step=step)


BACKUPS = "/var/lib/stackstep/backups"
READONLY = "/usr/share/openstack-lab"

FAULTS = (
    Fault(
        "host unreachable: sshd stopped",
        "compute1",
        "final/compute1/full-upgrade|restart/compute1/restart-units",
        r"connect|unreachable|refused",
        _sshd_down,
        lambda lab: faults.apply(lab, "compute1", "sshd-start"),
        _started("final/compute1/full-upgrade"),
        service="nova",
    ),
    Fault(
        "host unreachable: network dropped",
        "compute1",
        "final/compute1/full-upgrade|restart/compute1/restart-units",
        r"connect|unreachable|timed out",
        lambda lab: network.set_link("compute1", False),
        lambda lab: network.set_link("compute1", True),
        _started("final/compute1/full-upgrade"),
        service="nova",
        slow=True,
    ),
    Fault(
        "package transaction fails",
        "compute1",
        "services/nova/compute1/upgrade-packages",
        r"exited with status",
        lambda lab: sh(
            lab,
            "compute1",
            f"mount --bind {READONLY} {READONLY} && mount -o remount,ro,bind {READONLY}",
        ),
        lambda lab: sh(lab, "compute1", f"umount {READONLY}"),
        _started("services/nova/compute1/stop-units"),
        service="nova",
    ),
    Fault(
        "migration fails",
        "controller",
        "services/glance/controller/migrate-db",
        r"glance-manage.*exited with status",
        lambda lab: sh(
            lab, "controller", "mysql -e \"REVOKE CREATE ON glance.* FROM 'glance'@'%'\""
        ),
        lambda lab: sh(lab, "controller", "mysql -e \"GRANT ALL ON glance.* TO 'glance'@'%'\""),
        service="glance",
    ),
    Fault(
        "a unit that will not start",
        "controller",
        "services/glance/controller/start-units-2",
        r"systemctl start.*openstack-glance-api.*exited with status",
        _dropin("openstack-glance-api", "[Service]\\nExecStartPre=/bin/false\\n"),
        _undrop("openstack-glance-api", restart=False),
        _started("services/glance/controller/stop-units"),
        service="glance",
    ),
    Fault(
        "health gate never passes",
        "controller",
        "services/nova/controller/verify",
        r"API probe failed",
        _dropin(
            "openstack-nova-api",
            "[Service]\\nType=simple\\nExecStart=\\nExecStart=/bin/sleep infinity\\n",
        ),
        _undrop("openstack-nova-api", restart=True),
        _started("services/nova/controller/stop-units"),
        service="nova",
        options=("--gate-timeout", "8"),
    ),
    Fault(
        "command timeout",
        "controller",
        "services/glance/controller/start-units-1",
        r"timed out|time limit|timeout",
        # the unit's start never ends; the start step's own limit (300 s) stops it
        _dropin(
            "openstack-glance-registry",
            "[Service]\\nTimeoutStartSec=infinity\\nExecStartPre=/bin/sleep infinity\\n",
        ),
        _undrop("openstack-glance-registry", restart=False, stop=True),
        _started("services/glance/controller/stop-units"),
        service="glance",
        slow=True,
    ),
    Fault(
        "disk full",
        "controller",
        "services/nova/controller/backup-db",
        r"exited with status|No space",
        lambda lab: sh(
            lab,
            "controller",
            f"mkdir -p {BACKUPS} && mount -t tmpfs -o size=256k tmpfs {BACKUPS} && "
            f"dd if=/dev/zero of={BACKUPS}/.filler bs=4k 2>/dev/null; df -h {BACKUPS}",
        ),
        lambda lab: sh(lab, "controller", f"umount {BACKUPS}"),
        _started("services/nova/controller/stop-units"),
        service="nova",
    ),
)


def by_name(name: str) -> Fault:
    return next(f for f in FAULTS if f.name == name)


@dataclass
class FaultResult:
    fault: Fault
    stop: Outcome
    problems: list[str] = field(default_factory=list)  # what the explanation lacked
    resumed: Outcome | None = None
    differences: list[str] = field(default_factory=list)

    @property
    def row(self) -> str:
        stopped = "stopped clearly" if not self.problems else "stopped UNCLEARLY"
        if self.resumed is None:
            return f"{stopped}, not resumed"
        if self.resumed.exit_code != 0:
            return f"{stopped}, resume FAILED (exit {self.resumed.exit_code})"
        return f"{stopped}, resumed" + (", END STATE DIFFERS" if self.differences else "")

    @property
    def ok(self) -> bool:
        return self.row == "stopped clearly, resumed"


def explanation(stdout: str) -> str:
    """The summary a stopped run prints (from `run ID: FAILED` on)."""
    found = re.search(r"^run \S+: (FAILED|INTERRUPTED)", stdout, re.MULTILINE)
    return stdout[found.start() :] if found else ""


def check_stop(fault: Fault, stop: Outcome) -> list[str]:
    """What the stop's explanation lacks, if anything."""
    text = explanation(stop.stdout)
    if stop.exit_code != 1 or not text:
        return [f"exit {stop.exit_code} and no failure summary: {stop.stdout[-1500:]}"]
    problems = []
    if not re.search(rf"step ({fault.step}) on {fault.host} failed", text):
        problems.append(f"does not say `step {fault.step} on {fault.host} failed`")
    if not re.search(fault.cause, text):
        problems.append(f"no cause matching /{fault.cause}/")
    states = re.search(r"^services: (.*)$", text, re.MULTILINE)
    if states is None or fault.service not in states.group(1):
        problems.append(f"no `services:` line with {fault.service}'s state")
    if not re.search(r"^to go on: stackstep resume \S+", text, re.MULTILINE):
        problems.append("no exact resume command")
    if len(text.splitlines()) > SCREEN:
        problems.append(f"{len(text.splitlines())} lines: more than one screen ({SCREEN})")
    return problems


def fault_run(
    lab: Lab,
    inventory: Path,
    state: Path,
    chain: list[Fault],
    reference: Reference | None = None,
    snapshot: Snapshot | None = None,
) -> list[FaultResult]:
    """One upgrade meeting each fault of ``chain`` in turn: put in place (before the run or
    at its trigger), the stop checked, the fault taken away, then `resume --yes` (which
    meets the next fault, if any); the last resume must end the run. The end state is
    compared with ``reference`` when given."""
    if snapshot is not None:
        snapshot.restore()
    shutil.rmtree(state, ignore_errors=True)
    results: list[FaultResult] = []
    args = ["upgrade", "-i", str(inventory), "--yes"]
    for fault in chain:
        if fault.when is None:
            fault.inject(lab)
        inject = fault.inject

        def put_in_place(_: object, inject: Callable[[Lab], object] = inject) -> None:
            inject(lab)

        stop = run_stackstep(state, [*args, *fault.options], fault.when, put_in_place)
        results.append(FaultResult(fault, stop, check_stop(fault, stop)))
        fault.remove(lab)
        args = ["resume", "--yes"]
    done = run_stackstep(state, args)
    for result in results:
        result.resumed = done
    if reference is not None and done.exit_code == 0:
        found = differences(reference.state, capture(lab, state / "journal.sqlite"))
        for result in results:
            result.differences = found
    return results
