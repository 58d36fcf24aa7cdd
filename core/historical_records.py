"""simple-history's ``HistoricalRecords`` without a class built per save.

simple-history reaches a model's history through a descriptor that calls
``HistoryManager.from_queryset(HistoricalQuerySet)`` on every access -- a new manager class
each time, built by ``inspect.getmembers`` over the queryset (about 1 ms of CPU). Its own
post_save handler takes that path for every history row it writes, so each registration
paid it (issue 14). The class depends only on the queryset class: built once, kept.

History rows are only ever inserted (the database refuses UPDATE and DELETE on them), so
each is written by ``core.inserts``' statement compiled once per model, not a fresh
compile per save.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import models
from simple_history.manager import HistoryManager
from simple_history.models import HistoricalRecords


class OnceBuiltHistoryManager(HistoryManager):
    @classmethod
    @functools.cache
    def from_queryset(cls, queryset_class: type, class_name: str | None = None) -> type:
        return super().from_queryset(queryset_class, class_name)


class AppendOnlyHistoricalRow(models.Model):
    """The base of every historical model: a new row is one cached INSERT."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding and not args and not any(kwargs.values()):
            from core.inserts import insert

            insert(self)
            return
        super().save(*args, **kwargs)


#: Each tracked model's recorder, for rows created without ``Model.save``.
_RECORDERS: dict[type[models.Model], HistoricalRecords] = {}


class GovernanceHistory(HistoricalRecords):
    """``HistoricalRecords`` whose manager class is built once per model and whose rows
    are inserted by a statement compiled once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("history_manager", OnceBuiltHistoryManager)
        kwargs.setdefault("bases", [AppendOnlyHistoricalRow])
        super().__init__(*args, **kwargs)

    def copy_fields(self, model: type[models.Model]) -> dict[str, models.Field]:
        # History is read by the tracked row's id (its timeline, as_of) and by its own
        # history_id and history_date, never by the copied columns: simple-history indexes
        # each copied foreign key and db_index column again, and every registration paid
        # those index entries (7 on a version's history row) for no lookup (issue 14).
        fields = super().copy_fields(model)
        for name, field in fields.items():
            if name != model._meta.pk.name:
                field.db_index = False
        return fields

    def contribute_to_class(self, cls: type[models.Model], name: str) -> None:
        super().contribute_to_class(cls, name)
        _RECORDERS[cls] = self


def record_creation(row: models.Model) -> None:
    """The ``+`` history row of ``row``, just inserted by ``core.inserts`` (no
    ``post_save`` was sent): what simple-history's receiver writes after a first save, by
    the model's own recorder, with the same user, time and settings."""
    _RECORDERS[type(row)].post_save(row, created=True)
