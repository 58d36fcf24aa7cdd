"""A Redis server of the test's own, on its own port: stopped and started by the test,
never the shared one."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class OwnRedis:
    """``redis-server`` on 127.0.0.1:``port`` without persistence."""

    def __init__(self, port: int, *extra: str) -> None:
        self.port, self.extra, self.process = port, extra, None
        self.url = f"redis://127.0.0.1:{port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@contextmanager
def own_redis(*extra: str) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        # `make test` on a machine with only Python: these tests need a Redis to start and
        # stop. CI (GOVBOARD_REQUIRE_SERVICES=1) has one and fails instead of skipping.
        if os.environ.get("GOVBOARD_REQUIRE_SERVICES") == "1":
            pytest.fail("redis-server is not installed; the broker tests start their own")
        pytest.skip("needs redis-server to start a Redis of the test's own")
    server = OwnRedis(free_port(), *extra)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def own_broker() -> Iterator[OwnRedis]:
    """The application's broker is a Redis of the test's own (never the shared one),
    and messages are really published (not run eagerly); as before afterwards."""
    from django.test import override_settings

    from core.publishing import forget_broker_failure
    from govboard.celery import app as celery_app

    server = OwnRedis(free_port())
    conf = celery_app.conf
    saved = (conf.broker_url, conf.task_always_eager)
    try:
        server.start()
        conf.broker_url, conf.task_always_eager = server.url, False
        celery_app._after_fork()  # forget pooled connections to the previous broker
        with override_settings(CELERY_BROKER_URL=server.url):
            yield server
    finally:
        # Also when setting up failed: never leave a redis-server of the test running.
        server.stop()
        conf.broker_url, conf.task_always_eager = saved
        celery_app._after_fork()
        forget_broker_failure()
