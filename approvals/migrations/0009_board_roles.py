"""The board's roles move from registry to approvals (issue 9, ADR 0012).

``sign_as_*`` were permissions of ``registry.Team``; they become permissions of the
``approvals.Board`` proxy of the team. Every existing grant is kept: guardian's object
permissions (to users and to groups) and any model-level grant are re-pointed from the old
permission rows to the new ones, then the old rows are deleted. Reversible.
"""

from django.conf import settings
from django.db import migrations

ROLES = [
    ("platform", "Platform approver"),
    ("product", "Product approver"),
    ("security", "Security approver"),
    ("platform_lead", "Platform lead"),
    ("data_governance", "Data governance"),
    ("ml_engineer", "ML engineer"),
    ("application_security", "Application security"),
    ("security_operations_lead", "Security operations lead"),
]


def _move(apps, schema_editor, *, source, target):
    """Re-point every grant of ``sign_as_*`` from the ``source`` content type's permission
    rows to ``target``'s, creating the target rows, deleting the source rows."""
    using = schema_editor.connection.alias
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    UserObjectPermission = apps.get_model("guardian", "UserObjectPermission")
    GroupObjectPermission = apps.get_model("guardian", "GroupObjectPermission")
    source_type, _ = ContentType.objects.using(using).get_or_create(
        app_label=source[0], model=source[1]
    )
    target_type, _ = ContentType.objects.using(using).get_or_create(
        app_label=target[0], model=target[1]
    )
    for role, label in ROLES:
        codename = f"sign_as_{role}"
        new, _ = Permission.objects.using(using).get_or_create(
            content_type=target_type,
            codename=codename,
            defaults={"name": f"Can sign off promotions as {label}"},
        )
        old = (
            Permission.objects.using(using)
            .filter(content_type=source_type, codename=codename)
            .first()
        )
        if old is None:
            continue
        for model in (UserObjectPermission, GroupObjectPermission):
            # Ids, not instances: the historical models of a backwards run are rendered
            # from different states, and the related-instance check would refuse them.
            model.objects.using(using).filter(permission_id=old.pk).update(
                permission_id=new.pk, content_type_id=target_type.pk
            )
        for group in Group.objects.using(using).filter(permissions__id=old.pk):
            group.permissions.add(new.pk)
            group.permissions.remove(old.pk)
        for user in User.objects.using(using).filter(user_permissions__id=old.pk):
            user.user_permissions.add(new.pk)
            user.user_permissions.remove(old.pk)
        # Nothing refers to the old row any more; a plain DELETE (the ORM's cascade
        # collector trips on the historical models, as above).
        schema_editor.execute(
            f"DELETE FROM {schema_editor.quote_name(Permission._meta.db_table)} WHERE id = %s",
            [old.pk],
        )


def to_board(apps, schema_editor):
    _move(apps, schema_editor, source=("registry", "team"), target=("approvals", "board"))


def to_team(apps, schema_editor):
    _move(apps, schema_editor, source=("approvals", "board"), target=("registry", "team"))


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0008_signoff_reauth_idp"),
        ("registry", "0009_team_roles_without_board"),
        ("guardian", "0003_remove_groupobjectpermission_guardian_gr_content_ae6aec_idx_and_more"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Board",
            fields=[],
            options={
                "permissions": [
                    (f"sign_as_{role}", f"Can sign off promotions as {label}")
                    for role, label in ROLES
                ],
                "proxy": True,
                "default_permissions": (),
                "indexes": [],
                "constraints": [],
            },
            bases=("registry.team",),
        ),
        migrations.RunPython(to_board, to_team),
    ]
