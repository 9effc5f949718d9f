"""Fault hooks for campaigns: cut a host's link, stop its sshd, fill a filesystem,
power it off, and undo each."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackstep.lab import network

if TYPE_CHECKING:
    from stackstep.lab.lab import Lab

FAULTS = (
    "link-down",
    "link-up",
    "sshd-stop",
    "sshd-start",
    "fill-disk",
    "free-disk",
    "power-off",
    "power-on",
)
FILLER = "/var/stackstep-lab-filler"


def apply(lab: Lab, name: str, fault: str) -> str:
    runner = lab.host(name)
    if fault in ("link-down", "link-up"):
        network.set_link(name, fault == "link-up")
    elif fault in ("sshd-stop", "sshd-start"):
        runner.exec(
            ["systemctl", fault.removeprefix("sshd-"), "ssh.service", "ssh.socket"], check=False
        )
    elif fault == "fill-disk":
        runner.exec(
            [
                "sh",
                "-c",
                f"fallocate -l $(( $(df --output=avail -B1 /var | tail -1)"
                f" - 65536 )) {FILLER} || dd if=/dev/zero of={FILLER} bs=1M",
            ],
            check=False,
        )
    elif fault == "free-disk":
        runner.exec(["rm", "-f", FILLER])
    elif fault == "power-off":
        runner.power_off()
    elif fault == "power-on":
        runner.boot()
        runner.wait_running()
    return f"{name}: {fault}"
