"""HTTP views of the heatmaps: tiles, map data, exports, statistics API and pages.

Views parse parameters and call the services (aggregates, tiles, hotspots, stats,
exports); bad parameters answer 400 with translated, per-field errors.
"""

import hashlib
import json

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotModified, JsonResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from heatmaps import aggregates as agg
from heatmaps import exports, hotspots, stats, tile_cache, tiles
from heatmaps.aggregates import FilterError, Filters
from reports.policy import access

MVT = "application/vnd.mapbox-vector-tile"


def bad_request(errors):
    return JsonResponse({"errors": errors}, status=400, json_dumps_params={"ensure_ascii": False})


def forbidden(exc, field="province"):
    return JsonResponse({"errors": {field: str(exc)}}, status=403, json_dumps_params={"ensure_ascii": False})


def api(view):
    """GET only; FilterError → 400 with the field errors; PermissionDenied (a province
    the user does not serve) → 403 with the message."""

    @require_GET
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except FilterError as exc:
            return bad_request(exc.errors)
        except PermissionDenied as exc:
            return forbidden(exc)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


# The IOC wall shows reports the desk has not checked yet (codes, places, overdue
# ones): staff only. The map, the dashboard and the ranking are aggregates or public.
def staff_only(page=False):
    """Anonymous: the login page (pages) or 401 (data); signed in without a staff role: 403."""

    def decorate(view):
        def wrapped(request, *args, **kwargs):
            if access.can_see_wall(request.user):
                return view(request, *args, **kwargs)
            if page and not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            status = 403 if request.user.is_authenticated else 401
            msg = _("Màn hình điều hành chỉ dành cho cán bộ: hãy đăng nhập bằng tài khoản cán bộ.")
            if page:
                return HttpResponse(msg, status=status, content_type="text/plain; charset=utf-8")
            return JsonResponse({"errors": {"auth": msg}}, status=status, json_dumps_params={"ensure_ascii": False})

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return wrapped

    return decorate


def scoped(request, filters, own=True):
    """Individual reports (points, hexagons, exports, the wall's lists) are limited to
    what the user may see (reports.policy.access: the public states, plus the user's
    jurisdiction and own reports). Aggregates (bins, heat, areas, hotspots, statistics)
    count every report and name none: they stay public."""
    filters.scope = access.report_scope(request.user, own=own)
    return filters


def staff_province(request):
    """The ?province= of a staff screen (reports.policy.access.wall_province)."""
    return access.wall_province(request.user, request.GET.get("province"))


def jsonify(data, status=200, headers=None):
    resp = JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})
    for k, v in (headers or {}).items():
        resp[k] = v
    return resp


def normalised(request, params=(), **overrides):
    """The request's path and the parameters the view reads (the filters' and
    ``params``) in a canonical order, with the clamped values the view put in
    (``overrides``): two URLs that ask the same thing share one cache entry, and a
    parameter nothing reads (``?x=<random>``) cannot make an anonymous caller's every
    request a new, uncached computation."""
    names = set(Filters.PARAMS) | set(params)
    values = {k: request.GET.getlist(k) for k in names if k in request.GET}
    values |= {k: [str(v)] for k, v in overrides.items()}
    return request.path + "?" + "&".join(f"{k}={v}" for k, vs in sorted(values.items()) for v in vs)


def cached(request, compute, params=(), timeout=600, versioned=True, **overrides):
    """A body computed once per heatmaps data version (``versioned``; else once per
    ``timeout`` whatever the data) and normalised parameters (Redis; ``params``: the
    view's own parameters beside the filters); computed directly when the cache is
    unavailable."""
    version = agg.data_version() if versioned else "any"
    return kept(f"{version}|{normalised(request, params, **overrides)}", compute, timeout)


def kept(name, compute, timeout):
    """compute(), kept ``timeout`` seconds in the shared cache (Redis) under ``name``;
    computed directly when the cache is unavailable."""
    from django.core.cache import cache

    key = "heatmaps:" + hashlib.sha1(name.encode()).hexdigest()
    try:
        hit = cache.get(key)
    except Exception:  # noqa: BLE001 - a cache outage must not break the map
        hit = None
    if hit is not None:
        return hit
    value = compute()
    try:
        cache.set(key, value, timeout)
    except Exception:  # noqa: BLE001
        pass
    return value


def kept_per_version(what, filters, compute, *extra):
    """compute() for a view (``filters``), kept per heatmaps data version: the roll-ups it
    reads change only when a refresh moves the version, and every refresh that changes
    something (new reports, a state, a deadline passed) moves it. ``extra``: what else
    the answer depends on (a parameter, the language)."""
    name = "|".join(str(part) for part in (what, agg.data_version(), filters.key(), *extra))
    return kept(name, compute, timeout=600)


def league_table(filters, minimum=None):
    """stats.league_table kept per data version, view, minimum and language (the "not
    ranked yet" notes are translated), shared by the ranking page, its API and the wall:
    the national table sums every authority's months (about 600 ms at 1 M reports on a
    slow host)."""
    minimum = stats.min_volume() if minimum is None else minimum
    return kept_per_version("league", filters, lambda: stats.league_table(filters, minimum), minimum,
                            translation.get_language())


def dashboard_figures(filters):
    """The dashboard's figures: national, per province, per group of categories, monthly,
    kept per data version and view: four sums of the roll-ups (380 ms nationally at 1 M
    reports on a slow host) for a page the leaders open again and again."""
    return kept_per_version("dashboard", filters, lambda: (
        stats.summary(filters),
        stats.summary(filters, group_by="province"),
        stats.summary(filters, group_by="group"),
        agg.rollup_series(filters),
    ))


def parse_bbox(params, required=True):
    raw = params.get("bbox")
    if not raw:
        if required:
            raise FilterError({"bbox": _("Thiếu vùng bản đồ (bbox=tây,nam,đông,bắc).")})
        return None
    try:
        w, s, e, n = (float(v) for v in raw.split(","))
    except ValueError:
        raise FilterError({"bbox": _("Vùng bản đồ không hợp lệ (bbox=tây,nam,đông,bắc).")}) from None
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise FilterError({"bbox": _("Vùng bản đồ nằm ngoài giới hạn kinh độ/vĩ độ.")})
    return (w, s, e, n)


def parse_int(params, name, default, lo, hi):
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FilterError({name: _("Phải là số nguyên.")}) from None
    if not lo <= value <= hi:
        raise FilterError({name: _("Phải trong khoảng %(lo)s–%(hi)s.") % {"lo": lo, "hi": hi}})
    return value


# --- tiles -----------------------------------------------------------------------------


def accepts_gzip(accept_encoding):
    """``accept_encoding``: the request's Accept-Encoding header ("" when none)."""
    for part in accept_encoding.split(","):
        name, _sep, q = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*") and q.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000"):
            return True
    return False


def etag_matches(if_none_match, etag):
    """``if_none_match``: the request's If-None-Match header ("" when none)."""
    if not if_none_match:
        return False
    return any(t.strip() in (etag, etag.removeprefix("W/"), "*") for t in if_none_match.split(","))


def tile_response(entry, source, version, asked_version, staff, if_none_match="", accept_encoding=""):
    """The answer of a tile (a tile_cache entry from ``source``, hit/stored/miss) under the
    roll-ups' ``version`` to a request for version ``asked_version`` (its ``v``), by
    staff or not: 200 (gzip when accepted), 204 for an empty tile, 304 on a matching
    ETag. The view and the lean ASGI path (heatmaps/tiles_lean.py) answer with it."""
    # A URL carrying the current version never changes: cache it long. Without (or with
    # an old) version: revalidate after a minute via the ETag.
    if tile_cache.refresh_version(asked_version) == version:
        cache = "public, max-age=86400"
    else:
        cache = "public, max-age=60, must-revalidate"
    if staff:  # staff's tiles may hold unpublished reports: never in a shared cache
        cache = cache.replace("public", "private")
    etag = f'W/"{entry.etag}"'
    headers = {"ETag": etag, "Cache-Control": cache, "X-Data-Version": version, "X-Tile-Layer": entry.layer,
               "X-Tile-Cache": source, "Vary": "Cookie, Accept-Encoding"}
    if entry.capped:
        headers["X-Tile-Capped"] = f"{entry.capped[0]} of {entry.capped[1]}"
    if etag_matches(if_none_match, etag):
        return HttpResponseNotModified(headers=headers)
    if not entry.gz:
        return HttpResponse(status=204, headers=headers)
    if accepts_gzip(accept_encoding):
        return HttpResponse(entry.gz, content_type=MVT, headers={**headers, "Content-Encoding": "gzip"})
    return HttpResponse(entry.body(), content_type=MVT, headers=headers)


@api
def tile_view(request, layer, z, x, y):
    """/tiles/<reports|bins>/<z>/<x>/<y>.pbf?v=<version>&month=…&category=…&state=…

    Served from the tile cache (heatmaps.tile_cache: gzipped, per refresh version and
    viewer's scope), as stored (heatmaps.tiles.stored_tile), or rendered and cached.
    Headers: ``X-Tile-Cache`` hit, stored or miss,
    ``X-Tile-Capped: <shown> of <points in the tile>`` when the tile holds more points
    than the cap (the tile's "capped" layer says the same), a weak ETag of the bytes."""
    if layer not in ("reports", "bins"):
        return bad_request({"layer": _("Lớp phải là reports hoặc bins.")})
    if not tiles.valid_tile(z, x, y):
        return bad_request({"tile": _("Ô bản đồ không tồn tại ở mức phóng này.")})
    # Points are scoped (the tile projection has no reporter: a citizen's own unpublished
    # reports are on their page, not on the map); the bins count every report.
    scope = access.report_scope(request.user, own=False)
    points = layer == "reports" and z >= tiles.points_zoom()
    staff = not scope.is_public_only
    # The roll-ups' version (the tiles change only when a refresh moves it), from the cache.
    version = tile_cache.current_version()
    cache_key = tile_cache.key(layer, z, x, y, request.GET, version, scope if points else None)

    def filters_of():
        filters = Filters.from_params(request.GET)  # bad parameters: 400, nothing cached
        if points:
            filters.scope = scope
        return filters

    entry, source = tile_cache.lookup(cache_key, layer, z, x, y, filters_of)
    return tile_response(entry, source, version, request.GET.get("v"), staff,
                         request.headers.get("If-None-Match", ""), request.headers.get("Accept-Encoding", ""))


@api
def version_view(request):
    return jsonify({"version": agg.data_version()}, headers={"Cache-Control": "no-cache"})


# --- map data --------------------------------------------------------------------------


@api
def heat_view(request):
    bbox = parse_bbox(request.GET)
    zoom = parse_int(request.GET, "zoom", 8, 0, 22)
    filters = Filters.from_params(request.GET)
    return jsonify({"points": agg.heat_points(bbox, zoom, filters)})


@api
def bin_scale_view(request):
    """The top of the bins' colour ramp for each zoom drawn as bins (aggregates.bin_scale):
    every tile of a zoom is coloured against the same figure, whatever order they load in.
    Kept HEATMAP_BIN_SCALE_SECONDS whatever reports arrive: a busy province moves the data
    version every half minute, a view's scale barely, and its query reads a whole view
    (0.3-0.5 s of all time on the national 1 M database); and the colours of a map left
    open do not shift with each new report."""
    filters = Filters.from_params(request.GET)

    def compute():
        zooms = range(tiles.points_zoom())
        return {"percentile": round(agg.BIN_SCALE_PERCENTILE * 100),
                "zooms": {str(z): top for z, top in agg.bin_scale(filters, zooms).items()}}

    seconds = agg.conf("HEATMAP_BIN_SCALE_SECONDS")
    return jsonify(cached(request, compute, timeout=seconds, versioned=False),
                   headers={"Cache-Control": f"public, max-age={seconds}"})


@api
def hex_view(request):
    bbox = parse_bbox(request.GET)
    zoom = parse_int(request.GET, "zoom", 10, 0, 22)
    filters = scoped(request, Filters.from_params(request.GET))
    size = agg.WORLD / 2**zoom / 24  # ~24 hexagons across a tile
    rows = agg.hex_bins(bbox, size, filters)
    feats = [{"type": "Feature", "geometry": json.loads(r["geom"]), "properties": {"n": r["n"]}} for r in rows]
    return jsonify({"type": "FeatureCollection", "size_m": round(size), "features": feats})


AREAS_MAX_ZOOM = 12
AREAS_MAX_DETAILED = 1000


@api
def areas_view(request):
    """Choropleth: ?version=CODE&type=province|commune|district|city-ward&parent=22
    (version: default the current one)."""
    filters = Filters.from_params(request.GET)
    version = request.GET.get("version") or agg.current_version_code()
    type_code = request.GET.get("type", "province")
    # Beyond zoom 12 a choropleth needs no finer outline (≈10 m): higher zooms get
    # zoom 12's answer (and share its cache entry).
    zoom = min(AREAS_MAX_ZOOM, parse_int(request.GET, "zoom", 8, 0, 22))
    simplify = max(10.0, agg.WORLD / 2**zoom / 1024)
    parent = request.GET.get("parent") or None
    if zoom >= 9:
        count = agg.count_areas(version, type_code, parent)
        if count > AREAS_MAX_DETAILED:
            raise FilterError({"parent" if not parent else "zoom": _(
                "Có %(n)d vùng, tối đa %(max)d ở mức thu phóng từ 9 trở lên: hãy chọn một tỉnh (parent) "
                "hoặc giảm mức thu phóng.") % {"n": count, "max": AREAS_MAX_DETAILED}})

    def compute():
        rows = agg.area_counts(version, type_code, filters, parent_code=parent, with_geometry=True, simplify_m=simplify)
        feats = [
            {
                "type": "Feature",
                "geometry": json.loads(r["geom"]) if r["geom"] else None,
                "properties": {"id": r["id"], "code": r["code"], "name": r["name"], "n": r["n"],
                               "overdue": r["overdue"]},
            }
            for r in rows
        ]
        return json.dumps({"type": "FeatureCollection", "version": version, "area_type": type_code, "features": feats},
                          ensure_ascii=False)

    # The finished body is cached: decoding and re-encoding a province's outlines cost
    # ~0.5 s a request even with the rows cached.
    body = cached(request, compute, ("version", "type", "parent"), zoom=zoom, form="json")
    return HttpResponse(body, content_type="application/json")


@api
def series_view(request):
    filters = Filters.from_params(request.GET)
    interval = request.GET.get("interval", "month")
    by = request.GET.get("by") or None
    return jsonify({"interval": interval, "by": by, "series": [
        {"period": r["period"].isoformat(), "key": r["key"], "n": r["n"]}
        for r in agg.time_series(filters, interval, by)
    ]})


@api
def hotspots_view(request):
    """?province=22 or ?bbox=…; GeoJSON of significant hot/cold cells (all=1: every cell)."""
    filters = Filters.from_params(request.GET)
    province = request.GET.get("province") or None
    bbox = None if province else parse_bbox(request.GET)
    fc = cached(request, lambda: hotspots.hotspots_geojson(filters, province=province, bbox=bbox,
                                                           significant_only=request.GET.get("all") != "1"),
                ("bbox", "all"))
    return jsonify(fc)


@staff_only()
@api
def overdue_view(request):
    """Open reports past their deadline (the IOC wall), newest deadline first."""
    limit = parse_int(request.GET, "limit", 500, 1, 5000)
    province = staff_province(request)
    juris = agg.parse_jurisdiction(request.GET)
    return jsonify(exports.overdue_geojson(province, limit, scope=access.report_scope(request.user),
                                           jurisdiction=juris))


@api
def export_view(request, fmt):
    """The current view of the planners' map: ?bbox=…&filters; GeoJSON, CSV or a
    standalone folium HTML map, or a GeoPackage."""
    if fmt not in exports.EXPORT_CAPS:
        return bad_request({"format": _("Định dạng phải là geojson, csv, gpkg hoặc html.")})
    bbox = parse_bbox(request.GET)
    filters = scoped(request, Filters.from_params(request.GET))
    # Signed-in callers see their own scope: only anonymous answers are shared.
    staff = bool(request.user.is_authenticated)
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    cap = exports.EXPORT_CAPS[fmt]
    count = exports.count_rows(bbox, filters, cap)
    if count > cap:
        raise FilterError({"bbox": _("Vùng này có hơn %(max)d phản ánh, quá giới hạn của định dạng %(fmt)s: "
                                     "hãy thu hẹp vùng bản đồ hoặc thêm bộ lọc (tháng, lĩnh vực, trạng thái).")
                           % {"max": cap, "fmt": fmt}})
    if fmt == "geojson":
        def compute():
            return json.dumps(exports.reports_geojson(bbox, filters), ensure_ascii=False)
        ctype = "application/geo+json"
    elif fmt == "csv":
        def compute():
            return exports.reports_csv(bbox, filters)
        ctype = "text/csv; charset=utf-8"
    elif fmt == "gpkg":
        def compute():
            return exports.reports_gpkg(bbox, filters)
        ctype = "application/geopackage+sqlite3"
    else:
        def compute():
            return exports.folium_html(bbox, filters, title=_("Bản đồ phản ánh"))
        ctype = "text/html; charset=utf-8"
    # Anonymous answers are the same for everyone: computed once per data version and
    # parameters. Staff see every state: not shared.
    body = compute() if staff else cached(request, compute, ("bbox",), lang=translation.get_language())
    resp = HttpResponse(body, content_type=ctype)
    resp["Content-Disposition"] = f'attachment; filename="phan-anh-{stamp}.{fmt}"'
    return resp


# --- statistics API ----------------------------------------------------------------------


def _json_figures(fig):
    return {k: v for k, v in fig.items() if k != "handling_seconds_sum"}


@api
def stats_summary_view(request, kind="all", code=""):
    """/api/v1/stats/ (national), /api/v1/stats/<province|authority|category|commune>/<code>/"""
    filters = Filters.from_params(request.GET)
    return jsonify({"kind": kind, "code": code or None,
                    "figures": _json_figures(stats.figures_for(kind, code, filters))})


@api
def stats_breakdown_view(request, by):
    """/api/v1/stats/by/<province|authority|category|group>/"""
    filters = Filters.from_params(request.GET)
    return jsonify({"by": by, "rows": [_json_figures(r) for r in stats.summary(filters, group_by=by)]})


@api
def stats_ranking_view(request):
    filters = Filters.from_params(request.GET)
    minimum = parse_int(request.GET, "min", stats.min_volume(), 0, 100000)
    return jsonify(league_table(filters, minimum))


@api
def stats_series_view(request):
    filters = Filters.from_params(request.GET)
    by = request.GET.get("by") or None
    if by not in (None, "category", "group"):
        return bad_request({"by": _("Chỉ chia theo category hoặc group.")})
    return jsonify({"series": [
        {"period": r["period"].isoformat(), "key": r["key"], "received": r["n"], "resolved": r["resolved"],
         "overdue": r["overdue"]}
        for r in agg.rollup_series(filters, by)
    ]})


# --- pages -----------------------------------------------------------------------------


def _page_context():
    from reports.models import Category

    months = agg.rollup_months()
    groups = list(Category.objects.filter(parent__isnull=True, active=True).values("code", "name", "color"))
    provinces = agg.current_provinces()
    return {
        "groups": groups,
        "provinces": provinces,
        "first_month": months["first"].isoformat()[:7] if months["first"] else "",
        "last_month": months["last"].isoformat()[:7] if months["last"] else "",
        "data_version": agg.data_version(),
        "points_zoom": tiles.points_zoom(),
        "max_points": agg.conf("HEATMAP_TILE_MAX_POINTS"),
    }


@require_GET
def map_page(request):
    """The planners' analysis map (/ban-do/; ?jurisdiction=boston: another country's
    city, on its own boundaries, every request of the page scoped to it)."""
    from boundaries import jurisdictions

    try:
        juris = agg.parse_jurisdiction(request.GET)
    except FilterError as exc:
        return HttpResponseBadRequest("; ".join(f"{k}: {v}" for k, v in exc.errors.items()),
                                      content_type="text/plain; charset=utf-8")
    ctx = _page_context()
    ctx["foreign"] = agg.foreign_jurisdictions()
    if juris is not None and juris.country != jurisdictions.HOME_COUNTRY:
        # Its own boundary versions and finest area type; no provinces to drill into.
        ctx["versions"] = agg.boundary_versions(juris.boundary_key)
        ctx["area_type"] = agg.finest_area_type(ctx["versions"][0]["code"]) if ctx["versions"] else ""
        ctx["provinces"] = []
        ctx["jurisdiction"] = juris
        bounds = agg.version_bounds(ctx["versions"][0]["code"]) if ctx["versions"] else None
    else:
        ctx["versions"] = agg.vn_versions()
        # Open framed on the province with the most reports: at country zoom a month's bins
        # are specks; zooming out shows the country.
        bounds = agg.province_bounds()
    ctx["start_bounds"] = json.dumps(bounds) if bounds else ""
    return render(request, "heatmaps/map.html", ctx)


# Rows of the ranking page: nationally every unit with reports (3,593 of 3,695 at 1 M
# reports) made one 629 KB page, 1.4 s on a slow host, half of it the template; the whole
# table stays in the API.
RANKING_PAGE_ROWS = 100
RANKING_SEARCH_MAX = 100


@require_GET
def ranking_page(request):
    """The public league table of authorities (/xep-hang/)."""
    try:
        filters = Filters.from_params(request.GET)
    except FilterError as exc:
        return render(request, "heatmaps/ranking.html", {"errors": exc.errors}, status=400)
    table = league_table(filters)
    search = request.GET.get("q", "")[:RANKING_SEARCH_MAX]
    rows = Paginator(stats.find_in_league(table, search), RANKING_PAGE_ROWS).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "heatmaps/ranking.html", {
        "table": table, "page_obj": rows, "query": query.urlencode(), "search": search,
        # the reports no unit holds: after the last unit, and only in the whole table
        "show_unassigned": not search and not rows.has_next(),
        "province": request.GET.get("province", ""), **_page_context()})


@require_GET
def dashboard_page(request):
    """The leaders' dashboard (/tong-quan/): counters and charts per province."""
    try:
        filters = Filters.from_params(request.GET)
    except FilterError as exc:
        return render(request, "heatmaps/dashboard.html", {"errors": exc.errors}, status=400)
    national, per_province, by_group, series = dashboard_figures(filters)
    from reports.models import Category

    group_names = dict(Category.objects.filter(parent__isnull=True).values_list("code", "name"))
    chart = {
        "months": [r["period"].isoformat()[:7] for r in series],
        "received": [r["n"] for r in series],
        "resolved": [r["resolved"] for r in series],
        "groups": [group_names.get(r["key"], r["key"]) for r in by_group],  # names, not codes
        "group_received": [r["received"] for r in by_group],
        "satisfaction": [national["satisfaction"][str(i)] for i in range(1, 6)],
    }
    ctx = {"national": national, "per_province": per_province, "by_group": by_group, "chart": chart, **_page_context()}
    names = {p["code"]: p["name"] for p in ctx["provinces"]}
    for row in per_province:
        row["name"] = names.get(row["key"], row["key"])
    return render(request, "heatmaps/dashboard.html", ctx)


@staff_only(page=True)
@require_GET
def ioc_page(request):
    """The IOC wall (/ioc/?province=22&rotate=15)."""
    try:
        province = staff_province(request) or "22"
    except PermissionDenied as exc:
        return HttpResponse(str(exc), status=403, content_type="text/plain; charset=utf-8")
    try:
        rotate = parse_int(request.GET, "rotate", 15, 3, 600)
    except FilterError as exc:
        return bad_request(exc.errors)
    ctx = _page_context()
    name = next((p["name"] for p in ctx["provinces"] if p["code"] == province), province)
    # The province's extent: the wall frames its map before the layers arrive.
    bounds = agg.province_bounds(province)
    return render(request, "heatmaps/ioc.html", {
        **ctx,
        "province": province,
        "province_name": name,
        "bounds": json.dumps(bounds) if bounds else "",
        "rotate": rotate,
        "counters": stats.live_counters(province),
        "last_id": exports.last_report_id(),
        "sse_once": request.GET.get("sse") == "once",
    })


@staff_only()
@api
def ioc_state_view(request):
    """Counters, ranking and the latest reports of a province (the wall refreshes them)."""
    province = staff_province(request)
    juris = agg.parse_jurisdiction(request.GET)
    counters = stats.live_counters(province, jurisdiction=juris)
    ranking = Filters(province=province)
    if not province:
        ranking.scope_to(juris)  # never another country's units on Vietnam's wall
    table = league_table(ranking)
    return jsonify({
        "counters": counters,
        "ranking": table["ranked"][:10],
        "latest": exports.latest_reports(province, 10, scope=access.report_scope(request.user), jurisdiction=juris),
        "version": agg.data_version(),
    })


@require_GET
def ioc_events(request):
    """Server-sent events: new reports the viewer may see, as ``event: report`` (the
    report's row, its id as the event id) and then ``event: counters``.

    Served by heatmaps.live.stream_app under ASGI (scripts/run): one open stream per
    wall, fed by the process's one listener. Here, under WSGI (the test live server,
    runserver), one answer per request: the reports after Last-Event-ID / ?last_id (0 if absent; at
    most 50) and the end of the response — the browser's EventSource reconnects after a
    second with the last id (the wall's ?sse=once asks for exactly this).
    """
    from heatmaps import live

    try:
        live.viewer_reach(request.user)  # who asks comes first: 401/403 before any 400
        _max_s, last_id, province = live.parse_params(request.GET,
                                                      {"last-event-id": request.headers.get("Last-Event-ID")})
        reach = live.viewer_reach(request.user, province)
    except live.Refused as exc:
        return JsonResponse({"errors": exc.errors}, status=exc.status, json_dumps_params={"ensure_ascii": False})
    try:
        juris = agg.parse_jurisdiction(request.GET)
    except FilterError as exc:
        return bad_request(exc.errors)
    if last_id is None:
        last_id = 0  # as this view always answered: the first reports in reach
    new = exports.reports_after(last_id, reach.province, live.CATCH_UP_LIMIT, scope=reach.scope,
                                jurisdiction=juris)
    parts = ["retry: 1000\n\n"]
    for r in new:
        last_id = max(last_id, r["id"])
        parts.append(f"id: {r['id']}\nevent: report\ndata: {json.dumps(r, ensure_ascii=False)}\n\n")
    if new:
        data = json.dumps(stats.live_counters(reach.province, jurisdiction=juris), ensure_ascii=False, default=str)
        parts.append(f"id: {last_id}\nevent: counters\ndata: {data}\n\n")
    resp = HttpResponse("".join(parts), content_type="text/event-stream")
    resp["Cache-Control"] = "no-cache, private"
    return resp
