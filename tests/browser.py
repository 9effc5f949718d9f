"""A headless Chromium for the report's browser tests, driven over the DevTools protocol.

Chromium (Debian's ``chromium``) is started with ``--remote-debugging-pipe``: it reads
protocol commands on its fd 3 and writes answers and events on its fd 4, each a JSON
text ended by a NUL byte. That is the whole client (no Playwright: it is not in the
venv, and this needs nothing but the standard library); nothing is downloaded, and the
page is loaded from a ``file://`` URL with every network request recorded, so a page
that fetched anything would be seen.

:func:`open_page` loads a file and returns a :class:`Page`: the console errors and page
errors it saw, the URLs it asked the network for, ``evaluate`` (JavaScript, the value
back), ``screenshot`` (PNG of the whole page), ``pdf`` (printed on A4 landscape) and
``emulate`` (``prefers-color-scheme``, ``print``). :func:`check_report_page` is what the
report's browser tests (e2e on the fake cloud, lab) check of a run's page.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import os
import queue
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = ("/usr/bin/chromium", "chromium", "chromium-browser")
TIMEOUT = 30.0


def chromium() -> str | None:
    """The Chromium program, or None when it is not installed."""
    for name in CHROMIUM:
        found = shutil.which(name)
        if found:
            return found
    return None


def artifacts_dir() -> Path:
    """Where browser tests write screenshots: ``$STACKSTEP_ARTIFACTS``, else
    tests/artifacts/ (git-ignored)."""
    path = Path(os.environ.get("STACKSTEP_ARTIFACTS") or Path(__file__).parent / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


class BrowserError(AssertionError):
    pass


class _Pipe:
    """The protocol over Chromium's pipe: commands by id, events collected."""

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.out = os.fdopen(write_fd, "wb", buffering=0)
        self.inp = os.fdopen(read_fd, "rb", buffering=0)
        self.ids = itertools.count(1)
        self.answers: dict[int, queue.Queue[dict[str, Any]]] = {}
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = self.inp.read(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.events.put({"method": "_closed"})
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self.lock:
                        box = self.answers.get(message["id"])
                    if box is not None:
                        box.put(message)
                else:
                    self.events.put(message)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        with self.lock:
            self.answers[ident] = box
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.out.write(json.dumps(message).encode() + b"\0")
        try:
            answer = box.get(timeout=TIMEOUT)
        except queue.Empty:
            raise BrowserError(f"chromium did not answer {method} in {TIMEOUT} s") from None
        if "error" in answer:
            raise BrowserError(f"{method}: {answer['error']}")
        result: dict[str, Any] = answer.get("result", {})
        return result


class Page:
    """One tab of the browser, its errors and its network requests recorded."""

    def __init__(self, pipe: _Pipe, session: str) -> None:
        self.pipe = pipe
        self.session = session
        self.errors: list[str] = []
        self.requests: list[str] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        return self.pipe.send(method, self.session, **params)

    def _note(self, event: dict[str, Any]) -> str:
        """Record what an event says; its method."""
        method = str(event.get("method"))
        params = event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            args = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            self.errors.append(f"console error: {args}")
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(f"page error: {details.get('text')} {details.get('exception')}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.errors.append(f"log error: {params['entry'].get('text')}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(str(params.get("request", {}).get("url")))
        return method

    def wait_for(self, wanted: str) -> None:
        """Read events (recording them) until ``wanted`` comes."""
        while True:
            try:
                event = self.pipe.events.get(timeout=TIMEOUT)
            except queue.Empty:
                raise BrowserError(f"no {wanted} in {TIMEOUT} s") from None
            method = self._note(event)
            if method == "_closed":
                raise BrowserError("chromium closed its pipe")
            if method == wanted and event.get("sessionId") in (None, self.session):
                return

    def drain(self) -> None:
        """Record the events that came so far."""
        while True:
            try:
                self._note(self.pipe.events.get_nowait())
            except queue.Empty:
                return

    def evaluate(self, expression: str) -> Any:
        found = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in found:
            raise BrowserError(f"{expression}: {found['exceptionDetails']}")
        return found["result"].get("value")

    def emulate(self, *, media: str = "", dark: bool = False) -> None:
        features = [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]
        self.call("Emulation.setEmulatedMedia", media=media, features=features)

    def screenshot(self, path: Path, width: int = 1280) -> Path:
        """A PNG of the whole page, ``width`` CSS pixels wide."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=800,
            deviceScaleFactor=1,
            mobile=False,
        )
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = self.call(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def pdf(self, path: Path) -> Path:
        """The page printed on A4 landscape (the page's own ``@page`` rule)."""
        printed = self.call("Page.printToPDF", preferCSSPageSize=True, printBackground=True)
        path.write_bytes(base64.b64decode(printed["data"]))
        return path


# Chromium's end of the pipes as its fds 3 and 4, then Chromium itself (a shell's
# ``3<&N`` takes one digit only in dash, and pytest's capture holds the low numbers)
_EXEC = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The pipe's ends moved to 10 or above, clear of the 3 and 4 they become."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved[0], moved[1]


@contextmanager
def open_page(html: Path, program: str) -> Iterator[Page]:
    """Chromium headless, offline, showing ``html``; closed afterwards."""
    with tempfile.TemporaryDirectory(prefix="stackstep-chromium-") as profile:
        to_chrome_r, to_chrome_w = _high(os.pipe())
        from_chrome_r, from_chrome_w = _high(os.pipe())
        args = [
            "--headless=new",
            "--remote-debugging-pipe",
            "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        proc = subprocess.Popen(
            [sys.executable, "-c", _EXEC, str(to_chrome_r), str(from_chrome_w), program, *args],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        pipe = _Pipe(to_chrome_w, from_chrome_r)
        try:
            target = pipe.send("Target.createTarget", url="about:blank")["targetId"]
            session = pipe.send("Target.attachToTarget", targetId=target, flatten=True)
            page = Page(pipe, session["sessionId"])
            for domain in ("Runtime", "Log", "Page", "Network"):
                page.call(f"{domain}.enable")
            page.call("Page.navigate", url=html.resolve().as_uri())
            page.wait_for("Page.loadEventFired")
            page.drain()
            yield page
            page.drain()
        finally:
            with suppress(BrowserError, OSError):
                pipe.send("Browser.close")
            try:
                proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            pipe.out.close()
            pipe.inp.close()


def started_steps(state: Path, run_id: str) -> int:
    """The steps of a run that started, read from its journal with plain SQL."""
    db = sqlite3.connect(state / "journal.sqlite")
    try:
        query = "SELECT COUNT(*) FROM steps WHERE run_id=? AND started IS NOT NULL"
        (count,) = db.execute(query, (run_id,)).fetchone()
    finally:
        db.close()
    return int(count)


def check_report_page(html: Path, state: Path, doc: dict[str, Any], name: str) -> Path:
    """Load a run's HTML report in Chromium and check what a reader sees: no console or
    page error, nothing fetched, one step bar per started step of the journal, an outage
    shading for every service the report measured down, a dark mode and an A4 print.
    Writes ``NAME.png`` (and ``NAME-dark.png``, ``NAME.pdf``) to the artefact directory;
    returns the screenshot's path."""
    program = chromium()
    if program is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; make test installs it)")
    out = artifacts_dir()
    down = {s["service"] for s in doc["downtime"]["services"] if s["outage"]}
    with open_page(html, program) as page:
        bars = page.evaluate("document.querySelectorAll('svg .step-bar').length")
        shaded = page.evaluate(
            "[...document.querySelectorAll('svg .outage')].map(e => e.dataset.service)"
        )
        light = page.evaluate("getComputedStyle(document.body).backgroundColor")
        shot = page.screenshot(out / f"{name}.png")
        page.emulate(dark=True)
        dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
        page.screenshot(out / f"{name}-dark.png")
        page.emulate(media="print")
        svg_width = page.evaluate("document.querySelector('svg.timeline').clientWidth")
        body_width = page.evaluate("document.body.clientWidth")
        pdf = page.pdf(out / f"{name}.pdf")
        page.drain()
        assert page.errors == [], page.errors
        assert page.requests == [html.resolve().as_uri()], page.requests
    assert bars == started_steps(state, doc["run"]["id"])
    assert set(shaded) >= down, (shaded, down)
    assert light != dark
    assert 0 < svg_width <= body_width  # the timeline scales to the page's width
    assert pdf.read_bytes().startswith(b"%PDF")
    return shot
