"""All the aggregation SQL of the heatmaps, in one readable place.

Grid bins
    Square cells of the EPSG:3857 grid. At zoom z a cell is 1/HEATMAP_BINS_PER_TILE of a
    tile's width (64 → 1.2 km at z9, 19.6 km at z5). Cell (cx, cy) of level z spans
    [ORIGIN + cx*s, ORIGIN + (cx+1)*s) with s = WORLD / (2^z * B) and ORIGIN the grid's
    west/south edge; the same cells as ST_SquareGrid(s) shifted by 2^z*B/2.
Roll-ups (heatmaps.models)
    GridRollup (level, cell, month, category, state, province) and its sums over the
    months, GridTotal and GridCellTotal (what "all time" reads),
    AuthorityRollup (authority, category, month, province) with the dashboard sums, its
    two coarser sums ProvinceRollup (province, category, month: the dashboards) and
    AuthorityMonthRollup (authority, month, province: the ranking), whose rows do not
    grow with the number of reports, and
    ReportPoint (one row per report, EPSG:3857, spatially ordered within its month) for
    the point tiles.
    Low zooms, heat layers, dashboards and the ranking read these, never raw reports.
    They are refreshed by MONTH of reception and PROVINCE: ``refresh_months``
    recomputes the (month, province) pairs touched by changed reports — exact whatever
    changed (state, category, authority, deadlines), as a report's reception time and
    province code do not change (a re-routing across provinces at a boundary cut-over
    must be followed by refresh_all()).
    ``refresh_for_reports(ids)`` after a bulk import, ``refresh_incremental()`` on the
    beat (reports with updated_at past the watermark, and open reports whose running
    deadline — forward or resolve, reports.policy — passed since the last run: "overdue"
    is as of the last refresh), ``refresh_all()``
    after the demo load. Deleted reports are only dropped by refresh_all(), which
    deletes and rewrites every row in one transaction: readers keep the rows of before
    until it commits. One refresh writes at a time (lock_refreshes).
Placeholder points
    Records whose location is a known "not geocoded" default (Boston's City Hall,
    settings.HEATMAP_PLACEHOLDER_POINTS) keep their location but are left out of every
    spatial layer (grid roll-up, heat, point tiles, hotspots, choropleths by geometry).
Periods and time zone
    Months and days are those of settings.TIME_ZONE (Asia/Ho_Chi_Minh). Roll-up readers
    round a period to whole months; raw readers use the exact days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from boundaries.lookup import placement_sql
from geo_portal.dates import filter_date_error
from reports import policy

WORLD = 40075016.685578488
ORIGIN = -20037508.342789244
# Handling time histogram bucket upper edges, in hours (last bucket: beyond).
HANDLING_BUCKET_HOURS = (1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 336, 504, 720, 1440)


def conf(name):
    """A HEATMAP_* setting (declared in geo_portal/settings.py), read when used so that
    tests can override it."""
    return getattr(settings, name)


def tz():
    return ZoneInfo(settings.TIME_ZONE)


def cell_size(level):
    return WORLD / (2**level * conf("HEATMAP_BINS_PER_TILE"))


def bin_levels():
    return list(range(conf("HEATMAP_MIN_LEVEL"), conf("HEATMAP_MAX_BIN_ZOOM") + 1))


def not_placeholder_sql(alias="r"):
    """SQL condition true when the report's location is not a known placeholder point."""
    parts = []
    for lon, lat in conf("HEATMAP_PLACEHOLDER_POINTS"):
        lon, lat = float(lon), float(lat)
        parts.append(
            f"NOT (abs(ST_X({alias}.location) - ({lon!r})) < 1e-7 AND abs(ST_Y({alias}.location) - ({lat!r})) < 1e-7)"
        )
    return " AND ".join(parts) or "TRUE"


# --- filters -----------------------------------------------------------------------


class FilterError(ValueError):
    """Bad filter input; ``errors`` maps a field to its translated message."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors


@dataclass
class Filters:
    start: dt.date | None = None  # inclusive, local day
    end: dt.date | None = None  # inclusive, local day
    category_ids: list[int] | None = None
    states: list[str] | None = None
    authority_id: int | None = None
    province: str | None = None
    # The jurisdiction's scope on province_code (boundaries.jurisdictions.scope): a
    # list of codes it is, or of codes it is not (the home country: not another
    # country's). Both None: no scope (a caller's own Filters()).
    jurisdiction: str | None = None
    codes_in: list[str] | None = None
    codes_not_in: list[str] | None = None
    extra: dict = field(default_factory=dict)
    # Who may see which report (reports.policy.access.report_scope): raw SQL only; the
    # roll-ups are counts and count every report.
    scope: object = None

    def scope_to(self, jurisdiction=None):
        """Limit to a jurisdiction (a boundaries.Jurisdiction; None: the home country)."""
        from boundaries import jurisdictions

        self.jurisdiction = jurisdiction.code if jurisdiction is not None else None
        self.codes_in, self.codes_not_in = jurisdictions.scope(jurisdiction)
        return self

    # The query parameters from_params reads (the heatmaps' response cache keys on these).
    PARAMS = ("start", "end", "month", "category", "state", "authority", "province", "jurisdiction")

    @classmethod
    def from_params(cls, params):
        """From query parameters: start, end (YYYY-MM-DD), month (YYYY-MM),
        category (codes, comma separated; a group's code means all its categories),
        state (comma separated), authority (code), province (code), jurisdiction (a
        province's code "22", a city's slug "boston", a country "VN"). Without a
        jurisdiction, province or authority the scope is the home country: the
        national views never add another country's records to Vietnam's."""
        from boundaries.models import Authority
        from reports.models import Category, Report

        errors, f = {}, cls()

        def parse_day(name):
            value = params.get(name)
            if not value:
                return None
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                errors[name] = _("Ngày không hợp lệ (định dạng YYYY-MM-DD).")
                return None
            if filter_date_error(day):
                errors[name] = filter_date_error(day)
                return None
            return day

        f.start, f.end = parse_day("start"), parse_day("end")
        month = params.get("month")
        if month:
            try:
                y, m = (int(p) for p in month.split("-"))
                f.start = dt.date(y, m, 1)
                f.end = (dt.date(y + m // 12, m % 12 + 1, 1)) - dt.timedelta(days=1)
            except (ValueError, TypeError):
                errors["month"] = _("Tháng không hợp lệ (định dạng YYYY-MM).")
            else:
                if filter_date_error(f.start) or filter_date_error(f.end):
                    errors["month"] = filter_date_error(f.start) or filter_date_error(f.end)
        if f.start and f.end and f.start > f.end:
            errors["end"] = _("Ngày kết thúc phải sau ngày bắt đầu.")
        codes = [c for c in (params.get("category") or "").split(",") if c]
        if codes:
            cats = list(Category.objects.filter(code__in=codes).values_list("id", "code"))
            found = {c for _i, c in cats}
            missing = [c for c in codes if c not in found]
            if missing:
                errors["category"] = _("Không có lĩnh vực: %(codes)s") % {"codes": ", ".join(missing)}
            ids = [i for i, _c in cats]
            ids += list(Category.objects.filter(parent_id__in=ids).values_list("id", flat=True))
            f.category_ids = sorted(set(ids))
        states = [s for s in (params.get("state") or "").split(",") if s]
        if states:
            bad = [s for s in states if s not in policy.ALL and s not in policy.GROUPS]
            if bad:
                errors["state"] = _("Trạng thái không hợp lệ: %(s)s") % {"s": ", ".join(bad)}
            f.states = policy.expand(states)
        auth = params.get("authority")
        if auth:
            a = Authority.objects.filter(code=auth).values_list("id", flat=True).first()
            if a is None:
                errors["authority"] = _("Không có cơ quan mã %(code)s.") % {"code": auth}
            f.authority_id = a
        prov = params.get("province")
        if prov:
            from boundaries.models import Area

            if len(prov) > 10:
                errors["province"] = _("Mã tỉnh không hợp lệ.")
            # a province of the boundaries, or the jurisdiction of imported records
            elif not (Area.objects.filter(code=prov, type__code="province").exists()
                      or Report.objects.filter(province_code=prov).exists()):
                errors["province"] = _("Không có tỉnh mã %(code)s.") % {"code": prov}
            f.province = prov
        jcode = params.get("jurisdiction")
        j = None
        if jcode:
            from boundaries import jurisdictions

            try:
                j = jurisdictions.require(jcode)
            except jurisdictions.UnknownJurisdiction as exc:
                errors["jurisdiction"] = str(exc)
        if errors:
            raise FilterError(errors)
        if j is not None or not (prov or auth):
            f.scope_to(j)
        return f

    def one_month(self):
        """The month of a period within one month (the roll-ups round periods to whole
        months), else None."""
        if self.start and self.end and self.start.replace(day=1) == self.end.replace(day=1):
            return self.start.replace(day=1)
        return None

    def whole_month(self):
        """The month of a period that is exactly one calendar month (the map's month
        slider), else None: what the stored point tiles answer (raw reports are counted
        by day, not rounded to months as the roll-ups are)."""
        month = self.one_month()
        if month and self.start == month and self.end == next_month(month) - dt.timedelta(days=1):
            return month
        return None

    def by_time_and_place_only(self):
        """No category, state or authority filter: the views the stored tiles may answer
        (their period and provinces are checked apart)."""
        return self.category_ids is None and self.states is None and self.authority_id is None

    def counts_province(self, code):
        """Whether reports of province ``code`` are in this view: the province filter and
        the jurisdiction scope (the province_code conditions of raw_sql / rollup_sql)."""
        if self.province and code != self.province:
            return False
        if self.codes_in is not None:
            return code in self.codes_in
        return not (self.codes_not_in and code in self.codes_not_in)

    def _what_and_where_sql(self, alias, where, params, with_state=True, with_authority=True):
        """Append the conditions beside the period, the same on raw reports (raw_sql) and
        on the roll-ups (rollup_sql): category, state, authority, province, jurisdiction
        scope (a roll-up without a state or authority column leaves that one out)."""
        if self.category_ids is not None:
            where.append(f"{alias}.category_id = ANY(%s::bigint[])")
            params.append(self.category_ids)
        if with_state and self.states is not None:
            if self.states and set(self.states) <= set(policy.ALL.values):
                # Written out, not a parameter: a prepared statement's generic plan cannot
                # see a parameter's states, and so never takes an index on a group of
                # them (the open reports' points, migration 0019).
                where.append(policy.StateGroup("filter", self.states).sql(alias))
            else:
                where.append(f"{alias}.state = ANY(%s::text[])")
                params.append(self.states)
        if with_authority and self.authority_id is not None:
            where.append(f"{alias}.authority_id = %s")
            params.append(self.authority_id)
        if self.province:
            where.append(f"{alias}.province_code = %s")
            params.append(self.province)
        scope_where, scope_params = self._scope_sql(alias)
        where += scope_where
        params += scope_params

    def _scope_sql(self, alias):
        if self.codes_in is not None:
            return [f"{alias}.province_code = ANY(%s::text[])"], [list(self.codes_in)]
        if self.codes_not_in:
            return [f"{alias}.province_code <> ALL(%s::text[])"], [list(self.codes_not_in)]
        return [], []

    def key(self):
        return (self.start, self.end, tuple(self.category_ids or ()), tuple(self.states or ()), self.authority_id,
                self.province,
                None if self.codes_in is None else tuple(self.codes_in),
                None if self.codes_not_in is None else tuple(self.codes_not_in))

    # -- SQL for raw reports (alias r) ------------------------------------------------
    def raw_sql(self, alias="r"):
        where, params = [], []
        if self.start:
            where.append(f"{alias}.created_at >= %s")
            params.append(local_midnight(self.start))
        if self.end:
            where.append(f"{alias}.created_at < %s")
            params.append(local_midnight(self.end + dt.timedelta(days=1)))
        self._what_and_where_sql(alias, where, params)
        if self.scope is not None:
            scope_sql, scope_params = self.scope.sql(alias)
            where.append(scope_sql)
            params += scope_params
        return (" AND ".join(where) or "TRUE"), params

    # -- SQL for the roll-ups (alias g): periods rounded to whole months --------------
    def rollup_sql(self, alias="g", with_state=True, with_authority=True):
        where, params = [], []
        if self.one_month():
            # One month (the map's default) as an equality: the grid's (level, month, cx,
            # cy) index then bounds the cells too. As ">= m AND <= m" the planner took
            # the (level, cx, cy, month) index and read every month of the tile's cells
            # (a z9 bin tile at 10 M reports: 2,342 pages for 538 rows, 32 ms).
            where.append(f"{alias}.month = %s")
            params.append(self.one_month())
        else:
            if self.start:
                where.append(f"{alias}.month >= %s")
                params.append(self.start.replace(day=1))
            if self.end:
                where.append(f"{alias}.month <= %s")
                params.append(self.end.replace(day=1))
        self._what_and_where_sql(alias, where, params, with_state, with_authority)
        return (" AND ".join(where) or "TRUE"), params


def parse_jurisdiction(params):
    """The Jurisdiction of ?jurisdiction= on the wall's endpoints, or None (the home
    country); an unknown one is a field error."""
    from boundaries import jurisdictions

    jcode = params.get("jurisdiction")
    if not jcode:
        return None
    try:
        return jurisdictions.require(jcode)
    except jurisdictions.UnknownJurisdiction as exc:
        raise FilterError({"jurisdiction": str(exc)}) from None


def place_sql(alias="r", province=None, jurisdiction=None):
    """WHERE fragment and parameters for "in this province", else "in this
    jurisdiction" (a boundaries.Jurisdiction), else the home country: what the wall's
    raw queries use instead of Filters."""
    if province:
        return f"{alias}.province_code = %s", [province]
    where, params = Filters().scope_to(jurisdiction)._scope_sql(alias)
    return (" AND ".join(where) or "TRUE"), params


def local_midnight(day):
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz())


def month_start(day):
    return day.replace(day=1)


def next_month(day):
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def fetchall(sql, params=()):
    with connection.cursor() as cur:
        cur.execute(sql, params)
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


# --- refresh -----------------------------------------------------------------------


def _reports_of_pairs_sql(everything=False):
    """The FROM of the refresh's inserts: reports ``r`` with ``m.month``, the local
    month they are counted in. The (month, province) pairs asked for, each an index
    range of (province_code, created_at); or, for a rebuild from scratch, every report
    in one pass with its month computed from its own time (joined to 2,000 pairs the
    hash join on the province compared each report with all 60 months of it: 600 M
    comparisons for 10 M reports, bench/national.py)."""
    if everything:
        return ("(SELECT * FROM reports_report r0 WHERE r0.province_code = ANY(%(provinces)s::text[])) r "
                "CROSS JOIN LATERAL (SELECT date_trunc('month', r.created_at AT TIME ZONE %(tz)s)::date AS month) m")
    # One index range scan of (province_code, created_at) per pair: OFFSET 0 keeps the
    # subquery from being flattened into a join, for which the planner (one row
    # estimated per pair) chose a sequential scan of every report — the beat's refresh
    # of one month then read all 10 M.
    return """unnest(%(months)s::date[], %(starts)s::timestamptz[], %(ends)s::timestamptz[], %(provinces)s::text[])
         AS m(month, s, e, province)
    CROSS JOIN LATERAL (SELECT * FROM reports_report r0
                        WHERE r0.province_code = m.province AND r0.created_at >= m.s AND r0.created_at < m.e
                        OFFSET 0) r"""


GRID_COLUMNS = ("level", "cx", "cy", "month", "category_id", "state", "province_code", "n", "overdue")

# The sums of the grid over its months (heatmaps.models.GridTotal, GridCellTotal): table
# -> the grid's columns it keeps.
GRID_TOTALS = {
    "heatmaps_gridtotal": ("level", "cx", "cy", "category_id", "state", "province_code"),
    "heatmaps_gridcelltotal": ("level", "cx", "cy", "province_code"),
}


def _grid_insert_sql(everything=False):
    return f"INSERT INTO heatmaps_gridrollup ({', '.join(GRID_COLUMNS)}) {_grid_select_sql(everything)}"


def _grid_select_sql(everything=False):
    B = conf("HEATMAP_BINS_PER_TILE")
    lv = bin_levels()
    source = _reports_of_pairs_sql(everything)
    return f"""
    SELECT l.level,
           floor((p.x - ({ORIGIN!r})) / ({WORLD!r} / (2 ^ l.level * {B})))::int AS cx,
           floor((p.y - ({ORIGIN!r})) / ({WORLD!r} / (2 ^ l.level * {B})))::int AS cy,
           p.month, p.category_id, p.state, p.province_code,
           count(*) AS n, count(*) FILTER (WHERE p.overdue) AS overdue
    FROM (
        SELECT ST_X(g) AS x, ST_Y(g) AS y, m.month, r.category_id, r.state, r.province_code,
               {policy.overdue_sql('r', '%(now)s')} AS overdue
        FROM {source}
        CROSS JOIN LATERAL ST_Transform(r.location, 3857) AS g
        WHERE {not_placeholder_sql('r')}
          AND ST_Y(r.location) BETWEEN -85 AND 85
    ) p
    CROSS JOIN unnest(ARRAY{lv}::int[]) AS l(level)
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    """


def _handling_hist_sql(alias="r"):
    hours = f"(extract(epoch FROM {alias}.resolved_at - {alias}.created_at) / 3600.0)"
    resolved = f"{alias}.resolved_at IS NOT NULL AND NOT {policy.OPEN.sql(alias)}"
    parts, lo = [], None
    for edge in HANDLING_BUCKET_HOURS + (None,):
        cond = [resolved]
        if lo is not None:
            cond.append(f"{hours} >= {lo}")
        if edge is not None:
            cond.append(f"{hours} < {edge}")
        parts.append(f"count(*) FILTER (WHERE {' AND '.join(cond)})::int")
        lo = edge
    return "ARRAY[" + ", ".join(parts) + "]"


def _authority_insert_sql(everything=False):
    resolved = f"r.resolved_at IS NOT NULL AND NOT {policy.OPEN.sql('r')}"
    ratings = ", ".join(f"count(*) FILTER (WHERE r.rating_level = {i})" for i in range(1, 6))
    source = _reports_of_pairs_sql(everything)
    return f"""
    INSERT INTO heatmaps_authorityrollup (authority_id, category_id, month, province_code, received, forwarded,
        forwarded_on_time, resolved, resolved_with_due, resolved_on_time, open, overdue, rejected,
        rating_1, rating_2, rating_3, rating_4, rating_5, handling_seconds_sum, handling_hist)
    SELECT r.authority_id, r.category_id, m.month, r.province_code,
           count(*),
           count(*) FILTER (WHERE r.forwarded_at IS NOT NULL),
           count(*) FILTER (WHERE r.forwarded_at IS NOT NULL
                            AND (r.forward_due IS NULL OR r.forwarded_at <= r.forward_due)),
           count(*) FILTER (WHERE {resolved}),
           count(*) FILTER (WHERE {resolved} AND r.resolve_due IS NOT NULL),
           count(*) FILTER (WHERE {resolved} AND r.resolve_due IS NOT NULL AND r.resolved_at <= r.resolve_due),
           count(*) FILTER (WHERE {policy.OPEN.sql('r')}),
           count(*) FILTER (WHERE {policy.overdue_sql('r', '%(now)s')}),
           count(*) FILTER (WHERE r.state = '{policy.State.REJECTED.value}'),
           {ratings},
           coalesce(sum(extract(epoch FROM r.resolved_at - r.created_at)) FILTER (WHERE {resolved}), 0)::bigint,
           {_handling_hist_sql('r')}
    FROM {source}
    GROUP BY r.authority_id, r.category_id, m.month, r.province_code
    """


# The sums of heatmaps.models.RollupSums (the histogram apart).
ROLLUP_SUM_FIELDS = (
    "received", "forwarded", "forwarded_on_time", "resolved", "resolved_with_due", "resolved_on_time",
    "open", "overdue", "rejected", "rating_1", "rating_2", "rating_3", "rating_4", "rating_5",
    "handling_seconds_sum",
)
# The coarser roll-ups: table -> the authority roll-up's keys it keeps.
SUMMARY_ROLLUPS = {
    "heatmaps_provincerollup": ("category_id", "month", "province_code"),
    "heatmaps_authoritymonthrollup": ("authority_id", "month", "province_code"),
}
# Everything a refresh writes (refresh_all empties them all first, with DELETE).
ROLLUP_TABLES = ("heatmaps_gridrollup", *GRID_TOTALS, "heatmaps_authorityrollup", "heatmaps_reportpoint",
                 *SUMMARY_ROLLUPS,
                 "heatmaps_bintile", "heatmaps_pointtile")


def pair_params(months, provinces) -> dict:
    """The parameters pairs_sql reads for the refreshed (month, province) pairs, given as
    two lists: the distinct months, and each pair as a key "YYYY-MM-DD code"."""
    return {"months_only": sorted(set(months)),
            "pair_keys": [f"{m:%Y-%m-%d} {p}" for m, p in zip(months, provinces, strict=True)]}


def pairs_sql(alias) -> str:
    """WHERE fragment: the rows of ``alias`` (a roll-up: month, province_code) of the
    refreshed pairs (the parameters of pair_params): an index range of the months, then
    a row's pair looked up in the array of keys, which PostgreSQL hashes — one pass over
    the months' rows. Written as a join of the pairs, ``(month, province_code) IN
    (SELECT * FROM unnest(...))``, the planner scanned every row of the roll-up (the grid
    at 1 M reports: 5 M rows for 40 k, 0.8 s) or the month's rows once per pair (34
    times)."""
    return (f"{alias}.month = ANY(%(months_only)s::date[]) AND "
            f"(to_char({alias}.month, 'YYYY-MM-DD') || ' ' || {alias}.province_code) = ANY(%(pair_keys)s::text[])")


def _summary_insert_sql(table):
    """Sum the authority roll-up's rows of the refreshed (month, province) pairs into a
    coarser roll-up (the sums add up exactly: they are counts)."""
    keys = ", ".join(SUMMARY_ROLLUPS[table])
    cols = ", ".join(ROLLUP_SUM_FIELDS)
    sums = ", ".join(f"sum(a.{k})" for k in ROLLUP_SUM_FIELDS)
    hist = ", ".join(f"coalesce(sum(a.handling_hist[{i}]), 0)::int" for i in range(1, len(HANDLING_BUCKET_HOURS) + 2))
    return f"""
    INSERT INTO {table} ({keys}, {cols}, handling_hist)
    SELECT {keys}, {sums}, ARRAY[{hist}]
    FROM heatmaps_authorityrollup a
    WHERE {pairs_sql("a")}
    GROUP BY {keys}
    """


def _points_insert_sql(everything=False):
    source = _reports_of_pairs_sql(everything)
    return f"""
    INSERT INTO heatmaps_reportpoint (report_id, month, created_at, geom, code, category, category_id, state,
                                      forward_due, resolve_due, authority_id, province_code)
    SELECT r.id, m.month, r.created_at, ST_Transform(r.location, 3857), r.code, c.code, r.category_id, r.state,
           r.forward_due, r.resolve_due, r.authority_id, r.province_code
    FROM {source}
    JOIN reports_category c ON c.id = r.category_id
    WHERE {not_placeholder_sql('r')} AND ST_Y(r.location) BETWEEN -85 AND 85
    ORDER BY m.month, ST_GeoHash(r.location, 5), r.created_at
    """


def refresh_months(months, now=None, everything=False):
    """Recompute the roll-ups for these months — dates (any day of the month: every
    province) or (month, province_code) pairs (that province only). ``everything``:
    the pairs are all there are of their provinces and the roll-ups have none of
    them (refresh_all)."""
    pairs = set()
    wanted_all = sorted({month_start(m) for m in months if not isinstance(m, tuple)})
    if wanted_all:
        pairs |= set(_pairs_of("created_at >= %s AND created_at < %s",
                               [local_midnight(min(wanted_all)), local_midnight(next_month(max(wanted_all)))]))
        pairs = {p for p in pairs if p[0] in wanted_all} | {(m, None) for m in wanted_all}
    pairs |= {(month_start(x[0]), x[1]) for x in months if isinstance(x, tuple)}
    # a whole month asked for: also clear rows of provinces it no longer has
    whole = sorted({m for m, p in pairs if p is None})
    pairs = sorted({(m, p) for m, p in pairs if p is not None})
    if not pairs and not whole:
        return 0
    now = now or timezone.now()
    params = {
        "months": [m for m, _p in pairs],
        "starts": [local_midnight(m) for m, _p in pairs],
        "ends": [local_midnight(next_month(m)) for m, _p in pairs],
        "provinces": [p for _m, p in pairs],
        **pair_params([m for m, _p in pairs], [p for _m, p in pairs]),
        "now": now,
        "tz": settings.TIME_ZONE,
    }
    from heatmaps import tiles

    stored_tiles_args = (params["months"], params["provinces"], whole, now)
    with transaction.atomic(), connection.cursor() as cur:
        if not everything:  # refresh_all holds the lock already (bench/national.py: the only writer)
            lock_refreshes()
            tiles.store_tiles(cur, "before", *stored_tiles_args)
        for table in ("heatmaps_gridrollup", "heatmaps_authorityrollup", *SUMMARY_ROLLUPS, "heatmaps_reportpoint"):
            grid = table == "heatmaps_gridrollup"
            if whole:
                if grid:
                    _add_to_grid_totals(cur, "FROM heatmaps_gridrollup g WHERE g.month = ANY(%(whole)s::date[])",
                                        {"whole": whole}, sign=-1)
                cur.execute(f"DELETE FROM {table} WHERE month = ANY(%s::date[])", [whole])
            if everything and grid:
                _add_to_grid_totals(cur, f"FROM heatmaps_gridrollup g WHERE {pairs_sql('g')}", params, sign=-1)
            if everything or not grid:
                cur.execute(f"DELETE FROM {table} t WHERE {pairs_sql('t')}", params)
        if everything:
            cur.execute(_grid_insert_sql(everything), params)
            _add_to_grid_totals(cur, f"FROM heatmaps_gridrollup g WHERE {pairs_sql('g')}", params)
        else:
            _write_grid_changes(cur, params)
        if pairs:
            cur.execute(_authority_insert_sql(everything), params)
            for table in SUMMARY_ROLLUPS:
                cur.execute(_summary_insert_sql(table), params)
            cur.execute(_points_insert_sql(everything), params)
        if not everything:  # refresh_all renders them all at the end
            tiles.store_tiles(cur, "after", *stored_tiles_args)
        _bump_version(now)
    return len(pairs)


def _write_grid_changes(cur, params):
    """The grid roll-up of the refreshed pairs written as a change: the rows whose cell,
    category, state, province or counts are no longer there deleted, the new ones
    inserted, the others left alone. A day's reports change a fifth of their month's
    rows; deleting and writing the whole month again kept the grid's five indexes busy
    with rows that did not change (at 10 M reports: 6.4 of a day's 19.6 s). The rows
    before and after are matched in one hash join of the month's rows (a probe of the
    index per new row: 1.8 s, 7.9 M heap fetches). The cells of the rows that went or came
    stay in ``_grid_changed`` (level, month, cx, cy): the stored bin tiles to render
    again (tiles.store_bin_tiles)."""
    same = " AND ".join(f"w.{c} = g.{c}" for c in GRID_COLUMNS)
    # a row that went: g's columns; a row that came: w's
    either = ", ".join(f"coalesce(w.{c}, g.{c}) AS {c}" for c in GRID_COLUMNS)
    columns = ", ".join(GRID_COLUMNS)
    cur.execute("DROP TABLE IF EXISTS _grid_new, _grid_changed")
    cur.execute(f"CREATE TEMP TABLE _grid_new ON COMMIT DROP AS {_grid_select_sql()}", params)
    cur.execute("ANALYZE _grid_new")
    # g.id: a row that went; w.*: a row that came
    cur.execute(f"""
        CREATE TEMP TABLE _grid_changed ON COMMIT DROP AS
        SELECT g.id, {either}, w.level IS NOT NULL AS came
        FROM (SELECT * FROM heatmaps_gridrollup g WHERE {pairs_sql("g")}) g
        FULL JOIN _grid_new w ON {same}
        WHERE g.id IS NULL OR w.level IS NULL""", params)
    cur.execute("DELETE FROM heatmaps_gridrollup g USING _grid_changed c WHERE g.id = c.id")
    cur.execute(f"INSERT INTO heatmaps_gridrollup ({columns}) SELECT {columns} FROM _grid_changed WHERE came")
    _add_to_grid_totals(cur, "FROM _grid_changed g", {}, sign="CASE WHEN g.came THEN 1 ELSE -1 END")
    cur.execute("DROP TABLE _grid_new")


def _add_to_grid_totals(cur, rows_sql, params, sign=1):
    """Add grid roll-up rows (``rows_sql``: "FROM … g WHERE …", the grid's columns under
    alias g) times ``sign`` (1, -1, or an SQL expression of g) to the sums of all time
    (GRID_TOTALS), in the refresh that wrote or is about to delete them: every change to
    the grid is one here, so a total stays the sum of its cell's months. A total that
    reaches 0 reports goes."""
    for table, key_columns in GRID_TOTALS.items():
        key = ", ".join(key_columns)
        of_g = ", ".join(f"g.{c}" for c in key_columns)
        cur.execute(f"""
            WITH up AS (
                INSERT INTO {table} AS t ({key}, n, overdue)
                SELECT {of_g}, sum(({sign}) * g.n), sum(({sign}) * g.overdue)
                {rows_sql}
                GROUP BY {of_g}
                HAVING sum(({sign}) * g.n) <> 0 OR sum(({sign}) * g.overdue) <> 0
                ON CONFLICT ({key}) DO UPDATE SET n = t.n + EXCLUDED.n, overdue = t.overdue + EXCLUDED.overdue
                RETURNING t.id, t.n)
            SELECT id FROM up WHERE n = 0""", params)
        emptied = [row[0] for row in cur.fetchall()]
        if emptied:
            cur.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [emptied])


def _pairs_of(where_sql, params):
    """(local month, province_code) of the reports matching a condition."""
    sql = f"""SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE %s)::date AS m, province_code
              FROM reports_report WHERE {where_sql}"""
    with connection.cursor() as cur:
        cur.execute(sql, [settings.TIME_ZONE, *params])
        return [(row[0], row[1]) for row in cur.fetchall()]


def _state():
    """The refresh state's row, made when missing. Made on a database without points,
    every zoom of the stored month tiles is complete (there is nothing to render)."""
    from heatmaps.models import RefreshState, ReportPoint

    obj = RefreshState.objects.filter(name="default").first()
    if obj is not None:
        return obj
    complete = [] if ReportPoint.objects.exists() else list(conf("HEATMAP_STORED_POINT_ZOOMS"))
    obj, _created = RefreshState.objects.get_or_create(name="default", defaults={"month_tile_zooms": complete})
    return obj


def lock_refreshes():
    """Let one refresh write the roll-ups at a time, until its transaction ends. Readers
    never wait (refresh_all deletes rows, it does not truncate), so two refreshes would
    otherwise each insert a (month, province) pair's rows that the other's snapshot
    could not see to delete: counted twice. Returns the refresh state, locked."""
    from heatmaps.models import RefreshState

    _state()
    return RefreshState.objects.select_for_update().get(name="default")


def _bump_version(now):
    from heatmaps import tile_cache
    from heatmaps.models import RefreshState

    _state()
    RefreshState.objects.filter(name="default").update(data_version=F("data_version") + 1, refreshed_at=now)
    # This process forgets the version now (its own next tile reads the new one) and
    # again once committed (a tile read in between may have fetched the old one).
    tile_cache.version_moved()
    transaction.on_commit(tile_cache.version_moved)


def refresh_for_reports(ids):
    """Bring the roll-ups up to date for these reports (after an import or a service hook)."""
    ids = list(ids)
    if not ids:
        return 0
    return refresh_months(_pairs_of("id = ANY(%s)", [ids]))


def refresh_incremental(now=None):
    """The beat's job: months of reports changed since the watermark, and of open
    reports whose running deadline (forward or resolve) passed since the last run.
    Returns months refreshed."""
    from heatmaps.models import RefreshState

    now = now or timezone.now()
    with transaction.atomic():
        st = lock_refreshes()
        if st.updated_watermark is None:
            count = refresh_all(now=now)
        else:
            months = set(_pairs_of("updated_at > %s", [st.updated_watermark]))
            since = st.due_watermark or st.updated_watermark
            months |= set(_pairs_of(policy.due_passed_sql("", "%s", "%s"), [since, now] * len(policy.STAGES)))
            count = refresh_months(months, now=now)
        # A transaction that started before ``now`` may commit later with an older
        # updated_at: keep a small lag so the next run sees it (it costs a re-refresh).
        lag = dt.timedelta(seconds=conf("HEATMAP_REFRESH_LAG_S"))
        RefreshState.objects.filter(name="default").update(updated_watermark=now - lag, due_watermark=now)
    return count


def refresh_all(now=None):
    """Rebuild both roll-ups from scratch (demo load, after deletions, after migrations)."""
    from heatmaps import tiles
    from heatmaps.models import RefreshState

    now = now or timezone.now()
    with transaction.atomic():
        lock_refreshes()
        with connection.cursor() as cur:
            # DELETE, not TRUNCATE: TRUNCATE's lock made every map, dashboard and wall
            # read wait for the whole rebuild (~16 min at 10 M reports); with DELETE
            # they read the roll-ups as they were until this commits. The cost: the old
            # rows stay on disk until VACUUM (below).
            for table in ROLLUP_TABLES:
                cur.execute(f"DELETE FROM {table}")
        months = _pairs_of("TRUE", [])
        refresh_months(months, now=now, everything=True)
        tiles.store_all_tiles(now)
        _state()
        lag = dt.timedelta(seconds=conf("HEATMAP_REFRESH_LAG_S"))
        RefreshState.objects.filter(name="default").update(updated_watermark=now - lag, due_watermark=now)
        if not months:
            _bump_version(now)
    # The deleted rows' space given back (VACUUM cannot run inside a transaction: within
    # one, e.g. a test's, autovacuum does it later).
    analyze = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cur:
        for table in ROLLUP_TABLES:
            cur.execute(f"{analyze} {table}")
        # The raw tables too: after a bulk load (demo, import) without autovacuum the
        # planner's estimates of one row turn the per-commune counts of a province
        # (choropleth, the IOC wall) into nested loops — 5 s instead of 0.3 s.
        for table in ("reports_report", "boundaries_area", "boundaries_areapart"):
            cur.execute(f"ANALYZE {table}")
    return len(months)


def data_version():
    """A token that changes whenever the data a map shows changes: the roll-ups'
    version and the newest report change. Part of tile URLs and ETags."""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT coalesce((SELECT data_version FROM heatmaps_refreshstate WHERE name = 'default'), 0),
                      (SELECT (extract(epoch FROM max(updated_at)) * 1000000)::bigint FROM reports_report)"""
        )
        v, last = cur.fetchone()
    return f"{v}-{last or 0}"


# --- readers: bins -------------------------------------------------------------------


def level_for_zoom(z):
    return max(conf("HEATMAP_MIN_LEVEL"), min(conf("HEATMAP_MAX_BIN_ZOOM"), z))


def cell_range_for_tile(z, x, y, level):
    """Inclusive cx, cy ranges of the level's cells inside tile z/x/y."""
    B = conf("HEATMAP_BINS_PER_TILE")
    if level >= z:
        k = B * 2 ** (level - z)
        n = 2**z
        return (x * k, (x + 1) * k - 1, (n - 1 - y) * k, (n - y) * k - 1)
    # A tile bigger than the level's tiles (z < min level): same formula, fractional.
    k = B / 2 ** (z - level)
    n = 2**z
    return (int(x * k), int((x + 1) * k) - 1, int((n - 1 - y) * k), int((n - y) * k) - 1)


def grid_table(filters: Filters):
    """The grid roll-up that answers a period: its months; for all time (no start, no
    end) their sums, one row a (cell, category, state, province) instead of one a month,
    and without a category or state filter one a (cell, province). The same columns but
    the month (and those summed away, which such filters do not name: rollup_sql names
    no month then)."""
    if filters.start is not None or filters.end is not None:
        return "heatmaps_gridrollup"
    if filters.category_ids is None and filters.states is None:
        return "heatmaps_gridcelltotal"
    return "heatmaps_gridtotal"


def cells_query(level, cx0, cx1, cy0, cy1, filters: Filters):
    """SQL (and params) of the cells of one level in a cell range: cx, cy, n, overdue.
    From the grid roll-up; with an authority filter from that authority's own reports
    (the roll-up is not split by authority), placeholders left out either way."""
    if filters.authority_id is None:
        where, params = filters.rollup_sql("g")
        return (
            f"""SELECT g.cx, g.cy, sum(g.n)::int AS n, sum(g.overdue)::int AS overdue
                FROM {grid_table(filters)} g
                WHERE g.level = %s AND g.cx BETWEEN %s AND %s AND g.cy BETWEEN %s AND %s AND {where}
                GROUP BY g.cx, g.cy""",
            [level, cx0, cx1, cy0, cy1, *params],
        )
    s = cell_size(level)
    where, params = filters.raw_sql("r")
    return (
        f"""SELECT c.cx, c.cy, count(*)::int AS n, count(*) FILTER (WHERE c.overdue)::int AS overdue
            FROM (SELECT floor((ST_X(g) - ({ORIGIN!r})) / {s!r})::int AS cx,
                         floor((ST_Y(g) - ({ORIGIN!r})) / {s!r})::int AS cy,
                         {policy.overdue_sql('r')} AS overdue
                  FROM reports_report r CROSS JOIN LATERAL ST_Transform(r.location, 3857) AS g
                  WHERE r.location && ST_Transform(ST_MakeEnvelope(%s, %s, %s, %s, 3857), 4326)
                    AND {where} AND {not_placeholder_sql('r')}) c
            WHERE c.cx BETWEEN %s AND %s AND c.cy BETWEEN %s AND %s
            GROUP BY c.cx, c.cy""",
        [ORIGIN + cx0 * s, ORIGIN + cy0 * s, min(-ORIGIN, ORIGIN + (cx1 + 1) * s),
         min(-ORIGIN, ORIGIN + (cy1 + 1) * s), *params, cx0, cx1, cy0, cy1],
    )


def bins_in_range(level, cx0, cx1, cy0, cy1, filters: Filters):
    """Cells with counts in a cell range."""
    sql, params = cells_query(level, cx0, cx1, cy0, cy1, filters)
    return fetchall(sql, params)


def cells_of_levels_query(levels, filters: Filters):
    """SQL (and params) of every cell of the ``levels`` in the view: level, cx, cy, n. From
    the grid roll-up in one pass over its rows (a whole level of the roll-up is most of
    its rows: one scan, not one a level); with an authority filter, cells_query's cells
    of each level."""
    if filters.authority_id is None:
        where, params = filters.rollup_sql("g")
        return (
            f"""SELECT g.level, g.cx, g.cy, sum(g.n)::int AS n FROM {grid_table(filters)} g
                WHERE g.level = ANY(%s::int[]) AND {where} GROUP BY g.level, g.cx, g.cy""",
            [list(levels), *params],
        )
    parts, params = [], []
    for level in levels:
        last = 2**level * conf("HEATMAP_BINS_PER_TILE") - 1
        sql, level_params = cells_query(level, 0, last, 0, last, filters)
        parts.append(f"SELECT {int(level)} AS level, c.cx, c.cy, c.n FROM ({sql}) c")
        params += level_params
    return " UNION ALL ".join(parts), params


# The top of the bins' colour ramp: this percentile of the reports a cell holds.
BIN_SCALE_PERCENTILE = 0.99
# Hash aggregation of a level's cells (150,000 at z9 on the national 1 M database) spilled
# to disk with the default 4 MB.
BIN_SCALE_WORK_MEM = "64MB"


def bin_scale(filters: Filters, zooms):
    """{zoom: the top of the bins' colour ramp} for the bin tiles of ``zooms``: the 99th
    percentile of the reports in a cell over the whole view (its period, category, state,
    authority, province or jurisdiction), of the cells the tiles draw. Why: the map
    coloured each tile's cells against the busiest cell it had drawn so far, so the same
    count had another colour in a tile loaded earlier, and seams showed along the tiles'
    edges. A percentile, not the maximum: one pile-up (a whole ward's reports on its
    office) would pale every other cell. A zoom without cells: 0."""
    levels = sorted({level_for_zoom(z) for z in zooms})
    sql, params = cells_of_levels_query(levels, filters)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"SET LOCAL work_mem = '{BIN_SCALE_WORK_MEM}'")
        cur.execute(f"SELECT c.level, percentile_disc({BIN_SCALE_PERCENTILE}) WITHIN GROUP (ORDER BY c.n) "
                    f"FROM ({sql}) c GROUP BY c.level", params)
        top = dict(cur.fetchall())
    return {z: top.get(level_for_zoom(z), 0) for z in zooms}


def cell_bounds_3857(level, cx, cy):
    s = cell_size(level)
    return (ORIGIN + cx * s, ORIGIN + cy * s, ORIGIN + (cx + 1) * s, ORIGIN + (cy + 1) * s)


def bbox_to_cells(level, west, south, east, north):
    """Inclusive cell ranges covering a lon/lat box."""
    from pyproj import Transformer

    t = Transformer.from_crs(4326, 3857, always_xy=True)
    x0, y0 = t.transform(west, max(south, -85))
    x1, y1 = t.transform(east, min(north, 85))
    s = cell_size(level)
    return (int((x0 - ORIGIN) // s), int((x1 - ORIGIN) // s), int((y0 - ORIGIN) // s), int((y1 - ORIGIN) // s))


def heat_points(bbox, zoom, filters: Filters, max_cells=20000):
    """[lat, lon, weight] of the roll-up cells in a view, two levels finer than the zoom
    (capped at the finest level): what leaflet-heat draws. Placeholders are excluded by
    the roll-up itself."""
    level = level_for_zoom(zoom + 2)
    cx0, cx1, cy0, cy1 = bbox_to_cells(level, *bbox)
    rows = bins_in_range(level, cx0, cx1, cy0, cy1, filters)[:max_cells]
    from pyproj import Transformer

    t = Transformer.from_crs(3857, 4326, always_xy=True)
    s = cell_size(level)
    out = []
    for r in rows:
        lon, lat = t.transform(ORIGIN + (r["cx"] + 0.5) * s, ORIGIN + (r["cy"] + 0.5) * s)
        out.append([round(lat, 6), round(lon, 6), r["n"]])
    return out


MAX_HEXAGONS = 200_000


def hex_bins(bbox, size_m, filters: Filters, limit=20000):
    """Hexagon bins (ST_HexagonGrid in EPSG:3857, edge size_m) of the raw reports in a
    view, as (wkt4326, n) rows. Raw: the map asks for it only within a view and period.
    A view that would need more than MAX_HEXAGONS hexagons (the world at street zoom:
    minutes of CPU) is refused with a field error."""
    import math

    w, s, e, n = bbox
    s, n = max(s, -85.0), min(n, 85.0)  # Web Mercator is infinite at the poles
    bbox = (w, s, e, n)

    def merc_y(lat):
        return 6378137.0 * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    area = 6378137.0 * math.radians(e - w) * (merc_y(n) - merc_y(s))
    if area / (1.5 * math.sqrt(3) * size_m**2) > MAX_HEXAGONS:
        raise FilterError({"zoom": _("Vùng xem quá rộng cho mức phóng này: hãy phóng to bản đồ.")})
    where, params = filters.raw_sql("r")
    # Each point finds its own hexagon (the grid is aligned on the origin, so the cells
    # of different calls coincide: i, j are global): a handful of hexagons per point
    # instead of every hexagon of the view joined to every point (6 s → ms).
    return fetchall(
        f"""WITH pts AS (SELECT r.id, ST_Transform(r.location, 3857) AS g FROM reports_report r
                         WHERE r.location && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND {where}
                           AND {not_placeholder_sql('r')}),
                 cell AS (SELECT DISTINCT ON (p.id) h.i, h.j, h.geom FROM pts p
                          CROSS JOIN LATERAL ST_HexagonGrid(%s, ST_Expand(p.g, 1)) AS h
                          WHERE ST_Intersects(h.geom, p.g) ORDER BY p.id, h.i, h.j)
            SELECT ST_AsGeoJSON(ST_Transform((array_agg(geom))[1], 4326), 6) AS geom, count(*)::int AS n
            FROM cell GROUP BY i, j ORDER BY n DESC LIMIT %s""",
        [*bbox, *params, size_m, limit],
    )


# --- readers: areas ----------------------------------------------------------------


def count_areas(version_code, type_code, parent_code=None):
    """How many areas area_counts would list (before anything heavy is computed)."""
    sql = """SELECT count(*) FROM boundaries_area a
             JOIN boundaries_boundaryversion v ON v.id = a.version_id AND v.code = %s
             JOIN boundaries_areatype t ON t.id = a.type_id AND t.code = %s
             WHERE %s::text IS NULL
                OR a.parent_id IN (SELECT id FROM boundaries_area WHERE code = %s AND version_id = v.id)"""
    with connection.cursor() as cur:
        cur.execute(sql, [version_code, type_code, parent_code, parent_code])
        return cur.fetchone()[0]


def area_counts(version_code, type_code, filters: Filters, parent_code=None, with_geometry=False, simplify_m=0):
    """Report counts per area of one boundary version and type.

    Reports routed in that version are counted by what routing stored (commune and
    district ids); reports routed in another version (or not at all) are placed by their
    point in the picked version's areas by the lookup's rules
    (``boundaries.lookup.placement_sql``: covering, border, snap; placeholders left
    out). Provinces count every report by its province code when the version has
    that province (by the point otherwise). Areas without reports are listed with 0.
    """
    from boundaries.models import AreaType, BoundaryVersion

    version = BoundaryVersion.objects.filter(code=version_code).first()
    atype = AreaType.objects.filter(code=type_code).first()
    if version is None or atype is None:
        raise FilterError({"version" if version is None else "type": _("Không có phiên bản hoặc loại đơn vị này.")})
    where, params = filters.raw_sql("r")
    stored = {"commune": "r.commune_id = a.id", "district": "r.district_id = a.id"}.get(type_code)
    # Which reports count by what routing stored, the others by their point.
    stored_here, stored_params = "r.boundary_version_id = %s", [version.id]
    placed_here, placed_params = "r.boundary_version_id IS DISTINCT FROM %s", [version.id]
    if type_code == "province":
        # A report counts in the province whose desk holds it (its province_code, as the
        # wall and the dashboard count it) whenever that province is in this version —
        # also one routed under older boundaries whose pin the new layers put elsewhere.
        stored = "r.province_code = a.code"
        stored_here, stored_params = "TRUE", []
        placed_here = ("NOT EXISTS (SELECT 1 FROM boundaries_area pa WHERE pa.version_id = %s AND pa.type_id = %s "
                       "AND pa.code = r.province_code)")
        placed_params = [version.id, atype.id]
    if type_code == "city-ward":
        stored = "r.commune_id = a.id"
    area_filter = "a.version_id = %s AND a.type_id = %s"
    area_params = [version.id, atype.id]
    if parent_code:
        area_filter += " AND a.parent_id IN (SELECT id FROM boundaries_area WHERE code = %s AND version_id = %s)"
        area_params += [parent_code, version.id]
    geom_sql = ""
    if with_geometry:
        geom_sql = (
            # metres → degrees at these latitudes: a display tolerance, not a measurement
            f", ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, {float(simplify_m) / 111320.0!r}), 5) AS geom"
            if simplify_m
            else ", ST_AsGeoJSON(a.geom, 5) AS geom"
        )
    points_sql = (f"SELECT r.id AS key, r.location AS g FROM reports_report r "
                  f"WHERE {placed_here} AND {where} AND {not_placeholder_sql('r')}")
    sql = f"""
    WITH stored AS (
        SELECT a.id, count(*) AS n, count(*) FILTER (WHERE {policy.overdue_sql('r')}) AS overdue
        FROM boundaries_area a JOIN reports_report r ON {stored}
        WHERE {area_filter} AND {stored_here} AND {where}
        GROUP BY a.id
    ), spatial AS (
        SELECT a.id, count(*) AS n, count(*) FILTER (WHERE {policy.overdue_sql('r')}) AS overdue
        FROM ({placement_sql(points_sql, version.id, atype.id)}) placed
        JOIN reports_report r ON r.id = placed.key
        JOIN boundaries_area a ON a.id = placed.area_id
        WHERE {area_filter}
        GROUP BY a.id
    )
    SELECT a.id, a.code, a.name, coalesce(s.n, 0) + coalesce(sp.n, 0) AS n,
           coalesce(s.overdue, 0) + coalesce(sp.overdue, 0) AS overdue {geom_sql}
    FROM boundaries_area a LEFT JOIN stored s ON s.id = a.id LEFT JOIN spatial sp ON sp.id = a.id
    WHERE {area_filter}
    ORDER BY a.code
    """
    all_params = [
        *area_params, *stored_params, *params,
        *placed_params, *params, *area_params,
        *area_params,
    ]
    return fetchall(sql, all_params)


# --- readers: time series ----------------------------------------------------------


def time_series(filters: Filters, interval="month", by=None):
    """Counts per local day/week/month, optionally split by category (its code), group
    or state. Raw reports with the filters' indexes; for dashboards over years use
    rollup_series (months, from the roll-up)."""
    if interval not in ("day", "week", "month"):
        raise FilterError({"interval": _("Khoảng thời gian phải là day, week hoặc month.")})
    split = {
        None: "NULL::text",
        "category": "c.code",
        "group": "coalesce(pc.code, c.code)",
        "state": "r.state",
    }
    if by not in split:
        raise FilterError({"by": _("Chỉ chia theo category, group hoặc state.")})
    where, params = filters.raw_sql("r")
    return fetchall(
        f"""SELECT date_trunc(%s, r.created_at AT TIME ZONE %s)::date AS period, {split[by]} AS key, count(*)::int AS n
            FROM reports_report r JOIN reports_category c ON c.id = r.category_id
            LEFT JOIN reports_category pc ON pc.id = c.parent_id
            WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2""",
        [interval, settings.TIME_ZONE, *params],
    )


def summary_rollup_table(filters: Filters, group_by=None):
    """The smallest roll-up that answers: without an authority, the province roll-up;
    every authority without a category filter (the ranking), the authority-month
    roll-up; else the authority roll-up."""
    if filters.authority_id is None and group_by != "authority":
        return "heatmaps_provincerollup"
    if group_by == "authority" and filters.category_ids is None:
        return "heatmaps_authoritymonthrollup"
    return "heatmaps_authorityrollup"


def rollup_series(filters: Filters, by=None):
    """Monthly counts from the roll-ups (received, resolved, overdue…)."""
    where, params = filters.rollup_sql("g", with_state=False)
    split = {None: "NULL::text", "category": "c.code", "group": "coalesce(pc.code, c.code)"}[by]
    return fetchall(
        f"""SELECT g.month AS period, {split} AS key, sum(g.received)::int AS n, sum(g.resolved)::int AS resolved,
                   sum(g.overdue)::int AS overdue
            FROM {summary_rollup_table(filters, by)} g JOIN reports_category c ON c.id = g.category_id
            LEFT JOIN reports_category pc ON pc.id = c.parent_id
            WHERE {where} GROUP BY 1, 2 ORDER BY 1, 2""",
        params,
    )


# --- what the map pages need to open ------------------------------------------------------

# The provinces of the current boundary version (parameter: its id, from
# BoundaryVersion.objects.current()).
_PROVINCES = """SELECT a.code, a.name, a.geom FROM boundaries_area a
    JOIN boundaries_areatype t ON t.id = a.type_id AND t.code = 'province'
    WHERE a.version_id = %s"""


def _current_version_id():
    from boundaries.models import BoundaryVersion

    version = BoundaryVersion.objects.current()
    return version.id if version else None


def current_version_code():
    from boundaries.models import BoundaryVersion

    version = BoundaryVersion.objects.current()
    return version.code if version else ""


def rollup_months():
    """The first and last month the grid roll-up holds (dates, or None when empty)."""
    return fetchall("SELECT min(month) AS first, max(month) AS last FROM heatmaps_gridrollup")[0]


def current_provinces():
    return fetchall(f"SELECT code, name FROM ({_PROVINCES}) p ORDER BY name", [_current_version_id()])


def vn_versions():
    return boundary_versions(settings.BOUNDARY_JURISDICTION)


def boundary_versions(key):
    """The boundary versions of a jurisdiction's boundary key ("VN", "US-MA-BOS"), newest first."""
    return fetchall(
        "SELECT code, name FROM boundaries_boundaryversion WHERE jurisdiction = %s ORDER BY valid_from DESC NULLS LAST",
        [key],
    )


def foreign_jurisdictions():
    """The active jurisdictions of other countries that have boundaries (the planners'
    map offers them beside Vietnam)."""
    from boundaries import jurisdictions

    return fetchall(
        """SELECT j.code, j.name FROM boundaries_jurisdiction j
           WHERE j.active AND j.country <> %s AND j.boundary_key <> ''
             AND EXISTS (SELECT 1 FROM boundaries_boundaryversion v WHERE v.jurisdiction = j.boundary_key)
           ORDER BY j.name""",
        [jurisdictions.HOME_COUNTRY],
    )


def finest_area_type(version_code):
    rows = fetchall(
        """SELECT t.code FROM boundaries_areatype t WHERE EXISTS (SELECT 1 FROM boundaries_area a
           JOIN boundaries_boundaryversion v ON v.id = a.version_id WHERE a.type_id = t.id AND v.code = %s)
           ORDER BY t.level DESC, t.code LIMIT 1""",
        [version_code],
    )
    return rows[0]["code"] if rows else ""


def version_bounds(version_code):
    """[[south, west], [north, east]] of a boundary version's areas, or None."""
    ext = fetchall(
        """SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n FROM (
               SELECT ST_Extent(a.geom) AS e FROM boundaries_area a
               JOIN boundaries_boundaryversion v ON v.id = a.version_id WHERE v.code = %s) x""",
        [version_code],
    )[0]
    return [[ext["s"], ext["w"]], [ext["n"], ext["e"]]] if ext["w"] is not None else None


def province_bounds(code=None):
    """[[south, west], [north, east]] of a current province, for Leaflet's fitBounds; with
    no code, of the province with the most reports (the roll-up's coarsest level; never
    an imported city's). None when there is none."""
    if code:
        extent_sql = f"SELECT ST_Extent(geom) AS e FROM ({_PROVINCES}) p WHERE code = %s"
        params = [_current_version_id(), code]
    else:
        extent_sql = f"""WITH prov AS ({_PROVINCES}),
                top AS (SELECT province_code FROM heatmaps_gridcelltotal WHERE level = %s
                        AND province_code IN (SELECT code FROM prov)
                        GROUP BY province_code ORDER BY sum(n) DESC LIMIT 1)
               SELECT ST_Extent(prov.geom) AS e FROM prov JOIN top ON top.province_code = prov.code"""
        params = [_current_version_id(), conf("HEATMAP_MIN_LEVEL")]
    ext = fetchall(f"SELECT ST_XMin(e) AS w, ST_YMin(e) AS s, ST_XMax(e) AS e, ST_YMax(e) AS n FROM ({extent_sql}) x",
                   params)[0]
    return [[ext["s"], ext["w"]], [ext["n"], ext["e"]]] if ext["w"] is not None else None
