"""The one audited admin: every add, change and delete an administrator makes on a model's
own admin pages, and every changelist action, writes one audit event per object changed,
in the transaction of the change (AUD-6).

Django's pages for people and groups, django-celery-beat's schedules, and our plain
ModelAdmin pages (teams, datasets, webhook endpoints, trusted signing keys) save straight
to the model; this mixin is put in front of each so none writes without an event. Who may
write is the admin's own model permission (checked by Django before ``save_model`` runs:
a refused POST changes nothing and writes nothing).

Each event names the actor, is stamped by the database, and carries before/after of the
fields that changed only (every field for an add or a delete). Secrets (a password hash,
a webhook's HMAC key) are recorded as a fingerprint: the log shows that they changed,
never what they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.db import models, transaction

from audit import services as audit
from audit.verbs import AuditVerb

#: Field names whose values are recorded as a fingerprint, never as written.
SECRET_FIELDS = frozenset({"password", "secret"})


def _plain(field: models.Field, value: Any) -> Any:
    if field.name in SECRET_FIELDS:
        return (
            None if not value else f"sha256:{hashlib.sha256(str(value).encode()).hexdigest()[:16]}"
        )
    if value is None or isinstance(value, bool | int | float | str | list | dict):
        return value
    return str(value)


def snapshot(obj: models.Model) -> dict[str, Any]:
    """What the row holds now, as JSON: concrete fields (a foreign key as its id) and
    many-to-many fields as sorted ids."""
    state = {
        field.attname: _plain(field, field.value_from_object(obj))
        for field in obj._meta.concrete_fields
    }
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            state[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True))
    return state


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """before/after narrowed to the fields whose value differs."""
    keys = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def _team_id(obj: models.Model) -> int | None:
    if obj._meta.label_lower == "registry.team":
        return obj.pk
    team_id = getattr(obj, "team_id", None)
    if team_id is None and hasattr(obj, "dataset"):
        team_id = getattr(obj.dataset, "team_id", None)
    return team_id


def admin_write_record(
    *,
    actor: Any,
    verb: AuditVerb,
    target: models.Model,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    action: str | None = None,
) -> None:
    """One event for one object an administrator changed (inside its transaction)."""
    data: dict[str, Any] = {"before": before, "after": after, "via": "admin"}
    if action is not None:
        data["action"] = action
    audit.record(actor=actor, verb=verb, target=target, data=data, team_id=_team_id(target))


def _locked(model: type[models.Model], pks: Any) -> list[models.Model]:
    # The rows as stored, locked until the change commits (no select_related: PostgreSQL
    # refuses FOR UPDATE on the nullable side of an outer join).
    return list(model._default_manager.select_for_update().filter(pk__in=pks).order_by("pk"))


class AuditedAdminMixin:
    """Put first in an admin's bases: its saves, deletes and actions are audited."""

    def save_model(self, request: Any, obj: models.Model, form: Any, change: bool) -> None:
        with transaction.atomic():
            if change:
                (stored,) = _locked(type(obj), [obj.pk])
                obj._audit_before = snapshot(stored)
            else:
                obj._audit_before = None
            super().save_model(request, obj, form, change)

    def save_related(self, request: Any, form: Any, formsets: Any, change: bool) -> None:
        # Many-to-many fields (a person's groups and permissions) are saved here, after
        # save_model: the event is written once they are, so it shows them.
        with transaction.atomic():
            super().save_related(request, form, formsets, change)
            obj = form.instance
            before = getattr(obj, "_audit_before", None)
            after = snapshot(obj)
            verb = AuditVerb.ADMIN_OBJECT_CREATED
            if before is not None:
                verb = AuditVerb.ADMIN_OBJECT_CHANGED
                before, after = changed_fields(before, after)
            if after:  # a save that changed nothing is no change
                admin_write_record(
                    actor=request.user, verb=verb, target=obj, before=before, after=after
                )

    def delete_model(self, request: Any, obj: models.Model) -> None:
        with transaction.atomic():
            (stored,) = _locked(type(obj), [obj.pk])
            _record_deleted(request, stored)
            super().delete_model(request, obj)

    def delete_queryset(self, request: Any, queryset: models.QuerySet) -> None:
        """Django's "delete selected": one event per object deleted."""
        with transaction.atomic():
            for stored in _locked(queryset.model, queryset.values("pk")):
                _record_deleted(request, stored, action="delete_selected")
            super().delete_queryset(request, queryset)


def _record_deleted(request: Any, stored: models.Model, action: str | None = None) -> None:
    admin_write_record(
        actor=request.user,
        verb=AuditVerb.ADMIN_OBJECT_DELETED,
        target=stored,
        before=snapshot(stored),
        after=None,
        action=action,
    )


def audited_action(run: Callable[..., Any], *, name: str) -> Callable[..., Any]:
    """A changelist action that updates rows in bulk, audited: the selected rows are
    locked and read before and after it, and each that changed gets one event with the
    fields it changed (``admin.object_changed``, naming the action). Only for those who
    may change the model."""

    def action(modeladmin: Any, request: Any, queryset: models.QuerySet) -> Any:
        with transaction.atomic():
            pks = list(queryset.values_list("pk", flat=True))
            before = {obj.pk: snapshot(obj) for obj in _locked(queryset.model, pks)}
            result = run(modeladmin, request, queryset)
            for obj in _locked(queryset.model, pks):
                was, now = changed_fields(before[obj.pk], snapshot(obj))
                if now:
                    admin_write_record(
                        actor=request.user,
                        verb=AuditVerb.ADMIN_OBJECT_CHANGED,
                        target=obj,
                        before=was,
                        after=now,
                        action=name,
                    )
            return result

    # Beat's actions name no permission, so anyone who may view the list could run them
    # (disable every sweep): changing schedules needs the change permission.
    return admin.action(
        description=getattr(run, "short_description", name.replace("_", " ")),
        permissions=["change"],
    )(action)
