"""Shared fixtures: the shipped catalog, and planning from inventory text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from stackstep.catalog import load_catalog
from stackstep.model.catalog import Catalog
from stackstep.model.plan import Plan
from stackstep_testing import plan_from_path

PlanFor = Callable[..., Plan]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    def _write(text: str, name: str = "cloud.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return _write


@pytest.fixture
def plan_for(catalog: Catalog, write: Callable[[str, str], Path]) -> PlanFor:
    def _plan(text: str, **options: object) -> Plan:
        return plan_from_path(write(text, "cloud.yaml"), catalog, **options)

    return _plan
