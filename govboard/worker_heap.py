"""A web worker's heap, settled once its application is loaded (gunicorn's
``post_worker_init``, ``gunicorn.conf.py``).

CPython's cyclic garbage collector runs a full collection over every object the process
holds whenever enough new objects have outlived two younger collections. A worker holds
some 170,000 objects once Django, the admin, DRF and every view are imported; a full
collection walks them all, about 100-200 ms on this machine, and it lands inside whichever
request allocated the object that tipped it: one request in ten of the API's request list
at 100,000 versions took 210-280 ms instead of 55 (issue 14, ``bench/README.md``).

Two changes, both standard for long-running Python servers:

- everything loaded at start-up is moved to the permanent generation (``gc.freeze``),
  which no collection walks: it lives as long as the worker anyway;
- the youngest generation holds 50,000 objects before it is collected (700 by default), so
  a request's own short-lived objects are mostly freed by reference counting before any
  collection sees them, and full collections become rare.

Measured with one gthread worker serving the 100k world, 60 sequential requests each: the
request list's p95 went 214-233 -> 74-87 ms (p50 57 -> 52 ms); the version list and the
scorecard kept theirs. Cyclic garbage still goes, in later and larger batches; workers are
recycled every ~2,000 requests (``max_requests``) besides.
"""

from __future__ import annotations

import gc

#: Objects the youngest generation holds before it is collected; how many of its
#: collections make one of the middle generation's, and how many of those one full one.
THRESHOLDS = (50_000, 20, 10)


def settle_worker_heap() -> None:
    """Import what the first requests would (the URLconf, and with it every view), then
    freeze what is loaded and raise the collection thresholds."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - imports every view module
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
