"""The sums of all time (GridTotal) read for one category and for the open reports.

GridTotal has one row per (cell, category, state, province); its unique index leads with
the cell, so a view of one category or of the open reports read every row of the tile's
cells and kept the few it draws: on the national database a z6-z9 tile of one category
of all time took 3.6-4.5 ms at 1 M reports and 12.9-21.8 ms at 10 M (20 rows a cell),
the open reports 4.1-5.3 and 13.2-22.6 ms, and the open reports' colour scale of every
bin level (aggregates.bin_scale) 4.1 s at 10 M. Led by the category, or partial on the
open states, the index holds the rows such a view draws, and n and overdue in it.
The open states are written out as reports.policy.OPEN names them
(tests/heatmaps/test_summary_rollups.py checks that the lists still agree)."""

from django.db import migrations

OPEN = "('received', 'reopened', 'forwarded', 'accepted', 'in_progress')"


class Migration(migrations.Migration):

    dependencies = [
        ("heatmaps", "0019_point_open_index"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS heat_grid_total_category ON heatmaps_gridtotal "
            "(level, category_id, cx, cy) INCLUDE (state, province_code, n, overdue)",
            "DROP INDEX IF EXISTS heat_grid_total_category",
        ),
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS heat_grid_total_open ON heatmaps_gridtotal "
            f"(level, cx, cy) INCLUDE (category_id, province_code, n, overdue) WHERE state IN {OPEN}",
            "DROP INDEX IF EXISTS heat_grid_total_open",
        ),
    ]
