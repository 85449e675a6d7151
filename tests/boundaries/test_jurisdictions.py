"""Jurisdictions: Boston's imported records are Boston's (US calendar, New York time),
the national Vietnamese figures, ranking and wall leave them out, and every map/stats
endpoint takes ?jurisdiction= (unknown: a 400 naming the field)."""

import datetime as dt
import gzip

import pandas as pd
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from boundaries import jurisdictions
from boundaries.models import Jurisdiction
from heatmaps import aggregates as agg
from heatmaps.importer import import_records, load_mapping
from heatmaps.synthetic import generate
from reports import intake, sla
from reports.models import Report, StaffRole
from tests.reports.conftest import new_key, report_data

pytestmark = pytest.mark.django_db

BOSTON_FILE = settings.DATA_DIR / "boston-311" / "requests_2015_partial.csv.gz"
UTC = dt.UTC


def sql_count(where, params=()):
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM reports_report r WHERE {where}", list(params))
        return cur.fetchone()[0]


@pytest.mark.parametrize(
    ("code", "name_en", "country", "time_zone", "calendar", "province_code", "version"),
    [
        ("22", "Quang Ninh Province", "VN", "Asia/Ho_Chi_Minh", "VN", "22", "vn-2025"),
        ("46", "Hue City", "VN", "Asia/Ho_Chi_Minh", "VN", "46", "vn-2025"),
        ("11", "Dien Bien Province", "VN", "Asia/Ho_Chi_Minh", "VN", "11", "vn-2009"),
        ("96", "Ca Mau Province", "VN", "Asia/Ho_Chi_Minh", "VN", "96", "vn-2025"),
        ("boston", "Boston", "US", "America/New_York", "US-MA", "US-MA-BOS", "boston-wards"),
    ],
)
def test_seeded_jurisdictions_own_their_zone_calendar_and_boundaries(code, name_en, country, time_zone, calendar,
                                                                    province_code, version):
    j = jurisdictions.get(code)
    assert (j.name_en, j.country, j.time_zone, j.calendar, j.province_code) == (
        name_en, country, time_zone, calendar, province_code)
    assert version in set(j.boundary_versions().values_list("code", flat=True))
    # a Vietnamese province belongs to the country VN; its authorities are its own
    if country == "VN":
        assert j.parent.code == "VN"
        assert j.authorities().exists()
        assert set(j.authorities().values_list("province_code", flat=True)) == {code}
        assert j.routing_rules().exists()
    # the slug or the code the records carry both name it, in any case
    assert jurisdictions.get(province_code.lower()) == j


@pytest.mark.parametrize(
    ("moment", "n", "code", "expected"),
    [
        # Thursday 3 July 2025, 16:00 in Boston: Friday the 4th is Independence Day,
        # so 1 working day is Monday the 7th at 16:00 EDT (20:00 UTC)…
        (dt.datetime(2025, 7, 3, 20, 0, tzinfo=UTC), 1, "boston", dt.datetime(2025, 7, 7, 20, 0, tzinfo=UTC)),
        # …while in Hanoi that moment is Friday 4 July 03:00, a working day: Monday 03:00 ICT.
        (dt.datetime(2025, 7, 3, 20, 0, tzinfo=UTC), 1, "22", dt.datetime(2025, 7, 6, 20, 0, tzinfo=UTC)),
        # Saturday 5 July 2025 09:00 EDT: the clock starts Monday 08:00 EDT → Tuesday 08:00 EDT.
        (dt.datetime(2025, 7, 5, 13, 0, tzinfo=UTC), 1, "boston", dt.datetime(2025, 7, 8, 12, 0, tzinfo=UTC)),
        # 2014: the 4th is a Friday. Thursday 3 July 10:00 EDT + 5 working days skips
        # it and the weekend: Friday 11 July 10:00 EDT (Vietnam: Thursday the 10th).
        (dt.datetime(2014, 7, 3, 14, 0, tzinfo=UTC), 5, "boston", dt.datetime(2014, 7, 11, 14, 0, tzinfo=UTC)),
        (dt.datetime(2014, 7, 3, 14, 0, tzinfo=UTC), 5, "22", dt.datetime(2014, 7, 10, 14, 0, tzinfo=UTC)),
        # 2015: the 4th is a Saturday. Massachusetts (the package's US/MA calendar)
        # does not move a Saturday holiday to Friday: Friday the 3rd is a working day.
        (dt.datetime(2015, 7, 2, 14, 0, tzinfo=UTC), 1, "boston", dt.datetime(2015, 7, 3, 14, 0, tzinfo=UTC)),
        # Vietnam's 2 September (National Day, Tuesday 2025, with Monday the 1st off):
        # Friday 29 August 10:00 ICT + 1 → Wednesday 3 September 10:00 ICT.
        (dt.datetime(2025, 8, 29, 3, 0, tzinfo=UTC), 1, "22", dt.datetime(2025, 9, 3, 3, 0, tzinfo=UTC)),
        # Boston works on 1–2 September 2025 except Labor Day (Monday the 1st): Tuesday 06:00 EDT.
        (dt.datetime(2025, 8, 29, 10, 0, tzinfo=UTC), 1, "boston", dt.datetime(2025, 9, 2, 10, 0, tzinfo=UTC)),
    ],
)
def test_deadlines_count_the_jurisdictions_calendar_in_its_time_zone(moment, n, code, expected):
    assert sla.add_working_days(moment, n, jurisdictions.get(code)) == expected


def test_vietnam_is_the_default_calendar():
    # no jurisdiction: exactly the Vietnamese rule (the existing tests rely on it)
    moment = dt.datetime(2025, 7, 3, 20, 0, tzinfo=UTC)
    assert sla.add_working_days(moment, 1) == sla.add_working_days(moment, 1, jurisdictions.get("VN"))


def _boston_sample(tmp_path, rows=200):
    """The first rows of the real 2015 file, one of them turned into an open request
    opened Thursday 3 July 2014 10:00 with no target date (Boston's own deadline is not
    in the file: ours is counted)."""
    frame = pd.read_csv(BOSTON_FILE, dtype=str, nrows=rows)
    i = frame.index[0]
    frame.loc[i, ["CASE_STATUS", "OPEN_DT", "TARGET_DT", "CLOSED_DT"]] = ["Open", "07/03/2014 10:00:00 AM", None, None]
    path = tmp_path / "boston.csv.gz"
    with gzip.open(path, "wt") as fh:
        frame.to_csv(fh, index=False)
    return frame, path


def test_boston_import_is_bostons_with_us_deadlines(tmp_path):
    frame, path = _boston_sample(tmp_path)
    res = import_records(str(path), load_mapping("boston311"))
    assert res.inserted == len(frame)
    boston = Jurisdiction.objects.get(code="boston")
    imported = Report.objects.filter(source="import:boston311")
    assert imported.count() == len(frame)
    assert set(imported.values_list("jurisdiction__code", flat=True)) == {"boston"}
    # Friday 4 July 2014 is Independence Day: 5 working days from Thursday 10:00 EDT
    # end Friday 11 July 10:00 EDT, not Thursday the 10th as Vietnam's calendar would.
    opened = imported.get(external_id=frame.loc[frame.index[0], "CASE_ENQUIRY_ID"])
    assert opened.resolve_due == dt.datetime(2014, 7, 11, 14, 0, tzinfo=UTC)
    assert sla.resolve_days(None) == 5
    # the file's own target dates are kept as they are
    second = frame.iloc[1]
    if isinstance(second.TARGET_DT, str):
        r = imported.get(external_id=second.CASE_ENQUIRY_ID)
        local = pd.Timestamp(dt.datetime.strptime(second.TARGET_DT,
                                                  "%m/%d/%Y %I:%M:%S %p")).tz_localize("America/New_York")
        assert r.resolve_due == local.to_pydatetime()
    # its departments are Boston's
    assert boston.authorities().filter(code__startswith="boston311-").exists()


def test_intake_sets_the_located_provinces_jurisdiction(db):
    report = intake.create_report(report_data(), None, None, new_key())
    assert report.province_code == "22"
    stored = Report.objects.select_related("jurisdiction").get(pk=report.pk)
    assert stored.jurisdiction.code == "22" and stored.jurisdiction.calendar == "VN"


@pytest.fixture
def mixed(tmp_path):
    """Synthetic Vietnamese reports and 200 Boston records, roll-ups rebuilt."""
    generate(400, seed=0.17, days=120)
    _frame, path = _boston_sample(tmp_path)
    import_records(str(path), load_mapping("boston311"), refresh=False)
    agg.refresh_all()
    vn = sql_count("r.source <> 'import:boston311'")
    bos = sql_count("r.source = 'import:boston311'")
    assert vn > 300 and bos == 200
    return vn, bos


@pytest.fixture
def _no_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}


def test_national_figures_and_ranking_leave_boston_out(client, mixed, _no_cache):
    vn, bos = mixed
    national = client.get("/api/v1/stats/").json()["figures"]
    assert national["received"] == vn
    # the breakdown by province: no Boston row, and the rows add up to the national count
    rows = client.get("/api/v1/stats/by/province/").json()["rows"]
    assert "US-MA-BOS" not in {r["key"] for r in rows}
    assert sum(r["received"] for r in rows) == vn
    ranking = client.get("/api/v1/stats/ranking/?min=0").json()
    units = [e["authority"] for e in ranking["ranked"] + ranking["unranked"]]
    assert units and not [u for u in units if u.startswith("boston311-")]
    # Vietnam named explicitly is the same scope as the default
    assert client.get("/api/v1/stats/?jurisdiction=VN").json()["figures"]["received"] == vn
    # Boston on its own: only its records
    assert client.get("/api/v1/stats/?jurisdiction=boston").json()["figures"]["received"] == bos
    boston_ranking = client.get("/api/v1/stats/ranking/?jurisdiction=boston&min=0").json()
    units = [e["authority"] for e in boston_ranking["ranked"] + boston_ranking["unranked"]]
    assert units and all(u.startswith("boston311-") for u in units)
    # a province: its records only
    assert client.get("/api/v1/stats/?jurisdiction=22").json()["figures"]["received"] == sql_count(
        "r.source <> 'import:boston311' AND r.province_code = '22'")


def test_wall_leaves_boston_out(client, mixed):
    vn, bos = mixed
    admin = get_user_model().objects.create_user(username="wall-admin", password="x")
    StaffRole.objects.create(user=admin, role=StaffRole.Role.ADMIN)
    client.force_login(admin)
    state = client.get("/api/v1/ioc/state/").json()
    assert state["latest"] and not [r for r in state["latest"] if r["province_code"] == "US-MA-BOS"]
    assert not [e for e in state["ranking"] if e["authority"].startswith("boston311-")]
    assert state["counters"]["open"] == sql_count(
        "r.source <> 'import:boston311' AND r.state IN ('received','forwarded','accepted','in_progress','reopened')")
    boston = client.get("/api/v1/ioc/state/?jurisdiction=boston").json()
    assert boston["latest"] and {r["province_code"] for r in boston["latest"]} == {"US-MA-BOS"}
    assert client.get("/api/v1/ioc/state/?jurisdiction=atlantis").status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/stats/",
        "/api/v1/stats/ranking/",
        "/api/v1/stats/series/",
        "/api/v1/stats/by/province/",
        "/api/v1/heatmaps/heat/?bbox=-71.2,42.2,-70.9,42.45&zoom=12",
        "/api/v1/heatmaps/hex/?bbox=-71.2,42.2,-70.9,42.45&zoom=12",
        "/api/v1/heatmaps/areas/?version=boston-wards&type=city-ward",
        "/api/v1/heatmaps/series/",
        "/api/v1/heatmaps/export.geojson?bbox=-180,-85,180,85",
        "/api/v1/heatmaps/export.csv?bbox=-180,-85,180,85",
        "/api/v1/heatmaps/export.gpkg?bbox=-180,-85,180,85",
        "/api/v1/heatmaps/hotspots/?bbox=-71.2,42.2,-70.9,42.45&zoom=12",
        "/api/v1/stats/province/22/",
        "/tiles/bins/12/1238/1514.pbf",
        "/tiles/reports/12/1238/1514.pbf",
        "/api/v1/reports",
        "/api/v1/categories",
        "/phan-anh/ban-do.json",
    ],
)
def test_every_endpoint_takes_a_jurisdiction(client, url, _no_cache):
    sep = "&" if "?" in url else "?"
    bad = client.get(f"{url}{sep}jurisdiction=atlantis")
    assert bad.status_code == 400, url
    assert "jurisdiction" in bad.json()["errors"]
    assert "atlantis" in str(bad.json()["errors"]["jurisdiction"])
    assert client.get(f"{url}{sep}jurisdiction=boston").status_code in (200, 204), url


def _staff(client):
    admin = get_user_model().objects.create_user(username="jur-admin", password="x")
    StaffRole.objects.create(user=admin, role=StaffRole.Role.ADMIN)
    client.force_login(admin)


def test_boston_only_in_the_export(client, mixed, _no_cache):
    vn, bos = mixed
    _staff(client)
    world = "bbox=-180,-85,180,85"
    # the export leaves out City Hall's "not geocoded" placeholder point
    not_hall = "NOT (ST_X(r.location) = -71.0587 AND ST_Y(r.location) = 42.3594)"
    fc = client.get(f"/api/v1/heatmaps/export.geojson?{world}&jurisdiction=boston").json()
    assert len(fc["features"]) == sql_count(f"r.source = 'import:boston311' AND {not_hall}") > 150
    assert {f["properties"]["province_code"] for f in fc["features"]} == {"US-MA-BOS"}
    fc = client.get(f"/api/v1/heatmaps/export.geojson?{world}").json()
    assert len(fc["features"]) == vn


def test_reports_api_filters_by_jurisdiction(client, mixed):
    _staff(client)
    body = client.get("/api/v1/reports?jurisdiction=boston&page_size=500").json()
    features = body.get("features") or body.get("results", {}).get("features")
    assert features and {f["properties"]["code"][:3] for f in features} == {"BOS"}


def test_categories_are_shared_unless_a_jurisdiction_owns_them():
    from reports.models import Category

    boston, quang_ninh = jurisdictions.get("boston"), jurisdictions.get("22")
    pothole = Category.objects.create(code="bos-pothole", name="Pothole", parent=Category.objects.get(code="do-thi"))
    pothole.jurisdictions.add(boston)
    assert Category.objects.get(code="do-thi-chieu-sang") in Category.offered_in(quang_ninh)
    assert Category.objects.get(code="do-thi-chieu-sang") in Category.offered_in(boston)
    assert pothole in Category.offered_in(boston)
    assert pothole not in Category.offered_in(quang_ninh)


def test_migration_backfill_gives_every_report_its_jurisdiction(mixed):
    """The migration's own SQL, run on reports without a jurisdiction: a report's
    province code decides, Boston's by its code, the rest is Vietnam's."""
    import importlib

    backfill = importlib.import_module("reports.migrations.0005_jurisdiction_and_calendars").BACKFILL
    with connection.cursor() as cur:
        cur.execute("UPDATE reports_report SET jurisdiction_id = NULL")
        for statement in backfill:
            cur.execute(statement)
        cur.execute("""SELECT j.code, r.province_code, count(*) FROM reports_report r
                       LEFT JOIN boundaries_jurisdiction j ON j.id = r.jurisdiction_id GROUP BY 1, 2""")
        rows = cur.fetchall()
    assert {(code, pc) for code, pc, _n in rows} <= {("22", "22"), ("46", "46"), ("11", "11"), ("96", "96"),
                                                     ("boston", "US-MA-BOS"), ("VN", "")}
    assert sum(n for code, _pc, n in rows if code == "boston") == mixed[1]
    assert sum(n for code, _pc, n in rows if code != "boston") == mixed[0]


def test_ranking_and_dashboard_pages(client, mixed, settings, _no_cache):
    settings.HEATMAP_RANKING_MIN_VOLUME = 1
    with connection.cursor() as cur:
        cur.execute("""SELECT a.name FROM boundaries_authority a JOIN reports_report r ON r.authority_id = a.id
                       WHERE r.source = 'import:boston311' GROUP BY a.name ORDER BY count(*) DESC LIMIT 1""")
        department = cur.fetchone()[0]
    national = client.get("/xep-hang/").content.decode()
    assert department not in national
    boston = client.get("/xep-hang/?jurisdiction=boston").content.decode()
    assert department in boston
    for url in ("/xep-hang/?jurisdiction=atlantis", "/tong-quan/?jurisdiction=atlantis"):
        assert client.get(url).status_code == 400
    assert client.get("/tong-quan/?jurisdiction=boston").status_code == 200


def test_a_new_jurisdiction_is_found_at_once(db):
    # The process cache of boundaries.jurisdictions forgets on save (wired in
    # BoundariesConfig.ready()): a jurisdiction added in the admin is found without waiting.
    assert jurisdictions.for_province_code("XX-TEST").code == "VN"  # no such one yet: the country (cached)
    Jurisdiction.objects.create(code="xx-test", name="Thử", kind="city", country="VN",
                                parent=Jurisdiction.objects.get(code="VN"), province_code="XX-TEST")
    assert jurisdictions.for_province_code("XX-TEST").code == "xx-test"


def test_public_map_and_list_leave_boston_out_unless_asked(client, mixed):
    vn, bos = mixed
    public = "r.state IN ('forwarded','accepted','in_progress','resolved','published','rated','reopened','closed')"
    national = client.get("/phan-anh/ban-do.json").json()["points"]
    assert len(national) == sql_count(f"{public} AND r.source <> 'import:boston311'")
    assert national and all(lon > 100 for _code, _lat, lon, _cat in national)
    boston = client.get("/phan-anh/ban-do.json?jurisdiction=boston").json()["points"]
    assert len(boston) == sql_count(f"{public} AND r.source = 'import:boston311'") > 100
    assert all(-72 < lon < -70 for _code, _lat, lon, _cat in boston)
    page = client.get("/phan-anh/?jurisdiction=boston")
    assert page.status_code == 200 and "BOS-" in page.content.decode()
    assert "BOS-" not in client.get("/phan-anh/").content.decode()
    bad = client.get("/phan-anh/?jurisdiction=atlantis")
    assert bad.status_code == 400 and "atlantis" in bad.content.decode()


def test_imported_categories_are_the_jurisdictions_own(client, mixed):
    imported = set(Report.objects.filter(source="import:boston311").values_list("category__code", flat=True))
    assert imported
    offered = {c["code"] for c in client.get("/api/v1/categories?jurisdiction=boston").json()}
    assert imported <= offered and "do-thi-chieu-sang" in offered  # Boston's own and the shared set
    in_quang_ninh = {c["code"] for c in client.get("/api/v1/categories?jurisdiction=22").json()}
    assert not imported & in_quang_ninh and "do-thi-chieu-sang" in in_quang_ninh
    services = {s["service_code"] for s in client.get("/open311/v2/services.json?jurisdiction_id=22").json()}
    assert not imported & services


def test_the_schema_documents_the_jurisdiction_filter(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    missing = []
    for path, item in schema["paths"].items():
        op = item.get("get")
        if op is None or not path.startswith(("/api/v1/stats/", "/api/v1/heatmaps/", "/tiles/", "/api/v1/ioc/")):
            continue
        if path == "/api/v1/heatmaps/version/":
            continue  # the data version: nothing to filter
        if "jurisdiction" not in {p["name"] for p in op.get("parameters", [])}:
            missing.append(path)
    for path in ("/api/v1/reports", "/api/v1/categories"):
        if "jurisdiction" not in {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])}:
            missing.append(path)
    assert missing == []


def test_planners_map_page_of_boston(client, mixed):
    page = client.get("/ban-do/?jurisdiction=boston")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-jurisdiction="boston"' in html and 'data-area-type="city-ward"' in html
    assert 'value="boston-wards"' in html and 'value="vn-2025"' not in html
    # Vietnam's map offers Boston beside it, and opens on Vietnam's boundaries
    national = client.get("/ban-do/").content.decode()
    assert '<option value="boston"' in national and 'value="vn-2025"' in national
    assert 'data-jurisdiction=""' in national
    bad = client.get("/ban-do/?jurisdiction=atlantis")
    assert bad.status_code == 400 and "atlantis" in bad.content.decode()


PUBLIC_SQL = "r.state IN ('forwarded','accepted','in_progress','resolved','published','rated','reopened','closed')"


def test_boston_times_are_new_york_times(client, mixed):
    """Boston's records carry New York's offset in OGC API Features and the REST API, and a
    date in the datetime filter of Boston's collection is a New York day."""
    with connection.cursor() as cur:
        cur.execute(f"""SELECT r.code, to_char(r.created_at AT TIME ZONE 'America/New_York', 'YYYY-MM-DD"T"HH24:MI:SS'),
                               (r.created_at AT TIME ZONE 'America/New_York')::date
                        FROM reports_report r WHERE r.source = 'import:boston311' AND {PUBLIC_SQL}
                          AND NOT (ST_X(r.location) = -71.0587 AND ST_Y(r.location) = 42.3594)
                        ORDER BY r.created_at DESC LIMIT 1""")
        code, local, day = cur.fetchone()
    feature = client.get(f"/ogcapi/collections/reports-boston/items/{code}").json()
    assert feature["properties"]["created_at"][:19] == local
    assert feature["properties"]["created_at"][19:] in ("-05:00", "-04:00")
    api = client.get(f"/api/v1/reports/{code}").json()
    created = api["properties"]["created_at"]
    assert created[:19] == local and created[19:] in ("-05:00", "-04:00")
    vn = client.get("/ogcapi/collections/reports-22/items?limit=1").json()["features"][0]
    assert vn["properties"]["created_at"].endswith("+07:00")
    matched = client.get(f"/ogcapi/collections/reports-boston/items?datetime={day.isoformat()}").json()["numberMatched"]
    assert matched == sql_count(
        f"r.source = 'import:boston311' AND {PUBLIC_SQL} AND (r.created_at AT TIME ZONE 'America/New_York')::date = %s "
        "AND NOT (ST_X(r.location) = -71.0587 AND ST_Y(r.location) = 42.3594)", [day]) > 0
