"""The plan as indented JSON text (``stackstep plan --json``, docs/plan-json.md).

The text is exactly ``json.dumps(plan.to_dict(), indent=2)``. Python's C encoder cannot
indent, and its pure-Python one passes every piece of text up through one generator per
level of nesting, which costs seconds on a 5,000-host plan. This writer appends pieces
to a list instead, has the C encoder write every run of plain values (with the indent
as its separator), writes the commands and data that many hosts share once, and hands
the text on in parts (``write_plan_json``) so a 70 MB plan is never held whole.

A value that is not plain JSON (a str or int subclass, a key that is not a string) is
first turned into what JSON reads back (``plain_json``), which ``json.dumps`` writes the
same way; a value JSON cannot write raises its TypeError.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]

from stackstep.model.plan import Json, Plan, plain_json

INDENT = 2
REUSE = ("commands", "data")  # a step's values that many hosts share
PART = 4096  # pieces of text gathered before they are handed on


class _NotPlain(Exception):
    """A value the C encoder would not write like ``json.dumps``."""


def plan_json(plan: Plan) -> str:
    """``json.dumps(plan.to_dict(), indent=2)``: the same text, in a fraction of the time."""
    return dumps_indented(plan.to_dict(), reuse=REUSE)


def write_plan_json(plan: Plan, write: Callable[[str], object]) -> None:
    """``plan_json(plan)`` handed to ``write`` in parts of a few hundred kB."""
    out: list[str] = []
    _Writer(frozenset(REUSE), write).write(plan.to_dict(), out, "\n")
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
_CONTAINERS = frozenset({dict, list, tuple})


class _Writer:
    def __init__(self, reuse: frozenset[str], sink: Callable[[str], object] | None) -> None:
        self.reuse = reuse
        self.sink = sink
        self.done: dict[tuple[str, str], str] = {}
        self.encoders: dict[str, Callable[[object, int], tuple[str, ...]]] = {}

    def write(self, value: object, out: list[str], newline: str) -> None:
        kind = type(value)
        if kind is dict:
            self._dict(value, out, newline)  # type: ignore[arg-type]
        elif kind is list or kind is tuple:
            self._list(value, out, newline)  # type: ignore[arg-type]
        elif kind in _SCALARS:
            out.append(_scalar(value))
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


def _scalar(value: object) -> str:
    """A plain scalar as ``json.dumps`` writes it (NaN and Infinity included)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    kind = type(value)
    if kind is str or kind is int:
        return "".join(_COMPACT(value, 0))
    number: float = value  # type: ignore[assignment]
    if math.isfinite(number):
        return float.__repr__(number)
    return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
