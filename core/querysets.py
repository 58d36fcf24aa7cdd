"""Row visibility, written once: every team-scoped model's manager is a
``TeamScopedQuerySet`` and every selector, admin changelist, API queryset and the audit log
filter through ``visible_to`` (NetBox's ``restrict(user, action)`` is the model)."""

from __future__ import annotations

from typing import Any

from django.db import models

from core.permissions import Verb, team_q


class TeamScopedQuerySet(models.QuerySet):
    #: The path from the model to its team (``team``, ``registered_model__team``...).
    team_lookup = "team"

    def visible_to(
        self, user: Any, action: Verb = Verb.READ, *, role: str | None = None
    ) -> TeamScopedQuerySet:
        """The rows of the teams where ``user`` may do ``action`` (read, by default; for
        ``Verb.SIGN`` a ``role``, or ``ANY_TEAM_ROLE`` for any board role)."""
        return self.filter(team_q(user, action, self.team_lookup, role=role))


def scoped_to(lookup: str) -> models.Manager:
    """A manager whose ``visible_to`` filters through ``lookup``."""
    queryset_class = type(
        f"TeamScopedQuerySet_{lookup}", (TeamScopedQuerySet,), {"team_lookup": lookup}
    )
    return queryset_class.as_manager()
