"""What the user asked for, beyond the inventory: releases, strategy, selection, limits."""

from __future__ import annotations

from dataclasses import dataclass

from stackstep.model.plan import Json

STRATEGIES = ("service-by-service", "all-at-once", "rolling")
AUTO = "auto"  # rolling when the cloud supports it (planner/rolling.py), else the first
DEFAULT_PARALLEL = 20


@dataclass(frozen=True)
class PlanOptions:
    from_release: str | None = None  # default: the inventory's `release`
    to_release: str | None = None  # default: the inventory's `target`, else the next release
    strategy: str = AUTO
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    parallel: int = DEFAULT_PARALLEL
    prefetch: bool = True
    backup: bool = True
    force: bool = False  # preflight: a service unhealthy before the upgrade only warns
    include_unassigned: bool = False  # hosts with no role: repo, full upgrade, reboot check
    batch: str | None = None  # rolling: hosts at once after the canary ("N" or "P%")

    def to_json(self) -> dict[str, Json]:
        return {
            "strategy": self.strategy,
            "only": list(self.only),
            "skip": list(self.skip),
            "parallel": self.parallel,
            "prefetch": self.prefetch,
            "backup": self.backup,
            "force": self.force,
            "include_unassigned": self.include_unassigned,
            **({"batch": self.batch} if self.batch else {}),
        }
