"""``--strategy rolling``: node by node behind the load balancers (docs/rolling.md).

With distro packages one node's package upgrade moves every service on it to the new
release at once, so the unit of rolling is the node, not the service. Per node that
serves a load-balanced API ("controllers", inventory order, one at a time): take it
out of every load balancer and wait until none sends it anything; stop all its
OpenStack units (package scripts would restart running ones on the new code before its
database is ready); upgrade every package; on the first node of each service only, its
upgrade check, backup and the *expand* side of its migration (old and new code both run
on an expanded schema); start its units (services in catalog order, components in
start order); gate on its local health; put it back and wait until every load balancer
marks it up. Then the *contract* side, once every node runs the new code, and the
services' post-start hooks. The other hosts (computes, storage) follow in batches: one
canary host first, then ``--batch`` at once.
"""

from __future__ import annotations

import dataclasses

from stackstep.drivers import haproxy, services
from stackstep.errors import PlanError
from stackstep.model.catalog import Hook
from stackstep.model.command import Command, as_user, cmd
from stackstep.model.facts import HostFacts
from stackstep.model.inventory import LoadBalancer
from stackstep.model.params import (
    Direction,
    DrainParams,
    HookParams,
    LbWaitParams,
    MigrateParams,
)
from stackstep.model.plan import Group, Node, Step, StepKind
from stackstep.planner import steps
from stackstep.planner.context import TIMEOUTS, Context, Placement
from stackstep.planner.strategies import (
    common_head,
    par_group,
    seq_group,
    service_hooks,
    tail_phase,
)

Pair = tuple[str, str]
LB_CHECK_TIMEOUT = 30  # seconds: every backend must be up before anything changes


def supports_rolling(ctx: Context) -> str | None:
    """Why this cloud cannot be rolled (None: it can)."""
    if ctx.inventory.load_balancer is None:
        return "the inventory declares no load_balancer (docs/inventory.md)"
    if not any(pl.service.rolling is not None for pl in ctx.placements):
        return (
            f"{ctx.series.title} has no mixed-version (expand/contract) data: "
            "its services cannot run two releases side by side"
        )
    if not balanced(ctx):
        return "no service runs its API on 2 or more hosts"
    return None


def prefers_rolling(ctx: Context) -> bool:
    """The default strategy is rolling when a service runs on 2+ hosts behind a
    declared load balancer, on releases that support mixed versions."""
    return supports_rolling(ctx) is None


def balanced(ctx: Context) -> list[Placement]:
    """Services behind the load balancer: their API answers on two or more hosts."""
    return [pl for pl in ctx.placements if len(_api_hosts(pl)) >= 2]


def _api_hosts(pl: Placement) -> list[HostFacts]:
    probe_on = pl.service.probe_on
    if pl.service.probe is None:
        return []
    return [
        h
        for h in pl.hosts
        if probe_on is None or any(c.name == probe_on for c in pl.components_on(h))
    ]


def _renamed(step: Step, step_id: str, title: str | None = None) -> Step:
    return dataclasses.replace(step, id=step_id, title=title or step.title)


def _step(
    kind: StepKind,
    step_id: str,
    title: str,
    host: str,
    commands: tuple[Command, ...],
    params: DrainParams | LbWaitParams,
    timeout: int | None = None,
) -> Step:
    return Step(
        step_id,
        kind,
        title,
        host,
        None,
        commands,
        params,
        False,
        timeout or TIMEOUTS[str(kind)],
    )


class _Roll:
    """The rolling plan of one cloud."""

    def __init__(self, ctx: Context, lb: LoadBalancer) -> None:
        self.ctx, self.lb = ctx, lb
        self.balanced = balanced(ctx)
        names = {h.name for pl in self.balanced for h in _api_hosts(pl)}
        self.nodes = [h for h in ctx.facts.hosts if h.name in names]
        self.others = [
            h
            for h in ctx.facts.hosts
            if h.name not in names and any(pl.runs_on(h) for pl in ctx.placements)
        ]
        order = self.nodes + self.others
        # each service's database steps run on the first host upgraded that runs it
        self.db_host = {
            pl.service.name: next((h for h in order if pl.runs_on(h)), None)
            for pl in ctx.placements
        }

    # ---------------------------------------------------------------- the balancers
    def _behind(self, node: HostFacts, only: list[Placement] | None) -> list[Placement]:
        """The balanced services whose API ``node`` serves (of ``only``, if given)."""
        chosen = self.balanced if only is None else [p for p in self.balanced if p in only]
        return [pl for pl in chosen if any(h.name == node.name for h in _api_hosts(pl))]

    def _pairs(self, services: list[Placement], node: HostFacts) -> list[Pair]:
        server = self.lb.server_name(node.name)
        return [(self.lb.backend(pl.service.name), server) for pl in services]

    def _drain(
        self,
        node: HostFacts,
        direction: Direction,
        prefix: str = "roll",
        only: list[Placement] | None = None,
    ) -> list[Node]:
        """Out of (or back into) rotation: the disable files on the node, the socket on
        every load balancer for services without one, then the wait on each of them."""
        behind = self._behind(node, only)
        verb = "out of" if direction == "out" else "back into"
        base = f"{prefix}/{node.name}/{'drain' if direction == 'out' else 'undrain'}"
        changes: list[Step] = []
        files = [d for pl in behind if (d := _disable_file(pl))]
        if files:
            argv = ("touch", "--") if direction == "out" else ("rm", "-f", "--")
            changes.append(
                _step(
                    StepKind.DRAIN,
                    f"{base}/{node.name}/files",
                    ("create" if direction == "out" else "remove")
                    + " the health check disable file(s): "
                    + ", ".join(files),
                    node.name,
                    (cmd(*argv, *files),),
                    DrainParams(direction, node.name, files=tuple(files)),
                )
            )
        socket_pairs = self._pairs([pl for pl in behind if not _disable_file(pl)], node)
        state: haproxy.State = "drain" if direction == "out" else "ready"
        for lb_host in self.lb.hosts if socket_pairs else ():
            changes.append(
                _step(
                    StepKind.DRAIN,
                    f"{base}/{lb_host}/socket",
                    f"set {', '.join('/'.join(p) for p in socket_pairs)} {state} in HAProxy",
                    lb_host,
                    tuple(haproxy.set_state(self.lb.socket, b, s, state) for b, s in socket_pairs),
                    DrainParams(
                        direction, node.name, pairs=tuple(socket_pairs), socket=self.lb.socket
                    ),
                )
            )
        pairs = tuple(self._pairs(behind, node))
        waits = [self._wait(lb_host, node, pairs, direction, base) for lb_host in self.lb.hosts]
        what = "out of rotation, no session left" if direction == "out" else "marked up"
        return [
            par_group(f"{base}/set", f"take {node.name} {verb} rotation", changes, None),
            par_group(f"{base}/wait", f"wait until every load balancer has it {what}", waits, None),
        ]

    def _wait(
        self,
        lb_host: str,
        node: HostFacts,
        pairs: tuple[Pair, ...],
        direction: Direction,
        base: str,
    ) -> Step:
        timeout = self.lb.drain_timeout if direction == "out" else self.lb.up_timeout
        want = "out of rotation with 0 sessions" if direction == "out" else "UP"
        return _step(
            StepKind.LB_WAIT,
            f"{base}/{lb_host}/wait",
            f"wait until {lb_host} has {node.name} {want} (at most {timeout} s)",
            lb_host,
            (haproxy.show_stat(self.lb.socket),),
            LbWaitParams(direction, node.name, pairs, self.lb.socket, timeout),
            timeout + 30,
        )

    def lb_check(self) -> list[Step]:
        """Before anything changes: every node to roll is up in every load balancer."""
        pairs = tuple(p for node in self.nodes for p in self._pairs(self._behind(node, None), node))
        return [
            _step(
                StepKind.LB_WAIT,
                f"preflight/{lb_host}/load-balancer",
                f"every backend server to roll is UP in HAProxy on {lb_host}",
                lb_host,
                (haproxy.show_stat(self.lb.socket),),
                LbWaitParams("in", "", pairs, self.lb.socket, LB_CHECK_TIMEOUT),
                LB_CHECK_TIMEOUT + 30,
            )
            for lb_host in self.lb.hosts
        ]

    # ---------------------------------------------------------------- one host
    def _here(self, host: HostFacts) -> list[Placement]:
        return [pl for pl in self.ctx.placements if pl.runs_on(host)]

    def _stop(self, host: HostFacts) -> Step | None:
        here = self._here(host)
        units = tuple(dict.fromkeys(u for pl in reversed(here) for u in pl.stop_units(host)))
        if not units:
            return None
        step = steps.stop_units(here[0], host, units)
        return dataclasses.replace(
            step,
            id=f"roll/{host.name}/stop-units",
            title="stop every OpenStack unit on the node (before packages restart them)",
            service=None,
        )

    def _upgrade(self, host: HostFacts) -> Step:
        """Every package on the node, or with ``--only``/``--skip`` only the chosen
        services' packages (what the others share still moves them)."""
        step_id = f"roll/{host.name}/upgrade"
        if self.ctx.options.only or self.ctx.options.skip:
            here = self._here(host)
            globs = tuple(
                dict.fromkeys(g for pl in here for g in pl.service.packages.get(host.family))
            )
            title = "upgrade the packages of " + ", ".join(pl.service.name for pl in here)
            return steps.upgrade_globs(step_id, title, host, globs, self.ctx.options.prefetch)
        step = steps.full_upgrade(host, self.ctx.options.prefetch)
        title = "upgrade every package on the node (all its services move together)"
        return _renamed(step, step_id, title)

    def _database(self, host: HostFacts) -> list[Node]:
        """Upgrade check, backup and expand of each service whose first host this is."""
        out: list[Node] = []
        for pl in self._here(host):
            first = self.db_host.get(pl.service.name)
            if first is None or first.name != host.name:
                continue
            found: list[Step | None] = [
                steps.upgrade_check(pl, host),
                steps.backup_db(pl, host) if self.ctx.options.backup else None,
                _expand(pl, host),
            ]
            out += [s for s in found if s is not None]
        return out

    def _start(self, host: HostFacts) -> list[Node]:
        """Services in catalog order (placement before nova), each in start-order waves
        (nova-conductor first, nova-api last); a unit shared by services (httpd) once."""
        out: list[Node] = []
        started: set[str] = set()
        for pl in self._here(host):
            orders = sorted({c.start_order for c in pl.components_on(host)})
            for index, order in enumerate(orders, start=1):
                units = tuple(
                    dict.fromkeys(
                        u
                        for c in pl.components_on(host)
                        if c.start_order == order
                        for u in c.units.get(host.family)
                        if u not in started
                    )
                )
                if not units:
                    continue
                started.update(units)
                suffix = f"-{index}" if len(orders) > 1 else ""
                out.append(steps.start_units(pl, host, units, suffix))
        return out

    def _verify(self, host: HostFacts) -> list[Node]:
        """The local health gate: every service on the node, at once."""
        gates = [steps.verify(self.ctx, pl, host) for pl in self._here(host)]
        if len(gates) < 2:
            return list(gates)
        title = f"verify every service on {host.name} (gate: it goes back in only healthy)"
        return [par_group(f"roll/{host.name}/verify", title, gates, None)]

    def _host_hooks(self, host: HostFacts, phase: str) -> list[Node]:
        """The services' hooks of ``phase`` that belong on this host."""
        out: list[Node] = []
        for pl in self._here(host):
            for spec in getattr(pl.service, phase):
                first = self.db_host.get(pl.service.name)
                on_first = first is not None and first.name == host.name
                if spec.where == "migrate-host" and not on_first:
                    continue
                out.append(steps.hook(pl, host, spec, phase))
        return out

    def _before_start(self, host: HostFacts) -> list[Node]:
        """The services' own checks before their new code starts here (nova's
        ``[upgrade_levels] compute = auto``)."""
        return [
            steps.hook(pl, host, spec, "before_start")
            for pl in self._here(host)
            if pl.service.rolling is not None
            for spec in pl.service.rolling.before_start
        ]

    def host_body(self, host: HostFacts) -> list[Node]:
        stop = self._stop(host)
        return [
            *self._host_hooks(host, "pre_upgrade"),
            *([stop] if stop else []),
            self._upgrade(host),
            *self._host_hooks(host, "post_upgrade"),
            *self._database(host),
            *self._before_start(host),
            *self._start(host),
            *self._verify(host),
        ]

    def node(self, host: HostFacts) -> Group:
        children = [*self._drain(host, "out"), *self.host_body(host), *self._drain(host, "in")]
        return seq_group(f"roll/{host.name}", f"{host.name}: out, upgrade, back in", children)

    # ---------------------------------------------------------------- after the roll
    def contract(self) -> list[Node]:
        out: list[Node] = []
        for pl in self.ctx.placements:
            host = self.db_host.get(pl.service.name)
            rolling = pl.service.rolling
            if host is None or rolling is None:
                continue
            for spec in rolling.contract:
                out.append(steps.hook(pl, host, spec, "contract"))
        return out

    def unpin(self) -> list[Node]:
        """Once every host runs the new code: drop the RPC version pins the services
        cached when they started (nova, cinder). SIGHUP resets them; the API, which has
        no such reset, is restarted, one node at a time out of rotation."""
        pinned = [
            pl for pl in self.ctx.placements if pl.service.rolling and pl.service.rolling.unpin
        ]
        if not pinned:
            return []
        hups: list[Step] = []
        for host in [*self.nodes, *self.others]:
            units = tuple(
                dict.fromkeys(
                    u
                    for pl in pinned
                    for c in pl.components_on(host)
                    if c.name != pl.service.probe_on
                    for u in c.units.get(host.family)
                )
            )
            if units:
                hups.append(_signal(pinned[0], host, units, "hup"))
        out: list[Node] = []
        if hups:
            title = "SIGHUP the services that cache a version pin (they re-read it)"
            out.append(par_group("unpin/hup", title, hups, self.ctx.limit))
        for node in self.nodes:
            apis = [pl for pl in pinned if node in _api_hosts(pl)]
            units = tuple(
                dict.fromkeys(
                    u
                    for pl in apis
                    for c in pl.components_on(node)
                    if c.name == pl.service.probe_on
                    for u in c.units.get(node.family)
                )
            )
            if not units:
                continue
            gates = [
                _renamed(steps.verify(self.ctx, pl, node), f"unpin/{node.name}/{pl.service.name}")
                for pl in apis
            ]
            body = [
                *self._drain(node, "out", "unpin", apis),
                _signal(apis[0], node, units, "restart"),
                par_group(f"unpin/{node.name}/verify", "verify the restarted APIs", gates, None),
                *self._drain(node, "in", "unpin", apis),
            ]
            title = f"{node.name}: restart {', '.join(units)} out of rotation (no HUP reset)"
            out.append(seq_group(f"unpin/{node.name}", title, body))
        return out

    def finish(self) -> list[Node]:
        """Once every host runs the new code: the post-start hooks (online data
        migrations), each on its service's first host."""
        out: list[Node] = []
        for pl in self.ctx.placements:
            out += service_hooks(_on(pl, self.db_host.get(pl.service.name)), "post_start")
        return out

    def batches(self) -> list[Node]:
        if not self.others:
            return []
        canary, rest = self.others[0], self.others[1:]

        def one(host: HostFacts) -> Node:
            return seq_group(f"hosts/{host.name}", f"{host.name}: upgrade", self.host_body(host))

        out: list[Node] = [seq_group("hosts/canary", f"canary: {canary.name} first", [one(canary)])]
        if rest:
            size = batch_size(self.ctx.options.batch, len(rest), self.ctx.limit)
            out.append(
                par_group(
                    "hosts/batches",
                    f"the other hosts, {size} at a time",
                    [one(h) for h in rest],
                    size,
                )
            )
        return out


def _disable_file(pl: Placement) -> str | None:
    return pl.service.rolling.healthcheck_disable if pl.service.rolling else None


def _on(pl: Placement, host: HostFacts | None) -> Placement:
    return dataclasses.replace(pl, migrate_host=host)


def _expand(pl: Placement, host: HostFacts) -> Step | None:
    hooks: tuple[Hook, ...] = pl.service.expand_hooks()
    if not hooks:
        return None
    commands = tuple(as_user(h.argv, h.user) for h in hooks)
    return Step(
        f"services/{pl.service.name}/{host.name}/expand-db",
        StepKind.MIGRATE_DB,
        f"expand the {pl.service.name} database (old and new code run on it): "
        + "; ".join(h.name for h in hooks),
        host.name,
        pl.service.name,
        commands,
        MigrateParams(tuple(h.name for h in hooks)),
        False,
        TIMEOUTS["migrate-db"],
    )


def _signal(pl: Placement, host: HostFacts, units: tuple[str, ...], how: str) -> Step:
    """SIGHUP (``hup``) or restart ``units`` on ``host``: safe to repeat."""
    commands: tuple[Command, ...]
    if how == "hup" and host.init == "systemd":
        commands = (cmd("systemctl", "kill", "--kill-whom=main", "--signal=HUP", "--", *units),)
        title = f"SIGHUP {', '.join(units)} (drops its cached version pin)"
    else:
        commands = services.unit_action(host.init, "restart", units)
        title = f"restart {', '.join(units)} (drops its cached version pin)"
    return Step(
        f"unpin/{host.name}/{how}",
        StepKind.HOOK,
        title,
        host.name,
        None,
        commands,
        HookParams("unpin", "unpin", "command", title),
        False,
        TIMEOUTS["restart-units"],
    )


def batch_size(spec: str | None, hosts: int, default: int) -> int:
    """``--batch N`` or ``--batch P%`` (of the hosts after the canary), at least 1."""
    if not spec:
        return max(1, min(default, hosts))
    text = spec.strip()
    try:
        if text.endswith("%"):
            percent = float(text[:-1])
            if not 0 < percent <= 100:
                raise ValueError(text)
            return max(1, int(hosts * percent / 100))
        number = int(text)
    except ValueError:
        raise PlanError(
            f"--batch {spec!r} is neither a number of hosts nor a percentage",
            hint="e.g. --batch 5 or --batch 25%",
        ) from None
    if number < 1:
        raise PlanError(f"--batch {spec!r}: at least 1 host at a time")
    return number


def rolling(ctx: Context) -> Group:
    why = supports_rolling(ctx)
    lb = ctx.inventory.load_balancer
    if why is not None or lb is None:
        raise PlanError(
            f"--strategy rolling: {why}",
            hint="declare load_balancer: in the inventory (docs/rolling.md), "
            "or use --strategy service-by-service",
        )
    roll = _Roll(ctx, lb)
    head = common_head(ctx)
    preflight = head[0]
    assert isinstance(preflight, Group)
    head[0] = dataclasses.replace(preflight, children=(*preflight.children, *roll.lb_check()))
    body: list[Node] = [
        seq_group(
            "roll",
            "controllers, one at a time, out of rotation",
            [roll.node(h) for h in roll.nodes],
        )
    ]
    after = roll.contract()
    if after:
        body.append(seq_group("contract", "after every node runs the new code: contract", after))
    body += roll.batches()
    unpin = roll.unpin()
    if unpin:
        body.append(
            seq_group("unpin", "drop the RPC version pins (every host runs the new code)", unpin)
        )
    finish = roll.finish()
    if finish:
        body.append(seq_group("finish", "after every host runs the new code", finish))
    children = [*head, *body, *tail_phase(ctx, final_upgrade=False)]
    return seq_group("plan", "rolling upgrade", children)
