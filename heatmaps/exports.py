"""Exports of the planners' current view (GeoJSON, CSV, a standalone folium map) and
the small report lists of the IOC wall."""

from __future__ import annotations

import csv
import io
import json

from django.contrib.staticfiles import finders
from django.utils import timezone

from heatmaps import aggregates as agg
from heatmaps.aggregates import Filters, fetchall
from reports import policy

EXPORT_LIMIT = 50000
COLUMNS = ("code", "category", "category_name", "state", "overdue", "created_at", "forward_due", "resolve_due",
           "resolved_at", "authority", "province_code", "commune_code", "location_precision", "lon", "lat")
TIME_COLUMNS = ("created_at", "forward_due", "resolve_due", "resolved_at", "due")


# The most reports one export may hold (more: a 400 asking for a smaller view). The
# HTML map draws a marker per report in the browser: 7.6-10 s for the demo's 20,000.
EXPORT_CAPS = {"geojson": EXPORT_LIMIT, "csv": EXPORT_LIMIT, "gpkg": EXPORT_LIMIT, "html": 5000}


def count_rows(bbox, filters: Filters, cap):
    """How many reports _rows would list, counted up to cap + 1 (enough to refuse)."""
    where, params = filters.raw_sql("r")
    return fetchall(
        f"""SELECT count(*) AS n FROM (SELECT 1 FROM reports_report r
            WHERE r.location && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND {where} AND {agg.not_placeholder_sql('r')}
            LIMIT %s) x""",
        [*bbox, *params, cap + 1],
    )[0]["n"]


def _rows(bbox, filters: Filters, limit=EXPORT_LIMIT):
    where, params = filters.raw_sql("r")
    return fetchall(
        f"""SELECT r.code, c.code AS category, c.name AS category_name, r.state,
                   {policy.overdue_sql('r')} AS overdue,
                   r.created_at, r.forward_due, r.resolve_due, r.resolved_at, a.code AS authority, r.province_code,
                   cm.code AS commune_code, r.location_precision, ST_X(r.location) AS lon, ST_Y(r.location) AS lat
            FROM reports_report r JOIN reports_category c ON c.id = r.category_id
            LEFT JOIN boundaries_authority a ON a.id = r.authority_id
            LEFT JOIN boundaries_area cm ON cm.id = r.commune_id
            WHERE r.location && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND {where} AND {agg.not_placeholder_sql('r')}
            ORDER BY r.created_at DESC LIMIT %s""",
        [*bbox, *params, limit],
    )


def _iso(v):
    return timezone.localtime(v).isoformat() if v else None


def reports_geojson(bbox, filters: Filters):
    feats = []
    for r in _rows(bbox, filters):
        props = {k: r[k] for k in COLUMNS if k not in ("lon", "lat")}
        for k in TIME_COLUMNS:
            if k in props:
                props[k] = _iso(props[k])
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                      "properties": props})
    return {"type": "FeatureCollection", "features": feats}


def reports_csv(bbox, filters: Filters):
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 (Vietnamese names) only with a BOM
    w = csv.writer(out)
    w.writerow(COLUMNS)
    for r in _rows(bbox, filters):
        w.writerow([_iso(r[k]) if k in TIME_COLUMNS else r[k] for k in COLUMNS])
    return out.getvalue()


def _gpkg_datetime(text):
    """GeoPackage DATETIME: UTC, "2026-12-06T00:36:12.172Z" (a local offset is not
    conformant: GDAL and QGIS warn on every row)."""
    import datetime as dt

    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def reports_gpkg(bbox, filters: Filters):
    """The same rows as a GeoPackage (layer "reports", EPSG:4326) for QGIS and ArcGIS:
    GDAL's ogr2ogr converts the GeoJSON export, so the fields and their order match it."""
    import subprocess
    import tempfile
    from pathlib import Path

    fc = reports_geojson(bbox, filters)
    for f in fc["features"]:
        props = f["properties"]
        for k, v in props.items():
            if isinstance(v, str) and (k.endswith("_at") or k.endswith("_due")):
                props[k] = _gpkg_datetime(v)
    with tempfile.TemporaryDirectory(prefix="gp-gpkg-") as tmp:
        src, out = Path(tmp) / "reports.geojson", Path(tmp) / "reports.gpkg"
        src.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
        subprocess.run(
            ["ogr2ogr", "-f", "GPKG", str(out), str(src), "-nln", "reports", "-a_srs", "EPSG:4326", "-lco",
             "SPATIAL_INDEX=YES"],
            check=True, capture_output=True, timeout=300,
        )
        return out.read_bytes()


def _vendored(path):
    found = finders.find(path)
    return open(found, encoding="utf-8").read() if found else ""


def folium_html(bbox, filters: Filters, title=""):
    """A standalone HTML map of the view made with folium.

    Works offline: folium would load Leaflet, jQuery, Bootstrap and Font Awesome from
    CDNs; this map uses only Leaflet (circle markers, GeoJSON), so the CDN list is
    emptied and our vendored Leaflet 1.9.4 (JS and CSS) is inlined into the file. No
    base map tiles (nothing from the internet): the reports are drawn over the outline
    of the view's areas.
    """
    import folium

    rows = _rows(bbox, filters, limit=EXPORT_CAPS["html"])
    w, s, e, n = bbox
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], tiles=None, zoom_start=10, control_scale=True)
    m.default_js = []
    m.default_css = []
    m.get_root().header.add_child(
        folium.Element(
            "<style>" + _vendored("vendor/leaflet/leaflet.css") + "</style>\n<script>"
            + _vendored("vendor/leaflet/leaflet.js") + "</script>"
        )
    )
    if title:
        m.get_root().html.add_child(folium.Element(
            "<h3 style='position:absolute;z-index:1000;left:50px;top:0;margin:6px;background:#fffc;padding:2px 6px'>"
            f"{title} ({len(rows)})</h3>"))
    outline = fetchall(
        """SELECT ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, 0.0005), 5) AS g FROM boundaries_area a
           JOIN boundaries_areatype t ON t.id = a.type_id AND t.code IN ('commune', 'city-ward')
           JOIN boundaries_boundaryversion v ON v.id = a.version_id AND v.active
           WHERE a.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) LIMIT 500""",
        list(bbox),
    )
    if outline:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": json.loads(o["g"]),
                                                        "properties": {}} for o in outline]},
            style_function=lambda _f: {"color": "#667", "weight": 1, "fillColor": "#eef", "fillOpacity": 0.3},
        ).add_to(m)
    colours = {"overdue": "#c0392b", "open": "#e67e22", "done": "#27ae60"}
    # ONE GeoJSON layer of circle markers: a folium CircleMarker per report rendered a
    # template each (~5 ms a report: 6 s for Hạ Long's 1,300 public reports).
    points = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
         "properties": {"colour": colours["overdue" if r["overdue"] else ("open" if r["state"] in policy.OPEN
                                                                          else "done")],
                        "label": f"{r['code']} · {r['category_name']} · {r['state']}"}}
        for r in rows]}
    if rows:
        folium.GeoJson(
            points,
            marker=folium.CircleMarker(radius=4, fill=True, fill_opacity=0.8, weight=1),
            style_function=lambda f: {"color": f["properties"]["colour"], "fillColor": f["properties"]["colour"]},
            popup=folium.GeoJsonPopup(fields=["label"], labels=False),
        ).add_to(m)
    m.fit_bounds([[s, w], [n, e]])
    return m.get_root().render()


def overdue_geojson(province=None, limit=500, scope=None, jurisdiction=None):
    where, params = agg.place_sql("r", province, jurisdiction)
    where, params = _scoped(where, params, scope)
    rows = fetchall(
        f"""SELECT r.id, r.code, c.name AS category, r.state, r.resolve_due,
                   {policy.overdue_kind_sql('r')} AS overdue, {policy.due_sql('r')} AS due,
                   ST_X(r.location) AS lon, ST_Y(r.location) AS lat
            FROM reports_report r JOIN reports_category c ON c.id = r.category_id
            WHERE {where} AND {policy.overdue_sql('r')} AND {agg.not_placeholder_sql('r')}
            ORDER BY due DESC LIMIT %s""",
        [*params, limit],
    )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
                "properties": {"id": r["id"], "code": r["code"], "category": r["category"], "state": r["state"],
                               "overdue": r["overdue"], "due": _iso(r["due"]), "resolve_due": _iso(r["resolve_due"])},
            }
            for r in rows
        ],
    }


def _scoped(where, params, scope):
    """Add a reports.policy.access.Scope (who may see which report) to a WHERE on r."""
    if scope is None:
        return where, params
    scope_sql, scope_params = scope.sql("r")
    return f"{where} AND {scope_sql}", [*params, *scope_params]


def _report_rows(where, params, order, limit):
    rows = fetchall(
        f"""SELECT r.id, r.code, c.name AS category, c.color, r.state, r.created_at, r.province_code,
                   coalesce(cm.name, '') AS commune, ST_X(r.location) AS lon, ST_Y(r.location) AS lat
            FROM reports_report r JOIN reports_category c ON c.id = r.category_id
            LEFT JOIN boundaries_area cm ON cm.id = r.commune_id
            WHERE {where} ORDER BY {order} LIMIT %s""",
        [*params, limit],
    )
    for r in rows:
        r["created_at"] = _iso(r["created_at"])
    return rows


def reports_after(last_id, province=None, limit=50, scope=None, jurisdiction=None):
    """The wall's rows of reports with an id above ``last_id``, oldest first, within
    ``scope`` (reports.policy.access.Scope; None: every report)."""
    where, params = agg.place_sql("r", province, jurisdiction)
    where, params = _scoped(f"r.id > %s AND {where}", [last_id, *params], scope)
    return _report_rows(where, params, "r.id", limit)


def reports_by_id(ids):
    """The wall's rows of these reports (the live listener's one fetch per batch)."""
    return _report_rows("r.id = ANY(%s)", [list(ids)], "r.id", len(ids))


def latest_reports(province=None, limit=10, scope=None, jurisdiction=None):
    where, params = agg.place_sql("r", province, jurisdiction)
    where, params = _scoped(where, params, scope)
    return _report_rows(where, params, "r.created_at DESC, r.id DESC", limit)


def last_report_id():
    return fetchall("SELECT coalesce(max(id), 0) AS m FROM reports_report")[0]["m"]

