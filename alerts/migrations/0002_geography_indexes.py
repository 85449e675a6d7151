from django.db import migrations


class Migration(migrations.Migration):
    """The matching query asks circles and drawn areas on the geography (metres, never
    degrees): index those expressions so it does not read every subscription."""

    dependencies = [("alerts", "0001_area_alerts")]

    operations = [
        migrations.RunSQL(
            "CREATE INDEX alerts_areaalert_center_geog ON alerts_areaalert USING gist ((center::geography))"
            " WHERE center IS NOT NULL",
            "DROP INDEX alerts_areaalert_center_geog",
        ),
        migrations.RunSQL(
            "CREATE INDEX alerts_areaalert_polygon_geog ON alerts_areaalert USING gist ((polygon::geography))"
            " WHERE polygon IS NOT NULL",
            "DROP INDEX alerts_areaalert_polygon_geog",
        ),
    ]
