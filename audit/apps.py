import logging

from django.apps import AppConfig
from django.conf import settings
from django.db import connections
from django.db.models.signals import post_migrate


def _install_triggers(sender, using="default", **kwargs):
    from audit.database_roles import configured_runtime_role, setup_runtime_role
    from audit.immutability import install_append_only_triggers

    install_append_only_triggers(using=using)
    runtime = configured_runtime_role()
    if runtime is not None and connections[using].vendor == "postgresql":
        # migrate runs as the owner (audit's migrate command): grant the runtime role exactly
        # its privileges on every table, those this run created included (ADR 0014).
        setup_runtime_role(*runtime, using=using)


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        # Schema infrastructure, not business logic: after every migrate, every append-only
        # table (including history tables added since) carries its refusal triggers, and the
        # runtime role holds exactly its grants.
        post_migrate.connect(_install_triggers, sender=self, dispatch_uid="audit-append-only")
        if settings.GOVBOARD_WARN_NOT_TAMPER_RESISTANT:
            from audit.database_roles import tamper_resistance_gap

            gap = tamper_resistance_gap()
            if gap is not None:
                # Said plainly at every start (web, worker, beat, commands), ADR 0014.
                logging.getLogger("audit").warning(gap)
