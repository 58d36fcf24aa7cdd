"""A web worker settles its heap once the application is loaded (govboard/worker_heap.py)."""

from __future__ import annotations

import gc
import runpy
from pathlib import Path

import pytest

from govboard import worker_heap

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def heap_restored():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("heap_restored")
def test_a_settled_worker_has_frozen_what_it_loaded_and_collects_less_often():
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    worker_heap.settle_worker_heap()
    # Every view module was imported first, so it is among the frozen objects
    assert gc.get_freeze_count() > 10_000
    assert gc.get_threshold() == worker_heap.THRESHOLDS
    # And a request's garbage is still collected: a cycle made now is found
    gc.collect()
    cycle = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


def test_gunicorn_settles_each_worker_after_loading_the_application(monkeypatch):
    settled = []
    monkeypatch.setattr(worker_heap, "settle_worker_heap", lambda: settled.append(True))
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config["post_worker_init"](object())
    assert settled == [True]
