"""Celery tasks: thin, idempotent wrappers over registry services."""

from celery import shared_task

from registry import services


@shared_task(bind=True, name="registry.tasks.expire_approvals")
def expire_approvals(self) -> int:
    """Deprecate approved versions whose approval validity has run out."""
    return services.versions_expire_approvals(via=f"system:task {self.request.id}")
