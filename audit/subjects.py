"""Which events are about which objects, and how a page names those objects.

The log stores what an event is about as (``object_type``, ``object_id``): the model's
label and the primary key as text, indexed together. ``about(queryset)`` is the condition
"events about any of these rows" as a subquery on that index; ``object_links`` names the
objects of a page of events in one query per kind of object, with links to their admin
pages. Neither knows any domain model: callers pass the querysets.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.core.exceptions import ValidationError
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.urls import NoReverseMatch

from audit.models import AuditEvent
from core.admin_links import change_url_maker


def about(queryset: QuerySet) -> Q:
    """Events whose object is one of ``queryset``'s rows (one indexed subquery)."""
    text_ids = queryset.order_by().annotate(audit_object_id=Cast("pk", CharField()))
    return Q(
        object_type=queryset.model._meta.label_lower,
        object_id__in=text_ids.values("audit_object_id"),
    )


def object_links(events: Iterable[AuditEvent], *, admin_site: Any) -> dict[tuple[str, str], dict]:
    """(object_type, object_id) -> {"label", "url"} for the events' objects: one query per
    kind of object, selecting what the admin's list of that kind selects so that the
    object's name costs nothing more. Objects gone or of unknown kinds keep the raw id."""
    wanted: dict[str, set[str]] = defaultdict(set)
    for event in events:
        wanted[event.object_type].add(event.object_id)
    links: dict[tuple[str, str], dict] = {}
    for object_type, ids in wanted.items():
        try:
            model = apps.get_model(object_type)
        except (LookupError, ValueError):
            continue
        model_admin = admin_site._registry.get(model)
        queryset = model._default_manager.all()
        related = getattr(model_admin, "list_select_related", False)
        if related is True:
            queryset = queryset.select_related()
        elif related:
            queryset = queryset.select_related(*related)
        try:
            found = list(queryset.filter(pk__in=sorted(ids)))
        except (ValueError, TypeError, ValidationError):
            continue  # ids that are not keys of this kind: shown as stored
        change_url = _change_url_maker(model) if model_admin is not None else None
        for obj in found:
            links[(object_type, str(obj.pk))] = {
                "label": str(obj),
                "url": change_url(obj.pk) if change_url is not None else None,
            }
    return links


def _change_url_maker(model: Any) -> Callable[[Any], str] | None:
    """One reverse per kind of object, not per event (core.admin_links)."""
    try:
        return change_url_maker(model)
    except NoReverseMatch:
        return None
