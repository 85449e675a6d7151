"""GEO_PORTAL_BASEMAP: the setting's forms and errors, the Content-Security-Policy that
follows it, the map pages' configuration, the archive served with HTTP range requests,
and ``download_data --basemap``'s bounding box and command (no network)."""

import json
import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client

from boundaries.management.commands.download_data import PROTOMAPS_BUILD, basemap_extract_command
from geo_portal import basemap
from tests.basemap_tiles import write_archive

OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"


# --- the setting --------------------------------------------------------------------------

@pytest.mark.parametrize("value,attribution,kind,url,credit", [
    ("xyz:" + OSM, "", "xyz", OSM, ("© OpenStreetMap contributors", "https://www.openstreetmap.org/copyright")),
    ("xyz:https://{s}.tile.openstreetmap.fr/hot/{z}/{x}/{y}.png", "", "xyz",
     "https://{s}.tile.openstreetmap.fr/hot/{z}/{x}/{y}.png",
     ("© OpenStreetMap contributors", "https://www.openstreetmap.org/copyright")),
    ("xyz:https://gis.quangninh.gov.vn/wmts/nen/{z}/{x}/{y}.png", "© Sở TN&MT Quảng Ninh", "xyz",
     "https://gis.quangninh.gov.vn/wmts/nen/{z}/{x}/{y}.png", ("© Sở TN&MT Quảng Ninh", "")),
    ("  XYZ:" + OSM + "  ", "", "xyz", OSM, ("© OpenStreetMap contributors",
                                              "https://www.openstreetmap.org/copyright")),
    ("none", "", "none", "", None),
    ("pmtiles:/srv/maps/vietnam.pmtiles", "", "pmtiles", "/basemap/vietnam.pmtiles", ("Protomaps", "https://protomaps.com")),
])
def test_setting_forms(value, attribution, kind, url, credit):
    b = basemap.parse(value, attribution, "", "/data")
    assert (b.kind, b.url) == (kind, url)
    assert (b.attribution[0] if b.attribution else None) == credit


def test_a_relative_archive_is_under_the_data_directory(tmp_path):
    b = basemap.parse("pmtiles:basemap/ha-long.pmtiles", data_dir=tmp_path)
    assert b.path == tmp_path / "basemap" / "ha-long.pmtiles"
    assert b.url == "/basemap/ha-long.pmtiles"
    assert [t for t, _ in b.attribution] == ["Protomaps", "© OpenStreetMap contributors"]


@pytest.mark.parametrize("value,attribution,words", [
    ("osm", "", "expected 'xyz:<URL template>'"),
    ("", "", "expected 'xyz:<URL template>'"),
    ("xyz:", "", "http(s) URL"),
    ("xyz:ftp://tiles.example/{z}/{x}/{y}.png", "x", "http(s) URL"),
    ("xyz:https://tiles.example.vn/{z}/{x}.png", "x", "lacks {y}"),
    ("xyz:https://tiles.example.vn/{z}/{x}/{y}.png", "", "GEO_PORTAL_BASEMAP_ATTRIBUTION is required"),
    ("pmtiles:", "", "path is missing"),
    ("pmtiles:/srv/maps/vietnam.mbtiles", "", "named like 'vietnam.pmtiles'"),
    ("none:x", "", "expected 'xyz:<URL template>'"),
])
def test_bad_values_stop_with_a_message_naming_them(value, attribution, words):
    with pytest.raises(ImproperlyConfigured, match=re.escape(words)):
        basemap.parse(value, attribution, "", "/data")


# --- Content-Security-Policy follows the setting -------------------------------------------

def img_src(response):
    policy = response["Content-Security-Policy"]
    return next(d for d in policy.split(";") if d.strip().startswith("img-src")).split()[1:]


@pytest.mark.parametrize("value,allowed,refused", [
    ("xyz:" + OSM, ["https://tile.openstreetmap.org"], []),
    ("xyz:https://{s}.tile.openstreetmap.fr/hot/{z}/{x}/{y}.png", ["https://*.tile.openstreetmap.fr"], []),
    ("xyz:http://127.0.0.1:8899/{z}/{x}/{y}.png", ["http://127.0.0.1:8899"], ["https://tile.openstreetmap.org"]),
    ("none", [], ["https://tile.openstreetmap.org"]),
    ("pmtiles:vietnam.pmtiles", [], ["https://tile.openstreetmap.org"]),
])
def test_the_page_policy_lets_images_come_from_the_raster_host_only(db, settings, value, allowed, refused):
    settings.GEO_PORTAL_BASEMAP = value
    settings.GEO_PORTAL_BASEMAP_ATTRIBUTION = "© test" if "127.0.0.1" in value else ""
    sources = img_src(Client().get("/livez"))
    assert sources[:1] == ["'self'"]
    for host in allowed:
        assert host in sources
    for host in refused:
        assert host not in sources


def page_config(html):
    m = re.search(r'<script id="basemap-config" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(m.group(1))


def test_map_pages_carry_the_basemap_configuration(db, settings, tmp_path):
    archive = tmp_path / "ha-long.pmtiles"
    write_archive(archive, max_zoom=9)
    settings.GEO_PORTAL_BASEMAP = f"pmtiles:{archive}"
    html = Client().get("/").content.decode()
    assert page_config(html) == {
        "kind": "pmtiles", "url": "/basemap/ha-long.pmtiles", "maxZoom": 19, "maxDataZoom": 9,
        "attribution": [["Protomaps", "https://protomaps.com"],
                        ["© OpenStreetMap contributors", "https://www.openstreetmap.org/copyright"]],
    }
    assert "vendor/protomaps-leaflet" in html and "geo_portal/basemap" in html
    # the test run's default: no basemap, no protomaps script
    settings.GEO_PORTAL_BASEMAP = "none"
    html = Client().get("/phan-anh/moi/").content.decode()
    assert page_config(html)["kind"] == "none" and "protomaps-leaflet" not in html
    # an archive that is not there yet: the maps draw none instead of failing on every tile
    settings.GEO_PORTAL_BASEMAP = f"pmtiles:{tmp_path / 'later.pmtiles'}"
    assert page_config(Client().get("/").content.decode())["kind"] == "none"


# --- the archive over HTTP -------------------------------------------------------------------

@pytest.fixture
def archive(settings, tmp_path):
    path = tmp_path / "ha-long.pmtiles"
    write_archive(path, max_zoom=8)
    settings.GEO_PORTAL_BASEMAP = f"pmtiles:{path}"
    return path.read_bytes()


# Range header → status, the bytes expected (as a slice of the file), Content-Range.
RANGE_CASES = [
    (None, 200, slice(None), None),
    ("bytes=0-126", 206, slice(0, 127), "bytes 0-126/{n}"),  # the PMTiles header
    ("bytes=127-16510", 206, slice(127, 16511), "bytes 127-{last}/{n}"),  # past the end: clipped
    ("bytes=100-", 206, slice(100, None), "bytes 100-{last}/{n}"),
    ("bytes=-10", 206, slice(-10, None), "bytes {n_10}-{last}/{n}"),
    ("bytes=-999999", 206, slice(None), "bytes 0-{last}/{n}"),  # suffix longer than the file
    ("bytes=5-5", 206, slice(5, 6), "bytes 5-5/{n}"),
    ("bytes=999999-", 416, None, "bytes */{n}"),
    ("bytes=-0", 416, None, "bytes */{n}"),
    ("bytes=9-3", 200, slice(None), None),  # invalid: ignored
    ("bytes=0-1,5-6", 200, slice(None), None),  # several ranges: the whole file
    ("items=0-10", 200, slice(None), None),
    ("bytes=abc", 200, slice(None), None),
]


@pytest.mark.parametrize("header,status,part,content_range", RANGE_CASES, ids=[str(c[0]) for c in RANGE_CASES])
def test_range_requests(db, archive, header, status, part, content_range):
    n = len(archive)
    extra = {"HTTP_RANGE": header} if header else {}
    r = Client().get("/basemap/ha-long.pmtiles", **extra)
    assert r.status_code == status
    assert r["Accept-Ranges"] == "bytes"
    if content_range:
        assert r["Content-Range"] == content_range.format(n=n, last=n - 1, n_10=n - 10)
    else:
        assert "Content-Range" not in r
    if part is not None:
        body = b"".join(r.streaming_content)
        assert body == archive[part]
        assert int(r["Content-Length"]) == len(body)
        assert r["ETag"].startswith('"') and "public" in r["Cache-Control"]


def test_validators_head_and_a_changed_archive(db, archive, settings):
    c = Client()
    first = c.get("/basemap/ha-long.pmtiles", HTTP_RANGE="bytes=0-126")
    etag = first["ETag"]
    assert c.get("/basemap/ha-long.pmtiles", HTTP_IF_NONE_MATCH=etag).status_code == 304
    head = c.head("/basemap/ha-long.pmtiles", HTTP_RANGE="bytes=0-9")
    assert (head.status_code, head["Content-Length"], head.content) == (206, "10", b"")
    # If-Range with the current ETag: the range; with an old one: the whole (new) file
    assert c.get("/basemap/ha-long.pmtiles", HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=etag).status_code == 206
    stale = c.get("/basemap/ha-long.pmtiles", HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"old"')
    assert stale.status_code == 200 and b"".join(stale.streaming_content) == archive
    assert c.post("/basemap/ha-long.pmtiles").status_code == 405


def test_signed_in_viewers_may_cache_it_too(db, archive, django_user_model):
    c = Client()
    c.force_login(django_user_model.objects.get(username="+84900000002"))
    r = c.get("/basemap/ha-long.pmtiles", HTTP_RANGE="bytes=0-126")
    assert r.status_code == 206 and "no-store" not in r["Cache-Control"] and "public" in r["Cache-Control"]
    # a page for the same viewer stays private
    assert "no-store" in c.get("/xu-ly/")["Cache-Control"]


@pytest.mark.parametrize("path", [
    "/basemap/other.pmtiles",
    "/basemap/ha-long.pmtiles.pmtiles",
    "/basemap/..%2Fha-long.pmtiles",
    "/basemap/%2e%2e/%2e%2e/etc/passwd.pmtiles",
    "/basemap/ha-long.mbtiles",
])
def test_only_the_configured_archive_is_served(db, archive, path):
    assert Client().get(path).status_code == 404


@pytest.mark.parametrize("value", ["none", "xyz:" + OSM])
def test_no_archive_without_the_pmtiles_setting(db, archive, settings, value):
    settings.GEO_PORTAL_BASEMAP = value
    assert Client().get("/basemap/ha-long.pmtiles").status_code == 404


# --- download_data --basemap (no network) ---------------------------------------------------

def test_extract_command_arguments():
    assert basemap_extract_command("https://build.protomaps.com/20261201.pmtiles", "/d/vn.pmtiles",
                                   (106.4, 20.6, 108.1, 21.7), 14) == [
        "pmtiles", "extract", "https://build.protomaps.com/20261201.pmtiles", "/d/vn.pmtiles",
        "--bbox=106.4,20.6,108.1,21.7", "--maxzoom=14"]


def province_box(code):
    """The province's extent by an independent query (degrees)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
                         SELECT ST_Extent(a.geom) e FROM boundaries_area a
                         JOIN boundaries_areatype t ON t.id = a.type_id AND t.code = 'province'
                         JOIN boundaries_boundaryversion v ON v.id = a.version_id AND v.code = 'vn-2025'
                         WHERE a.code = %s) x""", [code])
        return cur.fetchone()


@pytest.mark.parametrize("codes", [["22"], ["22", "46"], ["11", "96"]])
def test_bbox_of_the_chosen_jurisdictions(db, codes, settings, tmp_path):
    from boundaries.extent import jurisdictions_bbox

    boxes = [province_box(c) for c in codes]
    w, s, e, n = jurisdictions_bbox(codes, margin=0.05)
    # covers every province with the margin, and not more than margin + rounding
    assert w <= min(b[0] for b in boxes) - 0.05 < w + 0.0001
    assert s <= min(b[1] for b in boxes) - 0.05 < s + 0.0001
    assert e >= max(b[2] for b in boxes) + 0.05 > e - 0.0001
    assert n >= max(b[3] for b in boxes) + 0.05 > n - 0.0001


def test_default_bbox_is_vietnams_provinces_not_boston(db):
    from boundaries.extent import jurisdictions_bbox

    w, s, e, n = jurisdictions_bbox(country="VN")
    # Điện Biên (west, ~102.1°E), Quảng Ninh (north-east, ~22.5°N), Cà Mau (south, ~8.4°N)
    assert 101.9 < w < 102.2 and 8.2 < s < 8.5 and 108.0 < e < 108.5 and 22.4 < n < 22.8


def test_download_basemap_dry_run_prints_the_command_and_fetches_nothing(db, settings, tmp_path, capsys):
    settings.GEO_PORTAL_BASEMAP = "pmtiles:basemap/quang-ninh.pmtiles"
    settings.DATA_DIR = tmp_path
    call_command("download_data", "--basemap", "--jurisdiction", "22", "--dry-run")
    out = capsys.readouterr().out
    w, s, e, n = province_box("22")
    line = next(x for x in out.splitlines() if x.startswith("pmtiles extract"))
    args = line.split()
    assert args[2] == PROTOMAPS_BUILD and args[3] == str(tmp_path / "basemap" / "quang-ninh.pmtiles")
    bw, bs, be, bn = (float(v) for v in args[4].removeprefix("--bbox=").split(","))
    assert bw < w and bs < s and be > e and bn > n and be - bw < (e - w) + 0.2
    assert not (tmp_path / "basemap").exists()


def test_download_basemap_without_the_cli_is_a_clear_error(db, settings, tmp_path, monkeypatch):
    from django.core.management.base import CommandError

    monkeypatch.setenv("PATH", str(tmp_path))  # no 'pmtiles' program anywhere
    settings.DATA_DIR = tmp_path
    with pytest.raises(CommandError, match="pmtiles"):
        call_command("download_data", "--basemap", "--jurisdiction", "22", "--basemap-out", "x.pmtiles")


# --- the default outside the tests, and the system check -----------------------------------

def test_the_default_is_openstreetmaps_tiles_outside_the_test_run(settings):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_VERSION", "GEO_PORTAL_BASEMAP")}
    env.update(DEBUG="1", DJANGO_SETTINGS_MODULE="geo_portal.settings")
    code = ("import django; django.setup(); from geo_portal import basemap; b = basemap.current(); "
            "print(b.kind, b.url, b.attribution[0][0], b.attribution[0][1], sep='|')")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
                         cwd=str(settings.BASE_DIR)).stdout.strip()
    assert out == "xyz|https://tile.openstreetmap.org/{z}/{x}/{y}.png|© OpenStreetMap contributors|" \
                  "https://www.openstreetmap.org/copyright"


def test_check_warns_of_a_missing_archive(settings, tmp_path):
    from django.core.management import call_command as run

    settings.GEO_PORTAL_BASEMAP = f"pmtiles:{tmp_path / 'later.pmtiles'}"
    assert [m.id for m in basemap.check_archive()] == ["geo_portal.W010"]
    write_archive(tmp_path / "later.pmtiles", max_zoom=3)
    assert basemap.check_archive() == []
    (tmp_path / "later.pmtiles").write_bytes(b"not an archive")
    assert [m.id for m in basemap.check_archive()] == ["geo_portal.W010"]
    run("check")  # a warning, not an error: the portal still starts
