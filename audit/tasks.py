"""Celery tasks of the audit app: thin wrappers over its services."""

from __future__ import annotations

from celery import shared_task

from audit.services import audit_log_seal


@shared_task(name="audit.tasks.seal_audit_log")
def seal_audit_log() -> int:
    """Seal the committed audit rows not sealed yet and sign a tree head (idempotent)."""
    return audit_log_seal().sealed
