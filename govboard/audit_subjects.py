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
    return (
        about(models)
        | about(versions)
        | about(PromotionRequest.objects.filter(version__in=version_ids))
        | about(Evidence.objects.filter(version__in=version_ids))
        | about(Deployment.objects.filter(version__in=version_ids))
        | about(FindingTriage.objects.filter(version__in=version_ids))
    )
