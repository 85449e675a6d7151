"""Report data for the heatmaps' tests, made in SQL on the real boundaries of the test
session (heatmaps.synthetic: points inside the 2025 communes, realistic categories,
authorities and states), and the roll-ups rebuilt from them."""

import pytest
from django.db import connection

from heatmaps import aggregates as agg
from heatmaps.synthetic import generate

# A point in Hạ Long (Quảng Ninh, province 22).
HA_LONG = (107.0800, 20.9550)


@pytest.fixture(autouse=True)
def _no_shared_cache(settings):
    """Map data is cached per data version in Redis; rolled-back tests repeat versions."""
    from heatmaps import tile_cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    tile_cache.forget()


@pytest.fixture
def synthetic(db):
    """About 1,500 reports over the last 400 days in the four provinces (the count is
    returned), roll-ups built."""
    generate(1500, seed=0.31, days=400)
    agg.refresh_all()
    return raw_count()


def raw_count(where="TRUE", params=()):
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM reports_report r WHERE {where}", list(params))
        return cur.fetchone()[0]


def insert_points(points, category="do-thi-chieu-sang", state="received", created_at=None, authority=None, **extra):
    """Insert reports at (lon, lat) points directly (what the routing would store is not
    needed by the maps). Returns their ids."""
    from django.utils import timezone

    from boundaries.models import Authority
    from reports.models import Category, Report

    cat = Category.objects.get(code=category)
    auth = Authority.objects.get(code=authority) if authority else None
    now = created_at or timezone.now()
    start = Report.objects.count()
    objs = [
        Report(code=f"T-{start + i:07d}-{id(points) % 10000}", description="test", category=cat,
               location=f"SRID=4326;POINT({lon} {lat})", state=state, created_at=now, authority=auth,
               source="test", **extra)
        for i, (lon, lat) in enumerate(points)
    ]
    return [r.id for r in Report.objects.bulk_create(objs)]


def remove_committed_reports():
    """What a test committed (in a thread of its own connection: tests/reports/conftest.py
    in_thread) removed again: its reports (insert_points in Hạ Long), every roll-up row
    and the refresh state. Run it committed too."""
    from heatmaps.aggregates import ROLLUP_TABLES
    from heatmaps.models import RefreshState
    from reports.models import Report

    Report.objects.filter(province_code="22", description="test").delete()
    with connection.cursor() as cur:
        for table in ROLLUP_TABLES:
            cur.execute(f"DELETE FROM {table}")
    RefreshState.objects.all().delete()


def rated_reports(authority, n, on_time, rating):
    """``n`` rated reports of ``authority`` received 3 days ago in Hạ Long, ``on_time`` of them
    resolved before their deadline, each rated ``rating``. Returns their ids."""
    import datetime as dt

    from django.utils import timezone

    from reports.models import Report

    now = timezone.now() - dt.timedelta(days=3)
    ids = insert_points([HA_LONG] * n, state="rated", created_at=now, authority=authority, province_code="22")
    late = now + dt.timedelta(days=9)
    Report.objects.filter(id__in=ids).update(resolve_due=now + dt.timedelta(days=5), rating_level=rating,
                                             resolved_at=now + dt.timedelta(days=1))
    Report.objects.filter(id__in=ids[on_time:]).update(resolved_at=late)
    return ids
