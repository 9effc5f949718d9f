"""The plan as indented JSON text (``stackstep plan --json``, docs/plan-json.md).

The text is exactly ``json.dumps(plan.to_dict(), indent=2)``. Python's C encoder cannot
indent, and its pure-Python one passes every piece of text up through one generator per
level of nesting, which costs seconds on a 5,000-host plan. This writer appends pieces
to a list instead, has the C encoder write every run of plain values (with the indent
as its separator), writes groups and steps straight from the plan's nodes (no dict of
the plan is built), each distinct commands list and data value once, and hands
the text on in parts (``write_plan_json``) so a 70 MB plan is never held whole.

A value that is not plain JSON (a str or int subclass, a key that is not a string) is
first turned into what JSON reads back (``plain_json``), which ``json.dumps`` writes the
same way; a value JSON cannot write raises its TypeError.
"""

from __future__ import annotations

from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]

from stackstep.model.plan import Group, Json, Plan, Step, ValueTexts, plain_json, scalar_text

INDENT = 2
REUSE = ("commands", "data")  # a step's values that many hosts share
PART = 4096  # pieces of text gathered before they are handed on


class _NotPlain(Exception):
    """A value the C encoder would not write like ``json.dumps``."""


def plan_json(plan: Plan) -> str:
    """``json.dumps(plan.to_dict(), indent=2)``: the same text, in a fraction of the time."""
    out: list[str] = []
    write_plan_json(plan, out.append)
    return "".join(out)


def write_plan_json(plan: Plan, write: Callable[[str], object]) -> None:
    """``plan_json(plan)`` handed to ``write`` in parts of a few hundred kB. The groups
    and steps are written from the plan's own nodes: no dict of the plan is built."""
    out: list[str] = []
    document: dict[str, object] = {**plan.head(), "root": plan.root, "hash": plan.hash}
    _Writer(frozenset(), write).write(document, out, "\n")
    write("".join(out))


def dumps_indented(value: Json, reuse: tuple[str, ...] = ()) -> str:
    """``json.dumps(value, indent=2)``, the same text, faster for big documents. The text
    of the values under the keys ``reuse`` is kept and reused for equal values."""
    out: list[str] = []
    _Writer(frozenset(reuse), None).write(value, out, "\n")
    return "".join(out)


def _not_plain(value: object) -> object:
    raise _NotPlain


_FLAGS = (False, False, True)  # sort_keys, skipkeys, allow_nan: as json.dumps by default
# the C encoder itself (json.dumps costs more to set up than to encode a step's data)
_COMPACT = c_make_encoder(None, _not_plain, encode_basestring_ascii, None, ":", ",", *_FLAGS)
_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = frozenset({dict, list, tuple, Group, Step})  # Group, Step: the plan's nodes


class _Writer:
    def __init__(self, reuse: frozenset[str], sink: Callable[[str], object] | None) -> None:
        self.reuse = reuse
        self.sink = sink
        self.done: dict[tuple[str, str], str] = {}
        self.encoders: dict[str, Callable[[object, int], tuple[str, ...]]] = {}
        self.values: dict[str, ValueTexts] = {}  # per indent: steps' commands and data

    def write(self, value: object, out: list[str], newline: str) -> None:
        kind = type(value)
        if kind is dict:
            self._dict(value, out, newline)  # type: ignore[arg-type]
        elif kind is list or kind is tuple:
            self._list(value, out, newline)  # type: ignore[arg-type]
        elif kind in _SCALARS:
            out.append(scalar_text(value))  # type: ignore[arg-type]
        elif kind is Group:
            self._group(value, out, newline)  # type: ignore[arg-type]
        elif kind is Step:
            self._step(value, out, newline)  # type: ignore[arg-type]
        else:
            self.write(plain_json(value), out, newline)

    def _flush(self, out: list[str]) -> None:
        if self.sink is not None and len(out) > PART:
            self.sink("".join(out))
            out.clear()

    def _flat(self, value: object, inner: str) -> str:
        """A dict or list of scalars at one level, by the C encoder, without brackets."""
        encode = self.encoders.get(inner)
        if encode is None:
            encode = self.encoders[inner] = c_make_encoder(
                None, _not_plain, encode_basestring_ascii, None, ": ", "," + inner, *_FLAGS
            )
        try:
            return "".join(encode(value, 0))[1:-1]
        except _NotPlain:
            return "".join(encode(plain_json(value), 0))[1:-1]

    def _dict(self, items: dict[object, object], out: list[str], newline: str) -> None:
        if not items:
            out.append("{}")
            return
        if not all(type(k) is str for k in items):
            self.write(plain_json(items), out, newline)  # the keys as JSON writes them
            return
        inner = newline + " " * INDENT
        sep = "{" + inner
        run: dict[object, object] = {}  # scalar items in a row: one call of the C encoder
        for key, item in items.items():
            if type(item) not in _CONTAINERS:
                run[key] = item
                continue
            if run:
                out.append(sep + self._flat(run, inner))
                sep, run = "," + inner, {}
            head = sep + encode_basestring_ascii(key) + ": "  # type: ignore[arg-type]
            if key in self.reuse:
                out.append(head + self._reused(item, inner))
            else:
                out.append(head)
                self.write(item, out, inner)
            sep = "," + inner
        if run:
            out.append(sep + self._flat(run, inner))
        out.append(newline + "}")

    def _group(self, group: Group, out: list[str], newline: str) -> None:
        """``Group.to_dict`` as text, its children written from their own nodes."""
        i = newline + " " * INDENT
        out.append(
            f'{{{i}"type": "group",{i}"id": {scalar_text(group.id)},'
            f'{i}"title": {scalar_text(group.title)},'
            f'{i}"mode": {scalar_text(group.mode)},{i}"limit": {scalar_text(group.limit)},'
            f'{i}"service": {scalar_text(group.service)},{i}"children": '
        )
        if not group.children:
            out.append("[]" + newline + "}")
            return
        sep = "[" + i + " " * INDENT
        for child in group.children:
            out.append(sep)
            if isinstance(child, Group):
                self._group(child, out, i + " " * INDENT)
            else:
                self._step(child, out, i + " " * INDENT)
            sep = "," + i + " " * INDENT
            self._flush(out)
        out.append(i + "]" + newline + "}")

    def _step(self, step: Step, out: list[str], newline: str) -> None:
        """``Step.to_dict`` as text, without building it: 15,000 steps make most of a
        1,000-host plan, and their commands and data are written once per value."""
        i = newline + " " * INDENT
        texts = self.values.get(i)
        if texts is None:
            texts = self.values[i] = ValueTexts(lambda value: self._text(value, i))
        host, service, restore, timeout = step.host, step.service, step.restore, step.timeout
        plain = type(restore) is bool and type(timeout) is int  # as typed: no encoder needed
        out.append(
            f'{{{i}"type": "step",{i}"id": {_ENCODE(step.id)},{i}"kind": {_ENCODE(step.kind)},'
            f'{i}"title": {_ENCODE(step.title)},'
            f'{i}"host": {"null" if host is None else _ENCODE(host)},'
            f'{i}"service": {"null" if service is None else _ENCODE(service)},'
            f'{i}"commands": {texts.of_commands(step.commands)},'
            f'{i}"data": {texts.of_params(step.params)},'
            f'{i}"restore": {("true" if restore else "false") if plain else scalar_text(restore)},'
            f'{i}"timeout": {int.__repr__(timeout) if plain else scalar_text(timeout)}{newline}}}'
        )

    def _text(self, value: Json, newline: str) -> str:
        part: list[str] = []
        self.write(value, part, newline)
        return "".join(part)

    def _list(self, seq: list[object], out: list[str], newline: str) -> None:
        if not seq:
            out.append("[]")
            return
        inner = newline + " " * INDENT
        if not any(type(v) in _CONTAINERS for v in seq):  # argv, units, packages
            out.append("[" + inner + self._flat(seq, inner))
        else:
            sep = "[" + inner
            for item in seq:
                out.append(sep)
                self.write(item, out, inner)
                sep = "," + inner
                self._flush(out)
        out.append(newline + "]")

    def _reused(self, value: object, newline: str) -> str:
        try:
            key = (newline, "".join(_COMPACT(value, 0)))
        except _NotPlain:
            value = plain_json(value)
            key = (newline, "".join(_COMPACT(value, 0)))
        text = self.done.get(key)
        if text is None:
            part: list[str] = []
            self.write(value, part, newline)
            text = self.done[key] = "".join(part)
        return text


_ENCODE: Callable[[str], str] = encode_basestring_ascii  # a str (or str subclass) as JSON
