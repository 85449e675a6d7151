"""One lookup rule for one point and for many: locate(), locate_points (CSV) and the
records importer (heatmaps) place the same hand-picked points in the same commune —
inside, on a shared border (lowest code), just off the coast (snapped, with the same
distance), far at sea (nowhere). Expected values are hand-picked codes and distances
measured by an independent SQL query on the polygons."""

import csv

import pytest
from django.core.management import call_command

from boundaries.lookup import locate
from heatmaps.importer import import_records, load_mapping
from reports.models import Report
from tests.boundaries._points import distance_to_nearest_commune, interior_point, shared_vertex

pytestmark = pytest.mark.django_db

# (id, how to get the point, expected commune code or None, snapped?)
CASES = [
    ("inside-hong-gai", lambda: interior_point("06685"), "06685", False),
    # Bãi Cháy (06673) and Việt Hưng (06661) both cover this vertex: the lower code wins.
    ("border-bai-chay-viet-hung", lambda: shared_vertex("06673", "06661"), "06661", False),
    # Hạ Long Bay, ~620 m off Bãi Cháy's shore: within the 1000 m tolerance.
    ("bay-off-bai-chay", lambda: (107.05, 20.94), "06673", True),
    # Gulf of Tonkin, ~28 km from the nearest island: nowhere.
    ("gulf-of-tonkin", lambda: (107.6, 20.5), None, False),
]


@pytest.fixture
def points():
    out = []
    for key, where, code, snapped in CASES:
        lon, lat = where()
        dist = distance_to_nearest_commune((lon, lat), code) if snapped else None
        out.append({"id": key, "lon": lon, "lat": lat, "code": code, "snapped_m": dist})
    return out


def _write_csv(path, points):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "created", "kind", "lat", "lon"])
        for p in points:
            w.writerow([p["id"], "2025-08-01 09:00", "Đèn đường", repr(p["lat"]), repr(p["lon"])])
    return path


def test_locate_locate_points_and_importer_agree_on_border_and_snapping(points, tmp_path):
    src = _write_csv(tmp_path / "points.csv", points)

    single = {}
    for p in points:
        result = locate((p["lon"], p["lat"]))
        single[p["id"]] = (result.commune.code if result.commune else None, result.snapped_m)

    out = tmp_path / "located.csv"
    call_command("locate_points", str(src), "--lat", "lat", "--lon", "lon", "--type", "commune",
                 "--version", "vn-2025", "--out", str(out), "--no-progress")
    with open(out, encoding="utf-8") as f:
        bulk = {r["id"]: (r["area_code"] or None, float(r["snapped_m"]) if r["snapped_m"] else None)
                for r in csv.DictReader(f)}

    mapping = load_mapping(overrides={
        "external_id": "id", "created_at": "created", "category": "kind", "lat": "lat", "lon": "lon",
        "source": "import:bulk-lookup-test", "code_prefix": "BLT", "version": "vn-2025", "timezone": "Asia/Ho_Chi_Minh",
    })
    result = import_records(str(src), mapping, refresh=False)
    assert result.inserted == len(points) and result.outside == 1
    imported = {
        r.external_id: r.commune.code if r.commune_id else None
        for r in Report.objects.filter(source="import:bulk-lookup-test").select_related("commune")
    }

    for p in points:
        code, snap = single[p["id"]]
        assert code == p["code"], p["id"]
        assert bulk[p["id"]][0] == p["code"], p["id"]
        assert imported[p["id"]] == p["code"], p["id"]
        if p["snapped_m"] is None:
            assert snap is None and bulk[p["id"]][1] is None, p["id"]
        else:
            assert snap == pytest.approx(p["snapped_m"], abs=2)
            assert bulk[p["id"]][1] == pytest.approx(p["snapped_m"], abs=2)
