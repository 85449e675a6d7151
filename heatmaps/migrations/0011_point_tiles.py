import django.contrib.postgres.fields
from django.db import migrations, models


def render_all(apps, schema_editor):
    # the tiles of the points already there (a new database has none: nothing to do)
    from heatmaps import tiles

    tiles.render_month_point_tiles()  # recorded complete by 0021, on its own model


class Migration(migrations.Migration):

    dependencies = [
        ('heatmaps', '0010_bin_tiles'),
    ]

    operations = [
        # The row type of a stored point tile's features: point_tile's attributes
        # (heatmaps.tiles._render_point_tiles_sql, ST_AsMVT per tile in one GROUP BY).
        migrations.RunSQL("CREATE TYPE heatmaps_point_feature AS (geom geometry, id bigint, code text, "
                          "category text, state text, overdue boolean)",
                          "DROP TYPE heatmaps_point_feature"),
        migrations.CreateModel(
            name='PointTile',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('audience', models.CharField(max_length=6)),
                ('z', models.SmallIntegerField()),
                ('month', models.DateField()),
                ('x', models.IntegerField()),
                ('y', models.IntegerField()),
                ('data', models.BinaryField()),
                ('n', models.IntegerField()),
                ('inside', models.IntegerField()),
                ('provinces', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=10), size=None)),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('month', 'z', 'x', 'y', 'audience'), name='heat_pointtile_key')],
            },
        ),
        # The tiles are stored as gzip (what the view sends): PostgreSQL's own compression
        # of them again would only cost time when read.
        migrations.RunSQL("ALTER TABLE heatmaps_pointtile ALTER COLUMN data SET STORAGE EXTERNAL", migrations.RunSQL.noop),
        migrations.RunPython(render_all, migrations.RunPython.noop),
    ]
