"""Auditors read everything the admin shows (issue 10), globally or for chosen teams.

Migration 0005 gave the "Auditors" group the view permissions of the governance apps, auth and guardian;
sign-in lockouts (identity) and the scheduler's sweeps (django_celery_beat) are in the
admin too and a reviewer of history needs them. (The SSO pages stay administrators'.)
Only view permissions are added, through the same ``auditor_view_permissions`` as 0005
(``AUDITOR_APP_LABELS`` now names those apps); reversing removes exactly those two
apps' view permissions from the group.

It also creates the "Team auditors" group (``TEAM_AUDITOR_VIEW_PERMISSIONS``): the pages
an auditor of chosen teams opens; which teams' rows they see is the team role
``registry.view_team_registry`` granted on each. Reversing deletes that group.
"""

from django.db import migrations

from approvals.apps import (
    AUDITOR_GROUP,
    TEAM_AUDITOR_GROUP,
    TEAM_AUDITOR_VIEW_PERMISSIONS,
    auditor_view_permissions,
    create_all_permissions,
    permissions_named,
)

ADDED_APP_LABELS = ("identity", "django_celery_beat")


def auditors_read_the_whole_admin(apps, schema_editor):
    using = schema_editor.connection.alias
    create_all_permissions(apps, using=using)
    Group = apps.get_model("auth", "Group")
    group = Group.objects.using(using).filter(name=AUDITOR_GROUP).first()
    if group is not None:
        group.permissions.add(
            *auditor_view_permissions(apps, using=using).filter(
                content_type__app_label__in=ADDED_APP_LABELS
            )
        )
    team_auditors, _ = Group.objects.using(using).get_or_create(name=TEAM_AUDITOR_GROUP)
    team_auditors.permissions.set(
        permissions_named(apps, TEAM_AUDITOR_VIEW_PERMISSIONS, using=using)
    )


def undo_auditors_read_the_whole_admin(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    GroupObjectPermission = apps.get_model("guardian", "GroupObjectPermission")
    # Ids and plain statements, not instances or the ORM's cascade: a backwards run's
    # historical models come from different states and the related-instance check refuses
    # them (as in 0009).
    team_auditors = Group.objects.using(using).filter(name=TEAM_AUDITOR_GROUP).first()
    if team_auditors is not None:
        team_auditors.permissions.clear()
        team_auditors.user_set.clear()
        GroupObjectPermission.objects.using(using).filter(group_id=team_auditors.pk).delete()
        connection = schema_editor.connection
        with connection.cursor() as cursor:
            # The table name is the model's own, quoted; the id is a parameter.
            table = connection.ops.quote_name(Group._meta.db_table)
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [team_auditors.pk])  # noqa: S608
    group = Group.objects.using(using).filter(name=AUDITOR_GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.using(using)
            .filter(codename__startswith="view_", content_type__app_label__in=ADDED_APP_LABELS)
            .values_list("pk", flat=True)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0009_board_roles"),
        ("identity", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
    ]

    operations = [
        migrations.RunPython(auditors_read_the_whole_admin, undo_auditors_read_the_whole_admin)
    ]
