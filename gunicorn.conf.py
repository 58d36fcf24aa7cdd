"""gunicorn configuration for govboard (``gunicorn -c gunicorn.conf.py govboard.wsgi``).

gunicorn also loads this file by itself when started from the project directory. Flags on
the command line (or in ``GUNICORN_CMD_ARGS``) override what is set here, e.g.
``--bind 0.0.0.0:8000`` in a container.
"""

from __future__ import annotations

import os
from pathlib import Path

# The same folder the Django settings use (GOVBOARD_VAR_DIR, else the project's var/).
_VAR_DIR = Path(os.environ.get("GOVBOARD_VAR_DIR") or Path(__file__).resolve().parent / "var")

wsgi_app = "govboard.wsgi:application"
# Behind the TLS-terminating proxy: listen on loopback (or a private network) only. Django
# trusts the proxy's X-Forwarded-Proto, so clients must never reach this port directly.
bind = ["127.0.0.1:8000"]

# gthread: one process per CPU with 4 threads each. Requests do no slow work (the checks run
# in the Celery worker), so threads only cover database and network waits; unlike the sync
# worker, gthread keeps the proxy's connections alive between requests. Measured on 2 vCPUs
# (deploy/README.md, "Choosing the worker model"): 2 x 4 threads did the registrations of 4
# processes x 4 threads in half the memory (278 vs 500 MB); more processes than CPUs only
# add memory, each process runs Python on one core at a time.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or (os.cpu_count() or 1))
threads = 4
# A request that takes longer than this is killed (its worker restarted).
timeout = 30
graceful_timeout = 30
# Longer than the proxy's idle upstream timeout (nginx keepalive_timeout defaults to 60 s), so
# the proxy closes idle connections first and never reuses one gunicorn is closing.
keepalive = 65
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = 2000
max_requests_jitter = 200


def post_worker_init(worker) -> None:
    """The application is loaded: settle the heap it leaves (govboard/worker_heap.py), so
    full garbage collections do not land inside requests."""
    from govboard.worker_heap import settle_worker_heap

    settle_worker_heap()


# gunicorn >= 25.1 opens a control socket (for gunicornc) by default in $XDG_RUNTIME_DIR or
# ~/.gunicorn/. Keep it with the rest of the service's runtime state instead; mode 0600.
control_socket = str(_VAR_DIR / "run" / "gunicorn.ctl")
control_socket_mode = 0o600

# Logs go to stdout/stderr (journald or the container runtime collects them).
accesslog = "-"
errorlog = "-"
loglevel = "info"
