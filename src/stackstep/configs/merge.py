"""Merge a package's new default config file into the live one, key by key (pure).

Three files meet: *base* (the old package's default, when it could be recovered),
*ours* (the live file, with the site's edits) and *theirs* (the new default the package
manager set aside as ``.rpmnew``/``.dpkg-dist``). For every (section, key):

- ours equals theirs: that value;
- ours equals base (the site did not touch it): theirs (changed, added or removed);
- theirs equals base (the new version did not touch it): ours;
- both changed, differently: a :class:`Conflict`. The text keeps ours until the
  operator picks a side (``resolve`` for all, ``picks`` per key): never silently.

Without a base (two-way) ours wins for every key it sets, theirs' new keys are added,
and each key whose values differ is reported as a :class:`Note`.

INI files (oslo.config, paste) go through a small line model that keeps comments and
order, continuation lines and repeated keys (multi-valued options): the output has the
new default's layout with the local values put in; a local-only key goes after its
commented-out default (``#key = ...``) or at the end of its section, a local-only
section at the end, each with the site's comment lines just above it. Python settings
files (horizon's ``local_settings``) go through
:func:`stackstep.engine.hooks.carry_settings`: the site's assignments carried into the
new default, the catalog's ``add`` statements appended where a name is not set.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Literal

from stackstep.configs.ini import Key, Side, Values, ini_values, parse_ini, render_merged
from stackstep.engine.hooks import assignments, carry_settings
from stackstep.errors import InputError

Mode = Literal["three-way", "two-way"]
FileKind = Literal["ini", "python"]

_PY_STATEMENT = re.compile(r"^[A-Z_][A-Z0-9_]*\s*=")
_SECRET_NAME = re.compile(r"password|passwd|secret|(^|_)token$|credential", re.IGNORECASE)
_SECRET_LINE = re.compile(r"^([-+ ]?\s*[#;]?\s*([A-Za-z0-9_.\-]+)\s*[=:]\s*)(\S.*)$")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")
MASK = "******"


@dataclass(frozen=True)
class Conflict:
    """Both sides changed a key, differently; ``base`` is () when the key was new.
    ``resolution`` is the side the text took, None when nobody chose yet (ours kept)."""

    section: str
    key: str
    base: Values
    ours: Values
    theirs: Values
    resolution: Side | None = None


@dataclass(frozen=True)
class Note:
    """A difference the rules settled, reported so that nothing happens silently."""

    section: str
    key: str
    what: str  # e.g. "kept local value", "new default taken"
    ours: Values
    theirs: Values


@dataclass(frozen=True)
class MergeResult:
    text: str  # the merged file; an unresolved conflict keeps ours
    mode: Mode
    conflicts: tuple[Conflict, ...]
    notes: tuple[Note, ...]

    @property
    def unresolved(self) -> tuple[Conflict, ...]:
        return tuple(c for c in self.conflicts if c.resolution is None)


@dataclass(frozen=True)
class MergeOptions:
    """How to settle what the rules leave open, and the catalog's settings-file data."""

    picks: Mapping[Key, Side] = field(default_factory=dict)  # per key: which side wins
    resolve: Side | None = None  # every conflict not in ``picks``
    carry: tuple[str, ...] = ()  # settings: names always taken from ours
    add: tuple[str, ...] = ()  # settings: statements appended where the name is unset


def file_kind(path: str) -> FileKind | None:
    """How a config file merges: ``python`` (settings), ``ini``, or None (not key by key)."""
    name = PurePosixPath(path).name
    if name.startswith("local_settings") or name.endswith(".py"):
        return "python"
    if name.endswith((".json", ".yaml", ".yml", ".xml", ".sh")):
        return None
    return "ini"


def _decide(b: Values | None, o: Values, t: Values) -> tuple[Side | None, str]:
    """(side, note) for one key; side None: a conflict. ``b`` None: no base (two-way)."""
    if o == t:
        return "theirs", ""
    if b is None:
        if not o:
            return "theirs", "added from the new default"
        if not t:
            return "ours", "kept local value (not in the new default)"
        return "ours", "kept local value (the new default differs)"
    if o == b:
        if not b:
            return "theirs", "added from the new default"
        return "theirs", "new default taken" if t else "removed, as in the new default"
    if t == b:
        if not b:
            return "ours", "kept local addition"
        return "ours", "kept local value" if o else "kept local removal"
    return None, ""


@dataclass(frozen=True)
class _Decisions:
    sides: dict[Key, Side]
    conflicts: tuple[Conflict, ...]
    notes: tuple[Note, ...]


def _decisions(
    base: Mapping[Key, Values] | None,
    ours: Mapping[Key, Values],
    theirs: Mapping[Key, Values],
    options: MergeOptions,
    carried: frozenset[Key] = frozenset(),
) -> _Decisions:
    picks, resolve = options.picks, options.resolve
    sides: dict[Key, Side] = {}
    conflicts: list[Conflict] = []
    notes: list[Note] = []
    for key in _union(ours, theirs, base or {}):
        b = None if base is None else base.get(key, ())
        o, t = ours.get(key, ()), theirs.get(key, ())
        side, what = _decide(b, o, t)
        if key in carried and o and o != t:
            side, what = "ours", "carried (catalog)"
        if side is None:
            chosen = picks.get(key) or resolve
            conflicts.append(Conflict(key[0], key[1], b or (), o, t, chosen))
            sides[key] = chosen or "ours"
            continue
        if key in picks and o != t:
            side = picks[key]
            what = "picked: " + ("local value" if side == "ours" else "new default")
        sides[key] = side
        if what:
            notes.append(Note(key[0], key[1], what, o, t))
    return _Decisions(sides, tuple(conflicts), tuple(notes))


def _union(*maps: Mapping[Key, Values]) -> list[Key]:
    seen: dict[Key, None] = {}
    for values in maps:
        seen.update(dict.fromkeys(values))
    return list(seen)


def _check_picks(picks: Mapping[Key, Side], *maps: Mapping[Key, Values]) -> None:
    known = set(_union(*maps))
    for key in picks:
        if key not in known:
            raise InputError(
                f"no key {key_name(key)} in the live file or the new default",
                hint="name keys as SECTION.KEY (e.g. DEFAULT.debug), or NAME in settings files",
            )


def key_name(key: Key) -> str:
    """``section.key``, or the bare name for settings files."""
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def parse_key(text: str, kind: FileKind) -> Key:
    """The inverse of :func:`key_name`: ``DEFAULT.debug`` -> ("DEFAULT", "debug")."""
    if kind == "python":
        return ("", text.strip())
    section, dot, key = text.partition(".")
    if not dot or not section.strip() or not key.strip():
        raise InputError(
            f"{text!r} does not name a key of an INI file: write SECTION.KEY",
            hint="e.g. DEFAULT.debug or keystone_authtoken.auth_url",
        )
    return (section.strip(), key.strip())


def merge_ini(
    base: str | None,
    ours: str,
    theirs: str,
    options: MergeOptions = MergeOptions(),
    name: str = "file",
) -> MergeResult:
    """Three-way (two-way when ``base`` is None) merge of INI files; see the module doc."""
    ob, tb = parse_ini(ours, name), parse_ini(theirs, f"{name} (new default)")
    bb = None if base is None else parse_ini(base, f"{name} (old default)")
    ov, tv = ini_values(ob), ini_values(tb)
    _check_picks(options.picks, ov, tv)
    found = _decisions(None if bb is None else ini_values(bb), ov, tv, options)
    known = {b.text.strip() for b in (*tb, *(bb or ())) if b.kind == "comment"}
    take = {key for key, side in found.sides.items() if side == "ours"}
    text = render_merged(ob, tb, take, known)
    return MergeResult(text, _mode(base), found.conflicts, found.notes)


def _mode(base: str | None) -> Mode:
    return "two-way" if base is None else "three-way"


def _settings_values(text: str) -> dict[Key, Values]:
    """Top-level ``NAME = value`` statements; the last assignment of a name wins."""
    out: dict[Key, Values] = {}
    for name, statement in assignments(text).items():
        value = " ".join(statement.split("=", 1)[1].split())
        out[("", name)] = (value,)
    return out


def merge_settings(
    base: str | None, ours: str, theirs: str, options: MergeOptions = MergeOptions()
) -> MergeResult:
    """Python settings: the new default, with the names the site set carried over from
    ours (``options.carry``: always, as the catalog says) and ``options.add`` statements
    appended where their name is not set (horizon's ``ALLOWED_HOSTS``)."""
    ov, tv = _settings_values(ours), _settings_values(theirs)
    bv = None if base is None else _settings_values(base)
    _check_picks(options.picks, ov, tv)
    carried = frozenset(("", name) for name in options.carry)
    found = _decisions(bv, ov, tv, options, carried)
    names = [key[1] for key in ov if found.sides.get(key) == "ours"]
    text = carry_settings(ours, theirs, names, list(options.add))
    notes = [_settings_note(n) for n in found.notes]
    have = {key[1] for key in tv} | set(names)
    for statement in options.add:
        name, _, value = (part.strip() for part in statement.partition("="))
        if name not in have:
            notes.append(Note("", name, "added (catalog)", ov.get(("", name), ()), (value,)))
    notes += _uncarried_lines(ours, theirs)
    return MergeResult(text, _mode(base), found.conflicts, tuple(notes))


def _settings_note(note: Note) -> Note:
    if note.ours or note.what in ("added from the new default", "new default taken"):
        return note
    return replace(note, what="left as in the new default (a removed statement is not carried)")


def _uncarried_lines(ours: str, theirs: str) -> list[Note]:
    """Site lines that are not ``NAME = ...`` statements (imports, ``if`` blocks,
    ``LOGGING[...] = ...``) and that the new default lacks: reported, not carried."""
    present = {line.strip() for line in theirs.splitlines()}
    notes = []
    for line in ours.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or line[0] in " \t)]}":
            continue
        if not _PY_STATEMENT.match(line) and stripped not in present:
            notes.append(Note("", "", "not carried (not a NAME = statement)", (stripped,), ()))
    return notes


def merge_config(
    path: str, base: str | None, ours: str, theirs: str, options: MergeOptions = MergeOptions()
) -> MergeResult:
    """Merge by the file's kind (:func:`file_kind`); InputError when it has none."""
    kind = file_kind(path)
    if kind == "python":
        return merge_settings(base, ours, theirs, options)
    if kind == "ini":
        return merge_ini(base, ours, theirs, options, name=path)
    raise InputError(
        f"{path}: cannot merge this kind of file key by key",
        hint="review the diff, then `keep` or `accept` it (and edit by hand if needed)",
    )


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    """A unified diff (3 lines of context); "" when the texts are equal."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def mask_line(line: str) -> str:
    """A line with secrets hidden: values of password/secret/token keys, URL passwords."""
    found = _SECRET_LINE.match(line)
    if found and _SECRET_NAME.search(found.group(2)):
        line = found.group(1) + MASK + ("\n" if line.endswith("\n") else "")
    return _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", line)


def mask_value(key: str, value: str) -> str:
    return MASK if _SECRET_NAME.search(key) else _URL_PASSWORD.sub(rf"\g<1>{MASK}\g<3>", value)
