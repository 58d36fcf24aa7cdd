from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Auditor reports: read-only, built on the registry, approvals and the audit log."""

    name = "reports"
    verbose_name = "Reports"
