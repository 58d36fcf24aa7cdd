"""Seed the default governance policy: platform + product + security, one each, 90 days."""

from django.db import migrations


def seed_default_policy(apps, schema_editor):
    GovernancePolicy = apps.get_model("approvals", "GovernancePolicy")
    if not GovernancePolicy.objects.filter(is_default=True).exists():
        GovernancePolicy.objects.create(
            name="default",
            version=1,
            is_default=True,
            required_roles={"platform": 1, "product": 1, "security": 1},
            approval_validity_days=90,
        )


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_initial")]

    operations = [migrations.RunPython(seed_default_policy, migrations.RunPython.noop)]
