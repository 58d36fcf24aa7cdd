"""Which model and threshold served customer C at time T (issue 13).

The deployments live at ``at`` whose customer scope is ``customer``, each with the release
it served as part of and that release's components: the model version and the threshold /
config version with the parameters it pinned. One selector for the API, the auditor report
and the admin page; a fixed number of queries whatever the data size.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, QuerySet

from registry.models import Deployment, ReleaseComponent
from registry.selectors import deployments_visible_to

#: Where ``served_deployments`` puts each release's model-version components, id order.
SERVED_COMPONENTS = "served_components"


def deployments_serving(
    actor: Any, *, customer: str, at: datetime, environment: str | None = None
) -> QuerySet[Deployment]:
    """The deployments serving ``customer`` at the moment ``at``: started at or before it,
    not ended by it. One query (the permission filter is a subquery)."""
    # The selector's window is half-open (started before "until"): one microsecond past
    # ``at`` keeps a deployment that started exactly then.
    queryset = deployments_visible_to(
        actor,
        environment=environment or None,
        customer_scope=customer,
        active_from=at,
        active_until=at + timedelta(microseconds=1),
    )
    return queryset.select_related("version__registered_model", "release")


def served_deployments(
    actor: Any, *, customer: str, at: datetime, environment: str | None = None
) -> QuerySet[Deployment]:
    """``deployments_serving`` with each release's model-version components prefetched, in
    its keyset order (newest start first, on the ``deployment_customer_keyset`` index): a
    page of it is two queries whatever its size (``served_row`` reads nothing more)."""
    return deployments_serving(
        actor, customer=customer, at=at, environment=environment
    ).prefetch_related(
        Prefetch(
            "release__components",
            queryset=ReleaseComponent.objects.filter(model_version__isnull=False)
            .select_related("model_version__registered_model")
            .order_by("id"),
            # A plain list on each release: into ``components`` Django builds a filtered
            # queryset per release to hold its cache (~0.2 ms a row, issue 14).
            to_attr=SERVED_COMPONENTS,
        )
    )


def served_row(deployment: Deployment) -> dict[str, Any]:
    """One live deployment of ``served_deployments``: its window, its version, and its
    release with the release's model-version components (kind, model, version,
    parameters)."""
    release = deployment.release
    return {
        "id": deployment.pk,
        "environment": deployment.environment,
        "ring": deployment.ring,
        "customer_scope": deployment.customer_scope,
        "started_at": deployment.started_at,
        "ended_at": deployment.ended_at,
        "version": {
            "id": deployment.version_id,
            "model": deployment.version.registered_model.name,
            "version": deployment.version.version,
        },
        "release": (
            {
                "id": release.pk,
                "name": release.name,
                "version": release.version,
                "manifest_sha256": release.manifest_sha256,
                "components": [
                    {
                        "kind": c.kind,
                        "model": c.model_version.registered_model.name,
                        "version": c.model_version.version,
                        "version_id": c.model_version_id,
                        "parameters": c.model_version.parameters,
                    }
                    for c in getattr(release, SERVED_COMPONENTS)
                ],
            }
            if release is not None
            else None
        ),
    }
