"""Pre-aggregated tables that low zooms, dashboards and the ranking read instead of raw
reports. They are written only by heatmaps.aggregates (refresh_* functions): never edit
them by hand, rebuild with ``refresh_all()``.

Both roll-ups are keyed by the MONTH a report was received: the planners' time slider
moves by month, and the dashboards show months. A report's month, place and (nearly
always) category never change, so a refresh recomputes whole months: exact even when a
report changes state, category or authority.
"""

from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Func


class CellCounts(models.Model):
    """Report counts per square cell of the EPSG:3857 grid of one zoom level and
    province. A cell of level z is 1/HEATMAP_BINS_PER_TILE of a tile's width at zoom z;
    cell (cx, cy) spans x in [cx*s, (cx+1)*s) measured from the grid's west / south edge
    (-20037508.34 m)."""

    level = models.SmallIntegerField()
    cx = models.IntegerField()
    cy = models.IntegerField()
    province_code = models.CharField(max_length=10, blank=True)
    n = models.IntegerField()
    # Overdue (reports.policy: past the deadline of the stage the report is in) when
    # the month was last refreshed.
    overdue = models.IntegerField(default=0)

    class Meta:
        abstract = True


class GridCells(CellCounts):
    """CellCounts by category and state too. Not by authority: commune committees would
    multiply the rows of every coarse cell by the communes in it; one authority's bins
    are computed from its own reports (index leading with the authority) instead."""

    category = models.ForeignKey("reports.Category", on_delete=models.CASCADE, db_constraint=False, related_name="+")
    state = models.CharField(max_length=20)

    class Meta:
        abstract = True


class GridRollup(GridCells):
    """GridCells of one month."""

    month = models.DateField()

    class Meta:
        indexes = [
            models.Index(fields=["level", "cx", "cy", "month"], name="heat_grid_tile"),
            # A tile of one month (the map's default): an index-only scan.
            models.Index(fields=["level", "month", "cx", "cy"], name="heat_grid_month_tile",
                         include=["n", "overdue", "category", "state", "province_code"]),
            models.Index(fields=["month"], name="heat_grid_month"),
        ]


class GridTotal(GridCells):
    """The grid roll-up summed over its months: one row per cell of a level, category,
    state and province. The map's "all time" bins (and the hotspots, the leaflet heat
    layer of all time) read it instead of every month's rows of their cells: at 1 M
    reports a z6-z9 tile of all time summed 60 months, 50-70 ms at p50 (z6: 160 ms
    at worst). Written by the refresh from the changes it makes to the grid roll-up
    (aggregates._add_to_grid_totals): its rows are always the sums of the grid's."""

    # the unique constraint below leads with the cell, not the category
    category = models.ForeignKey("reports.Category", on_delete=models.CASCADE, db_constraint=False, related_name="+",
                                 db_index=False)

    class Meta:
        constraints = [
            # The refresh's upsert key, and a tile's read: an index-only range of a level's
            # cells (n and overdue in the index).
            models.UniqueConstraint(fields=["level", "cx", "cy", "category", "state", "province_code"],
                                    name="heat_grid_total_cell", include=["n", "overdue"]),
        ]


class GridCellTotal(CellCounts):
    """GridTotal summed over categories and states: one row per cell of a level and
    province. The map's "all time" with no category or state filter (its heat layer
    too) reads one row a cell here: at 10 M reports a z8 tile of all time read 59,104
    rows of GridTotal (20 a cell), 23.5 ms at p50. Written with GridTotal, from the same
    changes (aggregates._add_to_grid_totals)."""

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["level", "cx", "cy", "province_code"], name="heat_grid_cell_total_cell",
                                    include=["n", "overdue"]),
        ]


class BinTile(models.Model):
    """The "bins" vector tile of one month, z = level, as the map asks for it with no
    other filter (its default view): rendered by the roll-up refresh from the grid
    roll-up (all categories, states and provinces summed per cell) and served as stored.

    Why stored: a tile rendered at request time reads every (cell, category, state,
    province) row of its month, and that grows with the reports — from 1 M to 10 M
    reports nationally a z9 tile's time grew 3.4x (bench/national.py). The refresh
    renders again only the tiles whose cells belong to the (month, province) pairs it
    refreshed (heatmaps.tiles.store_bin_tiles), so a stored tile is as fresh as the grid
    roll-up it comes from. No row: the tile is empty. ``provinces``: the province codes
    of its cells, so that a view limited to provinces (a jurisdiction, a province) uses
    the stored tile only when nothing else is in it."""

    level = models.SmallIntegerField()
    month = models.DateField()
    x = models.IntegerField()
    y = models.IntegerField()  # XYZ scheme: 0 at the north
    data = models.BinaryField()
    n = models.IntegerField()
    provinces = ArrayField(models.CharField(max_length=10))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "level", "x", "y"], name="heat_bintile_key")]


class PointTile(models.Model):
    """The "reports" (points) vector tile of one month (or of all time) at zoom z, as the
    map asks for it with no other filter (a month of its slider, or all time), for one
    audience: "all" (staff who see
    every report, and the tile renders of the refresh itself) or "public" (anyone: the
    public states only, reports.policy.access). Rendered by the roll-up refresh from the
    point projection, exactly as heatmaps.tiles.point_tile renders it at request time
    (the cap, inside first, the buffer), with overdue as of the refresh; served as stored
    at the zooms of HEATMAP_STORED_POINT_ZOOMS.

    Why stored: a point tile's time is its points (the GiST read, the MVT encoding): from
    1 M to 10 M reports nationally the median z10 tile of a month went from 167 to 1,668
    points and its render from 2.2 to 8.6 ms (bench/national.py). The refresh renders
    again the tiles of the points that changed, where they were and where they are, and
    the tiles gone stale (heatmaps.tiles.store_point_tiles). ``data`` is the tile's gzip, as the tile
    view sends it, the "capped" layer included. No row: the tile is empty. ``inside``:
    the points inside the tile (over the cap, the map says "capped"); ``provinces``: the
    province codes of every point in the tile or its buffer, so that a view limited to
    provinces uses the stored tile only when nothing else is in it."""

    audience = models.CharField(max_length=6)  # "all" or "public"
    z = models.SmallIntegerField()
    # None: the tile of all time (the map's "all time" view, at HEATMAP_STORED_ALL_TIME_ZOOMS)
    month = models.DateField(null=True)
    x = models.IntegerField()
    y = models.IntegerField()  # XYZ scheme: 0 at the north
    # None: due to be rendered again (a tile of all time whose points changed; until it is,
    # the tile is rendered when asked)
    data = models.BinaryField(null=True)
    n = models.IntegerField()  # features in the tile (the cap and the buffer included)
    inside = models.IntegerField()
    provinces = ArrayField(models.CharField(max_length=10))
    # The tile shows overdue as of its render: at this moment (a point's running deadline)
    # a point of it turns overdue, and a refresh of its province renders it again. None:
    # no point of it runs against a deadline.
    stale_after = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "z", "x", "y", "audience"], name="heat_pointtile_key",
                                               nulls_distinct=False)]
        indexes = [models.Index(fields=["z", "x", "y"], name="heat_pointtile_due",
                                condition=models.Q(month__isnull=True) & models.Q(data__isnull=True)),
                   models.Index(fields=["stale_after"], condition=models.Q(month__isnull=True),
                                name="heat_pointtile_stale")]


class RollupSums(models.Model):
    """The sums the dashboards and the ranking need. Rates are ratios of these sums, so
    any set of rows adds up exactly."""

    received = models.IntegerField(default=0)
    forwarded = models.IntegerField(default=0)
    forwarded_on_time = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    # Resolved with a resolve deadline: the denominator of the on-time rate.
    resolved_with_due = models.IntegerField(default=0)
    resolved_on_time = models.IntegerField(default=0)
    open = models.IntegerField(default=0)
    overdue = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    # Satisfaction: counts of rating levels 1..5.
    rating_1 = models.IntegerField(default=0)
    rating_2 = models.IntegerField(default=0)
    rating_3 = models.IntegerField(default=0)
    rating_4 = models.IntegerField(default=0)
    rating_5 = models.IntegerField(default=0)
    handling_seconds_sum = models.BigIntegerField(default=0)
    # Resolved reports per handling-time bucket (edges: aggregates.HANDLING_BUCKET_HOURS);
    # the median of a selection is interpolated from the summed histogram.
    handling_hist = ArrayField(models.IntegerField(), default=list)

    class Meta:
        abstract = True


class AuthorityRollup(RollupSums):
    """Per (authority, category, month, province): the finest roll-up, for one
    authority's figures and filters by category and authority."""

    authority = models.ForeignKey("boundaries.Authority", null=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                  related_name="+")
    category = models.ForeignKey("reports.Category", on_delete=models.CASCADE, db_constraint=False, related_name="+")
    month = models.DateField()
    province_code = models.CharField(max_length=10, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["authority", "month", "category"], name="heat_auth_month"),
            models.Index(fields=["province_code", "month"], name="heat_auth_prov"),
            models.Index(fields=["month"], name="heat_auth_m"),
        ]


class ProvinceRollup(RollupSums):
    """AuthorityRollup summed over authorities: per (province, category, month). The
    dashboards' figures (national, per province, per group, monthly) read this when no
    authority is asked for: its rows are bounded by provinces x categories x months,
    while the authority roll-up keeps growing with the reports (every commune committee
    x category x month that received one) — 4x the rows from 1 M to 10 M reports
    nationally (bench/national.py)."""

    category = models.ForeignKey("reports.Category", on_delete=models.CASCADE, db_constraint=False, related_name="+")
    month = models.DateField()
    province_code = models.CharField(max_length=10, blank=True)

    class Meta:
        indexes = [models.Index(fields=["month", "province_code"], name="heat_prov_month")]


class AuthorityMonthRollup(RollupSums):
    """AuthorityRollup summed over categories: per (authority, month, province). The
    ranking (every authority, no category filter) reads this: one row per authority
    and month however many reports and categories."""

    authority = models.ForeignKey("boundaries.Authority", null=True, on_delete=models.DO_NOTHING, db_constraint=False,
                                  related_name="+")
    month = models.DateField()
    province_code = models.CharField(max_length=10, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["month", "province_code"], name="heat_authm_month"),
            # a province's units over all months (the wall's league table): without it a
            # scan of every province's rows, 47 ms at 10 M reports instead of ~1 ms
            models.Index(fields=["province_code", "month"], name="heat_authm_prov"),
        ]


class RefreshState(models.Model):
    """The incremental refresh's watermarks (one row, name="default")."""

    name = models.CharField(max_length=40, unique=True)
    # Reports with updated_at after this are not yet in the roll-ups.
    updated_watermark = models.DateTimeField(null=True)
    # Deadlines up to this instant have been counted as overdue.
    due_watermark = models.DateTimeField(null=True)
    # Bumped on every refresh that changed something: part of tile URLs / ETags.
    data_version = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)
    # The zooms whose stored point tiles of all time are complete: every tile with a point
    # in it or its buffer has a row (rendered, or due). There a tile without a row is
    # empty, answered at once instead of rendered (heatmaps.tiles.stored_point_tile).
    all_time_tile_zooms = ArrayField(models.SmallIntegerField(), default=list)
    # The same for the stored point tiles of the months: every tile of a month with a
    # point in it or its buffer has a row, so a tile without one is empty. A zoom is
    # complete once every month was rendered at it (a full render, migration 0021, or a
    # database without points when this row was made); a zoom taken out of
    # HEATMAP_STORED_POINT_ZOOMS leaves it at the next refresh (its rows are no longer
    # kept up to date).
    month_tile_zooms = ArrayField(models.SmallIntegerField(), default=list)


class ReportPoint(models.Model):
    """One row per report (placeholders left out): the point-tile projection.

    Written month by month by the roll-up refresh, in spatial order (geohash) within a
    month, so the reports of a tile and a month lie on a few pages; the point is kept
    in EPSG:3857, ready for ST_AsMVTGeom. Point tiles read this, never the reports
    table: they show what the last refresh saw (the beat runs every 30 s)."""

    report_id = models.BigIntegerField(primary_key=True)
    month = models.DateField()
    created_at = models.DateTimeField()
    geom = models.PointField(srid=3857, spatial_index=False)
    # The point's coordinates as plain numbers, written by PostgreSQL from geom: a tile
    # tests every point against its exact bounds, and ST_X / ST_Y read the geometry
    # again for each test (heatmaps.tiles.point_tile_sql).
    x = models.GeneratedField(expression=Func("geom", function="ST_X", output_field=models.FloatField()),
                              output_field=models.FloatField(), db_persist=True)
    y = models.GeneratedField(expression=Func("geom", function="ST_Y", output_field=models.FloatField()),
                              output_field=models.FloatField(), db_persist=True)
    code = models.CharField(max_length=32)
    category = models.CharField(max_length=60)
    category_id = models.BigIntegerField()
    state = models.CharField(max_length=20)
    # Both deadlines, under the reports' column names, so that policy.overdue_sql("p")
    # applies to this table as it is.
    forward_due = models.DateTimeField(null=True)
    resolve_due = models.DateTimeField(null=True)
    authority_id = models.BigIntegerField(null=True)
    province_code = models.CharField(max_length=10, blank=True)

    class Meta:
        indexes = [models.Index(fields=["month"], name="heat_point_month")]
