"""The plan as indented JSON text (``stackstep plan --json``, docs/plan-json.md).

The text is exactly ``json.dumps(plan.to_dict(), indent=2)``. Python's C encoder cannot
indent, and its pure-Python one passes every piece of text up through one generator per
level of nesting, which costs seconds on a 5,000-host plan; this writer appends the
pieces to one list instead. Anything but plain JSON values (str keys; str, int, bool,
None, finite float) falls back to ``json.dumps`` itself, so the text never differs.
"""

from __future__ import annotations

import json
import math
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]

from stackstep.model.plan import Json, Plan

INDENT = 2


class _NotPlain(Exception):
    """A value the fast writer does not handle exactly like ``json.dumps``."""


def plan_json(plan: Plan) -> str:
    """``json.dumps(plan.to_dict(), indent=2)``: the same text, in a fraction of the time.

    The commands and data of a step are mostly the same on every host, so their text is
    written once per distinct value (keyed by their compact JSON) and then reused.
    """
    return dumps_indented(plan.to_dict(), reuse=("commands", "data"))


def dumps_indented(value: Json, reuse: tuple[str, ...] = ()) -> str:
    """``json.dumps(value, indent=2)``, the same text, faster for big documents. The text
    of the values under the keys ``reuse`` is kept and reused for equal values."""
    out: list[str] = []
    try:
        _Writer(frozenset(reuse)).write(value, out, "\n")
    except _NotPlain:
        return json.dumps(value, indent=INDENT)
    return "".join(out)


def _not_plain(value: object) -> object:
    raise _NotPlain


# the C encoder itself (json.dumps costs more to set up than to encode a step's data)
_ENCODER = c_make_encoder(
    None, _not_plain, encode_basestring_ascii, None, ":", ",", False, False, True
)


def _compact(value: object) -> str:
    return "".join(_ENCODER(value, 0))


class _Writer:
    def __init__(self, reuse: frozenset[str]) -> None:
        self.reuse = reuse
        self.done: dict[tuple[str, str], str] = {}

    def write(self, value: object, out: list[str], newline: str) -> None:
        kind = type(value)
        if kind is dict:
            self._dict(value, out, newline)  # type: ignore[arg-type]
        elif kind is list or kind is tuple:
            self._list(value, out, newline)  # type: ignore[arg-type]
        else:
            out.append(_scalar(value))

    def _dict(self, items: dict[object, object], out: list[str], newline: str) -> None:
        if not items:
            out.append("{}")
            return
        inner = newline + " " * INDENT
        sep = "{" + inner
        for key, item in items.items():
            if type(key) is not str:
                raise _NotPlain
            head = sep + encode_basestring_ascii(key) + ": "
            if type(item) not in _CONTAINERS:
                out.append(head + _scalar(item))
            elif key in self.reuse:
                out.append(head + self._reused(item, inner))
            else:
                out.append(head)
                self.write(item, out, inner)
            sep = "," + inner
        out.append(newline + "}")

    def _list(self, seq: list[object], out: list[str], newline: str) -> None:
        if not seq:
            out.append("[]")
            return
        inner = newline + " " * INDENT
        if all(type(v) is str for v in seq):  # argv, unit and package lists: one join
            texts = [encode_basestring_ascii(v) for v in seq]  # type: ignore[arg-type]
            out.append("[" + inner + ("," + inner).join(texts))
        else:
            sep = "[" + inner
            for item in seq:
                out.append(sep)
                self.write(item, out, inner)
                sep = "," + inner
        out.append(newline + "]")

    def _reused(self, value: object, newline: str) -> str:
        key = (newline, _compact(value))
        text = self.done.get(key)
        if text is None:
            part: list[str] = []
            self.write(value, part, newline)
            text = self.done[key] = "".join(part)
        return text


_CONTAINERS = (dict, list, tuple)


def _scalar(value: object) -> str:
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)  # type: ignore[arg-type]
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):  # type: ignore[arg-type]
        return float.__repr__(value)
    raise _NotPlain
