"""The load generator: the prober in load mode (``--load RATE``, docs/downtime.md, "Load
while upgrading").

While a run goes on it sends real requests through every load-balanced endpoint the
inventory declares (``vip:`` / ``endpoints:``, :func:`load_targets`) and counts every one
that fails, per service, with no retry:

- keystone, with credentials (:func:`credentials_from_env`, as an openrc sets them):
  token **validations** at ``RATE``/s (``GET /v3/auth/tokens``, ``X-Auth-Token`` and
  ``X-Subject-Token`` both the token issued when the load starts, so a token issued
  before the upgrade is validated all run long) and token **issues** at
  ``max(2, RATE/10)``/s (``POST /v3/auth/tokens``, password method, project scope).
  Without credentials (or when keystone refuses them at the start, 401/403) keystone gets
  GETs of its endpoint at ``RATE``/s instead, and the session says why;
- every other endpoint: GETs at ``max(1, RATE/4)``/s, expecting what its catalog probe
  expects.

A request **fails** when its answer is not the expected status, when its connection is
refused or reset (or closed before a whole answer), or when it has no whole answer
within ``timeout`` (2 s by default: connect, send and the whole body). Requests are
**open-loop**: each stream sends on its own fixed schedule whether or not earlier
requests answered; at most ``max_in_flight`` are in flight at once (a hung load balancer
cannot exhaust memory or descriptors), and a request due while that many are in flight
is not sent and counts as failed (``not sent``). Every request opens its own connection
(``Connection: close``): each one is routed by the load balancer anew, as a client
after a failover would be, so a backend taken out is never reached through an old
connection.

HTTP/1.1 is spoken with h11 (httpx's parser) over asyncio streams: for a lab endpoint
(in a network namespace) over a socket opened inside it (``transport/netns.py``, on the
generator's own worker threads), else over a plain TCP (or TLS, for ``https://``)
connection. One code path for both: the tests on 127.0.0.1 exercise the lab's, and it
costs a fraction of httpx's CPU per request.

Counts are kept in memory and written to the journal once a second
(:data:`FLUSH_INTERVAL`), with the first :data:`KEEP_FAILURES` failed requests of each
service individually (time, kind, detail); the rest are counted only. The password and
the tokens are never written anywhere: failure details name the request and the answer's
status or the error, never a header or a body.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import math
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from stackstep.engine.prober import HttpTarget, probe_targets
from stackstep.model.command import Secret
from stackstep.model.inventory import Inventory
from stackstep.model.load import (
    BAD_ANSWER,
    ERROR,
    GET,
    ISSUE,
    NO_TOKEN,
    NOT_SENT,
    REFUSED,
    RESET,
    TIMEOUT,
    VALIDATE,
    LoadCount,
    LoadFailure,
    http_kind,
)
from stackstep.model.plan import Step
from stackstep.transport.netns import connect_in_netns

if TYPE_CHECKING:
    from stackstep.engine.journal import Journal

MIN_RATE, MAX_RATE = 1.0, 1000.0  # --load's range
DEFAULT_TIMEOUT = 2.0  # seconds one request may take (connect, send, whole answer)
KEEP_FAILURES = 1000  # failed requests kept individually per service and session
FLUSH_INTERVAL = 1.0  # seconds between two writes of the counts to the journal
MAX_BODY = 1 << 20  # bytes of an answer kept (a token's body); the rest is read, dropped
RENEW_BEFORE = 120.0  # s: the validated token is replaced this long before it expires
NETNS_THREADS = 16  # worker threads opening sockets inside network namespaces
KEYSTONE = "keystone"
AGENT = "stackstep-load"
NO_ENDPOINT = "the inventory declares no load-balanced endpoint (vip: or endpoints:)"

Flush = Callable[[list[LoadCount], list[LoadFailure]], None]


@dataclass(frozen=True)
class Credentials:
    """A keystone password login scoped to a project (``OS_*`` variables)."""

    username: str
    password: Secret
    project: tuple[str, str]  # ("name", NAME) or ("id", ID)
    user_domain: tuple[str, str] = ("id", "default")
    project_domain: tuple[str, str] = ("id", "default")

    def auth_body(self) -> bytes:
        """The JSON of ``POST /v3/auth/tokens`` (holds the password: never shown)."""
        user = {
            "name": self.username,
            "domain": {self.user_domain[0]: self.user_domain[1]},
            "password": self.password.value,
        }
        project: dict[str, object] = {self.project[0]: self.project[1]}
        if self.project[0] == "name":
            project["domain"] = {self.project_domain[0]: self.project_domain[1]}
        auth = {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": project},
        }
        return json.dumps({"auth": auth}).encode()


def credentials_from_env(env: Mapping[str, str]) -> Credentials | str:
    """Credentials as an openrc sets them: ``OS_USERNAME``, ``OS_PASSWORD``,
    ``OS_PROJECT_NAME`` (or ``OS_PROJECT_ID``), ``OS_USER_DOMAIN_ID`` or
    ``OS_USER_DOMAIN_NAME`` and ``OS_PROJECT_DOMAIN_ID`` or ``OS_PROJECT_DOMAIN_NAME``
    (each default: the domain of id ``default``). Without them, why (a sentence)."""
    auth_type = env.get("OS_AUTH_TYPE", "password")
    if auth_type not in ("password", "v3password"):
        return f"OS_AUTH_TYPE is {auth_type!r}: only the password method is sent"
    project = _pick(env, ("id", "OS_PROJECT_ID"), ("name", "OS_PROJECT_NAME"))
    project = project or _pick(env, ("name", "OS_TENANT_NAME"))
    missing = [
        name
        for name, value in (
            ("OS_USERNAME", env.get("OS_USERNAME")),
            ("OS_PASSWORD", env.get("OS_PASSWORD")),
            ("OS_PROJECT_NAME", project),
        )
        if not value
    ]
    if missing or project is None:
        return f"{' and '.join(missing)} not set in the environment (source an openrc)"
    return Credentials(
        env["OS_USERNAME"],
        Secret(env["OS_PASSWORD"]),
        project,
        _pick(env, ("id", "OS_USER_DOMAIN_ID"), ("name", "OS_USER_DOMAIN_NAME"))
        or ("id", "default"),
        _pick(env, ("id", "OS_PROJECT_DOMAIN_ID"), ("name", "OS_PROJECT_DOMAIN_NAME"))
        or ("id", "default"),
    )


def _pick(env: Mapping[str, str], *choices: tuple[str, str]) -> tuple[str, str] | None:
    for key, name in choices:
        if env.get(name):
            return key, env[name]
    return None


@dataclass(frozen=True)
class LoadSettings:
    """``--load RATE`` as a command hands it to its run (``rate`` None: off)."""

    rate: float | None = None
    credentials: Credentials | None = None
    no_credentials: str = "no credentials given"  # why ``credentials`` is None
    timeout: float = DEFAULT_TIMEOUT
    keep: int = KEEP_FAILURES
    max_in_flight: int | None = None  # default: see in_flight_bound

    @property
    def enabled(self) -> bool:
        return self.rate is not None

    def in_flight_bound(self, total_rate: float) -> int:
        """Twice what the rates keep in flight when every request takes the whole
        timeout, between 32 and 512."""
        if self.max_in_flight is not None:
            return self.max_in_flight
        return max(32, min(512, math.ceil(2 * total_rate * self.timeout)))


def load_targets(steps: Iterable[Step], inventory: Inventory) -> list[HttpTarget]:
    """The load-balanced endpoints of a run (``probe_targets``' endpoint targets: the
    inventory's ``endpoints:`` and, with ``vip:``, each probed service through it),
    keystone's first."""
    found = [t for t in probe_targets(steps, inventory) if t.target.endpoint]
    return sorted(found, key=lambda t: t.target.service != KEYSTONE)


def token_url(endpoint: str) -> str:
    """keystone's token URL under its endpoint: ``.../v3`` -> ``.../v3/auth/tokens``,
    another path -> ``PATH/v3/auth/tokens``."""
    parts = urlsplit(endpoint)
    path = parts.path.rstrip("/")
    path = path if path.endswith("/v3") else f"{path}/v3"
    return parts._replace(path=f"{path}/auth/tokens", query="", fragment="").geturl()


# -- one request ------------------------------------------------------------------


class _Failed(Exception):
    """A request that failed: its kind and what happened."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


@dataclass
class _Stream:
    """One kind of request to one endpoint at one rate, and its counts so far."""

    service: str
    endpoint: str
    request: str
    rate: float
    url: str
    expect: tuple[int, ...]
    netns: str | None
    method: str = "GET"
    started: float = 0.0
    ended: float = 0.0
    requests: int = 0
    failed: int = 0
    late: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    def count(self) -> LoadCount:
        return LoadCount(
            self.service,
            self.endpoint,
            self.request,
            self.rate,
            self.started,
            self.ended,
            self.requests,
            self.failed,
            dict(self.kinds),
            self.late,
        )


def _classify(exc: Exception, eof: bool) -> tuple[str, str]:
    """The failure kind of what a request raised (not a timeout), and its text."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, ConnectionRefusedError):
        return REFUSED, text
    if eof:
        return RESET, f"closed before a whole answer ({text})"
    if isinstance(exc, ConnectionError | EOFError):
        return RESET, text
    if isinstance(exc, OSError):  # no route, name not found, TLS
        return ERROR, text
    return BAD_ANSWER, text  # h11: not HTTP


class LoadGenerator:
    """Sends the streams of ``targets`` (:func:`load_targets`) as the settings say; use
    ``await start()`` then ``await stop()``. ``on_flush`` receives the counts so far and
    the failures kept since the last call, once a second and at the end."""

    def __init__(
        self,
        targets: Sequence[HttpTarget],
        settings: LoadSettings,
        on_flush: Flush | None = None,
    ) -> None:
        if settings.rate is None or not MIN_RATE <= settings.rate <= MAX_RATE:
            raise ValueError(f"load rate must be {MIN_RATE:g} to {MAX_RATE:g}/s")
        self.settings = settings
        self.rate = settings.rate
        self.targets = tuple(targets)
        self.tokens_off = ""  # why keystone gets GETs, once started
        self.errors: list[str] = []
        self.streams: list[_Stream] = []
        self._flush = on_flush
        self._token: tuple[str, float] | None = None  # validated token, its expiry
        self._latest: tuple[str, float] | None = None  # the last one issued
        self._kept: Counter[str] = Counter()  # failures kept per service
        self._unflushed: list[LoadFailure] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._h11: ModuleType | None = None
        self._tls: ssl.SSLContext | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._bound = 0

    # -- life cycle

    async def start(self) -> None:
        """Import h11 (in a thread), issue the token to validate (keystone with
        credentials: at most one timeout), then start every stream."""
        self._h11 = await asyncio.to_thread(importlib.import_module, "h11")
        if any(t.netns for t in self.targets):
            self._threads = ThreadPoolExecutor(NETNS_THREADS, thread_name_prefix="load-netns")
        self.streams = self._streams()
        issue = next((s for s in self.streams if s.request == ISSUE), None)
        if issue is not None:
            await self._first_token(issue)
        self._bound = self.settings.in_flight_bound(sum(s.rate for s in self.streams))
        self._tasks = [asyncio.create_task(self._schedule(s)) for s in self.streams]
        self._tasks.append(asyncio.create_task(self._flusher()))

    async def stop(self) -> None:
        """Stop sending; wait for the requests in flight (each bounded by the timeout),
        then hand the last counts over."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)
        self.flush()

    def flush(self) -> None:
        failures, self._unflushed = self._unflushed, []
        if self._flush is None:
            return
        try:
            self._flush([s.count() for s in self.streams], failures)
        except Exception as exc:  # the load never fails the run
            self.errors.append(f"journal: {type(exc).__name__}: {exc}")

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            self.flush()

    # -- streams

    def _streams(self) -> list[_Stream]:
        rate = self.rate
        found: list[_Stream] = []
        for t in self.targets:
            service, url = t.target.service, t.url
            if service == KEYSTONE and self.settings.credentials is not None:
                tokens = token_url(url)
                found.append(_Stream(service, url, VALIDATE, rate, tokens, (200,), t.netns))
                issue_rate = max(2.0, rate / 10)
                found.append(
                    _Stream(service, url, ISSUE, issue_rate, tokens, (201,), t.netns, "POST")
                )
            else:
                get_rate = rate if service == KEYSTONE else max(1.0, rate / 4)
                found.append(_Stream(service, url, GET, get_rate, url, t.expect, t.netns))
        if self.settings.credentials is None and any(s.service == KEYSTONE for s in found):
            self.tokens_off = self.settings.no_credentials
        return found

    async def _first_token(self, issue: _Stream) -> None:
        """Issue the token the validations use (counted as the issue stream's first
        request). Credentials refused (401, 403): keystone gets GETs instead."""
        at = time.time()
        issue.started = issue.ended = at
        try:
            answer = await self._exchange(issue)
        except _Failed as failed:
            self._record(issue, at, failed.kind, failed.detail)
            return  # keystone down now: the validations take the first token issued
        self._record_answer(issue, at, answer)
        if answer.status in (401, 403):
            self.tokens_off = f"keystone refused the credentials (HTTP {answer.status})"
            self.streams = [self._instead(s) for s in self.streams]

    def _instead(self, stream: _Stream) -> _Stream:
        """Without tokens, keystone's validations become GETs of its endpoint at the
        same rate; the issue sent stays counted (and no more are sent)."""
        if stream.service != KEYSTONE or stream.request != VALIDATE:
            return stream
        target = next(t for t in self.targets if t.url == stream.endpoint)
        url = stream.endpoint
        return _Stream(stream.service, url, GET, stream.rate, url, target.expect, stream.netns)

    async def _schedule(self, stream: _Stream) -> None:
        """Send ``stream``'s requests on its schedule (open loop), catching up when the
        loop was late (each such request counts as ``late``). A request is stamped when
        it is sent, so a generator falling behind sends less per second than asked."""
        if stream.request == ISSUE and self.tokens_off:
            return  # the credentials were refused: no more issues
        loop = asyncio.get_running_loop()
        period = 1.0 / stream.rate
        late_after = max(0.1, period)
        begin = loop.time()
        n = 1 if stream.requests else 0  # the first issue was sent by _first_token
        while True:
            due = begin + n * period
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if loop.time() - due > late_after:
                stream.late += 1
            at = time.time()  # when it is really sent: a late one shows in the rate sent
            stream.started = stream.started or at
            stream.ended = at
            self._launch(stream, at)
            n += 1

    def _launch(self, stream: _Stream, at: float) -> None:
        if stream.request == VALIDATE and self._subject() is None:
            self._record(stream, at, NO_TOKEN, "no token issued yet to validate")
            return
        if len(self._in_flight) >= self._bound:
            self._record(stream, at, NOT_SENT, f"not sent: {len(self._in_flight)} in flight")
            return
        task = asyncio.create_task(self._one(stream, at))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _one(self, stream: _Stream, at: float) -> None:
        try:
            answer = await self._exchange(stream)
        except _Failed as failed:
            self._record(stream, at, failed.kind, failed.detail)
            return
        self._record_answer(stream, at, answer)

    def _record_answer(self, stream: _Stream, at: float, answer: _Answer) -> None:
        took = time.time() - at
        if answer.status not in stream.expect:
            detail = f"{stream.method} {stream.url} -> {answer.status} in {took:.2f} s"
            self._record(stream, at, http_kind(answer.status), detail)
            return
        self._record(stream, at, None, "")
        if stream.request == ISSUE:
            self._keep_token(answer)

    def _record(self, stream: _Stream, at: float, kind: str | None, detail: str) -> None:
        stream.requests += 1
        if kind is None:
            return
        stream.failed += 1
        stream.kinds[kind] += 1
        if self._kept[stream.service] < self.settings.keep:
            self._kept[stream.service] += 1
            self._unflushed.append(LoadFailure(stream.service, stream.request, at, kind, detail))

    # -- tokens

    def _keep_token(self, answer: _Answer) -> None:
        token = answer.headers.get("x-subject-token")
        if not token:
            return
        issued = (token, _expiry(answer.body))
        self._latest = issued
        if self._token is None:
            self._token = issued

    def _subject(self) -> str | None:
        """The token to validate: the first one issued, until it nears its expiry."""
        if self._token is None:
            return None
        token, expires = self._token
        if time.time() > expires - RENEW_BEFORE and self._latest is not None:
            self._token = self._latest
            token = self._latest[0]
        return token

    # -- HTTP

    def _headers(self, stream: _Stream, host: str) -> list[tuple[str, str]]:
        headers = [("Host", host), ("Connection", "close"), ("User-Agent", AGENT)]
        if stream.request == VALIDATE:
            token = self._subject() or ""
            headers += [("X-Auth-Token", token), ("X-Subject-Token", token)]
        elif stream.request == ISSUE:
            headers += [("Content-Type", "application/json")]
        return headers

    async def _exchange(self, stream: _Stream) -> _Answer:
        """One request on a new connection; its answer, or :class:`_Failed`."""
        eof = [False]
        what = f"{stream.method} {stream.url}"
        try:
            async with asyncio.timeout(self.settings.timeout):
                return await self._talk(stream, eof)
        except TimeoutError:
            timeout = self.settings.timeout
            raise _Failed(TIMEOUT, f"{what}: no whole answer within {timeout:g} s") from None
        except Exception as exc:
            kind, text = _classify(exc, eof[0])
            raise _Failed(kind, f"{what}: {text}") from None

    async def _talk(self, stream: _Stream, eof: list[bool]) -> _Answer:
        h11 = self._h11
        assert h11 is not None
        parts = urlsplit(stream.url)
        host = parts.hostname or ""
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        context = self._context() if tls else None
        if stream.netns:
            loop = asyncio.get_running_loop()
            sock = await loop.run_in_executor(
                self._threads, connect_in_netns, stream.netns, host, port, self.settings.timeout
            )
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=context, server_hostname=host if context else None
            )
        else:
            reader, writer = await asyncio.open_connection(host, port, ssl=context)
        try:
            conn = h11.Connection(h11.CLIENT)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            body = self._body(stream)
            headers = self._headers(stream, parts.netloc)
            if body:
                headers.append(("Content-Length", str(len(body))))
            data = conn.send(h11.Request(method=stream.method, target=target, headers=headers))
            if body:
                data += conn.send(h11.Data(data=body))
            writer.write(data + conn.send(h11.EndOfMessage()))
            await writer.drain()
            return await _read_answer(h11, conn, reader, eof)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _body(self, stream: _Stream) -> bytes:
        credentials = self.settings.credentials
        if stream.request != ISSUE or credentials is None:
            return b""
        return credentials.auth_body()

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


async def _read_answer(
    h11: ModuleType, conn: object, reader: asyncio.StreamReader, eof: list[bool]
) -> _Answer:
    """Read one whole answer (head and body, the body kept up to :data:`MAX_BODY`)."""
    status, headers, chunks, size = 0, {}, [], 0
    while True:
        event = conn.next_event()  # type: ignore[attr-defined]
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            eof[0] = not data
            conn.receive_data(data)  # type: ignore[attr-defined]
        elif isinstance(event, h11.Response):
            status = int(event.status_code)
            headers = {k.decode().lower(): v.decode("latin-1") for k, v in event.headers}
        elif isinstance(event, h11.Data):
            if size < MAX_BODY:
                chunks.append(bytes(event.data))
            size += len(event.data)
        elif isinstance(event, h11.EndOfMessage):
            return _Answer(status, headers, b"".join(chunks))
        elif isinstance(event, h11.ConnectionClosed):
            raise EOFError("the connection closed before an answer")


def _expiry(body: bytes) -> float:
    """``token.expires_at`` of an issue's answer (epoch seconds); unknown: never."""
    try:
        text = json.loads(body)["token"]["expires_at"]
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError):
        return math.inf


@contextlib.asynccontextmanager
async def loading(
    journal: Journal,
    run_id: str,
    targets: Sequence[HttpTarget],
    settings: LoadSettings,
    command: str = "upgrade",
) -> AsyncIterator[LoadGenerator | None]:
    """Send the load while the body runs, as one load session of ``run_id`` in the
    journal (``command`` names it), its counts written once a second. Yields the
    generator; None when the load is off, or when there is no endpoint to load (the
    session then says so)."""
    if settings.rate is None:
        yield None
        return
    note = "" if targets else NO_ENDPOINT
    session = journal.load_started(
        run_id, command, settings.rate, settings.timeout, settings.keep, note
    )
    if not targets:
        try:
            yield None
        finally:
            journal.load_ended(session)
        return

    def journalled(counts: list[LoadCount], failures: list[LoadFailure]) -> None:
        journal.load_counted(session, counts, failures)

    generator = LoadGenerator(targets, settings, journalled)
    try:
        await generator.start()
        journal.load_tokens(session, generator.tokens_off)
        yield generator
    finally:
        await generator.stop()
        journal.load_ended(session)
