"""govboard: the governance system of record for ML models."""

from govboard.celery import app as celery_app

__all__ = ["celery_app"]
