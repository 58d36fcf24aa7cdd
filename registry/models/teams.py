from django.db import models

from core.historical_records import GovernanceHistory
from core.querysets import scoped_to
from registry.validators import validate_slug_name


class Team(models.Model):
    """A team that owns models. Its roles (these permissions, and the board's on
    ``approvals.Board``) are guardian object permissions on the team's row."""

    slug = models.CharField(max_length=100, unique=True, validators=[validate_slug_name])
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    history = GovernanceHistory()

    objects = scoped_to("pk")

    class Meta:
        ordering = ["slug"]
        permissions = [
            ("manage_governance", "Can expedite and manage governance for the team"),
            ("view_team_registry", "Can see the team's models, versions and requests"),
            ("register_versions", "Can register models and versions for the team"),
        ]

    def __str__(self) -> str:
        return self.slug
