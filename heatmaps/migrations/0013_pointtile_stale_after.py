from django.db import migrations, models


class Migration(migrations.Migration):
    """The moment a stored point tile's overdue flags go stale. Tiles stored before it
    are taken as stale from the start (-infinity): the next refresh of their province
    renders them again and sets it."""

    dependencies = [
        ("heatmaps", "0012_authority_month_by_province"),
    ]

    operations = [
        migrations.AddField(
            model_name="pointtile",
            name="stale_after",
            field=models.DateTimeField(null=True),
        ),
        migrations.RunSQL("UPDATE heatmaps_pointtile SET stale_after = '-infinity'", migrations.RunSQL.noop),
    ]
