"""Create the read-only auditor group, so no installation builds one by hand.

Permissions are created by a post_migrate hook, after all migrations: on a fresh database
they do not exist yet here, so they are created first. Models added by later migrations
get their view permission from the hook in ``approvals.apps``.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

from approvals.apps import AUDITOR_GROUP, auditor_view_permissions


def create_auditor_group(apps, schema_editor):
    using = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.using(using).get_or_create(name=AUDITOR_GROUP)
    # Exactly the view permissions: a demo database's older "Auditors" group included.
    group.permissions.set(auditor_view_permissions(apps, using=using))


def remove_auditor_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=AUDITOR_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0004_release_runbook_policy"),
        ("registry", "0007_version_deprecated_at"),
        ("audit", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
    ]

    operations = [migrations.RunPython(create_auditor_group, remove_auditor_group)]
