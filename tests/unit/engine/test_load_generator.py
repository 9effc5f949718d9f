"""The load generator against a real HTTP server on 127.0.0.1 that answers like keystone's
token API (tests/fakekeystone.py) and is switched to fail in each way: every request it
received is counted by the generator with the kind the server gave it, the refused ones
match the time the server was down, and the rate asked is the rate sent."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

import stackstep.engine.load as load_module
from fakecloud import OkHandler
from fakekeystone import PASSWORD, FakeKeystone, openrc
from stackstep.cli.options import LOAD_RATES, load_settings
from stackstep.engine.journal import Journal
from stackstep.engine.load import (
    MAX_RATE,
    MIN_RATE,
    Credentials,
    LoadCount,
    LoadFailure,
    LoadGenerator,
    LoadSettings,
    credentials_from_env,
    loading,
    token_url,
)
from stackstep.engine.prober import HttpTarget
from stackstep.model.availability import ProbeTarget
from stackstep.model.load import (
    ERROR,
    GET,
    ISSUE,
    NOT_SENT,
    REFUSED,
    RESET,
    TIMEOUT,
    VALIDATE,
    LoadSession,
)
from stackstep.report.load import analyse as analyse_load
from stackstep.report.load import load_lines

RATE = 20.0
REQUEST_TIMEOUT = 0.5  # a hung server's request times out quickly in a test


@pytest.fixture
def keystone() -> Iterator[FakeKeystone]:
    server = FakeKeystone()
    server.up()
    yield server
    server.down()


def _targets(server: FakeKeystone, *others: str) -> list[HttpTarget]:
    targets = [HttpTarget(ProbeTarget("keystone", endpoint=server.url), server.url, (200,))]
    for name in others:
        url = f"http://127.0.0.1:{server.port}/{name}"
        targets.append(HttpTarget(ProbeTarget(name, endpoint=url), url, (200,)))
    return targets


def _settings(
    env: dict[str, str] | None = None, timeout: float = REQUEST_TIMEOUT, **kw: object
) -> LoadSettings:
    found = credentials_from_env(openrc() if env is None else env)
    credentials = found if isinstance(found, Credentials) else None
    reason = found if isinstance(found, str) else ""
    return LoadSettings(RATE, credentials, reason, timeout=timeout, **kw)  # type: ignore[arg-type]


async def _drive(
    targets: list[HttpTarget], settings: LoadSettings, script: list[tuple[object, float]]
) -> tuple[LoadGenerator, list[LoadFailure], list[float]]:
    """Run the load while ``script`` (an action, then seconds to wait) plays; the
    generator, every failure it handed over, and the moment each action took effect."""
    failures: list[LoadFailure] = []
    moments: list[float] = []

    def sink(counts: list[LoadCount], new: list[LoadFailure]) -> None:
        failures.extend(new)

    generator = LoadGenerator(targets, settings, sink)
    await generator.start()
    try:
        for action, wait in script:
            moments.append(await asyncio.to_thread(action) if callable(action) else time.time())
            await asyncio.sleep(wait)
    finally:
        await generator.stop()
    return generator, failures, moments


def _stream(generator: LoadGenerator, service: str, request: str) -> LoadCount:
    return next(
        s.count() for s in generator.streams if (s.service, s.request) == (service, request)
    )


def test_a_healthy_cloud_gets_every_request_at_the_rate_asked_and_none_fails(keystone):
    generator, failures, _ = asyncio.run(
        _drive(_targets(keystone, "glance"), _settings(), [(None, 2.5)])
    )
    validate = _stream(generator, "keystone", VALIDATE)
    issue = _stream(generator, "keystone", ISSUE)
    glance = _stream(generator, "glance", GET)
    assert failures == [] and generator.tokens_off == ""
    assert (validate.failed, issue.failed, glance.failed) == (0, 0, 0)
    # the rates asked: 20 validations/s, max(2, 20/10) issues/s, max(1, 20/4) GETs/s
    assert (validate.rate, issue.rate, glance.rate) == (20.0, 2.0, 5.0)
    for count in (validate, issue, glance):
        assert count.achieved is not None
        assert abs(count.achieved - count.rate) <= 0.1 * count.rate, count
        assert count.late == 0
    # every request was really answered by the server, and counted once
    assert keystone.seen[("ok", "validate")] == validate.requests >= 45
    assert keystone.seen[("ok", "issue")] == issue.requests
    assert keystone.seen[("ok", "get")] == glance.requests
    # one token, issued at the start, was validated all along
    assert len(keystone.validated) == 1
    assert sum(keystone.validated.values()) == validate.requests


def test_each_failure_is_counted_with_its_kind_when_the_server_fails(keystone):
    keystone.hang_for = 2 * REQUEST_TIMEOUT
    script = [
        (lambda: keystone.set("ok"), 0.4),
        (lambda: keystone.set("503"), 0.7),
        (lambda: keystone.set("hang"), 0.7),
        (lambda: keystone.set("reset"), 0.7),
        (keystone.down, 0.7),
        (lambda: keystone.set("ok"), 0.0),
        (keystone.up, 0.5),
    ]
    generator, failures, moments = asyncio.run(_drive(_targets(keystone), _settings(), script))
    counts = [_stream(generator, "keystone", r) for r in (VALIDATE, ISSUE)]
    kinds = {k: sum(c.kinds.get(k, 0) for c in counts) for k in (TIMEOUT, RESET, REFUSED)}
    # what the server answered, each request counted with its kind
    assert sum(c.kinds.get("http 503", 0) for c in counts) == keystone.total("503")
    assert kinds[TIMEOUT] == keystone.total("hang") > 0
    assert kinds[RESET] == keystone.total("reset") > 0
    # refused: what the schedule sent while the port was closed (22 requests/s)
    assert abs(kinds[REFUSED] - 22 * (moments[6] - moments[4])) <= 4
    # every other request got the answer expected
    assert sum(c.failed for c in counts) == sum(c.requests for c in counts) - keystone.total("ok")
    # every failure is kept with the time it was sent, inside the window that caused it
    windows = {
        "http 503": (moments[1], moments[2]),
        TIMEOUT: (moments[2], moments[3]),
        RESET: (moments[3], moments[4]),
        REFUSED: (moments[4], moments[6]),
    }
    assert len(failures) == sum(c.failed for c in counts)
    for failure in failures:
        start, end = windows[failure.kind]
        assert start - 0.1 <= failure.at <= end + 0.1, (failure, start, end)
    # no retry: the server saw each request once (the refused never reached it)
    sent = sum(c.requests for c in counts) - kinds[REFUSED]
    assert sum(keystone.seen.values()) == sent


def test_without_credentials_keystone_gets_gets_and_says_why(keystone):
    env = {k: v for k, v in openrc().items() if k != "OS_PASSWORD"}
    generator, failures, _ = asyncio.run(_drive(_targets(keystone), _settings(env), [(None, 0.6)]))
    assert generator.tokens_off == "OS_PASSWORD not set in the environment (source an openrc)"
    assert [s.request for s in generator.streams] == [GET]
    assert keystone.seen[("ok", "issue")] == keystone.seen[("ok", "validate")] == 0
    assert keystone.seen[("ok", "get")] >= 10 and failures == []


def test_refused_credentials_turn_the_token_load_off(keystone):
    env = openrc("wrong")
    generator, _, _ = asyncio.run(_drive(_targets(keystone), _settings(env), [(None, 0.6)]))
    assert generator.tokens_off == "keystone refused the credentials (HTTP 401)"
    assert keystone.seen[("ok", "issue")] == 1  # the one that found out, counted
    assert _stream(generator, "keystone", ISSUE).kinds == {"http 401": 1}
    assert _stream(generator, "keystone", GET).requests >= 10


def test_a_hung_server_fills_the_in_flight_bound_and_the_rest_is_not_sent(keystone):
    keystone.hang_for = 2.0
    settings = _settings(timeout=1.0, max_in_flight=4)  # none ends while the test looks
    script = [(lambda: keystone.set("hang"), 0.7)]
    generator, failures, _ = asyncio.run(_drive(_targets(keystone), settings, script))
    counts = [_stream(generator, "keystone", r) for r in (VALIDATE, ISSUE)]
    assert sum(c.kinds.get(NOT_SENT, 0) for c in counts) >= 10
    assert keystone.total("hang") == 4  # at most 4 at once, then none until one ends
    assert any(f.detail == "not sent: 4 in flight" for f in failures)


def test_the_journal_keeps_the_session_its_counts_and_no_secret(keystone, tmp_path):
    journal = Journal(tmp_path / "state")
    keystone.set("503")

    async def run() -> None:
        async with loading(journal, "run-1", _targets(keystone, "nova"), _settings(keep=3)):
            await asyncio.sleep(1.0)

    asyncio.run(run())
    (session,) = journal.load_sessions("run-1")
    assert (session.command, session.rate, session.timeout, session.keep) == (
        "upgrade",
        RATE,
        REQUEST_TIMEOUT,
        3,
    )
    assert session.ended is not None and session.tokens_off == ""
    by = {(c.service, c.request): c for c in session.counts}
    assert set(by) == {("keystone", VALIDATE), ("keystone", ISSUE), ("nova", GET)}
    assert by[("nova", GET)].failed == by[("nova", GET)].requests > 0
    assert by[("keystone", ISSUE)].kinds == {"http 503": by[("keystone", ISSUE)].requests}
    # three failures kept per service, however many there were
    assert [f.service for f in session.failures].count("keystone") == 3
    assert [f.service for f in session.failures].count("nova") == 3
    journal.close()
    for path in (tmp_path / "state").iterdir():
        assert PASSWORD.encode() not in path.read_bytes()


def test_credentials_are_read_as_an_openrc_sets_them():
    found = credentials_from_env({**openrc(), "OS_USER_DOMAIN_ID": "", "OS_USER_DOMAIN_NAME": "D"})
    assert isinstance(found, Credentials)
    assert (found.username, found.project, found.user_domain, found.project_domain) == (
        "admin",
        ("name", "admin"),
        ("name", "D"),
        ("id", "default"),
    )
    assert PASSWORD not in repr(found) and PASSWORD in found.auth_body().decode()
    assert credentials_from_env({}) == (
        "OS_USERNAME and OS_PASSWORD and OS_PROJECT_NAME not set in the environment "
        "(source an openrc)"
    )
    assert "only the password method" in str(credentials_from_env({"OS_AUTH_TYPE": "token"}))


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [
        ("http://10.0.0.1:5000/v3", "http://10.0.0.1:5000/v3/auth/tokens"),
        ("http://10.0.0.1:5000/v3/", "http://10.0.0.1:5000/v3/auth/tokens"),
        ("https://cloud:5000/", "https://cloud:5000/v3/auth/tokens"),
        ("http://lb/identity", "http://lb/identity/v3/auth/tokens"),
    ],
)
def test_the_token_url_is_under_the_endpoint(endpoint, url):
    assert token_url(endpoint) == url


def test_a_journal_of_version_2_gets_the_load_tables_empty(tmp_path):
    state = tmp_path / "state"
    Journal(state).close()
    db = sqlite3.connect(state / "journal.sqlite")
    for table in ("load_sessions", "load_counts", "load_failures"):
        db.execute(f"DROP TABLE {table}")
    db.execute("PRAGMA user_version=2")
    db.close()
    journal = Journal(state)
    assert journal.load_sessions("any") == [] and journal.last_load_rate("any") is None
    journal.close()
    db = sqlite3.connect(state / "journal.sqlite")
    assert db.execute("PRAGMA user_version").fetchone() == (3,)
    db.close()


@pytest.mark.parametrize(
    ("given", "previous", "rate"),
    [
        ({}, None, None),  # off by default
        ({"load_rate": 20.0}, None, 20.0),
        ({}, 5.0, 5.0),  # resume: the run's last rate
        ({"load_rate": 7.0}, 5.0, 7.0),
        ({"no_load": True}, 5.0, None),
    ],
)
def test_the_rate_is_the_one_given_else_the_runs_last(given, previous, rate, monkeypatch):
    for key, value in openrc().items():
        monkeypatch.setenv(key, value)
    settings = load_settings(given, previous)
    assert (settings.rate, settings.enabled) == (rate, rate is not None)
    if rate is not None:  # read only when the load is on
        assert settings.credentials is not None and settings.credentials.username == "admin"


def test_a_generator_held_up_says_it_could_not_keep_its_rate(keystone):
    async def run() -> LoadGenerator:
        generator = LoadGenerator(_targets(keystone), _settings(timeout=2.0))
        await generator.start()
        await asyncio.sleep(0.3)
        time.sleep(0.6)  # the event loop is blocked: a starved machine
        await asyncio.sleep(0.3)
        await generator.stop()
        return generator

    generator = asyncio.run(run())
    validate = _stream(generator, "keystone", VALIDATE)
    assert validate.late >= 8  # the 0.6 s of requests went out late, at once
    session = LoadSession("upgrade", 0.0, 1.0, RATE, REQUEST_TIMEOUT, 1000, counts=(validate,))
    (keystone_load,) = analyse_load([session]).services
    assert not keystone_load.streams[0].kept_rate
    assert "could not keep its rate" in load_lines(analyse_load([session]))[-1][0]
    assert validate.failed == 0  # late, not failed: the server still answered each


def test_the_cli_repeats_the_generators_rates():
    assert LOAD_RATES == (MIN_RATE, MAX_RATE) == (1.0, 1000.0)


def test_a_lab_endpoint_is_reached_through_a_socket_made_on_the_generators_threads(
    keystone, monkeypatch
):
    """The namespace itself needs the lab; here the socket the generator asks for is a
    plain one, made on the thread the generator gives the call, and spoken to as a lab
    endpoint's would be."""
    calls: list[tuple[str, str, int, str]] = []

    def connect(netns: str, address: str, port: int, timeout: float) -> socket.socket:
        calls.append((netns, address, port, threading.current_thread().name))
        sock = socket.create_connection((address, port), timeout=timeout)
        sock.setblocking(False)
        return sock

    monkeypatch.setattr(load_module, "connect_in_netns", connect)
    target = HttpTarget(ProbeTarget("keystone", endpoint=keystone.url), keystone.url, (200,), "lab")
    _, failures, _ = asyncio.run(_drive([target], _settings(), [(None, 0.5)]))
    assert failures == [] and keystone.seen[("ok", "validate")] >= 8
    assert {(n, a, p) for n, a, p, _ in calls} == {("lab", "127.0.0.1", keystone.port)}
    assert all(name.startswith("load-netns") for *_, name in calls)
    assert len(calls) == sum(keystone.seen.values())  # one connection per request


def test_an_https_endpoint_is_verified_and_an_untrusted_certificate_fails(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/"
    target = HttpTarget(ProbeTarget("glance", endpoint=url), url, (200,))
    try:
        generator, failures, _ = asyncio.run(_drive([target], _settings(), [(None, 0.6)]))
    finally:
        server.shutdown()
        server.server_close()
    (glance,) = [s.count() for s in generator.streams]
    assert glance.requests >= 3 and glance.kinds == {ERROR: glance.requests}
    assert "CERTIFICATE_VERIFY_FAILED" in failures[0].detail
