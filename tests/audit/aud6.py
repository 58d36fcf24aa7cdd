"""AUD-6's yardstick: what one audited change must leave in the log, and what exists to audit.

Each AUD-6 test marks the log, performs one change (an API call, a transition, an admin
action, a task) and hands the events written after the mark to ``assert_audited_once``
with the verbs the change must write, in order. One change of one object writes one event;
a change that moves a second object (withdrawing a request sends its candidate version
back to draft) writes one event for each, and the case names both verbs.

The lists of what exists are read from the code (the API policy table, the FSM
declarations, the admin registry, the Celery app), so a new endpoint, transition, admin
action or task fails AUD-6 until it has a case or a justified exemption.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.urls import get_resolver

from approvals import services
from approvals.choices import RequestState
from approvals.lifecycle_trigger import guarded_models
from audit.models import AuditEvent
from audit.services import actor_label_for
from audit.verbs import AuditVerb
from reports.sections.trail import _reason as reason_of
from tests.approvals.factories import (
    attach,
    attach_passing_evidence,
    board_policy,
    ci_user,
    eval_package,
    run_checks,
)
from tests.registry.factories import TeamFactory, ready_version

# Verbs whose target comes into existence with the event: "before" is None (nothing was
# there), "after" says what now is. A dataset link is new too (its event names the version
# it belongs to), and so is the notification a reminder or an escalation announces.
CREATION_VERBS = frozenset(
    {
        AuditVerb.VERSION_REGISTERED,
        AuditVerb.VERSION_DATASET_LINKED,
        AuditVerb.EVIDENCE_ATTACHED,
        AuditVerb.DEPLOYMENT_RECORDED,
        AuditVerb.PROMOTION_SUBMITTED,
        AuditVerb.TOKEN_ISSUED,
        AuditVerb.VERSION_EXPIRY_REMINDED,
        AuditVerb.PROMOTION_ESCALATED,
        AuditVerb.LIFECYCLE_RULE_NOTIFIED,
        AuditVerb.SERVICE_ACCOUNT_CREATED,
        AuditVerb.SSO_BREAK_GLASS_MARKED,
        AuditVerb.SSO_MAPPING_CREATED,
        AuditVerb.POLICY_CREATED,
        AuditVerb.ADMIN_OBJECT_CREATED,
        AuditVerb.SCHEDULE_RUN_REQUESTED,
        # issue 13: a release, a monitoring report and an incident are new with their event
        AuditVerb.RELEASE_SUBMITTED,
        AuditVerb.MONITORING_REPORT_UPLOADED,
        AuditVerb.INCIDENT_OPENED,
    }
)
# Verbs whose target is gone after the event: "before" says what was, "after" is None.
DELETION_VERBS = frozenset(
    {
        AuditVerb.SSO_MAPPING_DELETED,
        AuditVerb.SSO_BREAK_GLASS_UNMARKED,
        AuditVerb.ADMIN_OBJECT_DELETED,
    }
)
# Verbs a person or job must justify; the reason is read the way the auditor's report
# reads it (``reports.sections.trail``).
REASON_VERBS = frozenset(
    {
        AuditVerb.VERSION_RETURNED_TO_DRAFT,
        AuditVerb.VERSION_DEPRECATED,
        AuditVerb.VERSION_RETIRED,
        AuditVerb.VERSION_MARKED_CANDIDATE,
        AuditVerb.VERSION_APPROVED,
        AuditVerb.PROMOTION_REJECTED,
        AuditVerb.PROMOTION_CHANGES_REQUESTED,
        AuditVerb.PROMOTION_EXPEDITED,
        AuditVerb.PROMOTION_EXCEPTION_GRANTED,
        AuditVerb.AUTH_UNLOCKED,
    }
)


@dataclass(frozen=True)
class Acting:
    """Who the events must name: a person or service account, or the system as a task."""

    user: Any = None
    task_id: str | None = None
    via: str | None = None

    def label(self) -> str:
        if self.task_id is not None:
            return f"system:task {self.task_id}"
        return actor_label_for(self.user, via=self.via)


@dataclass(frozen=True)
class Mark:
    """Where the log stood before a change: its newest event and the database's clock."""

    last_id: int
    clock: Any


def _database_clock() -> Any:
    """PostgreSQL's clock now (None elsewhere: SQLite's default is not the server's)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def log_mark() -> Mark:
    last_id = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return Mark(last_id=last_id, clock=_database_clock())


def events_since(mark: Mark) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=mark.last_id).order_by("id"))


def assert_audited_once(mark: Mark, verbs: Iterable[AuditVerb], acting: Acting) -> list[AuditEvent]:
    """Exactly the events ``verbs`` (in order) were written since ``mark``, each complete:
    actor (or the system with the task id), server time, before/after, and a reason where
    the verb carries one. No object gets the same verb twice."""
    events = events_since(mark)
    assert [event.verb for event in events] == [str(verb) for verb in verbs], [
        (event.verb, event.object_type, event.object_id) for event in events
    ]
    keys = [(event.object_type, event.object_id, event.verb) for event in events]
    assert len(set(keys)) == len(keys), f"an object has the same event twice: {keys}"
    # The database stamps each event (``db_default=Now()``: the statement's time): it lies
    # between the database's clock before the change and after it, which no time sent by a
    # client (a backdated one, say) does.
    clock_after = _database_clock()
    for event in events:
        where = f"{event.verb} {event.object_type}:{event.object_id}"
        if acting.task_id is not None:
            assert event.actor is None, where
        else:
            assert event.actor == acting.user, where
        assert event.actor_label == acting.label(), where
        assert event.occurred_at is not None and event.occurred_at.tzinfo is not None, where
        if clock_after is not None:
            assert mark.clock <= event.occurred_at <= clock_after, where
        assert "before" in event.data and "after" in event.data, f"{where}: {event.data}"
        if AuditVerb(event.verb) in DELETION_VERBS:
            assert event.data["after"] is None, where
        else:
            assert event.data["after"], f"{where} says nothing of the state after"
        if AuditVerb(event.verb) in CREATION_VERBS:
            assert event.data["before"] is None, where
        else:
            assert event.data["before"] is not None, f"{where} says nothing of the state before"
        if AuditVerb(event.verb) in REASON_VERBS:
            assert reason_of(event.data), f"{where} carries no reason: {event.data}"
    return events


def assert_moved(event: AuditEvent, source: str, target: str) -> None:
    """The event records the state transition ``source`` → ``target``."""
    assert (event.data["before"]["state"], event.data["after"]["state"]) == (source, target)


def request_with_a_non_critical_failure() -> Any:
    """A request in review under a board policy whose only failed check is non-critical:
    the eval's quality (0.80) is under the policy's threshold (0.85)."""
    team = TeamFactory()
    policy = board_policy(team)
    policy.metric_thresholds = {"quality": {"min": 0.85}}
    policy.save()
    version = ready_version(registered_model__team=team)
    attach_passing_evidence(version, skip=("eval_package",))
    attach(version, "eval_package", eval_package(version, metrics={"quality": 0.80}))
    request = run_checks(services.promotion_request_submit(actor=ci_user(team), version=version))
    assert request.state == RequestState.IN_REVIEW, request.reasons
    return request


# --- what exists to audit, read from the code -------------------------------------------


def declared_transitions() -> set[tuple[str, str, str, str]]:
    """(model, transition, source, target) of every FSM transition the lifecycle trigger
    guards, one entry per source state."""
    edges = set()
    for model in guarded_models():
        field = model._meta.get_field("state")
        for transition in field.get_all_transitions(model):
            edges.add(
                (
                    model._meta.label_lower,
                    transition.name,
                    str(transition.source),
                    str(transition.target),
                )
            )
    return edges


def admin_actions(superuser: Any) -> set[tuple[str, str]]:
    """(model, action) of every button (``service_actions``) and changelist action an
    administrator is offered in the admin."""
    # Loading the URL configuration runs the admin wiring that needs several apps
    # (``govboard.admin``: the version lifecycle buttons), as serving a request would.
    get_resolver().check()
    request = RequestFactory().get("/admin/")
    request.user = superuser
    found = set()
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        for action in getattr(model_admin, "service_actions", ()):
            found.add((label, action.name))
        for name in model_admin.get_actions(request):
            found.add((label, name))
    return found


def admin_object_writes(superuser: Any) -> set[tuple[str, str]]:
    """(model, "add" | "change" | "delete") of every write an administrator may make on a
    model's own admin pages (a change page counts when it has a field to edit)."""
    get_resolver().check()
    request = RequestFactory().get("/admin/")
    request.user = superuser
    found = set()
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        if model_admin.has_add_permission(request):
            found.add((label, "add"))
        # A change page whose every field is read-only only shows (nothing to save).
        editable = set(model_admin.get_fields(request)) - set(
            model_admin.get_readonly_fields(request)
        )
        if model_admin.has_change_permission(request) and editable:
            found.add((label, "change"))
        if model_admin.has_delete_permission(request):
            found.add((label, "delete"))
    return found


def registered_tasks() -> set[str]:
    """The names of the project's Celery tasks (Celery's own built-ins left out)."""
    from govboard.celery import app

    app.loader.import_default_modules()
    return {name for name in app.tasks if not name.startswith("celery.")}
