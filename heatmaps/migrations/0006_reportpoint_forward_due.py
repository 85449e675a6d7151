"""The point tiles count "overdue" by the policy's rule, which needs both deadlines:
ReportPoint gets forward_due, filled here from the reports (a primary-key join) so that
existing points are right before the next roll-up refresh."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("heatmaps", "0005_grid_month_index"),
        ("reports", "0002_refinements"),
    ]

    operations = [
        migrations.AddField(
            model_name="reportpoint",
            name="forward_due",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL(
            """UPDATE heatmaps_reportpoint p SET forward_due = r.forward_due
               FROM reports_report r WHERE r.id = p.report_id AND r.forward_due IS NOT NULL""",
            migrations.RunSQL.noop,
        ),
    ]
