"""Fixtures for the engine end-to-end tests: a fake cloud (tests/fakecloud.py) whose
API probes hit a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fakecloud import FakeCloud, OkHandler, build_fake_cloud


@pytest.fixture(scope="session")
def api_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture
def fake_cloud(tmp_path: Path, api_port: int) -> FakeCloud:
    return build_fake_cloud(tmp_path, api_port)
