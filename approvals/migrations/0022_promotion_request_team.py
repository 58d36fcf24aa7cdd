"""A promotion request's own copy of its team (issue 14), so the per-team figures of the
dashboard and the scorecard group requests by a column of their own, not through every
version and model.

The column is added nullable, filled from version -> model -> team in one UPDATE ... FROM,
then made NOT NULL. The lifecycle trigger on the table (ADR 0014,
``approvals.lifecycle_trigger``) passes every UPDATE that leaves ``state`` as it is, so the
backfill needs no trigger lifted; the table is not append-only (ADR 0004). The history
table's existing rows keep a null team: they are append-only, and a history row records the
request as it was. A ring request's release must have its version's team (its anchor is a
component of the release's team): the migration refuses to run on rows where it does not.
"""

import django.db.models.deletion
from django.db import migrations, models

BACKFILL = """
UPDATE approvals_promotionrequest
SET team_id = model.team_id
FROM registry_modelversion AS version
JOIN registry_registeredmodel AS model ON model.id = version.registered_model_id
WHERE version.id = approvals_promotionrequest.version_id
"""

RELEASES_OF_ANOTHER_TEAM = """
SELECT request.id FROM approvals_promotionrequest AS request
JOIN registry_release AS release ON release.id = request.release_id
WHERE release.team_id <> request.team_id
"""


def copy_each_requests_team(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKFILL)
        cursor.execute(RELEASES_OF_ANOTHER_TEAM)
        wrong = [row[0] for row in cursor.fetchall()]
        if wrong:
            raise RuntimeError(
                f"Ring requests {wrong} name a release of another team than their version's."
            )
        if schema_editor.connection.vendor == "postgresql":
            # The UPDATE queued the new foreign key's deferred checks; PostgreSQL refuses
            # to ALTER a table with pending trigger events, so run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0021_review_queue_order_index"),
        ("registry", "0014_indexed_search"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalpromotionrequest",
            name="team",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="registry.team",
            ),
        ),
        migrations.AddField(
            model_name="promotionrequest",
            name="team",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.team",
            ),
        ),
        migrations.RunPython(copy_each_requests_team, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="promotionrequest",
            name="team",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="registry.team",
            ),
        ),
        migrations.AddIndex(
            model_name="promotionrequest",
            index=models.Index(
                fields=["team", "state", "created_at"], name="promotion_request_team_open"
            ),
        ),
        migrations.AddIndex(
            model_name="promotionrequest",
            index=models.Index(
                fields=["team", "state", "decided_at"], name="promotion_request_team_decided"
            ),
        ),
        migrations.AddIndex(
            model_name="promotionrequest",
            index=models.Index(
                fields=["team", "state", "state_changed_at"],
                name="promotion_request_team_changed",
            ),
        ),
    ]
