from django.db import migrations

# A view of one category (the map's category layers) is rendered when asked, and its
# tile read every point of the box through (geom, created_at), kept the few of the
# category and grew with every report of the place: on the national 1 M database, the
# busiest z10 tiles of all time took 5.8 ms at p50 and 23 ms at worst for the median
# category. Led by the category (btree_gist, see 0003) a GiST index is one small R-tree
# per category, and the tile reads the points it draws: 1.6 and 5.7 ms.
# It is partial on a condition every row meets (category_id is NOT NULL) that only a
# filter on the category implies: with the box alone the planner priced it like
# (geom, created_at) and took it for unfiltered views too, where it searches every
# category's tree and cannot bound a month in the index.
# The same index on the state was measured and left out: it helped a rare state (z10
# 4.3 -> 2.3 ms) and slowed the open reports (p50 z10 10.0 -> 15.1 ms, z14 2.2 -> 8.9 ms;
# ~60 index pages a state searched for a z14 tile).


class Migration(migrations.Migration):

    dependencies = [
        ("heatmaps", "0015_all_time_tile_zooms"),
    ]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX IF NOT EXISTS heat_point_category_geom ON heatmaps_reportpoint USING gist "
            "(category_id, geom) WHERE category_id IS NOT NULL",
            "DROP INDEX IF EXISTS heat_point_category_geom",
        ),
    ]
