"""Load generator cost bench: the CPU the load generator (``--load RATE``) spends in its
own process, and the rate it keeps, against a local server answering like keystone's
token API (tests/fakekeystone.py, run in its own process so that its CPU is not counted).

    .venv/bin/python bench/load_cost.py [--rates 20 50] [--seconds 10] [--others 5]

For each rate: keystone gets token validations at RATE/s and issues at max(2, RATE/10)/s,
and ``--others`` more endpoints (standing in for glance, placement, nova, neutron, cinder)
GETs at max(1, RATE/4)/s each, for ``--seconds`` s; every request on a new connection, as
``stackstep upgrade --load`` sends them. Prints per rate: the requests per second in all,
the CPU seconds the generator's process used (user + system, every thread), that as a
share of one core, and per stream the rate asked and sent, late and failed requests.
Exit 0 when every stream kept its rate (sent >= 95 % of it, <= 5 % late) with no failure.
Nothing outside 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

from stackstep.engine.load import LoadGenerator, LoadSettings, credentials_from_env
from stackstep.engine.prober import HttpTarget
from stackstep.model.availability import ProbeTarget
from stackstep.model.load import LoadCount
from stackstep.report.load import KEPT_SHARE, LATE_SHARE

SERVER = Path(__file__).resolve().parents[1] / "tests" / "fakekeystone.py"
OTHERS = ("glance", "placement", "nova", "neutron", "cinder", "heat", "octavia", "barbican")
OPENRC = {
    "OS_USERNAME": "admin",
    "OS_PASSWORD": "Load-Pw-9c41e7",  # tests/fakekeystone.py's
    "OS_PROJECT_NAME": "admin",
}


def targets(port: int, others: int) -> list[HttpTarget]:
    url = f"http://127.0.0.1:{port}/v3"
    found = [HttpTarget(ProbeTarget("keystone", endpoint=url), url, (200,))]
    for name in OTHERS[:others]:
        url = f"http://127.0.0.1:{port}/{name}"
        found.append(HttpTarget(ProbeTarget(name, endpoint=url), url, (200,)))
    return found


async def measure(
    port: int, rate: float, seconds: float, others: int
) -> tuple[float, float, list[LoadCount]]:
    """CPU seconds and wall seconds the generator spent sending for ``seconds`` s, and
    its streams' counts."""
    credentials = credentials_from_env(OPENRC)
    assert not isinstance(credentials, str), credentials
    generator = LoadGenerator(targets(port, others), LoadSettings(rate, credentials))
    await generator.start()  # h11's import and the first token are not counted
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    await generator.stop()
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    return cpu, wall, [s.count() for s in generator.streams]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[20.0, 50.0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--others", type=int, default=5, choices=range(len(OTHERS) + 1))
    args = parser.parse_args(argv)
    server = subprocess.Popen([sys.executable, str(SERVER)], stdout=subprocess.PIPE, text=True)
    ok = True
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        for rate in args.rates:
            cpu, wall, counts = asyncio.run(measure(port, rate, args.seconds, args.others))
            sent = sum(c.sent for c in counts)
            print(
                f"--load {rate:g}: {sent / wall:.1f} requests/s in all over {wall:.1f} s; "
                f"CPU {cpu:.2f} s = {100 * cpu / wall:.1f} % of one core "
                f"({1000 * cpu / max(sent, 1):.2f} ms per request)"
            )
            for c in counts:
                kept = (
                    c.achieved or 0.0
                ) >= KEPT_SHARE * c.rate and c.late <= LATE_SHARE * c.requests
                ok = ok and kept and not c.failed
                print(
                    f"  {c.service:<10} {c.request:<8} asked {c.rate:6.1f}/s  sent "
                    f"{c.achieved or 0.0:6.1f}/s  late {c.late:4d}  failed {c.failed:4d}"
                    f"{'' if kept else '  RATE NOT KEPT'}"
                )
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
