"""The boundary importer and import_boundaries on real data: dry run, idempotence,
updates, rejections, other OGR formats, repairs; and what load_boundaries loaded."""

import io
import zipfile

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from shapely import affinity
from shapely.geometry import Polygon

from boundaries.importer import BoundaryImportError, import_areas
from boundaries.models import Area, AreaPart, AreaType, BoundaryImport, BoundaryVersion

QN_FILE = settings.DATA_DIR / "vn-boundaries" / "2025" / "wards_22_quang_ninh.geojson"


@pytest.fixture(scope="module")
def qn():
    return gpd.read_file(QN_FILE)


@pytest.fixture
def sample(qn):
    """Three real Quảng Ninh communes (full resolution; the three lightest, for speed)."""
    order = shapely.get_num_coordinates(qn.geometry.values).argsort()
    return qn.iloc[order[:3]].copy()


def write_geojson(gdf, path):
    gdf.to_file(path, driver="GeoJSON")
    return path


def kw(version="test-import", **extra):
    return {
        "type_code": "commune",
        "version_code": version,
        "code_field": "ward_code",
        "name_field": "full_name",
        "name_en_field": "name_en",
        **extra,
    }


def db_state():
    return (
        Area.objects.count(),
        AreaPart.objects.count(),
        BoundaryVersion.objects.count(),
        AreaType.objects.count(),
        BoundaryImport.objects.count(),
        sorted(Area.objects.values_list("geom_checksum", flat=True))[:50],
    )


def test_dry_run_reports_the_plan_and_writes_nothing(db, sample, tmp_path):
    src = write_geojson(sample, tmp_path / "qn3.geojson")
    before = db_state()
    result = import_areas(src, **kw(version="test-dry"))
    assert not result.committed
    assert sorted(result.created) == sorted(sample["ward_code"])
    assert result.version_created
    assert db_state() == before
    assert not BoundaryVersion.objects.filter(code="test-dry").exists()

    out = _call(
        src, "--type", "commune", "--version", "test-dry", "--code-field", "ward_code", "--name-field", "full_name"
    )
    assert "CHẠY THỬ" in out and "tạo 3" in out
    assert db_state() == before


def _call(*args):
    buf = io.StringIO()
    call_command("import_boundaries", *[str(a) for a in args], "--no-progress", stdout=buf, stderr=buf)
    return buf.getvalue()


def test_commit_then_reimport_is_idempotent(db, sample, tmp_path):
    src = write_geojson(sample, tmp_path / "qn3.geojson")
    first = import_areas(src, commit=True, **kw())
    assert len(first.created) == 3 and first.committed
    version = BoundaryVersion.objects.get(code="test-import")
    areas = Area.objects.filter(version=version)
    assert areas.count() == 3
    assert all(a.geom.geom_type == "MultiPolygon" and a.geom.srid == 4326 for a in areas)
    # every area has its subdivided parts, and they cover exactly the area
    for a in areas:
        assert a.parts.count() >= 1
        assert all(p.geom.num_points <= 256 + 5 for p in a.parts.all())
    stamps = dict(areas.values_list("code", "updated_at"))

    # Same file, every area compared again: nothing changes.
    again = import_areas(src, commit=True, force=True, **kw())
    assert (len(again.created), len(again.updated), len(again.unchanged)) == (0, 0, 3)
    # Same file, default: recognised by its sha256 and skipped at once.
    fast = import_areas(src, commit=True, **kw())
    assert fast.source_unchanged and not fast.created and not fast.updated
    assert dict(Area.objects.filter(version=version).values_list("code", "updated_at")) == stamps

    out = _call(
        src,
        "--type",
        "commune",
        "--version",
        "test-import",
        "--code-field",
        "ward_code",
        "--name-field",
        "full_name",
        "--name-en-field",
        "name_en",
        "--commit",
        "--force",
    )
    assert "tạo 0, thay đổi 0, giữ nguyên 3" in out


def test_an_area_gone_from_the_source_is_reported_and_pruned_on_request(db, sample, tmp_path):
    import_areas(write_geojson(sample, tmp_path / "three.geojson"), commit=True, **kw())
    two = write_geojson(sample.iloc[:2], tmp_path / "two.geojson")
    gone = sample.iloc[2]["ward_code"]
    kept = import_areas(two, commit=True, **kw())
    assert kept.absent == [gone] and not kept.pruned and "--prune" in str(kept)
    assert Area.objects.filter(version__code="test-import", code=gone).exists()
    pruned = import_areas(two, commit=True, prune=True, force=True, **kw())
    assert pruned.absent == [gone] and pruned.pruned
    assert not Area.objects.filter(version__code="test-import", code=gone).exists()
    assert not AreaPart.objects.filter(area__version__code="test-import", area__code=gone).exists()


def test_where_and_filter_select_features(db, sample, tmp_path):
    src = write_geojson(sample, tmp_path / "qn3.geojson")
    first, second = sample["ward_code"].iloc[0], sample["ward_code"].iloc[1]
    assert import_areas(src, where=f"ward_code = '{first}'", **kw()).created == [first]
    assert import_areas(src, filters={"ward_code": second}, **kw()).created == [second]
    out = _call(
        src,
        "--type",
        "commune",
        "--version",
        "x",
        "--code-field",
        "ward_code",
        "--name-field",
        "full_name",
        "--filter",
        f"ward_code={second}",
    )
    assert "tạo 1," in out and second in out


def test_a_changed_polygon_updates_and_rebuilds_its_parts(db, sample, tmp_path):
    src = write_geojson(sample, tmp_path / "v1.geojson")
    import_areas(src, commit=True, **kw())
    changed = sample.copy()
    code = changed.iloc[0]["ward_code"]
    changed.loc[changed.index[0], "geometry"] = affinity.scale(changed.iloc[0].geometry, 0.5, 0.5, origin="centroid")
    src2 = write_geojson(changed, tmp_path / "v2.geojson")

    plan = import_areas(src2, **kw())  # dry run first
    assert plan.updated == [(code, ["geom"])] and len(plan.unchanged) == 2

    area = Area.objects.get(version__code="test-import", code=code)
    old_area = area.geom.area
    result = import_areas(src2, commit=True, **kw())
    assert result.updated == [(code, ["geom"])]
    area.refresh_from_db()
    assert area.geom.area == pytest.approx(old_area / 4, rel=0.01)
    # the first file again: not skipped as "already imported", the polygon comes back
    back = import_areas(src, commit=True, **kw())
    assert not back.source_unchanged and back.updated == [(code, ["geom"])]
    area.refresh_from_db()
    assert area.geom.area == pytest.approx(old_area, rel=1e-9)
    assert import_areas(src2, commit=True, **kw()).updated == [(code, ["geom"])]
    area.refresh_from_db()
    with connection.cursor() as cur:
        cur.execute("SELECT ST_Area(ST_Union(geom)) FROM boundaries_areapart WHERE area_id = %s", [area.id])
        assert cur.fetchone()[0] == pytest.approx(area.geom.area, rel=1e-6)


def test_broken_geojson_is_rejected_with_a_clear_message(db, sample, tmp_path):
    good = write_geojson(sample, tmp_path / "good.geojson").read_text()
    broken = tmp_path / "broken.geojson"
    broken.write_text(good[: len(good) // 2])  # cut in the middle of a coordinate list
    before = db_state()
    with pytest.raises(BoundaryImportError, match="Không đọc được nguồn dữ liệu"):
        import_areas(broken, commit=True, **kw())
    with pytest.raises(CommandError, match="Không đọc được nguồn dữ liệu"):
        _call(
            broken,
            "--type",
            "commune",
            "--version",
            "test-import",
            "--code-field",
            "ward_code",
            "--name-field",
            "full_name",
            "--commit",
        )
    assert db_state() == before


def test_duplicate_and_missing_codes_reject_the_whole_file(db, qn, tmp_path):
    rows = qn.iloc[:4].copy()
    rows.loc[rows.index[1], "ward_code"] = rows.iloc[0]["ward_code"]  # duplicate
    rows.loc[rows.index[3], "ward_code"] = None  # missing
    src = write_geojson(rows, tmp_path / "dup.geojson")
    before = db_state()
    with pytest.raises(BoundaryImportError) as err:
        import_areas(src, commit=True, **kw())
    msg = str(err.value)
    assert "Không có gì được ghi" in msg
    assert f"mã {rows.iloc[0]['ward_code']} trùng lặp" in msg
    assert "#4: thiếu mã" in msg
    assert db_state() == before
    with pytest.raises(CommandError, match="trùng lặp"):
        _call(
            src,
            "--type",
            "commune",
            "--version",
            "test-import",
            "--code-field",
            "ward_code",
            "--name-field",
            "full_name",
            "--commit",
        )
    assert db_state() == before


@pytest.mark.filterwarnings("ignore:Column names longer", "ignore:Normalized/laundered")
def test_geopackage_and_zipped_shapefile_in_another_crs(db, sample, tmp_path):
    utm = sample.to_crs(3405)  # VN-2000 / UTM zone 48N, metres
    gpkg = tmp_path / "qn.gpkg"
    utm.to_file(gpkg, driver="GPKG", layer="xa")
    result = import_areas(gpkg, commit=True, **kw(version="test-gpkg"))
    assert len(result.created) == 3
    assert "3405" in result.reprojected_from
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    utm.to_file(shp_dir / "xa.shp")
    zipped = tmp_path / "xa.zip"
    with zipfile.ZipFile(zipped, "w") as z:
        for f in shp_dir.iterdir():
            z.write(f, f.name)
    # Shapefile field names are cut to 10 characters: ward_code / full_name still fit.
    result = import_areas(zipped, commit=True, **kw(version="test-shp"))
    assert len(result.created) == 3
    for code, geom in zip(sample["ward_code"], sample.geometry, strict=True):
        for version in ("test-gpkg", "test-shp"):
            stored = shapely.from_wkb(bytes(Area.objects.get(version__code=version, code=code).geom.wkb))
            # back in lon/lat, within a metre of the original (VN-2000 datum shift both ways)
            assert shapely.hausdorff_distance(stored, geom) < 1e-5


def test_invalid_polygon_is_repaired_and_reported(db, sample, tmp_path):
    bowtie = Polygon([(107.0, 21.0), (107.1, 21.1), (107.1, 21.0), (107.0, 21.1), (107.0, 21.0)])
    assert not bowtie.is_valid
    rows = sample.iloc[:1].copy()
    extra = rows.copy()
    extra["ward_code"] = "99999"
    extra["geometry"] = [bowtie]
    src = write_geojson(gpd.GeoDataFrame(pd.concat([rows, extra]), crs=4326), tmp_path / "bad.geojson")
    result = import_areas(src, commit=True, **kw())
    assert [c for c, _ in result.repaired] == ["99999"]
    assert "Self-intersection" in result.repaired[0][1]
    assert "sửa hình 1" in str(result)
    area = Area.objects.get(version__code="test-import", code="99999")
    assert area.geom.valid and area.geom.geom_type == "MultiPolygon"
    assert len(area.geom) == 2  # the bow tie became its two triangles
    assert area.geom.area == pytest.approx(shapely.make_valid(bowtie).area, rel=1e-9)


def test_boston_has_22_wards_in_its_own_jurisdiction(db):
    version = BoundaryVersion.objects.get(code="boston-wards")
    assert version.jurisdiction == "US-MA-BOS"
    wards = Area.objects.filter(version=version, type__code="city-ward")
    assert sorted(wards.values_list("code", flat=True), key=int) == [str(i) for i in range(1, 23)]
    assert wards.get(code="5").name == "Ward 5"
    assert AreaPart.objects.filter(version=version).values("area").distinct().count() == 22


@pytest.mark.parametrize(("province", "communes"), [("22", 54), ("46", 40), ("11", 45), ("96", 64)])
def test_2025_provinces_are_the_union_of_their_communes(db, province, communes):
    p = Area.objects.get(version__code="vn-2025", type__code="province", code=province)
    kids = Area.objects.filter(version__code="vn-2025", type__code="commune", parent=p)
    assert kids.count() == communes
    assert p.name.endswith(("Quảng Ninh", "Huế", "Điện Biên", "Cà Mau"))
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_Area(p.geom::geography), (SELECT sum(ST_Area(c.geom::geography)) FROM boundaries_area c WHERE "
            "c.parent_id = p.id) FROM boundaries_area p WHERE p.id = %s",
            [p.id],
        )
        union_m2, sum_m2 = cur.fetchone()
    assert union_m2 == pytest.approx(sum_m2, rel=1e-3)  # communes tile their province


def test_2025_version_dates_and_the_2009_version_records_its_vintage(db):
    v25 = BoundaryVersion.objects.get(code="vn-2025")
    v09 = BoundaryVersion.objects.get(code="vn-2009")
    assert str(v25.valid_from) == "2025-07-01" and v25.valid_to is None
    assert str(v09.valid_to) == "2025-06-30"
    assert "2009" in v09.description and "thinned" in v09.description
    # old structure: province > district > commune, with official codes where derivable
    hue = Area.objects.get(version=v09, type__code="province", code="46")
    assert Area.objects.filter(version=v09, type__code="district", parent=hue).count() == 9
    bai_chay = Area.objects.get(version=v09, type__code="commune", code="06673")
    assert bai_chay.parent.code == "193" and bai_chay.parent.parent.code == "22"


def test_admin_shows_an_area_on_an_offline_map_and_edits_rules(admin_client):
    area = Area.objects.get(version__code="vn-2025", type__code="commune", code="06673")
    page = admin_client.get(f"/admin/boundaries/area/{area.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Phường Bãi Cháy" in html and "vendor/leaflet/leaflet.js" in html and "L.geoJSON({&quot;" not in html
    # The outline travels in a data attribute (no inline script: Content-Security-Policy).
    assert 'class="admin-map" data-geojson="{ &quot;type&quot;: &quot;' in html
    assert "&quot;MultiPolygon&quot;" in html or "&quot;Polygon&quot;" in html
    listing = admin_client.get("/admin/boundaries/area/", {"q": "Bãi Cháy"})
    assert listing.status_code == 200 and "06673" in listing.content.decode()
    for url in ("authority", "routingrule", "areasuccession", "boundaryversion", "areatype", "boundaryimport"):
        assert admin_client.get(f"/admin/boundaries/{url}/").status_code == 200
    assert admin_client.get("/admin/boundaries/routingrule/add/").status_code == 200


def test_a_new_version_that_would_be_live_beside_vn_2025_is_flagged(db, sample, tmp_path):
    """A version created without dates in Vietnam's jurisdiction is valid every day, like
    vn-2025: lookups would meet both. The plan says so; dates or another jurisdiction
    keep it quiet."""
    src = write_geojson(sample, tmp_path / "qn3.geojson")
    base = [
        src,
        "--type",
        "commune",
        "--version",
        "test-live",
        "--code-field",
        "ward_code",
        "--name-field",
        "full_name",
    ]
    out = _call(*base)
    assert "Cảnh báo" in out and "vn-2025" in out and "vn-2009" in out
    assert "vn-2025" not in _call(*base, "--valid-to", "2025-06-30")
    assert "vn-2009" not in _call(*base, "--valid-from", "2025-07-01")
    assert "Cảnh báo" not in _call(*base, "--jurisdiction", "VN-TEST")
