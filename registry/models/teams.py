from django.db import models
from simple_history.models import HistoricalRecords

from registry.validators import validate_slug_name


class Team(models.Model):
    """A team that owns models. Approver roles are guardian object permissions on a team."""

    slug = models.CharField(max_length=100, unique=True, validators=[validate_slug_name])
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["slug"]
        permissions = [
            ("sign_as_platform", "Can sign off promotions as platform approver"),
            ("sign_as_product", "Can sign off promotions as product approver"),
            ("sign_as_security", "Can sign off promotions as security approver"),
            ("sign_as_platform_lead", "Can sign off promotions as platform lead"),
            ("sign_as_data_governance", "Can sign off promotions as data governance"),
            ("sign_as_ml_engineer", "Can sign off promotions as ML engineer"),
            ("sign_as_application_security", "Can sign off promotions as application security"),
            (
                "sign_as_security_operations_lead",
                "Can sign off promotions as security operations lead",
            ),
            ("manage_governance", "Can expedite and manage governance for the team"),
            ("view_team_registry", "Can see the team's models, versions and requests"),
            ("register_versions", "Can register models and versions for the team"),
        ]

    def __str__(self) -> str:
        return self.slug
