"""nova's compute service off and on (the scheduler places nothing on a disabled host),
with the client of the cloud's era, and the parser of the service list.

Grizzly to Liberty (2013.1-2015.2) use the ``nova`` client: ``nova service-disable HOST
nova-compute``; from Mitaka (2016.1) on, ``openstack compute service set --disable HOST
nova-compute`` (the ``nova`` command line was deprecated, then removed). The commands
run on a host with the nova API and need an admin's credentials: an rc file (packstack's
``/root/keystonerc_admin``, ``/root/openrc``, kolla's ``admin-openrc.sh``) sourced first,
or ``OS_CLOUD``/``OS_AUTH_URL`` in the inventory's ``env:`` of that host. HOST is the name
nova knows the compute service by: the host's ``hostname`` unless nova.conf sets ``host``.
"""

from __future__ import annotations

from typing import Literal

from stackstep.model.command import Command, cmd, not_option

Client = Literal["nova", "openstack"]
Action = Literal["disable", "enable"]
COMPUTE = "nova-compute"
FIRST_OPENSTACK_CLIENT_YEAR = 2016  # Mitaka
RC_FILES = (
    "/root/keystonerc_admin",
    "/root/openrc",
    "/root/admin-openrc.sh",
    "/etc/kolla/admin-openrc.sh",
)
CREDENTIAL_ENV = ("OS_CLOUD", "OS_AUTH_URL")
DISABLE_REASON = "stackstep: rebooting for a new kernel"
_SOURCE_THEN_RUN = '. "$1" && shift && exec "$@"'


def client_for(version: str) -> Client:
    """The client for a release version (``2013.2`` -> nova, ``2023.1`` -> openstack)."""
    year = version.split(".", 1)[0]
    old = year.isdigit() and int(year) < FIRST_OPENSTACK_CLIENT_YEAR
    return "nova" if old else "openstack"


def service_argv(client: Client, action: Action, host: str) -> tuple[str, ...]:
    """The clients' ``--`` is not dependable (two-stage argparse): an option-like host
    is refused instead."""
    host = not_option(host, "compute host")
    if client == "nova":
        return ("nova", f"service-{action}", host, COMPUTE)
    reason = ("--disable-reason", DISABLE_REASON) if action == "disable" else ()
    return ("openstack", "compute", "service", "set", f"--{action}", *reason, host, COMPUTE)


def list_argv(client: Client) -> tuple[str, ...]:
    """Every service (Grizzly's ``nova service-list`` has no ``--binary``)."""
    if client == "nova":
        return ("nova", "service-list")
    return ("openstack", "compute", "service", "list", "--service", COMPUTE)


def with_credentials(argv: tuple[str, ...], rc: str | None) -> Command:
    """``argv`` run after sourcing ``rc`` (``sh -c '. "$1" && shift && exec "$@"'``), or
    as is when the credentials are already in the environment."""
    if rc is None:
        return cmd(*argv)
    return cmd("sh", "-c", _SOURCE_THEN_RUN, "sh", rc, *argv)


def readable_command(path: str) -> Command:
    return cmd("test", "-r", path)


def parse_table(text: str) -> list[dict[str, str]]:
    """A client's table (``| Binary | Host | ... |``) -> one dict per row, by header."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.strip().startswith("|")
    ]
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    return [dict(zip(header, row, strict=False)) for row in body if len(row) == len(header)]


def compute_hosts(text: str) -> set[str] | None:
    """Hosts of the nova-compute services in a service list; None when no table is found
    (a format we do not know: the caller should not conclude anything)."""
    rows = parse_table(text)
    if not rows or "Host" not in rows[0]:
        return None
    return {r["Host"] for r in rows if r.get("Binary", COMPUTE) == COMPUTE}
