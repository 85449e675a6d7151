"""locate_points: Boston's 311 requests against the city's own ward, and against a
geopandas reference join of the same polygons; bad rows; gzip in and out."""

import csv
import gzip
import re

import pandas as pd
import pytest
import shapely
from django.conf import settings
from django.core.management import call_command
from django.db import connection

pytestmark = pytest.mark.django_db

BOSTON_311 = settings.DATA_DIR / "boston-311" / "requests_2015_partial.csv.gz"
CITY_HALL = (42.3594, -71.0587)


def _ward_number(text):
    m = re.search(r"(\d+)", text or "")
    return str(int(m.group(1))) if m else ""


@pytest.fixture(scope="module")
def boston_out(tmp_path_factory, django_db_blocker):
    out = tmp_path_factory.mktemp("boston") / "located.csv"
    with django_db_blocker.unblock():
        call_command(
            "locate_points",
            str(BOSTON_311),
            "--lat",
            "LATITUDE",
            "--lon",
            "LONGITUDE",
            "--type",
            "city-ward",
            "--out",
            str(out),
            "--no-progress",
        )
        with connection.cursor() as cur:
            cur.execute(
                """SELECT a.code, ST_AsBinary(a.geom) FROM boundaries_area a
                   JOIN boundaries_boundaryversion v ON v.id = a.version_id
                   WHERE v.code = 'boston-wards'"""
            )
            wards = [(code, shapely.from_wkb(bytes(wkb))) for code, wkb in cur.fetchall()]
    return pd.read_csv(out, dtype=str, keep_default_na=False), wards


def test_every_input_row_and_column_is_kept_in_order(boston_out):
    located, _ = boston_out
    source = pd.read_csv(BOSTON_311, dtype=str, keep_default_na=False)
    assert len(located) == len(source) == 121_145
    assert list(located.columns) == [*source.columns, "area_code", "area_name", "snapped_m"]
    assert (located["CASE_ENQUIRY_ID"].values == source["CASE_ENQUIRY_ID"].values).all()


def _usable(located):
    lat = pd.to_numeric(located["LATITUDE"], errors="coerce")
    lon = pd.to_numeric(located["LONGITUDE"], errors="coerce")
    city_hall = (lat.round(4) == CITY_HALL[0]) & (lon.round(4) == CITY_HALL[1])
    return located[lat.notna() & lon.notna() & ~city_hall].assign(lat=lat, lon=lon)


def test_agrees_with_the_citys_ward_on_at_least_98_9_percent(boston_out):
    located, _ = boston_out
    rows = _usable(located)
    rows = rows[rows["ward"].map(_ward_number) != ""]
    assert len(rows) > 100_000
    agree = (rows["ward"].map(_ward_number) == rows["area_code"]).mean()
    assert agree >= 0.989, f"agreement {agree:.4%}"


def test_agrees_with_a_geopandas_join_of_the_same_polygons_on_every_request(boston_out):
    """Reference: shapely/geopandas ``covered_by`` (ST_Covers' twin) on the same polygons
    (read back from the database), on every request with usable coordinates: a point in
    one ward gets that ward; a point on a ward line (covered by two) gets the lowest code
    (text order, the documented border rule); a point in none is snapped within the
    tolerance or left empty. 100 %, no exception."""
    import geopandas as gpd

    located, wards = boston_out
    rows = _usable(located)
    points = gpd.GeoDataFrame(rows[["area_code"]], geometry=gpd.points_from_xy(rows["lon"], rows["lat"]), crs=4326)
    polys = gpd.GeoDataFrame({"ward": [c for c, _ in wards]}, geometry=[g for _, g in wards], crs=4326)
    joined = gpd.sjoin(points, polys, predicate="covered_by", how="inner")
    expected = joined.groupby(level=0)["ward"].min()  # lowest code when on a line
    on_a_line = joined.index.value_counts().gt(1).sum()
    assert len(expected) > 100_000
    got = rows.loc[expected.index, "area_code"]
    mismatches = got[got != expected]
    assert len(mismatches) == 0, f"{len(mismatches)} of {len(expected)} differ ({on_a_line} on a ward line)"
    assert (rows.loc[expected.index, "snapped_m"] == "").all()
    # points in no ward per the reference were snapped (within tolerance) or left empty
    outside = rows[~rows.index.isin(expected.index)]
    assert ((outside["area_code"] == "") | (outside["snapped_m"] != "")).all()
    assert len(expected) + len(outside) == len(rows)


def test_bad_rows_give_empty_outputs_and_gzip_works(tmp_path):
    src = tmp_path / "points.csv.gz"
    rows = [
        ["id", "note", "lat", "lon"],
        ["1", "Back Bay, with a comma", "42.3504", "-71.0867"],
        ["2", "empty", "", ""],
        ["3", "text", "abc", "-71.0"],
        ["4", "out of range", "142.35", "-71.08"],
        ["5", "Paris", "48.85", "2.35"],
        ["6", 'quote " inside', "42.3504", "-71.0867"],
    ]
    with gzip.open(src, "wt", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    out = tmp_path / "out.csv.gz"
    call_command(
        "locate_points",
        str(src),
        "--lat",
        "lat",
        "--lon",
        "lon",
        "--type",
        "city-ward",
        "--version",
        "boston-wards",
        "--out",
        str(out),
        "--no-progress",
    )
    with gzip.open(out, "rt", encoding="utf-8") as f:
        got = list(csv.reader(f))
    assert got[0] == ["id", "note", "lat", "lon", "area_code", "area_name", "snapped_m"]
    assert [r[0] for r in got[1:]] == ["1", "2", "3", "4", "5", "6"]
    assert got[1][1] == "Back Bay, with a comma" and got[6][1] == 'quote " inside'
    assert got[1][4:] == ["5", "Ward 5", ""] and got[6][4] == "5"
    for r in got[2:6]:
        assert r[4:] == ["", "", ""]


def test_snap_within_tolerance_in_bulk(tmp_path):
    src = tmp_path / "sea.csv"
    src.write_text(
        "name,y,x\nbay near Bai Chay,20.94,107.05\nfar out,20.5,107.6\ninland,21.0,107.0\n", encoding="utf-8"
    )
    out = tmp_path / "sea_out.csv"
    call_command(
        "locate_points",
        str(src),
        "--lat",
        "y",
        "--lon",
        "x",
        "--type",
        "commune",
        "--version",
        "vn-2025",
        "--out",
        str(out),
        "--no-progress",
    )
    got = list(csv.DictReader(out.open(encoding="utf-8")))
    assert got[0]["area_code"] == "06673" and 0 < float(got[0]["snapped_m"]) < 1000
    assert got[1]["area_code"] == "" and got[1]["snapped_m"] == ""
    assert got[2]["area_code"] and got[2]["snapped_m"] == ""


def _locate(src, out, *extra):
    call_command(
        "locate_points", str(src), "--lat", "lat", "--lon", "lon", "--type", "city-ward",
        "--version", "boston-wards", "--out", str(out), "--no-progress", *extra,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,lat,lon\n1,42.3504,-71.0867\n2,42.35,-71.08,extra\n", "dòng 3"),  # more fields than the header
        (b"id,name,lat,lon\n1,caf\xe9,42.3504,-71.0867\n", "UTF-8"),  # Latin-1, not UTF-8
        (b"", "tệp rỗng"),
    ],
)
def test_a_malformed_csv_is_refused_with_the_line_and_no_output(tmp_path, content, message):
    from django.core.management import CommandError

    src = tmp_path / "bad.csv"
    src.write_bytes(content)
    out = tmp_path / "out.csv"
    with pytest.raises(CommandError, match=message):
        _locate(src, out)
    assert not out.exists()
    with connection.cursor() as cur:  # the work tables are gone
        cur.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE '\\_lp\\_%%'")
        assert cur.fetchone()[0] == 0


def test_missing_input_or_output_folder_is_a_clear_error(tmp_path):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="Không tìm thấy tệp"):
        _locate(tmp_path / "nope.csv", tmp_path / "out.csv")
    src = tmp_path / "ok.csv"
    src.write_text("id,lat,lon\n1,42.3504,-71.0867\n", encoding="utf-8")
    with pytest.raises(CommandError, match="Không có thư mục"):
        _locate(src, tmp_path / "missing" / "out.csv")
    _locate(src, tmp_path / "out.csv")
    assert (
        tmp_path / "out.csv"
    ).read_bytes() == b"id,lat,lon,area_code,area_name,snapped_m\n1,42.3504,-71.0867,5,Ward 5,\n"
