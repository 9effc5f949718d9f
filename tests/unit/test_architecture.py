"""The rooms of src/stackstep/ are each named in the import-linter layers, in the
terminal contract (all but cli) and in docs/architecture.md: a new top-level package
cannot slip in without a place in the layers and a line in the document."""

from __future__ import annotations

import tomllib

from stackstep_testing import ROOT

SRC = ROOT / "src" / "stackstep"


def rooms() -> set[str]:
    packages = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in SRC.glob("*.py") if not p.name.startswith("__")}
    return packages | modules


def contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    found = config["tool"]["importlinter"]["contracts"]
    return {c["name"].split(":")[0]: c for c in found}


def test_every_room_has_a_layer():
    layers = contracts()["Layers"]["layers"]
    named = {
        part.strip().strip("()").removeprefix("stackstep.")
        for layer in layers
        for part in str(layer).split("|")
    }
    assert rooms() <= named, sorted(rooms() - named)
    assert named - rooms() <= {"session"}  # optional in the contract until it lands


def test_lab_is_imported_by_cli_alone():
    layers = [str(layer) for layer in contracts()["Layers"]["layers"]]
    assert layers[:2] == ["stackstep.cli", "stackstep.lab"]


def test_only_cli_may_touch_the_terminal():
    terminal = contracts()["Only cli touches the terminal and argv"]
    sources = {str(m).removeprefix("stackstep.") for m in terminal["source_modules"]}
    assert rooms() - {"cli"} <= sources, sorted(rooms() - {"cli"} - sources)


def test_the_architecture_document_names_every_room():
    text = (ROOT / "docs" / "architecture.md").read_text()
    missing = [
        room for room in sorted(rooms()) if f"`{room}/`" not in text and f"`{room}.py`" not in text
    ]
    assert not missing, missing
