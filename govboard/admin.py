"""Admin wiring that needs several apps (the roof's, not an app's).

The version lifecycle buttons on the registry's version page: deprecating or retiring a
version closes its open promotion request in the same transaction (approvals' lifecycle
services), which the registry knows nothing of. The "Export report" buttons on the audit
log and on a model's page open the reports app's form, which neither audit nor the
registry may name. The release page's "Open incident" button calls approvals' incident
service (issue 13). ``govboard.urls`` imports this module.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from approvals import services
from approvals.forms.incidents import IncidentOpenForm
from approvals.models import Incident
from approvals.services.incidents import incident_label, incident_open
from approvals.version_block import version_block
from audit.admin import AuditEventAdmin
from core.admin_actions import ServiceAction, reason_form
from core.permissions import Verb, allowed
from govboard.audit_subjects import model_events_q
from registry.admin import ModelVersionAdmin, RegisteredModelAdmin, RetireForm
from registry.admin.releases import ReleaseAdmin
from registry.choices import VersionState
from registry.models import ModelVersion, Release

ModelVersionAdmin.service_actions = (
    ServiceAction(
        name="deprecate",
        label="Deprecate",
        form_class=reason_form(),
        run=lambda request, obj, data: services.version_deprecate(
            actor=request.user, version=obj, reason=data["reason"]
        ),
        available=lambda request, obj: (
            obj.state in (VersionState.CANDIDATE, VersionState.APPROVED)
            and allowed(request.user, Verb.DEPRECATE, obj)
        ),
        success_message="The version is deprecated.",
    ),
    ServiceAction(
        name="retire",
        label="Retire",
        form_class=RetireForm,
        run=lambda request, obj, data: services.version_retire(
            actor=request.user,
            version=obj,
            reason=data["reason"],
            end_deployments=data["end_deployments"],
        ),
        available=lambda request, obj: (
            obj.state == VersionState.DEPRECATED and allowed(request.user, Verb.RETIRE, obj)
        ),
        success_message="The version is retired.",
    ),
)

AuditEventAdmin.change_list_template = "admin/reports/auditevent_change_list.html"
AuditEventAdmin.subject_q = staticmethod(model_events_q)
RegisteredModelAdmin.change_form_template = "admin/reports/registeredmodel_change_form.html"


def version_block_banner(request: HttpRequest, version: ModelVersion) -> dict | None:
    """The version page's banner: what blocks the version (its open promotion request's
    assessment, which the registry may not read) and a link to that request."""
    block = version_block(request.user, version)
    if block is None:
        return None
    return {
        "reasons": block.reasons,
        "request_url": reverse("admin:approvals_promotionrequest_change", args=[block.request_id]),
        "request_label": f"Open its promotion request PR-{block.request_id} "
        f"({block.request_state.replace('_', ' ')})",
    }


ModelVersionAdmin.version_block = staticmethod(version_block_banner)


def _open_incident(request: HttpRequest, release: Release, data: dict[str, Any]) -> Incident:
    return incident_open(
        actor=request.user,
        release=release,
        title=data["title"],
        severity=data["severity"],
        summary=data["summary"],
        versions=data["versions"],
        tags=data["tags"],
        blocks_promotion=data["blocks_promotion"],
    )


OPEN_INCIDENT = ServiceAction(
    name="open_incident",
    label="Open incident",
    form_class=IncidentOpenForm,
    form_kwargs=lambda request, release: {"release": release},
    run=_open_incident,
    available=lambda request, release: allowed(request.user, Verb.MANAGE_INCIDENTS, release.team),
    success_message=lambda incident: f"{incident_label(incident)} opened.",
    refusal="Only the team's registrants and governance managers open its incidents.",
    subject=lambda release: [("Release", f"{release.name} {release.version}")],
)
# Idempotent: the module is imported once, but a re-import must not add the button twice.
if OPEN_INCIDENT.name not in {action.name for action in ReleaseAdmin.service_actions}:
    ReleaseAdmin.service_actions = (*ReleaseAdmin.service_actions, OPEN_INCIDENT)
