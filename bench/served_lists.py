"""p50/p95/max of API list endpoints as a running server answers them (issue 14).

Not a test. ``reads.py`` times pages in process; this asks a server started separately
(gunicorn with ``gunicorn.conf.py``, so its worker settings count) over one keep-alive
connection, sequentially, 60 timed requests per endpoint after 10 untimed ones, with a read
token of the scale world (``scale_world.py``; seed it with ``seed_scale.py`` first).

Usage, against the database the server uses::

    gunicorn -c gunicorn.conf.py -b 127.0.0.1:8765 -w 1 &
    .venv/bin/python bench/served_lists.py --port 8765
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
    args = parser.parse_args()
    import scale_world as sw

    sw.setup_django()
    people = sw.world()
    token = sw.read_token(people)
    team = people["teams"][0].slug
    paths = [
        "/api/v1/promotion-requests/",
        f"/api/v1/promotion-requests/?team={team}",
        "/api/v1/versions/",
        "/api/v1/scorecard/",
    ]
    server = http.client.HTTPConnection("127.0.0.1", args.port)
    headers = {"Authorization": f"Bearer {token}", "Host": "127.0.0.1"}
    for path in paths:
        times = []
        for i in range(10 + args.repeat):
            started = time.perf_counter()
            server.request("GET", path, headers=headers)
            response = server.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{path}: HTTP {response.status}")
            if i >= 10:
                times.append(1000 * (time.perf_counter() - started))
        times.sort()
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        print(
            f"{path:50s} p50 {statistics.median(times):6.1f}  p95 {p95:6.1f}"
            f"  max {times[-1]:6.1f} ms"
        )


if __name__ == "__main__":
    main()
