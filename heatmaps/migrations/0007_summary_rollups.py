"""Two coarser sums of the authority roll-up whose rows do not grow with the reports
(bench/national.py): per (province, category, month) for the dashboards, per
(authority, month, province) for the ranking. Filled here from the authority roll-up
(the refresh keeps them up to date afterwards)."""

import django.contrib.postgres.fields
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('boundaries', '0005_jurisdiction'),
        ('heatmaps', '0006_reportpoint_forward_due'),
        ('reports', '0006_category_jurisdictions'),
    ]

    operations = [
        migrations.CreateModel(
            name='AuthorityMonthRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('received', models.IntegerField(default=0)),
                ('forwarded', models.IntegerField(default=0)),
                ('forwarded_on_time', models.IntegerField(default=0)),
                ('resolved', models.IntegerField(default=0)),
                ('resolved_with_due', models.IntegerField(default=0)),
                ('resolved_on_time', models.IntegerField(default=0)),
                ('open', models.IntegerField(default=0)),
                ('overdue', models.IntegerField(default=0)),
                ('rejected', models.IntegerField(default=0)),
                ('rating_1', models.IntegerField(default=0)),
                ('rating_2', models.IntegerField(default=0)),
                ('rating_3', models.IntegerField(default=0)),
                ('rating_4', models.IntegerField(default=0)),
                ('rating_5', models.IntegerField(default=0)),
                ('handling_seconds_sum', models.BigIntegerField(default=0)),
                ('handling_hist', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), default=list, size=None)),
                ('month', models.DateField()),
                ('province_code', models.CharField(blank=True, max_length=10)),
                ('authority', models.ForeignKey(db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='boundaries.authority')),
            ],
            options={
                'indexes': [models.Index(fields=['month', 'province_code'], name='heat_authm_month')],
            },
        ),
        migrations.CreateModel(
            name='ProvinceRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('received', models.IntegerField(default=0)),
                ('forwarded', models.IntegerField(default=0)),
                ('forwarded_on_time', models.IntegerField(default=0)),
                ('resolved', models.IntegerField(default=0)),
                ('resolved_with_due', models.IntegerField(default=0)),
                ('resolved_on_time', models.IntegerField(default=0)),
                ('open', models.IntegerField(default=0)),
                ('overdue', models.IntegerField(default=0)),
                ('rejected', models.IntegerField(default=0)),
                ('rating_1', models.IntegerField(default=0)),
                ('rating_2', models.IntegerField(default=0)),
                ('rating_3', models.IntegerField(default=0)),
                ('rating_4', models.IntegerField(default=0)),
                ('rating_5', models.IntegerField(default=0)),
                ('handling_seconds_sum', models.BigIntegerField(default=0)),
                ('handling_hist', django.contrib.postgres.fields.ArrayField(base_field=models.IntegerField(), default=list, size=None)),
                ('month', models.DateField()),
                ('province_code', models.CharField(blank=True, max_length=10)),
                ('category', models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='reports.category')),
            ],
            options={
                'indexes': [models.Index(fields=['month', 'province_code'], name='heat_prov_month')],
            },
        ),
        migrations.RunSQL(
            """INSERT INTO heatmaps_provincerollup (category_id, month, province_code, received, forwarded, forwarded_on_time, resolved, resolved_with_due, resolved_on_time, open, overdue, rejected, rating_1, rating_2, rating_3, rating_4, rating_5, handling_seconds_sum, handling_hist)
               SELECT category_id, month, province_code, sum(received), sum(forwarded), sum(forwarded_on_time), sum(resolved), sum(resolved_with_due), sum(resolved_on_time), sum(open), sum(overdue), sum(rejected), sum(rating_1), sum(rating_2), sum(rating_3), sum(rating_4), sum(rating_5), sum(handling_seconds_sum),
                      ARRAY[coalesce(sum(handling_hist[1]), 0)::int, coalesce(sum(handling_hist[2]), 0)::int, coalesce(sum(handling_hist[3]), 0)::int, coalesce(sum(handling_hist[4]), 0)::int, coalesce(sum(handling_hist[5]), 0)::int, coalesce(sum(handling_hist[6]), 0)::int, coalesce(sum(handling_hist[7]), 0)::int, coalesce(sum(handling_hist[8]), 0)::int, coalesce(sum(handling_hist[9]), 0)::int, coalesce(sum(handling_hist[10]), 0)::int, coalesce(sum(handling_hist[11]), 0)::int, coalesce(sum(handling_hist[12]), 0)::int, coalesce(sum(handling_hist[13]), 0)::int, coalesce(sum(handling_hist[14]), 0)::int, coalesce(sum(handling_hist[15]), 0)::int, coalesce(sum(handling_hist[16]), 0)::int, coalesce(sum(handling_hist[17]), 0)::int, coalesce(sum(handling_hist[18]), 0)::int]
               FROM heatmaps_authorityrollup GROUP BY category_id, month, province_code""",
            migrations.RunSQL.noop,
        ),
        migrations.RunSQL(
            """INSERT INTO heatmaps_authoritymonthrollup (authority_id, month, province_code, received, forwarded, forwarded_on_time, resolved, resolved_with_due, resolved_on_time, open, overdue, rejected, rating_1, rating_2, rating_3, rating_4, rating_5, handling_seconds_sum, handling_hist)
               SELECT authority_id, month, province_code, sum(received), sum(forwarded), sum(forwarded_on_time), sum(resolved), sum(resolved_with_due), sum(resolved_on_time), sum(open), sum(overdue), sum(rejected), sum(rating_1), sum(rating_2), sum(rating_3), sum(rating_4), sum(rating_5), sum(handling_seconds_sum),
                      ARRAY[coalesce(sum(handling_hist[1]), 0)::int, coalesce(sum(handling_hist[2]), 0)::int, coalesce(sum(handling_hist[3]), 0)::int, coalesce(sum(handling_hist[4]), 0)::int, coalesce(sum(handling_hist[5]), 0)::int, coalesce(sum(handling_hist[6]), 0)::int, coalesce(sum(handling_hist[7]), 0)::int, coalesce(sum(handling_hist[8]), 0)::int, coalesce(sum(handling_hist[9]), 0)::int, coalesce(sum(handling_hist[10]), 0)::int, coalesce(sum(handling_hist[11]), 0)::int, coalesce(sum(handling_hist[12]), 0)::int, coalesce(sum(handling_hist[13]), 0)::int, coalesce(sum(handling_hist[14]), 0)::int, coalesce(sum(handling_hist[15]), 0)::int, coalesce(sum(handling_hist[16]), 0)::int, coalesce(sum(handling_hist[17]), 0)::int, coalesce(sum(handling_hist[18]), 0)::int]
               FROM heatmaps_authorityrollup GROUP BY authority_id, month, province_code""",
            migrations.RunSQL.noop,
        ),
    ]
