"""Compute hosts out of the scheduler and back: ``nova service-disable`` (or
``openstack compute service set --disable``) through a nova-api host, with an admin's
credentials there. :func:`compute_control` checks everything it needs before anything
changes (drivers/nova.py has the commands and the parser).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from stackstep.drivers import boot, nova
from stackstep.errors import PreflightFailed
from stackstep.model.command import Command, cmd
from stackstep.model.inventory import Host
from stackstep.reboot.detect import Recorder, Target
from stackstep.transport.base import Transport
from stackstep.transport.factory import TransportPool

PREFLIGHT = "reboot/preflight"
COMMAND_TIMEOUT = 120.0
NO_DISABLE = (
    "or pass --no-disable to reboot compute hosts without disabling nova-compute "
    "(the scheduler may then send new instances to a host while it reboots)"
)
CREDENTIALS = (
    "pass --os-rc FILE (a file on that host exporting an admin's OS_AUTH_URL, OS_USERNAME, "
    "OS_PASSWORD and OS_TENANT_NAME or OS_PROJECT_NAME), or set OS_CLOUD in its inventory "
    "env:, " + NO_DISABLE
)


@dataclass(frozen=True)
class ComputeControl:
    """Switch nova-compute off and on: which client, on which nova-api host, after which
    credentials file (None: in the host's environment), and nova's name of each host."""

    client: nova.Client
    api: Host
    rc: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)

    def command(self, action: nova.Action, host: str) -> Command:
        argv = nova.service_argv(self.client, action, self.names.get(host, host))
        return nova.with_credentials(argv, self.rc)

    def shown(self, action: nova.Action, host: str) -> str:
        argv = nova.service_argv(self.client, action, self.names.get(host, host))
        sourced = f" after `. {self.rc}`" if self.rc else ""
        return f"`{cmd(*argv).render()}` on {self.api.name}{sourced}"


async def compute_control(
    api: Host | None,
    computes: Sequence[Target],
    client: nova.Client,
    rc: str | None,
    pool: TransportPool,
    rec: Recorder,
) -> ComputeControl:
    """Check, before anything changes, that nova-compute can be switched: a nova-api host,
    admin credentials there, a working client, and nova knowing each compute host's name.
    Raises PreflightFailed (exit 3) saying what to fix."""
    if api is None:
        raise PreflightFailed(
            None, "no host runs nova-api to disable nova-compute through", hint=NO_DISABLE
        )
    transport = await pool.get(api)
    rc = await _credentials(transport, api, rc, rec)
    names = {t.name: await _nova_name(t.host, pool, rec) for t in computes}
    control = ComputeControl(client, api, rc, names)
    listing = await transport.run(
        nova.with_credentials(nova.list_argv(client), rc), timeout=COMMAND_TIMEOUT
    )
    rec.command(PREFLIGHT, listing)
    shown = cmd(*nova.list_argv(client)).render()
    if not listing.ok:
        raise PreflightFailed(
            api.name,
            f"`{shown}` exited {listing.exit_status}: {listing.tail(3)}",
            hint="check the admin credentials and the nova API there; " + CREDENTIALS,
        )
    known = nova.compute_hosts(listing.stdout)
    missing = sorted(n for n in names.values() if known is not None and n not in known)
    if missing:
        raise PreflightFailed(
            api.name,
            f"nova has no nova-compute service on {', '.join(missing)} "
            f"(`{shown}` lists: {', '.join(sorted(known or ())) or 'none'})",
            hint="nova names a compute host by `host =` in nova.conf, else its hostname; "
            + NO_DISABLE,
        )
    return control


async def _credentials(
    transport: Transport, api: Host, rc: str | None, rec: Recorder
) -> str | None:
    if rc is None and any(k in api.env for k in nova.CREDENTIAL_ENV):
        return None
    for path in (rc,) if rc else nova.RC_FILES:
        result = await transport.run(nova.readable_command(path), timeout=COMMAND_TIMEOUT)
        rec.command(PREFLIGHT, result)
        if result.ok:
            return path
    looked = rc or ", ".join(nova.RC_FILES)
    raise PreflightFailed(
        api.name,
        f"no admin credentials to disable nova-compute with: cannot read {looked}",
        hint=CREDENTIALS,
    )


async def _nova_name(host: Host, pool: TransportPool, rec: Recorder) -> str:
    result = await (await pool.get(host)).run(boot.hostname_command(), timeout=COMMAND_TIMEOUT)
    rec.command(PREFLIGHT, result)
    return result.stdout.strip() if result.ok and result.stdout.strip() else host.name
