import django.contrib.postgres.fields
from django.db import migrations, models


def render_months(apps, schema_editor):
    # The stored month tiles at the zooms configured now (z14 joined z10-z13 here): every
    # month rendered again, then those zooms are complete. Without points this renders
    # nothing and the zooms are complete as they are.
    from heatmaps import tiles

    State = apps.get_model("heatmaps", "RefreshState")
    if not State.objects.filter(name="default").exists():
        return  # made by the first refresh (heatmaps.aggregates._state)
    zooms = tiles.render_month_point_tiles()
    State.objects.filter(name="default").update(month_tile_zooms=zooms)


class Migration(migrations.Migration):
    """Which zooms' stored month tiles are complete (a tile without a row is empty)."""

    dependencies = [
        ("heatmaps", "0020_grid_total_filter_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="refreshstate",
            name="month_tile_zooms",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.SmallIntegerField(), default=list, size=None
            ),
        ),
        migrations.RunPython(render_months, migrations.RunPython.noop),
    ]
