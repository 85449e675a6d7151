"""Every role × every URL of the project: the status it answers, and whether an
unpublished report of another unit or province leaks (its code in the body).

The world: a citizen's unchecked report in Phường Bãi Cháy (Quảng Ninh, 22), routed to
UBND Bãi Cháy and already past both deadlines (HIDDEN); a forwarded one beside it
(PUBLIC); an unchecked report in Huế (46) (HUE). Expectations are written by hand from
the rules of the issue, never computed with reports.policy. A leak is the report's code,
or its point's coordinates, in the body.

A test walks the URL configuration: a pattern without a row here fails, so a new
endpoint cannot ship without saying who may use it.
"""

import datetime as dt
import json

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from reports import intake, workflow
from reports.models import Report
from tests.basemap_tiles import write_archive
from tests.reports.conftest import BAI_CHAY, new_key, photo, point_in, report_data

HUE_COMMUNE = "19753"  # UBND 19753 (Huế) has officer +84900102101

ANON, REPORTER, CITIZEN = "anonymous", "reporter", "other_citizen"
OFF_UNIT, OFF_OTHER = "officer_of_unit", "officer_other_unit"
OP, OP_OTHER, LEAD, LEAD_OTHER, ADMIN = "operator", "operator_other", "leader", "leader_other", "admin"
ROLES = [ANON, REPORTER, CITIZEN, OFF_UNIT, OFF_OTHER, OP, OP_OTHER, LEAD, LEAD_OTHER, ADMIN]
PHONES = {REPORTER: "+84910000001", OFF_UNIT: "+84900000002", OFF_OTHER: "+84900000003", OP: "+84900000001",
          OP_OTHER: "+84900102001", LEAD: "+84900000004", LEAD_OTHER: "+84900102004"}

STAFF = {OFF_UNIT, OFF_OTHER, OP, OP_OTHER, LEAD, LEAD_OTHER, ADMIN}
CITIZENS = {REPORTER, CITIZEN}
# Who may see HIDDEN (received, Bãi Cháy, 22): its reporter, its unit, its province's
# desk and leader, the admin. HUE: Huế's desk and leader, the admin.
SEES = {REPORTER, OFF_UNIT, OP, LEAD, ADMIN}
STAFF_OF_IT = {OFF_UNIT, OP, LEAD, ADMIN}
SEES_HUE = {OP_OTHER, LEAD_OTHER, ADMIN}


def st(default, **by_role):
    """Expected status per role: ``default`` unless named (keys are role names)."""
    return {r: by_role.get(r, default) for r in ROLES}


def by_set(default, **groups):
    """Expected status: for each ``status_<code>=set``, those roles; else ``default``."""
    out = {r: default for r in ROLES}
    for key, roles in groups.items():
        for r in roles:
            out[r] = int(key.split("_")[1])
    return out


ALL_200 = st(200)
WALL = by_set(200, s_401={ANON}, s_403=CITIZENS)  # staff screens: any staff
WALL_22 = by_set(200, s_401={ANON}, s_403=CITIZENS | {OP_OTHER, LEAD_OTHER})  # ?province=22
ONLY_SEES = by_set(404, s_200=SEES)
# A staff page of one report: sign in first; 404 to whoever may not see the report at all
# (as for a code that does not exist), 403 to its reporter (not a staff page for them).
STAFF_PAGE = by_set(404, s_302={ANON}, s_200=STAFF_OF_IT, s_403={REPORTER})

# route (as Django spells it) → cases: (method, path, data, expected statuses, roles whose body names HIDDEN)
# Paths use {hidden}, {public}, {hue}, {bbox}, {tile}, {lat}, {lon}, {area}.
TABLE = {
    "healthz": [("get", "/healthz", None, ALL_200, set())],
    "livez": [("get", "/livez", None, ALL_200, set())],
    # the self-hosted basemap (the world configures one): public map data for everyone
    "basemap/<str:name>.pmtiles": [("get", "/basemap/matrix.pmtiles", None, ALL_200, set()),
                                   ("get", "/basemap/other.pmtiles", None, st(404), set())],
    # the unpublished report's photo: to those who may read the report
    "media/<path:path>": [("get", "/media/{media}", None, ONLY_SEES, set())],
    "accounts/login/": [("get", "/accounts/login/", None, ALL_200, set())],
    "accounts/logout/": [("post", "/accounts/logout/", None, st(302), set())],
    "accounts/profile/": [("get", "/accounts/profile/", None, st(200, anonymous=302), set())],
    "accounts/api/token": [("post", "/accounts/api/token", {}, st(400), set())],
    # agencies: a signed update or an officer's token; an empty body names no report
    "api/v1/agencies/updates": [("post", "/api/v1/agencies/updates", {}, st(404, anonymous=401), set())],
    # whether the agencies' systems took a report: its staff only
    "api/v1/agencies/reports/<str:code>/forwarding": [
        ("get", "/api/v1/agencies/reports/{hidden}/forwarding", None, by_set(404, s_401={ANON}, s_200=STAFF_OF_IT),
         STAFF_OF_IT),
        ("get", "/api/v1/agencies/reports/{hue}/forwarding", None, by_set(404, s_401={ANON}, s_200=SEES_HUE), set()),
    ],
    # heatmaps
    "tiles/<str:layer>/<int:z>/<int:x>/<int:y>.pbf": [
        # the tile projection has no reporter: a citizen's own reports are on their page
        ("get", "/tiles/reports/{tile}.pbf", None, ALL_200, STAFF_OF_IT),
        ("get", "/tiles/bins/{tile}.pbf", None, ALL_200, set()),
    ],
    "api/v1/heatmaps/version/": [("get", "/api/v1/heatmaps/version/", None, ALL_200, set())],
    "api/v1/heatmaps/heat/": [("get", "/api/v1/heatmaps/heat/?bbox={bbox}&zoom=12", None, ALL_200, set())],
    "api/v1/heatmaps/hex/": [("get", "/api/v1/heatmaps/hex/?bbox={bbox}&zoom=14", None, ALL_200, set())],
    "api/v1/heatmaps/bins/scale/": [("get", "/api/v1/heatmaps/bins/scale/", None, ALL_200, set())],
    "api/v1/heatmaps/areas/": [("get", "/api/v1/heatmaps/areas/?type=province", None, ALL_200, set())],
    "api/v1/heatmaps/series/": [("get", "/api/v1/heatmaps/series/?by=state", None, ALL_200, set())],
    "api/v1/heatmaps/hotspots/": [("get", "/api/v1/heatmaps/hotspots/?bbox={bbox}", None, ALL_200, set())],
    "api/v1/heatmaps/overdue/": [
        ("get", "/api/v1/heatmaps/overdue/?province=22", None, WALL_22, STAFF_OF_IT),
        ("get", "/api/v1/heatmaps/overdue/", None, WALL, STAFF_OF_IT),
        ("get", "/api/v1/heatmaps/overdue/?province=46", None,
         by_set(200, s_401={ANON}, s_403=CITIZENS | {OFF_UNIT, OFF_OTHER, OP, LEAD}), set()),
    ],
    "api/v1/heatmaps/export.<str:fmt>": [
        ("get", "/api/v1/heatmaps/export.geojson?bbox={bbox}", None, ALL_200, SEES),
        ("get", "/api/v1/heatmaps/export.csv?bbox={bbox}", None, ALL_200, SEES),
        ("get", "/api/v1/heatmaps/export.html?bbox={bbox}", None, ALL_200, SEES),
        ("get", "/api/v1/heatmaps/export.gpkg?bbox={bbox}", None, ALL_200, SEES),
    ],
    # OGC API Features: public reports only, the same for everyone (staff included)
    "ogcapi/": [("get", "/ogcapi/", None, ALL_200, set()), ("get", "/ogcapi/?f=html", None, ALL_200, set())],
    "ogcapi/conformance": [("get", "/ogcapi/conformance", None, ALL_200, set())],
    "ogcapi/api": [("get", "/ogcapi/api", None, ALL_200, set())],
    "ogcapi/collections": [("get", "/ogcapi/collections", None, ALL_200, set())],
    "ogcapi/collections/<str:cid>": [("get", "/ogcapi/collections/reports-22", None, ALL_200, set())],
    "ogcapi/collections/<str:cid>/queryables": [("get", "/ogcapi/collections/reports/queryables", None, ALL_200,
                                                 set())],
    "ogcapi/collections/<str:cid>/items": [
        ("get", "/ogcapi/collections/reports-22/items?bbox={bbox}", None, ALL_200, set()),
        ("get", "/ogcapi/collections/reports/items?limit=10000", None, ALL_200, set()),
        ("get", "/ogcapi/collections/reports/items?f=html&filter=state%20%3D%20'received'", None, ALL_200, set()),
        ("get", "/ogcapi/collections/reports-46/items", None, ALL_200, set()),
    ],
    "ogcapi/collections/<str:cid>/items/<str:fid>": [
        ("get", "/ogcapi/collections/reports-22/items/{public}", None, ALL_200, set()),
        ("get", "/ogcapi/collections/reports-22/items/{hidden}", None, st(404), set()),
        ("get", "/ogcapi/collections/reports/items/{hue}?f=html", None, st(404), set()),
    ],
    "api/v1/stats/": [("get", "/api/v1/stats/", None, ALL_200, set())],
    "api/v1/stats/ranking/": [("get", "/api/v1/stats/ranking/?province=22", None, ALL_200, set())],
    "api/v1/stats/series/": [("get", "/api/v1/stats/series/", None, ALL_200, set())],
    "api/v1/stats/by/<str:by>/": [("get", "/api/v1/stats/by/province/", None, ALL_200, set())],
    # counts only: the public may ask for any province
    "api/v1/stats/<str:kind>/<str:code>/": [("get", "/api/v1/stats/province/46/", None, ALL_200, set())],
    "ban-do/": [("get", "/ban-do/", None, ALL_200, set())],
    "phan-tich/": [("get", "/phan-tich/", None, ALL_200, set())],
    "xep-hang/": [("get", "/xep-hang/", None, ALL_200, set())],
    "tong-quan/": [("get", "/tong-quan/", None, ALL_200, set())],
    "ioc/": [
        ("get", "/ioc/?province=22", None, by_set(200, s_302={ANON}, s_403=CITIZENS | {OP_OTHER, LEAD_OTHER}), set()),
        ("get", "/ioc/", None, by_set(200, s_302={ANON}, s_403=CITIZENS), set()),
    ],
    "ioc/events": [
        ("get", "/ioc/events?once=1&province=22", None, WALL_22, STAFF_OF_IT),
        ("get", "/ioc/events?once=1", None, WALL, STAFF_OF_IT),
    ],
    "api/v1/ioc/state/": [
        ("get", "/api/v1/ioc/state/?province=22", None, WALL_22, STAFF_OF_IT),
        ("get", "/api/v1/ioc/state/?province=46", None,
         by_set(200, s_401={ANON}, s_403=CITIZENS | {OFF_UNIT, OFF_OTHER, OP, LEAD}), set()),
    ],
    # reports API
    "api/v1/reports": [
        ("get", "/api/v1/reports?page_size=500", None, ALL_200, set()),
        ("get", "/api/v1/reports?scope=queue&page_size=500", None, ALL_200, SEES),
        # a staff queue of a province or an authority one does not serve: 403
        ("get", "/api/v1/reports?scope=queue&province=46", None, by_set(200, s_403={OFF_UNIT, OFF_OTHER, OP, LEAD}),
         set()),
        ("get", "/api/v1/reports?scope=queue&authority=ubnd-06673", None,
         by_set(200, s_403={OFF_OTHER, OP_OTHER, LEAD_OTHER}), {OFF_UNIT, OP, LEAD, ADMIN}),
        ("post", "/api/v1/reports", "new-report", st(201), set()),
    ],
    "api/v1/reports/nearby": [
        # unchecked reports nearby: only to the staff who may see them (not even to the reporter)
        ("get", "/api/v1/reports/nearby?lat={lat}&lon={lon}", None, ALL_200, STAFF_OF_IT),
    ],
    "api/v1/reports/preview": [
        ("get", "/api/v1/reports/preview?lat={lat}&lon={lon}&category=do-thi-chieu-sang", None, ALL_200, set())],
    "api/v1/reports/photo-hint": [("post", "/api/v1/reports/photo-hint", "empty-form", st(400), set())],
    "api/v1/reports/<str:code>": [
        ("get", "/api/v1/reports/{hidden}", None, ONLY_SEES, SEES),
        ("get", "/api/v1/reports/{public}", None, ALL_200, set()),
    ],
    "api/v1/reports/<str:code>/private": [
        ("get", "/api/v1/reports/{hidden}/private", None, by_set(404, s_200=STAFF_OF_IT, s_403={REPORTER}),
         STAFF_OF_IT),
        ("get", "/api/v1/reports/{public}/private", None, by_set(403, s_200=STAFF_OF_IT), set()),
    ],
    "api/v1/reports/<str:code>/actions/<str:action>": [
        ("post", "/api/v1/reports/{hidden}/actions/forward", {},
         by_set(404, s_200={OP, ADMIN}, s_403={REPORTER, OFF_UNIT, LEAD}), {OP, ADMIN}),
    ],
    "api/v1/reports/<str:code>/comments": [
        ("get", "/api/v1/reports/{hidden}/comments", None, ONLY_SEES, set()),
        ("post", "/api/v1/reports/{public}/comments", {"text": "Vẫn còn tối"},
         by_set(201, s_403={ANON, OFF_OTHER, OP_OTHER, LEAD, LEAD_OTHER}), set()),
    ],
    "api/v1/reports/<str:code>/rating": [
        # not rateable while received: 400 to those who may see it, 404 to the others
        ("post", "/api/v1/reports/{hidden}/rating", {"level": 5}, by_set(404, s_400=SEES), set()),
    ],
    "api/v1/reports/<str:code>/follow": [
        ("post", "/api/v1/reports/{hidden}/follow", None, by_set(404, s_201=SEES), SEES),
        ("post", "/api/v1/reports/{public}/follow", None, st(201, anonymous=403), set()),
    ],
    "api/v1/categories": [("get", "/api/v1/categories", None, ALL_200, set())],
    "api/v1/locate": [("get", "/api/v1/locate?lat={lat}&lon={lon}", None, ALL_200, set())],
    # report pages
    "phan-anh/": [("get", "/phan-anh/", None, ALL_200, set())],
    "phan-anh/ban-do.json": [("get", "/phan-anh/ban-do.json", None, ALL_200, set())],
    "phan-anh/moi/": [("get", "/phan-anh/moi/", None, ALL_200, set())],
    # the installable intake: its service worker, manifest and offline page, to anyone
    "sw.js": [("get", "/sw.js", None, ALL_200, set())],
    "manifest.webmanifest": [("get", "/manifest.webmanifest", None, ALL_200, set())],
    "ngoai-tuyen/": [("get", "/ngoai-tuyen/", None, ALL_200, set())],
    "phan-anh/cua-toi/": [("get", "/phan-anh/cua-toi/", None, st(200, anonymous=302), {REPORTER})],
    "phan-anh/<str:code>/da-gui/": [("get", "/phan-anh/{hidden}/da-gui/", None, ONLY_SEES, SEES)],
    "phan-anh/<str:code>/theo-doi/": [
        ("get", "/phan-anh/{hidden}/theo-doi/", None, by_set(404, s_302=SEES | {ANON}), set())],
    "phan-anh/<str:code>/": [
        ("get", "/phan-anh/{hidden}/", None, ONLY_SEES, SEES),
        ("get", "/phan-anh/{public}/", None, ALL_200, set()),
    ],
    "dieu-hanh/": [("get", "/dieu-hanh/?tab=todo", None,
                    by_set(200, s_302={ANON}, s_403=CITIZENS | {OFF_UNIT, OFF_OTHER}), {OP, LEAD, ADMIN})],
    "dieu-hanh/<str:code>/": [("get", "/dieu-hanh/{hidden}/", None, STAFF_PAGE, STAFF_OF_IT)],
    "xu-ly/": [("get", "/xu-ly/", None, by_set(200, s_302={ANON}, s_403=CITIZENS | {OP, OP_OTHER}), set())],
    "xu-ly/<str:code>/": [("get", "/xu-ly/{hidden}/", None, STAFF_PAGE, STAFF_OF_IT)],
    # area alerts and feeds (alerts/): public data only; the unpublished report is in no feed
    "canh-bao/": [("get", "/canh-bao/", None, ALL_200, set())],
    "canh-bao/xac-nhan/<str:token>/": [("get", "/canh-bao/xac-nhan/khong-hop-le/", None, st(404), set())],
    "canh-bao/huy/<str:token>/": [("get", "/canh-bao/huy/khong-hop-le/", None, st(404), set())],
    "canh-bao/sw.js": [("get", "/canh-bao/sw.js", None, ALL_200, set())],
    "feeds/area/<str:code>.<str:fmt>": [
        ("get", "/feeds/area/06673.atom", None, ALL_200, set()),
        ("get", "/feeds/area/06673.rss", None, ALL_200, set()),
    ],
    "feeds/report/<str:code>.<str:fmt>": [
        ("get", "/feeds/report/{hidden}.atom", None, st(404), set()),
        ("get", "/feeds/report/{public}.atom", None, ALL_200, set()),
    ],
    "feeds/near.<str:fmt>": [("get", "/feeds/near.atom?lat={lat}&lon={lon}&r=5000", None, ALL_200, set())],
    "api/v1/alerts/": [("post", "/api/v1/alerts/", {}, st(400), set())],
    "api/v1/alerts/vapid-key": [("get", "/api/v1/alerts/vapid-key", None, ALL_200, set())],
    # Open311 GeoReport v2: public reports only, whoever asks; a POST needs an API key
    "open311/v2/discovery.<fmt:fmt>": [("get", "/open311/v2/discovery.xml", None, ALL_200, set())],
    "open311/v2/services.<fmt:fmt>": [("get", "/open311/v2/services.json?jurisdiction_id=22", None, ALL_200, set())],
    "open311/v2/services/<str:code>.<fmt:fmt>": [
        ("get", "/open311/v2/services/do-thi-chieu-sang.xml", None, ALL_200, set())],
    "open311/v2/requests.<fmt:fmt>": [
        ("get", "/open311/v2/requests.json?extensions=true", None, ALL_200, set()),
        ("get", "/open311/v2/requests.xml?jurisdiction_id=46", None, ALL_200, set()),
        ("get", "/open311/v2/requests.json?service_request_id={hidden},{hue},{public}", None, ALL_200, set()),
        ("post", "/open311/v2/requests.json", "empty-form", st(403), set()),
    ],
    "open311/v2/requests/<str:request_id>.<fmt:fmt>": [
        ("get", "/open311/v2/requests/{hidden}.json", None, st(404), set()),
        ("get", "/open311/v2/requests/{public}.xml?extensions=true", None, ALL_200, set()),
    ],
    "open311/v2/tokens/<str:token>.<fmt:fmt>": [("get", "/open311/v2/tokens/nothing.json", None, st(404), set())],
    "open311/v2/servicerequestupdates.<fmt:fmt>": [
        ("get", "/open311/v2/servicerequestupdates.xml", None, ALL_200, set())],
    # boundaries
    "": [("get", "/", None, ALL_200, set())],
    "api/v1/boundaries/<slug:version>/<slug:type_code>.geojson": [
        ("get", "/api/v1/boundaries/vn-2025/province.geojson", None, ALL_200, set())],
    "api/v1/areas/<int:pk>": [("get", "/api/v1/areas/{area}", None, ALL_200, set())],
    "api/v1/areas/by-code/<str:code>": [("get", "/api/v1/areas/by-code/22", None, ALL_200, set())],
    # the language switcher; the API's schema and its docs page: anyone
    "i18n/setlang/": [("post", "/i18n/setlang/", "empty-form", st(302), set())],
    "api/v1/schema/": [("get", "/api/v1/schema/", None, ALL_200, set())],
    "api/v1/docs/": [("get", "/api/v1/docs/", None, ALL_200, set())],
}

# Django's admin site: one row stands for its ~200 generated patterns (every one of them
# asks the admin site first: a staff account, is_staff, which only the admin holds).
ADMIN_ONLY = st(302, admin=200)
PREFIX_TABLE = {
    "admin/": [
        ("get", "/admin/", None, ADMIN_ONLY, set()),
        ("get", "/admin/reports/report/", None, ADMIN_ONLY, {ADMIN}),
        ("get", "/admin/reports/report/?q={hidden}", None, ADMIN_ONLY, {ADMIN}),
    ],
}
TABLE.update(PREFIX_TABLE)

# Static files served by Django itself under DEBUG only (no data behind them).
EXCLUDED_PREFIXES = ("static/", "^media/", "^static/")


def all_routes():
    """Every URL pattern of the project as its full route string."""
    out = []

    def walk(patterns, prefix):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                out.append(route)

    walk(get_resolver().url_patterns, "")
    return out


def test_every_url_pattern_has_a_row():
    covered = EXCLUDED_PREFIXES + tuple(PREFIX_TABLE)
    missing = [r for r in all_routes() if not r.startswith(covered) and r not in TABLE]
    assert not missing, f"URL patterns without a row in tests/test_access_matrix.py TABLE: {missing}"
    stale = [r for r in TABLE if r not in all_routes() and not any(x.startswith(r) for x in all_routes())]
    assert not stale, f"rows for URL patterns that no longer exist: {stale}"


# --- the world ---------------------------------------------------------------------------


@pytest.fixture
def world(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.RATELIMIT_ENABLE = False
    settings.NOTIFY_DISPATCH = "sync"
    write_archive(tmp_path / "matrix.pmtiles", max_zoom=4)
    settings.GEO_PORTAL_BASEMAP = f"pmtiles:{tmp_path / 'matrix.pmtiles'}"
    User = get_user_model()
    users = {r: User.objects.get(username=p) for r, p in PHONES.items()}
    users[CITIZEN] = User.objects.create(username="+84910000999", phone="+84910000999", display_name="Khác")
    users[ADMIN] = User.objects.create(username="matrix-admin", is_superuser=True, is_staff=True)
    lon, lat = point_in(BAI_CHAY)
    # HIDDEN stands ~10 m from the others, on a point whose coordinates print exactly
    # (six decimals): a body holding them shows where it is.
    hlon, hlat = round(lon + 0.0001, 6), round(lat + 0.00005, 6)
    hidden = intake.create_report(report_data(lon=str(hlon), lat=str(hlat)), {"photos": [photo()]}, users[REPORTER],
                                  new_key())
    assert hidden.commune.code == BAI_CHAY
    public = intake.create_report(report_data(), {}, None, new_key())
    workflow.transition(public, "forward", users[OP])
    hue = intake.create_report(report_data(commune=HUE_COMMUNE), {}, None, new_key())
    assert hue.province_code == "46" and hidden.province_code == "22"
    past = timezone.now() - dt.timedelta(days=30)
    Report.objects.filter(pk__in=[hidden.pk, hue.pk]).update(forward_due=past, resolve_due=past)
    from heatmaps import aggregates as agg

    agg.refresh_for_reports([hidden.pk, public.pk, hue.pk])
    z = 14
    import math

    n = 2**z
    tx = int((hlon + 180) / 360 * n)
    ty = int((1 - math.asinh(math.tan(math.radians(hlat))) / math.pi) / 2 * n)
    from boundaries.models import Area

    return {
        "users": users, "hidden": hidden.code, "public": public.code, "hue": hue.code,
        "hidden_point": (repr(hlon), repr(hlat)),
        "lat": lat, "lon": lon, "bbox": f"{lon - 0.01},{lat - 0.01},{lon + 0.01},{lat + 0.01}",
        "media": hidden.media.get().file.name,
        "tile": f"{z}/{tx}/{ty}", "area": Area.objects.filter(code=BAI_CHAY).values_list("pk", flat=True).first(),
    }


def client_as(world, role):
    c = Client()
    if role != ANON:
        c.force_login(world["users"][role])
    return c


def body_of(resp):
    if getattr(resp, "streaming", False):
        return b"".join(resp.streaming_content).decode("utf-8", "replace")
    return resp.content.decode("utf-8", "replace")


def do(world, role, method, path, data):
    c = client_as(world, role)
    keys = ("hidden", "public", "hue", "lat", "lon", "bbox", "tile", "area", "media")
    url = path.format(**{k: world[k] for k in keys})
    if method == "get":
        return c.get(url)
    if data == "new-report":
        return c.post(url, report_data(idempotency_key=new_key()))
    if data == "empty-form":
        return c.post(url, {})
    return c.post(url, json.dumps(data) if data is not None else None, content_type="application/json")


CASES = [(route, i) for route, rows in TABLE.items() for i in range(len(rows))]


@pytest.mark.parametrize("route,i", CASES, ids=[f"{r or '/'}#{i}" for r, i in CASES])
def test_role_matrix(world, route, i):
    method, path, data, expected, shows = TABLE[route][i]
    problems = []
    for role in ROLES:
        with transaction.atomic():
            resp = do(world, role, method, path, data)
            body = body_of(resp)
            transaction.set_rollback(True)
        if resp.status_code != expected[role]:
            problems.append(f"{role}: status {resp.status_code}, expected {expected[role]}")
        # A 4xx page may echo the URL the user typed (a "sign in" link): not a leak.
        named = world["hidden"] in body and not (resp.status_code >= 400 and "{hidden}" in path)
        if role in shows and not named:
            problems.append(f"{role}: should see {world['hidden']} and does not")
        if named and role not in SEES:
            problems.append(f"{role}: LEAK of the unpublished report {world['hidden']}")
        # (the point check is meaningful: where the report is shown with its point, it is there)
        if role in shows and any(k in path for k in ("export.geojson", "export.csv", "nearby")) and not all(
                c in body for c in world["hidden_point"]):
            problems.append(f"{role}: the point {world['hidden_point']} is not in the body")
        if all(c in body for c in world["hidden_point"]) and role not in SEES:
            problems.append(f"{role}: LEAK of the point of {world['hidden']} {world['hidden_point']}")
        if world["hue"] in body and role not in SEES_HUE:
            problems.append(f"{role}: LEAK of Huế's unpublished report {world['hue']}")
    assert not problems, f"{method.upper()} {path}:\n" + "\n".join(problems)
