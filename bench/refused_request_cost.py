"""The floor under every API request: the CPU of one the server refuses at once.

Not a test. A GET with a malformed bearer token goes through the whole stack (WSGI handler,
middleware, URL routing, DRF's dispatch, authentication, the problem document) and stops
before any SQL. What it costs bounds how cheap a registration (two such requests plus their
work) could ever be here (issue 14, ``bench/README.md``). In process, ``django.test.Client``,
production settings; prints the CPU per request of N requests after a warm-up.

Usage (the production settings' required variables set, as for ``profile_registration.py``)::

    .venv/bin/python bench/refused_request_cost.py -n 2000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="timed requests (default 2000)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govboard.settings.production")
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client

    browser = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])
    refused = {"HTTP_AUTHORIZATION": "Bearer not-a-token"}
    for _ in range(200):
        browser.get("/api/v1/versions/1/", **refused)
    started = time.process_time()
    for _ in range(args.n):
        response = browser.get("/api/v1/versions/1/", **refused)
    cpu_ms = 1000 * (time.process_time() - started) / args.n
    print(f"REFUSED status={response.status_code} n={args.n} cpu_ms_per_request={cpu_ms:.3f}")


if __name__ == "__main__":
    main()
