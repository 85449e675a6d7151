"""The incremental roll-up refresh asks reports for ``updated_at > watermark`` every
beat: without an index that is a sequential scan of every report. The index lives on
the reports table but serves only the heatmaps, so it is created here (RunSQL, outside
the reports app's model state) and named for its owner."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("heatmaps", "0001_rollups"),
        ("reports", "0002_refinements"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS heatmaps_report_updated_at ON reports_report (updated_at)",
            "DROP INDEX IF EXISTS heatmaps_report_updated_at",
        ),
    ]
