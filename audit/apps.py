from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _install_triggers(sender, using="default", **kwargs):
    from audit.immutability import install_append_only_triggers

    install_append_only_triggers(using=using)


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Schema infrastructure, not business logic: after every migrate, every append-only
        # table (including history tables added since) carries its refusal triggers.
        post_migrate.connect(_install_triggers, sender=self, dispatch_uid="audit-append-only")
