"""What the audit log's model filter and search mean: the events about a model, its
versions, and their promotion requests, evidence, deployments and finding triages.

The log may not name the domain (``audit`` imports only ``core``), so the roof builds
the condition and ``govboard/admin.py`` hands it to ``AuditEventAdmin``. Names match
exactly or by their beginning on the indexed ``registeredmodel.name`` (never LIKE
'%…%'); every other step is a subquery by primary key.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from approvals.models import PromotionRequest
from audit.models import AuditEvent
from audit.subjects import about
from registry.models import Deployment, Evidence, FindingTriage, ModelVersion, RegisteredModel


def model_events_q(user: Any, term: str, *, prefix: bool) -> Q:
    """Events about the models the user may see named ``term`` ("name" or "team/name");
    with ``prefix``, those whose name starts with it."""
    team_slug, _, name = term.strip().rpartition("/")
    lookup = "name__startswith" if prefix else "name"
    models = RegisteredModel.objects.visible_to(user).filter(**{lookup: name})
    if team_slug:
        models = models.filter(team__slug=team_slug)
    versions = ModelVersion.objects.filter(registered_model__in=models.values("pk"))
    version_ids = versions.values("pk")
    subjects = [
        models,
        versions,
        PromotionRequest.objects.filter(version__in=version_ids),
        Evidence.objects.filter(version__in=version_ids),
        Deployment.objects.filter(version__in=version_ids),
        FindingTriage.objects.filter(version__in=version_ids),
    ]
    # A UNION of one (object_type, object_id) index lookup per kind, not an OR of them:
    # with the OR, PostgreSQL walks the whole log newest first and filters each event
    # (65 ms at 300,000 events, growing with the log); the UNION probes the index (4 ms).
    events = [
        AuditEvent.objects.filter(about(subject)).order_by().values("pk") for subject in subjects
    ]
    return Q(pk__in=events[0].union(*events[1:], all=True))
