"""The heatmaps' JSON endpoints (map data, statistics, the wall's state) and tiles as
documented DRF views (geo_portal/schema.py): urls.py routes to these."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from geo_portal.schema import (
    BOOL,
    ERRORS,
    INT,
    NUM,
    STR,
    array,
    documented,
    feature_collection,
    nullable,
    obj,
    query,
)
from heatmaps import views

TAGS = ["heatmaps"]
STATS = ["statistics"]

JURISDICTION = query("jurisdiction", "Jurisdiction: a province's code (22), a city's slug (boston) or VN; "
                     "without it (and without province/authority) Vietnam only. Unknown: 400")
FILTERS = [
    query("start", "First local day, YYYY-MM-DD (1900-01-01 … 2999-12-31)", OpenApiTypes.DATE),
    query("end", "Last local day, YYYY-MM-DD (inclusive)", OpenApiTypes.DATE),
    query("month", "A whole month, YYYY-MM (instead of start/end)"),
    query("category", "Category or group codes, comma separated"),
    query("state", "States, comma separated; 'open' = every open state"),
    query("authority", "Authority code"),
    query("province", "Province code, e.g. 22"),
    JURISDICTION,
]
BBOX = query("bbox", "west,south,east,north in degrees", required=True)
ZOOM = query("zoom", "Map zoom 0–22", int)
BAD = {400: ERRORS}
STAFF = {401: ERRORS, 403: ERRORS}

FIGURES = obj({
    "received": INT, "forwarded": INT, "resolved": INT, "open": INT, "overdue": INT, "rejected": INT,
    "on_time_rate": nullable(NUM), "forwarded_on_time_rate": nullable(NUM), "rated": INT,
    "rating_mean": nullable(NUM), "median_handling_hours": nullable(NUM), "mean_handling_hours": nullable(NUM),
    "satisfaction": {"type": "object", "additionalProperties": INT},
})
RANK_ENTRY = obj({
    "authority": STR, "name": STR, "province": nullable(STR), "received": INT, "resolved": INT,
    "on_time_rate": nullable(NUM), "rating_mean": nullable(NUM), "rated": INT, "overdue": INT,
    "score": nullable(NUM), "rank": nullable(INT), "ranked": BOOL,
})
LEAGUE = obj({"minimum": INT, "ranked": array(RANK_ENTRY), "unranked": array(RANK_ENTRY),
              "unassigned": obj({"received": INT, "overdue": INT})})
COUNTERS = obj({"today": INT, "open": INT, "overdue": INT, "on_time_rate": nullable(NUM)})
WALL_REPORT = obj({
    "id": INT, "code": STR, "category": STR, "color": STR, "state": STR, "created_at": nullable(STR),
    "province_code": nullable(STR), "commune": STR, "lon": NUM, "lat": NUM,
})
SERIES_ROW = obj({"period": {"type": "string", "format": "date"}, "key": nullable(STR), "n": INT})

tile_view = documented(
    views.tile_view, tags=TAGS, summary="Vector tile of reports (points) or bins",
    description=("Points from z10 (bins below), with those within 80 of the 4096 tile units around the tile "
                 "(symbols at edges). At most 10,000 points: inside the tile first; a tile with more says "
                 "`X-Tile-Capped: <shown> of <total>` and carries a `capped` layer. Cached server-side per "
                 "data version and viewer (`X-Tile-Cache: hit|stored|miss`), gzip with `Accept-Encoding: gzip`, "
                 "304 on `If-None-Match`."),
    parameters=[OpenApiParameter("layer", str, OpenApiParameter.PATH, enum=["reports", "bins"]),
                query("v", "Data version (long cache when current)"), *FILTERS],
    responses={(200, "application/vnd.mapbox-vector-tile"): OpenApiTypes.BINARY, 204: None, 304: None, **BAD},
)
version_view = documented(views.version_view, tags=TAGS, summary="Data version of the maps",
                          responses={200: obj({"version": STR})})
heat_view = documented(
    views.heat_view, tags=TAGS, summary="Heat points (weighted cell centres) in a box",
    parameters=[BBOX, ZOOM, *FILTERS],
    responses={200: obj({"points": array(array(NUM))}), **BAD},
)
hex_view = documented(
    views.hex_view, tags=TAGS, summary="Hexagon bins in a box (GeoJSON)",
    parameters=[BBOX, ZOOM, *FILTERS],
    responses={200: feature_collection({"n": INT}, {"size_m": INT}), **BAD},
)
bin_scale_view = documented(
    views.bin_scale_view, tags=TAGS, summary="The bins' colour scale of a view, per zoom",
    description=("For each zoom drawn as bins (below z10), the 99th percentile of the reports in a bin over the "
                 "whole view: the top of the map's colour ramp, the same for every tile of the zoom."),
    parameters=FILTERS,
    responses={200: obj({"percentile": INT, "zooms": {"type": "object", "additionalProperties": INT}}), **BAD},
)
areas_view = documented(
    views.areas_view, tags=TAGS, summary="Choropleth: reports per area (GeoJSON)",
    parameters=[query("version", "Boundary version, default the current one"),
                query("type", "Area type: province, commune, district, city-ward…"),
                query("parent", "Parent area code"), ZOOM, *FILTERS],
    responses={200: feature_collection(
        {"id": INT, "code": STR, "name": STR, "n": INT, "overdue": INT},
        {"version": STR, "area_type": STR}), **BAD},
)
series_view = documented(
    views.series_view, tags=TAGS, summary="Reports per period from the raw reports",
    parameters=[query("interval", "day, week or month", enum=["day", "week", "month"]),
                query("by", "Split by", enum=["category", "group", "state"]), *FILTERS],
    responses={200: obj({"interval": STR, "by": nullable(STR), "series": array(SERIES_ROW)}), **BAD},
)
hotspots_view = documented(
    views.hotspots_view, tags=TAGS, summary="Hot and cold spots (Getis-Ord Gi*) as GeoJSON",
    parameters=[query("bbox", "west,south,east,north (when no province)"), query("all", "1: every cell", enum=["1"]),
                *FILTERS],
    responses={200: feature_collection(None, {"level": INT}), **BAD},
)
overdue_view = documented(
    views.overdue_view, tags=TAGS, summary="Open reports past their deadline (staff)",
    parameters=[query("province", "Province code"), JURISDICTION, query("limit", "1–5000", int)],
    responses={200: feature_collection({"id": INT, "code": STR, "category": STR, "state": STR,
                                        "resolve_due": nullable(STR)}), **BAD, **STAFF},
)
export_view = documented(
    views.export_view, tags=TAGS, summary="The map's view as GeoJSON, CSV, GeoPackage or a standalone HTML map",
    description="At most 50,000 reports (CSV, GeoJSON, GeoPackage) or 5,000 (HTML): more is a 400 on bbox.",
    parameters=[OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=["geojson", "csv", "html", "gpkg"]), BBOX,
                *FILTERS],
    responses={(200, "application/geo+json"): feature_collection(),
               (200, "text/csv"): OpenApiTypes.STR, (200, "text/html"): OpenApiTypes.STR,
               (200, "application/geopackage+sqlite3"): OpenApiTypes.BINARY, **BAD},
)
stats_summary_view = documented(
    views.stats_summary_view, tags=STATS, summary="Key figures, national", operation_id="stats_national",
    parameters=FILTERS,
    responses={200: obj({"kind": STR, "code": nullable(STR), "figures": FIGURES}), **BAD},
)
stats_figures_view = documented(
    views.stats_summary_view, tags=STATS, summary="Key figures of a province, authority, category or commune",
    operation_id="stats_figures",
    parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH,
                                 enum=["province", "authority", "category", "commune", "all"]), *FILTERS],
    responses={200: obj({"kind": STR, "code": nullable(STR), "figures": FIGURES}), **BAD, 404: ERRORS},
)
stats_breakdown_view = documented(
    views.stats_breakdown_view, tags=STATS, summary="Key figures per province, authority, category or group",
    parameters=[OpenApiParameter("by", str, OpenApiParameter.PATH, enum=["province", "authority", "category", "group"]),
                *FILTERS],
    responses={200: obj({"by": STR, "rows": array(FIGURES)}), **BAD},
)
stats_ranking_view = documented(
    views.stats_ranking_view, tags=STATS, summary="The league table of authorities",
    parameters=[query("min", "Reports needed to be ranked", int), *FILTERS],
    responses={200: LEAGUE, **BAD},
)
stats_series_view = documented(
    views.stats_series_view, tags=STATS, summary="Received, resolved and overdue per month (roll-ups)",
    parameters=[query("by", "Split by", enum=["category", "group"]), *FILTERS],
    responses={200: obj({"series": array(obj({"period": STR, "key": nullable(STR), "received": INT,
                                              "resolved": INT, "overdue": INT}))}), **BAD},
)
ioc_state_view = documented(
    views.ioc_state_view, tags=["ioc"], summary="The IOC wall's state: counters, ranking, latest reports (staff)",
    parameters=[query("province", "Province code"), JURISDICTION],
    responses={200: obj({"counters": COUNTERS, "ranking": array(RANK_ENTRY), "latest": array(WALL_REPORT),
                         "version": STR}), **BAD, **STAFF},
)
