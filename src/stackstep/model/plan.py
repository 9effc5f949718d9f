"""The plan: a frozen tree of groups and steps with stable ids.

The engine executes it, the journal stores it (JSON + hash), the report renders it.
``Plan.to_dict`` is the documented, versioned JSON form (docs/plan-json.md,
docs/plan.schema.json); the hash is the SHA-256 of its canonical JSON text, so two
plans are the same plan exactly when their hashes are equal.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Literal, cast

from stackstep.model.command import Command
from stackstep.model.params import NO_PARAMS, StepParams, params_from_json

SCHEMA_VERSION = 1
Json = str | int | float | bool | None | list["Json"] | dict[str, "Json"]
Mode = Literal["sequential", "parallel"]


def json_list(value: Json | None) -> list[Json]:
    """``value`` when it is a JSON list, else [] (step data read back from a journal)."""
    return value if isinstance(value, list) else []


def plain_json(value: object) -> Json:
    """A copy of ``value`` as JSON reads it back: ``json.loads(json.dumps(value))``, but
    without the text for the plain values step data holds (lists, str-keyed dicts)."""
    kind = type(value)
    if kind is dict:
        items: dict[object, object] = value  # type: ignore[assignment]
        if all(type(k) is str for k in items):
            return {
                k: v if type(v) in _SCALARS else plain_json(v)  # type: ignore[misc]
                for k, v in items.items()
            }
    elif kind is list or kind is tuple:
        seq: list[object] = value  # type: ignore[assignment]
        return [v if type(v) in _SCALARS else plain_json(v) for v in seq]  # type: ignore[misc]
    elif kind in _SCALARS:
        return value  # type: ignore[return-value]
    loaded: Json = json.loads(json.dumps(value))  # subclasses, other keys: as JSON does it
    return loaded


_SCALARS = frozenset({str, int, float, bool, type(None)})


class StepKind(StrEnum):
    PREFLIGHT = "preflight"
    ENABLE_REPO = "enable-repo"
    PREFETCH = "prefetch-packages"
    STOP_UNITS = "stop-units"
    HOOK = "hook"
    UPGRADE_PACKAGES = "upgrade-packages"
    UPGRADE_CHECK = "upgrade-check"
    BACKUP_DB = "backup-db"
    MIGRATE_DB = "migrate-db"
    START_UNITS = "start-units"
    VERIFY = "verify"
    COLLECT_CONFIGS = "collect-configs"
    FULL_UPGRADE = "full-upgrade"
    RESTART_UNITS = "restart-units"
    REBOOT_CHECK = "reboot-check"
    DRAIN = "drain"
    LB_WAIT = "lb-wait"


@dataclass(frozen=True)
class Step:
    id: str
    kind: StepKind
    title: str
    host: str | None = None
    service: str | None = None
    commands: tuple[Command, ...] = ()
    params: StepParams = NO_PARAMS  # written in the plan's JSON as its "data"
    restore: bool = False  # still runs after a halt: it brings service back
    timeout: int = 600

    def to_dict(self) -> dict[str, Json]:
        return {
            "type": "step",
            "id": self.id,
            "kind": str(self.kind),
            "title": self.title,
            "host": self.host,
            "service": self.service,
            "commands": cast(Json, [c.to_json() for c in self.commands]),
            "data": plain_json(self.params.to_json()),
            "restore": self.restore,
            "timeout": self.timeout,
        }


def step_from_json(node: Mapping[str, Json]) -> Step:
    """A step as ``Step.to_dict`` writes it, read back from a plan a journal stored
    (secrets in its commands come back masked)."""
    kind = StepKind(str(node["kind"]))
    host, service, timeout = node.get("host"), node.get("service"), node.get("timeout", 600)
    return Step(
        str(node["id"]),
        kind,
        str(node.get("title", "")),
        None if host is None else str(host),
        None if service is None else str(service),
        tuple(Command.from_json(c) for c in json_list(node.get("commands"))),
        params_from_json(kind, node.get("data")),
        node.get("restore") is True,
        int(str(timeout)),
    )


def steps_from_json(
    node: Json, kind: str | None = None, service: str | None = None
) -> Iterator[Step]:
    """The steps of a plan's JSON tree (its ``root``), in plan order; only those of one
    ``kind``, of one ``service``, when given (the others are not read)."""
    if not isinstance(node, dict):
        return
    if (
        node.get("type") == "step"
        and (kind is None or node.get("kind") == kind)
        and (service is None or node.get("service") == service)
    ):
        yield step_from_json(node)
    for child in json_list(node.get("children")):
        yield from steps_from_json(child, kind, service)


@dataclass(frozen=True)
class Group:
    id: str
    title: str
    mode: Mode
    children: tuple[Node, ...]
    limit: int | None = None  # parallel groups: at most this many children at once
    service: str | None = None

    def to_dict(self) -> dict[str, Json]:
        return {
            "type": "group",
            "id": self.id,
            "title": self.title,
            "mode": self.mode,
            "limit": self.limit,
            "service": self.service,
            "children": [c.to_dict() for c in self.children],
        }

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            yield child
            if isinstance(child, Group):
                yield from child.walk()


Node = Step | Group


@dataclass(frozen=True)
class Plan:
    cloud: str
    from_release: str
    to_release: str
    strategy: str
    root: Group
    options: Mapping[str, Json] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    facts_source: str = "inventory"
    left_alone: tuple[tuple[str, str], ...] = ()  # (host, why): hosts given no step

    def steps(self) -> Iterator[Step]:
        return (n for n in self.root.walk() if isinstance(n, Step))

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps() if s.id == step_id), None)

    def head(self) -> dict[str, Json]:
        """The body without its root: what the plan says besides its steps."""
        return {
            "schema": "stackstep.plan",
            "schema_version": SCHEMA_VERSION,
            "cloud": self.cloud,
            "from": self.from_release,
            "to": self.to_release,
            "strategy": self.strategy,
            "facts_source": self.facts_source,
            "options": dict(self.options),
            "hosts": list(self.hosts),
            "services": list(self.services),
            "warnings": list(self.warnings),
            "left_alone": [{"host": h, "reason": r} for h, r in self.left_alone],
        }

    def body(self) -> dict[str, Json]:
        return {**self.head(), "root": self.root.to_dict()}

    @cached_property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON body (computed once: a plan never changes)."""
        return _digest(self)

    def to_dict(self) -> dict[str, Json]:
        return {**self.body(), "hash": self.hash}


class ValueTexts:
    """The JSON text of each distinct commands list and data value of a plan's steps,
    written once by ``text``: a 1,000-host plan's 15,000 steps share fewer than a
    hundred of them. Keys are the values themselves (commands, typed parameters)."""

    def __init__(self, text: Callable[[Json], str]) -> None:
        self.text = text
        self.commands: dict[tuple[object, ...], str] = {}
        self.params: dict[StepParams, str] = {}

    def of_commands(self, commands: tuple[Command, ...]) -> str:
        key = tuple([(c.argv, c.env) for c in commands])  # compared in C, unlike a Command
        text = self.commands.get(key)
        if text is None:
            value: Json = [cast(Json, c.to_json()) for c in commands]
            text = self.commands[key] = self.text(value)
        return text

    def of_params(self, params: StepParams) -> str:
        text = self.params.get(params)  # equal parameters: equal fields, of typed values
        if text is None:
            text = self.params[params] = self.text(plain_json(params.to_json()))
        return text


def _digest(plan: Plan) -> str:
    """SHA-256 of ``json.dumps(plan.body(), sort_keys=True, separators=(",", ":"))``,
    written from the plan's own nodes (no body is built) and fed in parts: a 5,000-host
    plan's text is never held whole."""
    digest = hashlib.sha256()
    parts: list[str] = []

    def feed(text: str) -> None:
        parts.append(text)
        if len(parts) > 4096:
            digest.update("".join(parts).encode())
            parts.clear()

    head: dict[str, object] = {**plan.head(), "root": plan.root}
    sep = "{"
    for key in sorted(head):
        feed(sep + encode_basestring_ascii(key) + ":")
        if key == "root":
            _canonical_group(plan.root, feed, ValueTexts(_canonical_text))
        else:
            feed(_canonical_text(cast(Json, head[key])))
        sep = ","
    feed("}")
    digest.update("".join(parts).encode())
    return digest.hexdigest()


def _canonical_group(group: Group, feed: Callable[[str], object], texts: ValueTexts) -> None:
    """A group's canonical text (sorted keys: children first), its steps by template."""
    sep = '{"children":['
    for child in group.children:
        feed(sep)
        if isinstance(child, Group):
            _canonical_group(child, feed, texts)
        else:
            feed(_canonical_step(child, texts))
        sep = ","
    feed(
        ("]" if sep == "," else sep + "]")
        + f',"id":{scalar_text(group.id)},"limit":{scalar_text(group.limit)}'
        + f',"mode":{scalar_text(group.mode)},"service":{scalar_text(group.service)}'
        + f',"title":{scalar_text(group.title)},"type":"group"}}'
    )


def _canonical_step(step: Step, texts: ValueTexts) -> str:
    """``Step.to_dict`` as canonical text (its keys sorted), without building it."""
    host, service, restore, timeout = step.host, step.service, step.restore, step.timeout
    if type(restore) is not bool or type(timeout) is not int:  # not as typed: the encoder
        restore_text, timeout_text = _canonical_text(restore), _canonical_text(timeout)
    else:
        restore_text, timeout_text = ("true" if restore else "false"), int.__repr__(timeout)
    return (
        f'{{"commands":{texts.of_commands(step.commands)},'
        f'"data":{texts.of_params(step.params)},'
        f'"host":{"null" if host is None else _ENCODE(host)},"id":{_ENCODE(step.id)},'
        f'"kind":{_ENCODE(step.kind)},"restore":{restore_text},'
        f'"service":{"null" if service is None else _ENCODE(service)},'
        f'"timeout":{timeout_text},"title":{_ENCODE(step.title)},"type":"step"}}'
    )


_ENCODE: Callable[[str], str] = encode_basestring_ascii  # a str (or str subclass) as JSON


def scalar_text(value: Json) -> str:
    """A scalar's JSON text as ``json.dumps`` writes it (NaN and Infinity included):
    the C encoder's, quicker for the common str and None."""
    if type(value) is str:
        return _ENCODE(value)
    if value is None:
        return "null"
    return _canonical_text(value)


# the C encoder itself (json.dumps costs more to set up than to encode one step)
_C_CANONICAL = (
    c_make_encoder(
        None, json.JSONEncoder().default, encode_basestring_ascii, None, ":", ",", True, False, True
    )
    if c_make_encoder is not None
    else None
)


def _canonical_text(value: Json) -> str:
    if _C_CANONICAL is None:  # pragma: no cover - CPython has it
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return "".join(_C_CANONICAL(value, 0))


class _NotPlain(Exception):
    """A value the C encoder would not write as ``plain_json`` reads it."""


def _not_plain(value: object) -> object:
    raise _NotPlain


_C_COMPACT = c_make_encoder(
    None, _not_plain, encode_basestring_ascii, None, ":", ",", False, False, True
)


def compact_text(value: object) -> str:
    """``json.dumps(plain_json(value), separators=(",", ":"))``: keys in their order, the
    key under which equal values are written once."""
    try:
        return "".join(_C_COMPACT(value, 0))
    except _NotPlain:
        return "".join(_C_COMPACT(plain_json(value), 0))
