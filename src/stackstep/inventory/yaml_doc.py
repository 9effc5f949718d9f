"""Parse YAML into plain Python values plus a map of key path -> line.

PyYAML's composer keeps positions; the constructor drops them. We compose, then build
values ourselves (safe scalars only), recording each key's line and reporting the
duplicate keys YAML would otherwise silently overwrite.
"""

from __future__ import annotations

import yaml

from stackstep.errors import Problem
from stackstep.model.reader import Doc, PathKey

_SCALARS = yaml.SafeLoader  # resolves "true", "22", "null" the safe way


def load_yaml(text: str, file: str) -> tuple[object, Doc]:
    doc = Doc(file)
    try:
        node = yaml.compose(text, Loader=_SCALARS)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        hint = "fix the indentation or quoting there"
        doc.problems.append(Problem(f"not valid YAML: {problem}", file, line, None, hint))
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
            out[key] = _build(value_node, child, doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc) for i, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> object:
    if not isinstance(node, yaml.ScalarNode):
        return repr(node)
    loader = _SCALARS("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        return str(node.value)
    finally:
        loader.dispose()
