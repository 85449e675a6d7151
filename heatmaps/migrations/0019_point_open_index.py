"""The open reports' points (reports.policy.OPEN; tests/heatmaps/test_summary_rollups.py
checks that the list still agrees): a desk's or a planner's "what is still open" map.
Through (geom, created_at) its tile read every point of the box, of all time, and kept
the few percent still open: at 10 M reports the open reports of all time took 15.7 ms
at p50 and 259.5 ms at p95 for a z10 tile. An index of the open points alone reads
those. (An index led by the state was slower for such a group: migration 0016.) The
filter's states are written into the statement (aggregates.Filters) so that the planner
sees that they are open ones."""

from django.db import migrations

OPEN = "('received', 'reopened', 'forwarded', 'accepted', 'in_progress')"


class Migration(migrations.Migration):

    dependencies = [
        ("heatmaps", "0018_grid_cell_total"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX IF NOT EXISTS heat_point_open_geom ON heatmaps_reportpoint USING gist (geom, created_at) "
            f"WHERE state IN {OPEN}",
            "DROP INDEX IF EXISTS heat_point_open_geom",
        ),
    ]
