"""The load generator's record: what it sent through the load balancer and what failed.

Pure values (standard library only). The generator (``engine/load.py``) sends requests
on a fixed schedule, in **streams**: one kind of request (``validate``: a keystone token
validation, ``issue``: a keystone token issue, ``get``: a GET of a service's API
endpoint) to one service's endpoint at one rate. A stream's figures:

- ``requests``: every request that fell due (sent or not): the schedule, not what got
  through; ``failed``: those that did not get the answer they expect (``kinds``: how
  many of each :data:`FAILURE_KINDS` kind, ``http NNN`` for an unexpected status);
- ``sent``: ``requests`` less those not sent (the in-flight bound was reached, or there
  was no token to validate): what went on the wire;
- ``achieved``: ``sent`` per second between the stream's first and last request; beside
  the ``rate`` asked, it says whether the generator kept its rate;
- ``late``: requests sent later than their schedule allows (more than one period, and at
  least 0.1 s): a loaded machine falls behind, and says so.

Times are wall-clock seconds (``time.time()``), the journal's clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

REFUSED = "refused"  # the connection was refused
RESET = "reset"  # the connection was reset, or closed before a whole answer
TIMEOUT = "timeout"  # no whole answer within the request timeout
NOT_SENT = "not sent"  # not sent: the in-flight bound was reached
NO_TOKEN = "no token"  # a validation due while no token had been issued yet
BAD_ANSWER = "bad answer"  # an answer that is not HTTP
ERROR = "error"  # another error (no route, TLS, ...)
HTTP = "http"  # an unexpected status: "http 503"
FAILURE_KINDS = (REFUSED, RESET, TIMEOUT, HTTP, NOT_SENT, NO_TOKEN, BAD_ANSWER, ERROR)

VALIDATE, ISSUE, GET = "validate", "issue", "get"


def http_kind(status: int) -> str:
    """The failure kind of an unexpected status: ``http 503``."""
    return f"{HTTP} {status}"


@dataclass(frozen=True)
class LoadFailure:
    """One failed request: when it was due (sent), its kind, and what happened."""

    service: str
    request: str
    at: float
    kind: str
    detail: str = ""


@dataclass(frozen=True)
class LoadCount:
    """One stream's figures (module docstring)."""

    service: str
    endpoint: str
    request: str
    rate: float
    started: float
    ended: float
    requests: int = 0
    failed: int = 0
    kinds: Mapping[str, int] = field(default_factory=dict)
    late: int = 0

    @property
    def sent(self) -> int:
        return self.requests - self.kinds.get(NOT_SENT, 0) - self.kinds.get(NO_TOKEN, 0)

    @property
    def duration(self) -> float:
        return max(0.0, self.ended - self.started)

    @property
    def achieved(self) -> float | None:
        """Requests sent per second over the stream's span; None below one second."""
        if self.duration < 1.0:
            return None
        return (self.sent - 1) / self.duration if self.sent > 1 else 0.0


@dataclass(frozen=True)
class LoadSession:
    """One command's load on a run (the journal's ``load_sessions``): from ``started``
    to ``ended`` (None when its process was killed), at ``rate`` (``--load``), each
    request bounded by ``timeout`` s. ``tokens_off``: why keystone got GETs instead of
    token requests ("" when it got them); ``note``: why nothing was sent, if so.
    ``failures``: the first ``keep`` failed requests of each service, in time order
    (``counts`` has them all)."""

    command: str
    started: float
    ended: float | None
    rate: float
    timeout: float
    keep: int
    tokens_off: str = ""
    note: str = ""
    counts: tuple[LoadCount, ...] = ()
    failures: tuple[LoadFailure, ...] = ()
