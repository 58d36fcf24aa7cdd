"""simple-history's ``HistoricalRecords`` without a class built per save.

simple-history reaches a model's history through a descriptor that calls
``HistoryManager.from_queryset(HistoricalQuerySet)`` on every access -- a new manager class
each time, built by ``inspect.getmembers`` over the queryset (about 1 ms of CPU). Its own
post_save handler takes that path for every history row it writes, so each registration
paid it (issue 14). The class depends only on the queryset class: built once, kept.
"""

from __future__ import annotations

import functools
from typing import Any

from simple_history.manager import HistoryManager
from simple_history.models import HistoricalRecords


class OnceBuiltHistoryManager(HistoryManager):
    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class: type, class_name: str | None = None) -> type:
        return super().from_queryset(queryset_class, class_name)


class GovernanceHistory(HistoricalRecords):
    """``HistoricalRecords`` whose manager class is built once per model."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("history_manager", OnceBuiltHistoryManager)
        super().__init__(*args, **kwargs)
