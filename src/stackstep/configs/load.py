"""What `stackstep configs` needs from a run: its journal record, the hosts as its
inventory describes them, its facts (family, versions before the upgrade), where its
collect-configs steps looked and what they found, and the catalog's settings hooks.

The catalog and inventory are read by :func:`stackstep.session.load_all` (the loader
every command uses), from the paths the run's request recorded."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackstep.engine.events import Event
from stackstep.engine.journal import Journal, RunRecord, default_state_dir
from stackstep.model.catalog import Catalog
from stackstep.model.facts import HostFacts, facts_from_json
from stackstep.model.inventory import Host
from stackstep.model.params import CollectParams
from stackstep.model.plan import StepKind, steps_from_json
from stackstep.model.states import StepState
from stackstep.session import load_all

Settings = tuple[tuple[str, ...], tuple[str, ...]]  # (carry, add) of a settings-merge hook


@dataclass(frozen=True)
class Collected:
    """The run's collect-configs step on one host: where it looked, what it found."""

    dirs: tuple[str, ...]
    suffixes: tuple[str, ...]
    state: StepState
    files: tuple[str, ...]


@dataclass(frozen=True)
class Review:
    journal: Journal
    record: RunRecord
    hosts: dict[str, Host]
    facts: dict[str, HostFacts]
    collected: dict[str, Collected]  # in plan order
    settings: dict[str, Settings]  # settings file -> the catalog's carry and add

    def handled(self) -> list[Event]:
        return [e for e in self.journal.events(self.record.id) if "configs" in e.data]


def _collected(
    journal: Journal, record: RunRecord, plan: Mapping[str, Any]
) -> dict[str, Collected]:
    records = journal.steps(record.id)
    out: dict[str, Collected] = {}
    for step in steps_from_json(plan.get("root"), str(StepKind.COLLECT_CONFIGS)):
        if not step.host or not isinstance(step.params, CollectParams):
            continue
        rec = records.get(step.id)
        out[step.host] = Collected(
            step.params.dirs,
            step.params.suffixes,
            rec.state if rec else StepState.PENDING,
            rec.result.files if rec else (),
        )
    return out


def _strings(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _settings_hooks(catalog: Catalog, plan: Mapping[str, Any]) -> dict[str, Settings]:
    """The run's series' settings-merge hooks (horizon's local_settings): file -> carry, add."""
    src, dst = catalog.release(str(plan.get("from"))), catalog.release(str(plan.get("to")))
    series = catalog.series_for(src, dst) if src and dst else None
    out: dict[str, Settings] = {}
    for service in series.services if series else ():
        for hook in (*service.pre_upgrade, *service.post_upgrade):
            file = hook.params.get("file")
            if hook.kind == "settings-merge" and isinstance(file, str):
                out[file] = (_strings(hook.params.get("carry")), _strings(hook.params.get("add")))
    return out


def load_review(run_id: str | None, state_dir: Path | None) -> Review:
    journal = Journal(state_dir or default_state_dir())
    record = journal.run(run_id)
    request = record.request
    listed = request.get("catalog_files")
    catalog_files = tuple(Path(str(c)) for c in listed) if isinstance(listed, list) else ()
    inventory_path = Path(str(request.get("inventory") or record.inventory))
    catalog, inventory = load_all(inventory_path, catalog_files)
    plan = json.loads(record.plan_json)
    facts = facts_from_json(json.loads(record.facts_json or "{}"))
    return Review(
        journal,
        record,
        {h.name: h for h in inventory.hosts},
        {h.name: h for h in facts.hosts},
        _collected(journal, record, plan),
        _settings_hooks(catalog, plan),
    )
