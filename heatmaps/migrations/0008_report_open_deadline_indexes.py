"""Partial indexes on the reports whose deadline runs, for the national design point
(bench/national.py): the beat's refresh looks for the deadlines that passed since its
last run, and the wall counts a province's open and overdue reports. Without them
both read every open report of the country through the state index (0.8 s at 1 M
reports, growing with the reports). The state lists are reports.policy's
FORWARD_STAGE, RESOLVE_STAGE and OPEN (tests/heatmaps/test_summary_rollups.py checks
that they still agree)."""

from django.db import migrations

FORWARD_STAGE = "('received', 'reopened')"
RESOLVE_STAGE = "('forwarded', 'accepted', 'in_progress')"
OPEN = "('received', 'reopened', 'forwarded', 'accepted', 'in_progress')"


class Migration(migrations.Migration):

    dependencies = [
        ("heatmaps", "0007_summary_rollups"),
        ("reports", "0006_category_jurisdictions"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS heat_report_forward_due ON reports_report (province_code, forward_due) "
            f"WHERE state IN {FORWARD_STAGE}",
            "DROP INDEX IF EXISTS heat_report_forward_due",
        ),
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS heat_report_resolve_due ON reports_report (province_code, resolve_due) "
            f"WHERE state IN {RESOLVE_STAGE}",
            "DROP INDEX IF EXISTS heat_report_resolve_due",
        ),
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS heat_report_open ON reports_report (province_code) WHERE state IN {OPEN}",
            "DROP INDEX IF EXISTS heat_report_open",
        ),
    ]
