"""OGC API Features at /ogcapi/: the documents' shapes, paging, bbox, datetime, CQL2
filters, queryables, HTML, single items, errors, the GeoPackage export, and GDAL's
OAPIF driver pulling a whole collection across pages from a live server.

Reports are made in SQL on the real boundaries (heatmaps.synthetic); every expected
count is an independent SQL query over reports_report with the public states written
out by hand.
"""

import json
import re
import subprocess

import pytest
from django.db import connection
from django.test import Client

from heatmaps.synthetic import generate

PUBLIC_SQL = "r.state IN ('forwarded','accepted','in_progress','resolved','published','rated','reopened','closed')"
HA_LONG_BBOX = (106.95, 20.90, 107.15, 21.00)


def sql_count(where="TRUE", params=()):
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM reports_report r WHERE {PUBLIC_SQL} AND {where}", list(params))
        return cur.fetchone()[0]


@pytest.fixture(autouse=True)
def _no_shared_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


@pytest.fixture
def reports(db):
    generate(900, seed=0.27, days=400)
    return sql_count("r.province_code = '22'")


@pytest.fixture
def client():
    return Client()


def get(client, path, status=200, **headers):
    resp = client.get(path, **headers)
    assert resp.status_code == status, (path, resp.status_code, resp.content[:500])
    return resp


def test_landing_and_conformance(client, db):
    landing = get(client, "/ogcapi/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "alternate", "service-desc", "service-doc", "conformance", "data"} <= rels
    conf = get(client, "/ogcapi/conformance").json()["conformsTo"]
    for part in ("ogcapi-features-1/1.0/conf/core", "conf/geojson", "conf/html", "conf/oas30",
                 "ogcapi-features-3/1.0/conf/filter",
                 "conf/features-filter", "cql2/1.0/conf/cql2-text", "conf/queryables"):
        assert any(part in c for c in conf), part
    api = get(client, "/ogcapi/api")
    assert api["Content-Type"].startswith("application/vnd.oai.openapi+json")
    doc = json.loads(api.content)
    assert doc["openapi"].startswith("3.0")
    assert "/collections/{collectionId}/items" in doc["paths"]


def test_collections_list_jurisdictions_areas_and_authorities(client, reports):
    body = get(client, "/ogcapi/collections").json()
    ids = [c["id"] for c in body["collections"]]
    for cid in ("reports", "reports-22", "reports-46", "reports-boston", "areas-vn-2025-commune", "authorities"):
        assert cid in ids
    for c in body["collections"]:
        assert c["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
        assert ({"self", "items", "http://www.opengis.net/def/rel/ogc/1.0/queryables"}
                <= {link["rel"] for link in c["links"]})
    one = get(client, "/ogcapi/collections/reports-22").json()
    w, s, e, n = one["extent"]["spatial"]["bbox"][0]
    assert 106 < w < e < 108.5 and 20.5 < s < n < 21.8  # Quảng Ninh
    assert one["extent"]["temporal"]["interval"][0][0] is not None
    get(client, "/ogcapi/collections/reports-atlantis", 404)


def test_paging_follows_next_links_to_every_public_report(client, reports):
    seen, pages, url = [], 0, "/ogcapi/collections/reports-22/items?limit=70"
    while url:
        body = get(client, url).json()
        assert body["numberMatched"] == reports
        assert body["numberReturned"] == len(body["features"]) <= 70
        if pages:
            assert "prev" in {link["rel"] for link in body["links"]}
        seen += [f["id"] for f in body["features"]]
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
        pages += 1
    assert len(seen) == len(set(seen)) == reports
    assert pages == -(-reports // 70)
    # Only public reports, never the reporter.
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM reports_report r WHERE r.code = ANY(%s) AND NOT ({PUBLIC_SQL})", [seen])
        assert cur.fetchone()[0] == 0


def test_all_public_reports_and_a_limit_above_the_maximum(client, reports):
    body = get(client, "/ogcapi/collections/reports/items?limit=100000").json()
    assert body["numberMatched"] == sql_count()
    assert body["numberReturned"] == min(10000, sql_count())


def test_bbox(client, reports):
    w, s, e, n = HA_LONG_BBOX
    body = get(client, f"/ogcapi/collections/reports-22/items?bbox={w},{s},{e},{n}&limit=1").json()
    expected = sql_count("r.province_code = '22' AND ST_Intersects(r.location, ST_MakeEnvelope(%s,%s,%s,%s,4326))",
                         [w, s, e, n])
    assert expected > 0
    assert body["numberMatched"] == expected


@pytest.mark.parametrize("value, where", [
    ("2025-06-01T00:00:00Z/2025-09-01T00:00:00Z",
     "r.created_at BETWEEN '2025-06-01T00:00:00Z' AND '2025-09-01T00:00:00Z'"),
    ("../2025-06-01T00:00:00Z", "r.created_at <= '2025-06-01T00:00:00Z'"),
    ("2025-06-01T00:00:00Z/..", "r.created_at >= '2025-06-01T00:00:00Z'"),
    ("2025-06-01T00:00:00Z/", "r.created_at >= '2025-06-01T00:00:00Z'"),
    ("2025-07-15", "r.created_at >= '2025-07-15T00:00:00+07:00' AND r.created_at < '2025-07-16T00:00:00+07:00'"),
    ("2025-07-01/2025-07-31",
     "r.created_at >= '2025-07-01T00:00:00+07:00' AND r.created_at < '2025-08-01T00:00:00+07:00'"),
])
def test_datetime(client, reports, value, where):
    body = get(client, f"/ogcapi/collections/reports-22/items?limit=1&datetime={value}").json()
    assert body["numberMatched"] == sql_count(f"r.province_code = '22' AND {where}")


@pytest.mark.parametrize("cql, where", [
    ("state = 'in_progress'", "r.state = 'in_progress'"),
    ("state IN ('resolved','closed')", "r.state IN ('resolved','closed')"),
    ("state <> 'closed' AND category = 'do-thi-chieu-sang'",
     "r.state <> 'closed' AND r.category_id = (SELECT id FROM reports_category WHERE code = 'do-thi-chieu-sang')"),
    ("created_at >= TIMESTAMP('2025-09-01T00:00:00Z')", "r.created_at >= '2025-09-01T00:00:00Z'"),
    ("S_INTERSECTS(geometry, POLYGON((106.95 20.9, 107.15 20.9, 107.15 21.0, 106.95 21.0, 106.95 20.9)))",
     "ST_Intersects(r.location, ST_MakeEnvelope(106.95, 20.9, 107.15, 21.0, 4326))"),
    ("authority LIKE 'ubnd-%' OR state = 'rated'",
     "(r.authority_id IN (SELECT id FROM boundaries_authority WHERE code LIKE 'ubnd-%%') OR r.state = 'rated')"),
    ("NOT (state = 'closed')", "r.state <> 'closed'"),
    ("resolved_at IS NULL", "r.resolved_at IS NULL"),
    ("created_at BETWEEN TIMESTAMP('2025-03-01T00:00:00Z') AND TIMESTAMP('2025-04-01T00:00:00Z')",
     "r.created_at BETWEEN '2025-03-01T00:00:00Z' AND '2025-04-01T00:00:00Z'"),
    ("commune IN ('06652', '06658') OR state = 'reopened'",
     "(r.commune_id IN (SELECT id FROM boundaries_area WHERE code IN ('06652', '06658')) OR r.state = 'reopened')"),
])
def test_cql2_filter(client, reports, cql, where):
    from urllib.parse import quote

    body = get(client, f"/ogcapi/collections/reports-22/items?limit=1&filter-lang=cql2-text&filter={quote(cql)}").json()
    assert body["numberMatched"] == sql_count(f"r.province_code = '22' AND {where}")


@pytest.mark.parametrize("query, where", [
    ("state=closed", "r.state = 'closed'"),
    ("state=received", "FALSE"),  # not public: never matched
    ("category=do-thi-chieu-sang&state=in_progress",
     "r.state = 'in_progress' AND r.category_id = (SELECT id FROM reports_category WHERE code = 'do-thi-chieu-sang')"),
])
def test_property_parameters(client, reports, query, where):
    body = get(client, f"/ogcapi/collections/reports-22/items?limit=1&{query}").json()
    assert body["numberMatched"] == sql_count(f"r.province_code = '22' AND {where}")


def test_api_document_lists_each_collections_queryables(client, db):
    doc = json.loads(get(client, "/ogcapi/api").content)
    names = {p["name"] for p in doc["paths"]["/collections/reports-22/items"]["get"]["parameters"]}
    assert {"limit", "offset", "bbox", "datetime", "filter", "state", "category"} <= names
    assert "contact_phone" not in names


@pytest.mark.parametrize("query, field", [
    ("limit=abc", "limit"), ("limit=0", "limit"), ("offset=-1", "offset"), ("bbox=1,2,3", "bbox"),
    ("bbox=200,0,201,1", "bbox"), ("datetime=yesterday", "datetime"), ("datetime=2025-01-01T00:00:00", "datetime"),
    ("filter=state%20%3D%3D", "filter"), ("filter=reporter%20%3D%20'x'", "filter"),
    # Private fields are not queryable: no probing of a reporter's phone through a filter.
    ("filter=contact_phone%20LIKE%20'%2B849%25'", "filter"), ("filter=receipt_token%20%3D%20'x'", "filter"),
    ("filter=state%20%3D%20'forwarded'%20AND%20reporter_id%20%3D%201", "filter"),
    # Well-formed, but the types do not match: 400, never a 500.
    ("filter=created_at%20%3D%20'abc'", "filter"), ("filter=title%20%3E%205", "filter"),
    ("filter=created_at%20%3E%20TIMESTAMP('2025-13-45T00:00:00Z')", "filter"),
    ("filter=S_INTERSECTS(geometry%2C%20POINT(x%20y))", "filter"), ("filter-lang=cql2-json", "filter-lang"),
    ("zoom=99", "zoom"), ("f=xml", "f"),
])
def test_bad_parameters_answer_400_by_field(client, db, query, field):
    body = get(client, f"/ogcapi/collections/reports/items?{query}", 400).json()
    assert body["code"] == "InvalidParameterValue"
    assert field in body["errors"]


def test_queryables(client, db):
    resp = get(client, "/ogcapi/collections/reports-22/queryables")
    assert resp["Content-Type"] == "application/schema+json"
    body = resp.json()
    assert body["type"] == "object"
    props = body["properties"]
    assert {"state", "category", "created_at", "geometry", "authority"} <= set(props)
    assert props["created_at"]["format"] == "date-time"
    assert "received" not in props["state"]["enum"]
    assert not {"contact_phone", "contact_email", "reporter", "receipt_token"} & set(props)


def test_single_item_public_fields_only_and_unpublished_is_404(client, reports):
    with connection.cursor() as cur:
        cur.execute(f"SELECT code FROM reports_report r WHERE r.province_code = '22' AND {PUBLIC_SQL} LIMIT 1")
        public = cur.fetchone()[0]
        cur.execute("UPDATE reports_report SET contact_phone = '+84987654321' WHERE code = %s", [public])
        cur.execute("SELECT code FROM reports_report r WHERE r.state = 'received' LIMIT 1")
        hidden = cur.fetchone()[0]
    resp = get(client, f"/ogcapi/collections/reports-22/items/{public}")
    assert resp["Content-Type"] == "application/geo+json"
    feature = resp.json()
    assert feature["id"] == public and feature["geometry"]["type"] == "Point"
    assert b"+84987654321" not in resp.content and "receipt_token" not in feature["properties"]
    get(client, f"/ogcapi/collections/reports-22/items/{hidden}", 404)
    get(client, f"/ogcapi/collections/reports/items/{hidden}", 404)
    # Another jurisdiction's collection does not hold it.
    get(client, f"/ogcapi/collections/reports-46/items/{public}", 404)


def test_areas_are_simplified_by_zoom(client, db):
    coarse = get(client, "/ogcapi/collections/areas-vn-2025-commune/items?limit=100&zoom=8")
    fine = get(client, "/ogcapi/collections/areas-vn-2025-commune/items?limit=100&zoom=16")
    default = get(client, "/ogcapi/collections/areas-vn-2025-commune/items?limit=100")
    assert len(coarse.content) < len(default.content) < len(fine.content)
    # A default page of 100 communes stays well under a megabyte.
    assert len(default.content) < 1_000_000
    with connection.cursor() as cur:
        cur.execute("""SELECT count(*) FROM boundaries_area a JOIN boundaries_boundaryversion v ON v.id = a.version_id
                       JOIN boundaries_areatype t ON t.id = a.type_id
                       WHERE v.code = 'vn-2025' AND t.code = 'commune'""")
        assert default.json()["numberMatched"] == cur.fetchone()[0]
    one = default.json()["features"][0]
    # One geometry type per layer: GDAL and QGIS type the layer MultiPolygon, not "Unknown".
    assert {f["geometry"]["type"] for f in default.json()["features"]} == {"MultiPolygon"}
    get(client, f"/ogcapi/collections/areas-vn-2025-commune/items/{one['id']}")


def test_authorities(client, db):
    body = get(client, "/ogcapi/collections/authorities/items?filter=province_code%20%3D%20'22'&limit=1000").json()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM boundaries_authority WHERE active AND province_code = '22'")
        assert body["numberMatched"] == cur.fetchone()[0] > 0
    assert not any("head_phone" in f["properties"] for f in body["features"])


@pytest.mark.parametrize("path, headers", [
    ("/ogcapi/?f=html", {}),
    ("/ogcapi/", {"HTTP_ACCEPT": "text/html,application/xhtml+xml"}),
    ("/ogcapi/collections?f=html", {}),
    ("/ogcapi/collections/reports-22?f=html", {}),
    ("/ogcapi/collections/reports-22/items?f=html&limit=5", {}),
    ("/ogcapi/collections/reports-22/queryables?f=html", {}),
    ("/ogcapi/conformance?f=html", {}),
    ("/ogcapi/api?f=html", {}),
])
def test_html_pages(client, reports, path, headers):
    resp = get(client, path, **headers)
    assert resp["Content-Type"].startswith("text/html")
    assert "Accept" in resp["Vary"]
    assert b"<html" in resp.content and b"OGC API" in resp.content


def test_html_items_page_links_next(client, reports):
    html = get(client, "/ogcapi/collections/reports-22/items?f=html&limit=5").content.decode()
    assert 'rel="next"' in html and "offset=5" in html


def test_gpkg_export_holds_the_public_reports_of_the_view(client, reports, tmp_path):
    w, s, e, n = HA_LONG_BBOX
    resp = get(client, f"/api/v1/heatmaps/export.gpkg?bbox={w},{s},{e},{n}")
    assert resp["Content-Type"] == "application/geopackage+sqlite3"
    assert resp["Content-Disposition"].endswith('.gpkg"')
    out = tmp_path / "x.gpkg"
    out.write_bytes(resp.content)
    info = subprocess.run(["ogrinfo", "-so", "-al", str(out)], capture_output=True, text=True, check=True).stdout
    expected = sql_count("ST_Intersects(r.location, ST_MakeEnvelope(%s,%s,%s,%s,4326))", [w, s, e, n])
    assert f"Feature Count: {expected}" in info
    assert "code: String" in info and "contact_phone" not in info
    # Dates are GeoPackage DATETIMEs (UTC, "…Z"): GDAL reads every row without a warning.
    rows = subprocess.run(["ogrinfo", "-ro", "-al", str(out)], capture_output=True, text=True, check=True)
    assert "Non-conformant" not in rows.stderr and "created_at (DateTime)" in rows.stdout
    with connection.cursor() as cur:
        cur.execute("""SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') FROM reports_report r
                       WHERE ST_Intersects(r.location, ST_MakeEnvelope(%s,%s,%s,%s,4326))""", [w, s, e, n])
        utc = {row[0] for row in cur.fetchall()}
    shown = re.findall(r"created_at \(DateTime\) = (\d{4}/\d\d/\d\d \d\d:\d\d:\d\d)\S*\+00", rows.stdout)
    assert len(shown) == expected and {t.replace("/", "-").replace(" ", "T") for t in shown} <= utc


def test_gdal_oapif_filters_on_the_server(live_url, reports, tmp_path):
    out = tmp_path / "closed.gpkg"
    run = subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_url}/ogcapi/", "reports-22", "-where", "state = 'closed'",
         "-spat", *map(str, HA_LONG_BBOX), "-oo", "PAGE_SIZE=1000"],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    info = subprocess.run(["ogrinfo", "-so", str(out), "reports-22"], capture_output=True, text=True, check=True).stdout
    expected = sql_count("r.province_code = '22' AND r.state = 'closed' AND ST_Intersects(r.location, "
                         "ST_MakeEnvelope(%s,%s,%s,%s,4326))",
                         HA_LONG_BBOX)
    assert expected > 0
    assert f"Feature Count: {expected}" in info


def test_gdal_oapif_driver_pulls_every_feature_across_pages(live_url, reports, tmp_path):
    out = tmp_path / "out.gpkg"
    run = subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_url}/ogcapi/", "reports-22"],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    info = subprocess.run(["ogrinfo", "-so", str(out), "reports-22"], capture_output=True, text=True, check=True).stdout
    assert reports > 100  # GDAL asks for 10 a page: dozens of pages followed
    assert f"Feature Count: {reports}" in info
    # QGIS and GDAL read the collection's fields from the first page
    assert "category: String" in info and "contact_phone" not in info


def test_gdal_types_an_areas_layer_multipolygon_with_every_area(live_url, db, tmp_path):
    out = tmp_path / "areas.gpkg"
    run = subprocess.run(
        ["ogr2ogr", "-f", "GPKG", str(out), f"OAPIF:{live_url}/ogcapi/", "areas-vn-2025-commune",
         "-oo", "PAGE_SIZE=1000"], capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stderr
    info = subprocess.run(["ogrinfo", "-so", str(out), "areas-vn-2025-commune"], capture_output=True, text=True,
                          check=True).stdout
    with connection.cursor() as cur:
        cur.execute("""SELECT count(*) FROM boundaries_area a JOIN boundaries_boundaryversion v ON v.id = a.version_id
                       JOIN boundaries_areatype t ON t.id = a.type_id
                       WHERE v.code = 'vn-2025' AND t.code = 'commune'""")
        communes = cur.fetchone()[0]
    assert "Geometry: Multi Polygon" in info
    assert f"Feature Count: {communes}" in info


def test_english_names_on_english_pages(client, db):
    vi = {c["id"]: c["title"] for c in get(client, "/ogcapi/collections").json()["collections"]}
    assert "Quảng Ninh" in vi["reports-22"]
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    en = get(client, "/ogcapi/collections?f=html").content.decode()
    assert "Quang Ninh Province" in en and 'lang="en"' in en


def test_jurisdiction_collections_keep_countries_apart(client, reports):
    from tests.heatmaps.conftest import insert_points

    insert_points([(-71.06, 42.36), (-71.07, 42.35), (-71.08, 42.34)], state="forwarded", province_code="US-MA-BOS")
    insert_points([(-71.05, 42.33)], state="received", province_code="US-MA-BOS")  # not public
    # "no address" in Boston's import: City Hall, the placeholder every map leaves out
    insert_points([(-71.0587, 42.3594)], state="forwarded", province_code="US-MA-BOS")
    boston = get(client, "/ogcapi/collections/reports-boston/items").json()
    assert boston["numberMatched"] == 3
    assert {f["properties"]["province_code"] for f in boston["features"]} == {"US-MA-BOS"}
    vn = get(client, "/ogcapi/collections/reports-vn/items?limit=1").json()
    assert vn["numberMatched"] == sql_count("r.province_code <> 'US-MA-BOS'")
    assert get(client, "/ogcapi/collections/reports/items?limit=1").json()["numberMatched"] == sql_count() - 1
