"""The board's roles are approvals' permissions now (approvals 0009): IdP group mappings and
the grants they made name ``approvals.sign_as_*`` instead of ``registry.sign_as_*``. The
field's choices are computed from the team's roles (``core.team_roles.team_role_choices``).
The history tables keep the old spelling (they are append-only).
"""

import core.team_roles
from django.db import migrations, models

OLD, NEW = "registry.sign_as_", "approvals.sign_as_"


def _rename(apps, schema_editor, *, old, new):
    using = schema_editor.connection.alias
    for name in ("GroupRoleMapping", "SsoRoleGrant"):
        model = apps.get_model("sso", name)
        for row in model.objects.using(using).filter(permission__startswith=old):
            row.permission = new + row.permission.removeprefix(old)
            row.save(update_fields=["permission"])


def forwards(apps, schema_editor):
    _rename(apps, schema_editor, old=OLD, new=NEW)


def backwards(apps, schema_editor):
    _rename(apps, schema_editor, old=NEW, new=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("sso", "0001_initial"),
        ("approvals", "0009_board_roles"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.AlterField(
            model_name="grouprolemapping",
            name="permission",
            field=models.CharField(choices=core.team_roles.team_role_choices, max_length=64),
        ),
        migrations.AlterField(
            model_name="historicalgrouprolemapping",
            name="permission",
            field=models.CharField(choices=core.team_roles.team_role_choices, max_length=64),
        ),
        migrations.AlterField(
            model_name="historicalssorolegrant",
            name="permission",
            field=models.CharField(choices=core.team_roles.team_role_choices, max_length=64),
        ),
        migrations.AlterField(
            model_name="ssorolegrant",
            name="permission",
            field=models.CharField(choices=core.team_roles.team_role_choices, max_length=64),
        ),
    ]
