"""The prober against a real HTTP server on 127.0.0.1 that goes down and up on command:
the transitions it records, and the windows derived from them, match what the server did
within two intervals."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from stackstep.engine.prober import DEFAULT_TIMEOUT, HttpTarget, Prober
from stackstep.model.availability import ProbeTarget, Transition, outage_windows

INTERVAL = 0.4  # generous: a loaded CI machine must not turn a slow answer into an outage
API = ProbeTarget("keystone", host="ctl")


class Api:
    """A real HTTP server whose listener can be closed and opened again on its port, that
    answers ``status``, after ``delay`` seconds."""

    def __init__(self) -> None:
        self.status = 300
        self.delay = 0.0
        self.requests = 0
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    def up(self) -> float:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.requests += 1
                time.sleep(api.delay)
                self.send_response(api.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return time.time()

    def down(self) -> float:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        return time.time()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v2.0"


@pytest.fixture
def api() -> Iterator[Api]:
    server = Api()
    server.up()
    yield server
    server.down()


def _within(measured: float, actual: float) -> bool:
    return abs(measured - actual) <= 2 * INTERVAL


async def _watch(
    api: Api, script: list[tuple[str, float]], timeout: float | None = None
) -> tuple[list[Transition], list[float]]:
    """Run ``script`` (an action on the server, then seconds to wait) under a prober; the
    transitions it recorded and the moment each action took effect."""
    seen: list[Transition] = []
    moments: list[float] = []
    async with Prober([HttpTarget(API, api.url, (200, 300))], seen.append, INTERVAL, timeout):
        for action, wait in script:
            moments.append(await asyncio.to_thread(_act, api, action))
            await asyncio.sleep(wait)
    return seen, moments


def _act(api: Api, action: str) -> float:
    if action == "stop":
        return api.down()
    if action == "start":
        return api.up()
    api.status, api.delay = {"503": (503, 0.0), "hang": (300, 3.0), "ok": (300, 0.0)}[action]
    return time.time()


def test_a_server_stopped_then_started_is_one_window_that_matches_it(api):
    seen, (_, stopped, started) = asyncio.run(
        _watch(api, [("ok", 3 * INTERVAL), ("stop", 4 * INTERVAL), ("start", 3 * INTERVAL)])
    )
    run_end = time.time()
    assert [t.up for t in seen] == [True, False, True]
    assert re.match(rf"GET {api.url}: (ConnectError|ReadError|RemoteProtocolError)", seen[1].detail)
    (window,) = outage_windows(seen, run_end)[API]
    assert _within(window.start, stopped) and _within(window.end, started)
    assert not window.open and window.last_up is not None
    assert window.start - window.last_up <= 2 * INTERVAL


def test_an_unexpected_answer_is_down_and_a_window_open_at_the_end_is_marked(api):
    script = [
        ("ok", 3 * INTERVAL),
        ("503", 3 * INTERVAL),
        ("ok", 3 * INTERVAL),
        ("503", 3 * INTERVAL),
    ]
    seen, (_, failed, fixed, failed_again) = asyncio.run(_watch(api, script))
    run_end = time.time()
    assert [t.up for t in seen] == [True, False, True, False]
    assert "-> 503" in seen[1].detail and "(expected 200/300)" in seen[1].detail
    first, last = outage_windows(seen, run_end)[API]
    assert _within(first.start, failed) and _within(first.end, fixed) and not first.open
    assert _within(last.start, failed_again) and last.open and last.end == run_end


def test_a_server_that_does_not_answer_in_time_is_down_from_the_request_that_failed(api):
    seen, (_, hung, answers) = asyncio.run(
        _watch(api, [("ok", 3 * INTERVAL), ("hang", 5 * INTERVAL), ("ok", 3 * INTERVAL)])
    )
    assert [t.up for t in seen] == [True, False, True]
    assert "Timeout" in seen[1].detail
    # stamped when sent: the window starts at the first request that hung, not its timeout
    assert _within(seen[1].at, hung)
    # the next sample goes out once the hung one is cut (1 s), then at the interval's pace
    assert answers - INTERVAL <= seen[2].at <= answers + DEFAULT_TIMEOUT + 2 * INTERVAL


def test_only_transitions_are_recorded_and_a_failing_sink_does_not_stop_the_polling(api):
    calls: list[Transition] = []

    def sink(transition: Transition) -> None:
        calls.append(transition)
        raise OSError("journal locked")

    async def watch() -> Prober:
        prober = Prober([HttpTarget(API, api.url, (300,))], sink, INTERVAL)
        prober.start()
        await asyncio.sleep(3 * INTERVAL)
        await asyncio.to_thread(api.down)
        await asyncio.sleep(3 * INTERVAL)
        await prober.stop()
        return prober

    before = api.requests
    prober = asyncio.run(watch())
    assert [t.up for t in calls] == [True, False]
    assert api.requests - before >= 2  # it sampled more often than it recorded
    assert prober.errors == ["keystone@ctl: OSError: journal locked"] * 2


def test_a_slow_answer_is_not_an_outage_whatever_the_interval():
    # a loaded machine answers in a few tenths of a second: slow, not down
    assert Prober([], print, 0.05).timeout == Prober([], print, 5.0).timeout == 1.0
    with pytest.raises(ValueError, match=r"above 0 s"):
        Prober([], print, 0.2, timeout=0)


def test_a_probe_that_cannot_even_be_sent_is_a_down_sample_not_an_error():
    seen: list[Transition] = []

    async def watch() -> None:
        async with Prober([HttpTarget(API, "http://[::1", (200,))], seen.append, INTERVAL):
            await asyncio.sleep(0.3)

    asyncio.run(watch())
    assert [(t.up, t.previous) for t in seen] == [(False, None)]
    assert seen[0].detail.startswith("GET http://[::1: InvalidURL")
