"""Big inventories are composed by libyaml (C) when they are plainly within the bounds;
the values, the lines and the problems are those the bounded Python composer gives."""

from __future__ import annotations

import pytest
import yaml

from stackstep.inventory import yaml_doc
from stackstep.inventory.yaml_doc import load_yaml

pytestmark = pytest.mark.skipif(
    not getattr(yaml, "__with_libyaml__", False), reason="PyYAML without libyaml"
)

DOCS = [
    "cloud: c\nhosts:\n  a:\n    address: 10.0.0.1\n    roles: [controller, network]\n",
    "a: 1\na: 2\n",  # a duplicate key: a problem at its line
    "x: [1, 2.5, yes, null, '22', !!str 3]\nnested:\n  - {a: [b, {c: d}]}\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\n",
    "%YAML 1.1\n---\na: 1\n",
    "",
    "a: !!int abc\n",
    "? [a, b]\n: 1\n",
]


def _python_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_doc, "_libyaml_compose", lambda text: yaml_doc._SLOW)


@pytest.mark.parametrize("text", DOCS, ids=range(len(DOCS)))
def test_libyaml_gives_what_the_python_composer_gives(text, monkeypatch):
    assert yaml_doc._libyaml_compose(text) is not yaml_doc._SLOW  # the fast way was taken
    fast_value, fast_doc = load_yaml(text, "cloud.yaml")
    _python_only(monkeypatch)
    value, doc = load_yaml(text, "cloud.yaml")
    assert fast_value == value
    assert fast_doc.lines == doc.lines
    assert fast_doc.problems == doc.problems


@pytest.mark.parametrize(
    "text",
    [
        "a: &x [1, 2]\nb: *x\n",  # anchors and aliases: bounded as they expand
        "a: 1\n---\nb: 2\n",  # two documents
        "a: b: c\n",  # not valid YAML: the Python composer's message
        'x: "\\udc80"\n',  # a lone surrogate escape
        "a:\n\t- 1\n",
        "[" * 70 + "]" * 70 + "\n",  # deeper than the bound
    ],
)
def test_anything_unusual_is_left_to_the_bounded_python_composer(text):
    assert yaml_doc._libyaml_compose(text) is yaml_doc._SLOW
