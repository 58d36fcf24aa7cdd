"""p50/p95/max of every page and endpoint of ``reads.py`` as a running server answers them
(issue 14).

Not a test. ``reads.py`` times pages in process, in one long process that also holds the
harness; this asks a server started separately (gunicorn with ``gunicorn.conf.py``, so its
worker settings count) over one keep-alive connection, sequentially, ``--repeat`` timed
requests per target after 10 untimed ones, as the same people (their sessions, made here
in the database the server reads) and the same read token, on the scale world
(``scale_world.py``; seed it with ``seed_scale.py`` first).

Usage, against the database (and Redis) the server uses::

    gunicorn -c gunicorn.conf.py -b 127.0.0.1:8765 -w 1 &
    .venv/bin/python bench/served_reads.py --port 8765 [--only API]
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--only", help="only targets whose name contains this")
    args = parser.parse_args()
    import reads
    import scale_world as sw

    sw.setup_django()
    from django.conf import settings

    people = sw.world()
    made = reads.clients(people)
    cookie = settings.SESSION_COOKIE_NAME
    headers = {
        persona: {"Cookie": f"{cookie}={client.cookies[cookie].value}"}
        for persona, client in made.items()
        if persona != "token"
    }
    headers["token"] = {"Authorization": made["token"]._credentials["HTTP_AUTHORIZATION"]}
    server = http.client.HTTPConnection("127.0.0.1", args.port)
    for target in reads.targets(people):
        if args.only and args.only not in target.name:
            continue
        times = []
        for i in range(10 + args.repeat):
            started = time.perf_counter()
            server.request(
                "GET", target.url, headers={"Host": "127.0.0.1", **headers[target.persona]}
            )
            response = server.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{target.name} ({target.url}): HTTP {response.status}")
            if i >= 10:
                times.append(1000 * (time.perf_counter() - started))
        times.sort()
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        print(
            f"{target.name:52s} p50 {statistics.median(times):6.1f}  p95 {p95:6.1f}"
            f"  max {times[-1]:6.1f} ms"
        )


if __name__ == "__main__":
    main()
