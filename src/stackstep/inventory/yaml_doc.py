"""Parse YAML into plain Python values plus a map of key path -> line.

PyYAML's composer keeps positions; the constructor drops them. We compose, then build
values ourselves (safe scalars only), recording each key's line and reporting the
duplicate keys YAML would otherwise silently overwrite.

Composition is bounded (:func:`compose`): at most ``MAX_DEPTH`` levels of nesting, at
most ``MAX_NODES`` values once aliases are expanded, of which aliases add at most
``MAX_ALIASED`` (an alias bomb is refused before it is expanded), and no alias inside
the node it names (a recursive alias). Text that cannot be written out as UTF-8 (a lone
surrogate escape such as ``"\\udc80"``) is refused.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent

from stackstep.errors import Problem
from stackstep.model.limits import MAX_ALIASED, MAX_DEPTH, MAX_NODES, nesting_too_deep
from stackstep.model.reader import Doc, PathKey

_CONSTRUCTOR = SafeConstructor()  # one for every scalar: a loader each costs 10x
_CONSTRUCTORS = SafeConstructor.yaml_constructors


class LimitError(yaml.YAMLError):
    """A document beyond stackstep's bounds; shaped like PyYAML's marked errors."""

    def __init__(self, problem: str, mark: Any) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark
        self.context = None


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer counts depth and expanded size as it goes."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._expanded = 0
        self._aliased = 0  # values added by aliases
        self._sizes: dict[str, int] = {}  # anchor -> values it holds, aliases expanded
        self._open: set[str] = set()  # anchors being composed

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, AliasEvent):
            anchor = str(event.anchor)
            if anchor in self._open:
                raise LimitError(
                    f"recursive alias: *{anchor} is inside the value &{anchor} names",
                    event.start_mark,
                )
            size = self._sizes.get(anchor, 1)
            self._aliased += size
            if self._aliased > MAX_ALIASED:
                raise LimitError(
                    f"aliases expand to more than {MAX_ALIASED} values (an alias bomb?)",
                    event.start_mark,
                )
            self._count(size, event.start_mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise LimitError(_too_deep(), event.start_mark)
        anchor = event.anchor
        before = self._expanded
        self._count(1, event.start_mark)
        if anchor is not None:
            self._open.add(anchor)
        node = super().compose_node(parent, index)
        if anchor is not None:
            self._open.discard(anchor)
            self._sizes[anchor] = self._expanded - before
        self._depth -= 1
        return node

    def _count(self, size: int, mark: Any) -> None:
        self._expanded += size
        if self._expanded > MAX_NODES:
            raise LimitError(
                f"the document holds more than {MAX_NODES} values",
                mark,
            )


def _too_deep() -> str:
    return f"nested deeper than {MAX_DEPTH} levels (a list or mapping within another)"


def compose(text: str) -> yaml.Node | None:
    """The node tree of a one-document YAML text, within the bounds; YAMLError if not."""
    deep = nesting_too_deep(text, multiline_quotes=False)
    if deep is not None:
        raise LimitError(_too_deep(), yaml.Mark("", 0, deep - 1, 0, "", 0))
    fast = _libyaml_compose(text)
    if fast is not _SLOW:
        return fast
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


_SLOW = yaml.ScalarNode("tag:stackstep:slow", "")  # "compose the bounded Python way"
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _libyaml_compose(text: str) -> yaml.Node | None:
    """libyaml's composer (C, ten times faster: 5,000 hosts in 0.1 s, not 0.8 s) for a
    document plainly within the bounds: no anchor or alias, nesting and values well
    under them. Anything else, errors included, is ``_SLOW``: the bounded Python
    composer then gives its own nodes, limits and messages, as before."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        return _SLOW
    try:
        depth = values = 0
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                return _SLOW
            if isinstance(event, _OPEN):
                depth += 1
                values += 1
                if depth >= MAX_DEPTH:
                    return _SLOW
            elif isinstance(event, _CLOSE):
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent):
                values += 1
            if values >= MAX_NODES:
                return _SLOW
        node: yaml.Node | None = yaml.compose(text, Loader=loader)
    except Exception:  # any doubt: the Python composer decides
        return _SLOW
    return node


def error_detail(exc: yaml.YAMLError, text: str | None = None) -> tuple[str, int | None]:
    """What a YAML error says and its line. PyYAML's reader (a control character such
    as NUL) gives only an offset into the text: the line is counted from it."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = None
        if text is not None and isinstance(exc.position, int):
            line = text.count("\n", 0, exc.position) + 1
        code = (
            exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        )
        return f"character U+{code:04X} is not allowed in YAML", line
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    return ", ".join(str(part) for part in parts if part) or str(exc), line


def yaml_problem(
    exc: yaml.YAMLError, file: str, what: str = "not valid YAML", text: str | None = None
) -> Problem:
    """One Problem for a YAML (or bounds) error, at its line."""
    detail, line = error_detail(exc, text)
    if isinstance(exc, LimitError):
        return Problem(exc.problem, file, line, None, "stackstep reads no such inventory")
    hint = "fix the indentation or quoting there"
    if isinstance(exc, yaml.reader.ReaderError):
        hint = "remove it: YAML files hold printable text only"
    return Problem(f"{what}: {detail}", file, line, None, hint)


def load_yaml(text: str, file: str) -> tuple[object, Doc]:
    doc = Doc(file)
    try:
        node = compose(text)
    except yaml.YAMLError as exc:
        doc.problems.append(yaml_problem(exc, file, text=text))
        return None, doc
    if node is None:
        return None, doc
    return _build(node, (), doc), doc


def _build(node: yaml.Node, path: PathKey, doc: Doc) -> object:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = str(_scalar(key_node))
            child = (*path, key)
            if key in out:
                doc.lines[child] = key_node.start_mark.line + 1
                doc.problem(child, "duplicate key: YAML would silently keep only the last one")
            doc.lines[child] = key_node.start_mark.line + 1
            _check_text(key, child, doc)
            out[key] = _build(value_node, child, doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc) for i, item in enumerate(node.value)]
    value = _scalar(node)
    if isinstance(value, str):
        _check_text(value, path, doc)
    return value


def _check_text(text: str, path: PathKey, doc: Doc) -> None:
    if not text.isascii() and has_surrogate(text):
        doc.problem(
            path,
            f"{text!r} holds a lone surrogate escape (\\udXXX), which is not text",
            "write the character itself, or \\UXXXXXXXX for a real code point",
        )


def has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _scalar(node: yaml.Node) -> object:
    """A scalar's value the safe way ("22" -> 22, "yes" -> True), else its text."""
    if not isinstance(node, yaml.ScalarNode):
        return repr(node)
    make = _CONSTRUCTORS.get(node.tag) or _CONSTRUCTORS[None]
    try:
        return make(_CONSTRUCTOR, node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):  # "!!int abc", "!foo x"
        return str(node.value)
