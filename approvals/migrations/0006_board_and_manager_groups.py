"""Create the "Board members" and "Governance managers" groups, so no installation builds
them by hand: the admin's model view permissions a board member or a governance manager
needs to open their teams' requests (``approvals.apps.ROLE_GROUPS``).

Permissions are created by a post_migrate hook, after all migrations: on a fresh database
they do not exist yet here, so they are created first (as in 0005). Permissions listed for
the groups later are added by the hook in ``approvals.apps``.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from approvals.apps import ROLE_GROUPS, permissions_named


def create_role_groups(apps, schema_editor):
    using = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for name, permission_names in ROLE_GROUPS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        # Exactly these: a demo database's older groups (which could see policies) included.
        group.permissions.set(permissions_named(apps, permission_names, using=using))


def remove_role_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name__in=ROLE_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0005_auditor_group"),
        ("registry", "0008_dataset_licence_and_finding_triage"),
    ]

    operations = [migrations.RunPython(create_role_groups, remove_role_groups)]
