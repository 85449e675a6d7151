"""Import areas from any OGR source (GeoJSON, Shapefile, GeoPackage, zipped or gzipped)
into one boundary version and area type.

The import is a plan first: every feature is read, reprojected to EPSG:4326, repaired
when invalid, promoted to MultiPolygon and fingerprinted (sha256 of its normalised WKB).
The plan is then compared with what the database holds for (version, type, code):
create, update (geometry or attributes changed), unchanged. Missing or duplicate codes
and unusable geometry are rejected: the whole import is refused and nothing is written.
Nothing is written either unless ``commit=True`` (a dry run). A committed import runs
in one transaction and rebuilds the subdivided copy (``ST_Subdivide(geom, 256)``) of
the areas whose geometry changed.

``upsert_union_areas`` builds parent areas (a province) as the union of their children
(its communes) in SQL; ``link_parents`` sets the children's parent by a property.
"""

from __future__ import annotations

import hashlib
import math
import sys
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import shapely
from django.contrib.gis.geos import GEOSGeometry
from django.db import connection, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity, make_valid

from boundaries.models import Area, AreaPart, AreaType, BoundaryImport, BoundaryVersion

SUBDIVIDE_MAX_VERTICES = 256

# Defaults for the area types everyone relies on (contracts.md).
KNOWN_TYPES = {
    "province": ("Tỉnh/Thành phố", "Province", 10),
    "district": ("Quận/Huyện", "District", 20),
    "commune": ("Xã/Phường/Đặc khu", "Commune", 30),
    "city-ward": ("Khu (ward) của thành phố", "City ward", 30),
}

OGR_EXTENSIONS = (".geojson", ".json", ".shp", ".gpkg", ".fgb", ".kml", ".gml", ".sqlite")


class BoundaryImportError(Exception):
    """The source cannot be imported; ``result`` holds the plan with the rejections."""

    def __init__(self, message, result=None):
        super().__init__(message)
        self.result = result


@dataclass
class ImportResult:
    source: str
    version_code: str
    type_code: str
    committed: bool = False
    feature_count: int = 0
    created: list = field(default_factory=list)  # codes
    updated: list = field(default_factory=list)  # (code, [what changed])
    unchanged: list = field(default_factory=list)  # codes
    repaired: list = field(default_factory=list)  # (code, reason)
    rejected: list = field(default_factory=list)  # (code or "#n", reason)
    parent_missing: list = field(default_factory=list)  # (code, parent code)
    reprojected_from: str | None = None
    version_created: bool = False
    type_created: bool = False
    source_unchanged: bool = False  # committed fast path: same file, same options
    absent: list = field(default_factory=list)  # codes in the database, not in the source
    # Other active versions of the same jurisdiction valid on some of the same days: a
    # point lookup would see both (a new version is live as soon as it is committed).
    overlapping_versions: list = field(default_factory=list)
    pruned: bool = False  # … and deleted (prune=True)
    parts_rebuilt: int = 0

    @property
    def ok(self):
        return not self.rejected

    @property
    def counts(self):
        return {
            "features": self.feature_count,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "repaired": len(self.repaired),
            "rejected": len(self.rejected),
            "parent_missing": len(self.parent_missing),
            "absent": len(self.absent),
        }

    def lines(self, limit=20):
        """A human report of the plan (or of what was done)."""
        mode = _("ĐÃ GHI") if self.committed else _("CHẠY THỬ (không ghi gì; thêm --commit để ghi)")
        out = [f"{mode}: {self.source} → {_('phiên bản')} {self.version_code}, {_('loại')} {self.type_code}"]
        if self.source_unchanged:
            out.append(_("Nguồn không đổi kể từ lần nhập trước (cùng sha256, cùng tuỳ chọn): không có gì thay đổi."))
        if self.version_created:
            out.append(_("Tạo phiên bản mới: %(v)s") % {"v": self.version_code})
        if self.overlapping_versions:
            out.append(
                _(
                    "Cảnh báo: phiên bản %(v)s có hiệu lực trùng với %(others)s trong cùng vùng tài phán; "
                    "tra cứu điểm sẽ gặp nhiều phiên bản cùng lúc. Dùng --valid-from/--valid-to hoặc --jurisdiction để "
                    "tách."
                )
                % {"v": self.version_code, "others": ", ".join(self.overlapping_versions)}
            )
        if self.type_created:
            out.append(_("Tạo loại đơn vị mới: %(t)s") % {"t": self.type_code})
        if self.reprojected_from:
            out.append(_("Chuyển hệ toạ độ %(crs)s → EPSG:4326") % {"crs": self.reprojected_from})
        c = self.counts
        out.append(
            _(
                "%(features)d đối tượng: tạo %(created)d, thay đổi %(updated)d, giữ nguyên %(unchanged)d, sửa hình "
                "%(repaired)d, từ chối %(rejected)d"
            )
            % c
        )

        def block(title, items, fmt):
            if items:
                out.append(title)
                for item in items[:limit]:
                    out.append("  " + fmt(item))
                if len(items) > limit:
                    out.append("  " + _("… và %(n)d mục khác") % {"n": len(items) - limit})

        block(_("Từ chối:"), self.rejected, lambda r: f"{r[0]}: {r[1]}")
        block(
            _("Hình học không hợp lệ đã sửa (make_valid của GEOS, như ST_MakeValid):"),
            self.repaired,
            lambda r: f"{r[0]}: {r[1]}",
        )
        if self.created:
            shown = ", ".join(self.created[: limit * 10])
            more = len(self.created) - limit * 10
            out.append(_("Tạo mới:") + " " + shown + (" " + _("… và %(n)d mục khác") % {"n": more} if more > 0 else ""))
        block(_("Thay đổi:"), self.updated, lambda r: f"{r[0]} ({', '.join(r[1])})")
        block(_("Không tìm thấy đơn vị cha:"), self.parent_missing, lambda r: f"{r[0]} → {r[1]}")
        if self.absent:
            what = _("xoá") if self.pruned else _("giữ nguyên; --prune để xoá")
            out.append(
                _("%(n)d đơn vị có trong phiên bản nhưng không có trong nguồn (%(what)s): %(codes)s")
                % {
                    "n": len(self.absent),
                    "what": what,
                    "codes": ", ".join(self.absent[:limit]) + (" …" if len(self.absent) > limit else ""),
                }
            )
        return out

    def __str__(self):
        return "\n".join(self.lines())


# --- reading -------------------------------------------------------------------------


def _ogr_path(path: Path) -> str:
    """A path OGR can open, looking inside .zip archives and .gz files."""
    name = path.name.lower()
    if name.endswith(".zip"):
        try:
            members = zipfile.ZipFile(path).namelist()
        except zipfile.BadZipFile as exc:
            raise BoundaryImportError(_("Tệp zip hỏng: %(p)s (%(e)s)") % {"p": path, "e": exc}) from exc
        inner = [m for m in members if m.lower().endswith(OGR_EXTENSIONS) and not m.startswith("__MACOSX")]
        if not inner:
            raise BoundaryImportError(_("Không có lớp dữ liệu địa lý nào trong %(p)s") % {"p": path})
        return f"/vsizip/{path}/{inner[0]}"
    if name.endswith(".gz"):
        return f"/vsigzip/{path}"
    return str(path)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_source(source, layer=None, where=None):
    """A GeoDataFrame from a path (any OGR source) or a GeoDataFrame passed through."""
    import geopandas as gpd
    import pyogrio

    if isinstance(source, gpd.GeoDataFrame):
        if where:
            source = source.query(where)
        return source
    path = Path(source)
    if not path.exists():
        raise BoundaryImportError(_("Không tìm thấy tệp nguồn: %(p)s") % {"p": path})
    try:
        return pyogrio.read_dataframe(_ogr_path(path.resolve()), layer=layer, where=where)
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, FieldError…
        raise BoundaryImportError(
            _("Không đọc được nguồn dữ liệu %(p)s: %(e)s")
            % {"p": path, "e": str(exc).strip() or exc.__class__.__name__}
        ) from exc


# --- normalising ---------------------------------------------------------------------


def _is_missing(value):
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return True
    except ImportError:  # pragma: no cover
        pass
    return isinstance(value, str) and not value.strip()


def normalise_code(value):
    """'06673' stays '06673'; 5 and 5.0 become '5'; None, NaN and '' are missing."""
    if _is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
        if isinstance(value, float) and value.is_integer():
            value = int(value)
    return str(value).strip()


def _json_safe(value):
    if _is_missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def to_multipolygon(geom):
    """(multipolygon, repair reason or None); raises ValueError when nothing polygonal is left."""
    if geom is None or geom.is_empty:
        raise ValueError(_("không có hình học"))
    geom = shapely.force_2d(geom)
    reason = None
    if not geom.is_valid:
        reason = explain_validity(geom)
        geom = make_valid(geom)
    if isinstance(geom, Polygon):
        polys = [geom]
    elif isinstance(geom, MultiPolygon):
        polys = list(geom.geoms)
    elif hasattr(geom, "geoms"):  # a collection (make_valid may add lines and points)
        polys = []
        for g in geom.geoms:
            if isinstance(g, Polygon):
                polys.append(g)
            elif isinstance(g, MultiPolygon):
                polys.extend(g.geoms)
    else:
        polys = []
    polys = [p for p in polys if not p.is_empty and p.area > 0]
    if not polys:
        raise ValueError(_("hình học không phải là vùng (%(t)s)") % {"t": geom.geom_type})
    mp = MultiPolygon(polys)
    if reason is None and not mp.is_valid:  # parts of a collection that overlap
        reason = explain_validity(mp)
    if not mp.is_valid:
        fixed = make_valid(mp)
        mp = fixed if isinstance(fixed, MultiPolygon) else MultiPolygon([fixed]) if isinstance(fixed, Polygon) else mp
    return mp, reason


def geom_checksum(mp) -> str:
    """sha256 of the normalised 2D WKB: the same polygon gives the same checksum
    whatever its ring start or part order."""
    wkb = shapely.to_wkb(shapely.normalize(mp), output_dimension=2, byte_order=1)
    return hashlib.sha256(wkb).hexdigest()


# --- version and type ----------------------------------------------------------------


def _version_fields(version_code, version_defaults):
    d = dict(version_defaults or {})
    d.setdefault("name", version_code)
    return d


def _type_fields(type_code, type_defaults):
    name, name_en, level = KNOWN_TYPES.get(type_code, (type_code, type_code, 50))
    d = {"name": name, "name_en": name_en, "level": level}
    d.update({k: v for k, v in (type_defaults or {}).items() if v is not None})
    return d


# --- the import ----------------------------------------------------------------------


def import_areas(
    source,
    *,
    type_code,
    version_code,
    code_field,
    name_field=None,
    name_en_field=None,
    parent_field=None,
    parent_type=None,
    commit=False,
    layer=None,
    where=None,
    filters=None,
    name_format=None,
    version_defaults=None,
    type_defaults=None,
    keep_properties=True,
    force=False,
    progress=False,
    source_label=None,
    prune=False,
):
    """Import ``source`` into (version, type); a dry run unless ``commit``.

    source: a path (GeoJSON, Shapefile, GeoPackage, .zip, .gz…) or a GeoDataFrame.
    filters: {field: value} kept only where equal (after str()); where: an OGR SQL filter.
    name_format: e.g. "Ward {WARD}" instead of name_field.
    prune: delete the areas of (version, type) that the source no longer has (reported
    as ``absent`` either way; only makes sense when the source is the whole layer).
    version_defaults / type_defaults: fields for a version/type created by the import
    (name, jurisdiction, valid_from, valid_to, description / name, name_en, level).
    Returns an ImportResult; raises BoundaryImportError (nothing written) on rejection.
    """
    import geopandas as gpd

    is_frame = isinstance(source, gpd.GeoDataFrame)
    label = source_label or ("<GeoDataFrame>" if is_frame else str(source))
    result = ImportResult(source=label, version_code=version_code, type_code=type_code)
    if not (name_field or name_format):
        raise BoundaryImportError(_("Cần --name-field (trường tên) hoặc name_format."))
    if parent_field and not parent_type:
        raise BoundaryImportError(_("--parent-field cần đi kèm --parent-type."))

    options = {
        "code_field": code_field,
        "name_field": name_field,
        "name_en_field": name_en_field,
        "parent_field": parent_field,
        "parent_type": parent_type,
        "layer": layer,
        "where": where,
        "filters": filters or {},
        "name_format": name_format,
        "keep_properties": keep_properties,
    }
    version = BoundaryVersion.objects.filter(code=version_code).first()
    area_type = AreaType.objects.filter(code=type_code).first()

    # Fast path: a committed import of the very same file with the same options.
    sha = None
    if not is_frame:
        path = Path(source)
        if path.exists() and path.is_file():
            sha = file_sha256(path)
        if commit and not force and sha and version and area_type:
            last = BoundaryImport.objects.filter(
                version=version, type=area_type, source_sha256=sha, options=options
            ).first()
            # Valid only if no later import changed areas of this version and type (a
            # different file may have overwritten what this one wrote).
            overwritten = False
            if last is not None:
                mine = set(last.codes)
                later = BoundaryImport.objects.filter(version=version, type=area_type, created_at__gt=last.created_at)
                later = later.filter(Q(counts__created__gt=0) | Q(counts__updated__gt=0) | Q(counts__absent__gt=0))
                overwritten = not mine or any(
                    mine & set(changed) for changed in later.values_list("changed_codes", flat=True)
                )
            if last and not overwritten:
                present = Area.objects.filter(version=version, type=area_type).count()
                if present >= last.feature_count:
                    result.committed = True
                    result.source_unchanged = True
                    result.feature_count = last.feature_count
                    result.unchanged = [None] * last.feature_count
                    return result

    gdf = read_source(source, layer=layer, where=where)
    for fld, value in (filters or {}).items():
        if fld not in gdf.columns:
            raise BoundaryImportError(_("Không có trường %(f)s trong nguồn") % {"f": fld})
        gdf = gdf[gdf[fld].map(normalise_code) == str(value)]
    for fld, what in (
        (code_field, "--code-field"),
        (name_field, "--name-field"),
        (name_en_field, "--name-en-field"),
        (parent_field, "--parent-field"),
    ):
        if fld and fld not in gdf.columns:
            raise BoundaryImportError(
                _("Không có trường %(f)s (%(opt)s) trong nguồn; các trường có: %(cols)s")
                % {"f": fld, "opt": what, "cols": ", ".join(c for c in gdf.columns if c != gdf.geometry.name)}
            )
    if gdf.crs is None:
        pass  # GeoJSON without crs member: WGS84 lon/lat by definition (RFC 7946)
    elif gdf.crs.to_epsg() != 4326:
        result.reprojected_from = gdf.crs.to_string()
        gdf = gdf.to_crs(4326)

    result.feature_count = len(gdf)
    geom_col = gdf.geometry.name
    attr_cols = [c for c in gdf.columns if c != geom_col]
    records = gdf[attr_cols].to_dict("records")
    geoms = gdf.geometry.values

    planned = {}  # code -> dict
    first_seen = {}
    iterator = range(len(records))
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=_("Đọc %(t)s") % {"t": type_code}, unit=_("đơn vị"), file=sys.stderr)
    for i in iterator:
        rec = records[i]
        ref = f"#{i + 1}"
        code = normalise_code(rec.get(code_field))
        if code is None:
            result.rejected.append((ref, _("thiếu mã (trường %(f)s trống)") % {"f": code_field}))
            continue
        if code in first_seen:
            result.rejected.append(
                (code, _("mã %(c)s trùng lặp: đối tượng %(a)s và %(b)s") % {"c": code, "a": first_seen[code], "b": ref})
            )
            continue
        first_seen[code] = ref
        try:
            mp, reason = to_multipolygon(geoms[i])
        except ValueError as exc:
            result.rejected.append((code, str(exc)))
            continue
        if reason:
            result.repaired.append((code, reason))
        if name_format:
            name = name_format.format(**{k: ("" if _is_missing(v) else v) for k, v in rec.items()})
        else:
            name = "" if _is_missing(rec.get(name_field)) else str(rec.get(name_field)).strip()
        name_en = ""
        if name_en_field and not _is_missing(rec.get(name_en_field)):
            name_en = str(rec.get(name_en_field)).strip()
        props = {k: _json_safe(v) for k, v in rec.items()} if keep_properties else {}
        planned[code] = {
            "code": code,
            "name": name[:200] or code,
            "name_en": name_en[:200],
            "parent_code": normalise_code(rec.get(parent_field)) if parent_field else None,
            "properties": props,
            "geom": mp,
            "checksum": geom_checksum(mp),
        }

    if result.rejected:
        raise BoundaryImportError(
            _(
                "Từ chối nhập %(src)s: %(n)d đối tượng có lỗi (mã thiếu/trùng hoặc hình học không dùng được). Không có "
                "gì được ghi.\n%(detail)s"
            )
            % {
                "src": label,
                "n": len(result.rejected),
                "detail": "\n".join(f"  {r[0]}: {r[1]}" for r in result.rejected[:20]),
            },
            result,
        )

    # Parents (same version) by code.
    parent_ids = {}
    if parent_field:
        ptype = AreaType.objects.filter(code=parent_type).first()
        if ptype and version:
            parent_ids = dict(Area.objects.filter(version=version, type=ptype).values_list("code", "id"))
    for p in planned.values():
        p["parent_id"] = None
        if p["parent_code"]:
            p["parent_id"] = parent_ids.get(p["parent_code"])
            if p["parent_id"] is None:
                result.parent_missing.append((p["code"], p["parent_code"]))

    existing = {}
    if version and area_type:
        for row in Area.objects.filter(version=version, type=area_type).values(
            "id", "code", "name", "name_en", "parent_id", "geom_checksum", "properties"
        ):
            existing[row["code"]] = row
    result.version_created = version is None
    result.overlapping_versions = overlapping_versions(version_code, version, version_defaults)
    result.type_created = area_type is None

    to_create, to_update = [], []
    for code, p in planned.items():
        old = existing.get(code)
        if old is None:
            result.created.append(code)
            to_create.append(p)
            continue
        changes = []
        if old["geom_checksum"] != p["checksum"]:
            changes.append("geom")
        for f in ("name", "name_en", "properties"):
            if old[f] != p[f]:
                changes.append(f)
        if parent_field and old["parent_id"] != p["parent_id"]:
            changes.append("parent")
        if changes:
            p["id"] = old["id"]
            p["changes"] = changes
            result.updated.append((code, changes))
            to_update.append(p)
        else:
            result.unchanged.append(code)

    result.absent = sorted(set(existing) - set(planned))
    result.pruned = bool(prune and result.absent)
    if not commit:
        return result

    with transaction.atomic():
        if version is None:
            version = BoundaryVersion.objects.create(
                code=version_code, **_version_fields(version_code, version_defaults)
            )
        elif version_defaults:
            ensure_version(version_code, **version_defaults)
        if area_type is None:
            area_type = AreaType.objects.create(code=type_code, **_type_fields(type_code, type_defaults))
        new_areas = [
            Area(
                version=version,
                type=area_type,
                code=p["code"],
                name=p["name"],
                name_en=p["name_en"],
                parent_id=p["parent_id"],
                geom=GEOSGeometry(memoryview(shapely.to_wkb(p["geom"], output_dimension=2)), srid=4326),
                geom_checksum=p["checksum"],
                properties=p["properties"],
            )
            for p in to_create
        ]
        bar = None
        if progress and (new_areas or to_update):
            from tqdm import tqdm

            bar = tqdm(
                total=len(new_areas) + len(to_update),
                desc=_("Ghi %(t)s") % {"t": type_code},
                unit=_("đơn vị"),
                file=sys.stderr,
            )
        changed_geom_ids = []
        for start in range(0, len(new_areas), 200):
            batch = Area.objects.bulk_create(new_areas[start : start + 200])
            changed_geom_ids.extend(a.id for a in batch)
            if bar:
                bar.update(len(batch))
        for p in to_update:
            if bar:
                bar.update(1)
            fields = {"name": p["name"], "name_en": p["name_en"], "properties": p["properties"]}
            if parent_field:
                fields["parent_id"] = p["parent_id"]
            if "geom" in p["changes"]:
                fields["geom"] = GEOSGeometry(memoryview(shapely.to_wkb(p["geom"], output_dimension=2)), srid=4326)
                fields["geom_checksum"] = p["checksum"]
                changed_geom_ids.append(p["id"])
            Area.objects.filter(pk=p["id"]).update(**fields)
        if bar:
            bar.close()
        if prune and result.absent:
            Area.objects.filter(version=version, type=area_type, code__in=result.absent).delete()
        result.parts_rebuilt = rebuild_parts(changed_geom_ids)
        BoundaryImport.objects.create(
            version=version,
            type=area_type,
            source=label[:500],
            source_sha256=sha or "",
            options=options,
            counts=result.counts,
            feature_count=result.feature_count,
            codes=sorted(planned),
            changed_codes=sorted(
                set(result.created) | {c for c, _ in result.updated} | (set(result.absent) if prune else set())
            ),
        )
    result.committed = True
    return result


def overlapping_versions(version_code, version=None, version_defaults=None) -> list[str]:
    """Codes of the other active versions of the same jurisdiction whose validity
    overlaps that of ``version`` (or of the version the import would create)."""
    fields = {"jurisdiction": "VN", "valid_from": None, "valid_to": None, "active": True}
    if version is not None:
        fields.update({k: getattr(version, k) for k in fields})
    fields.update({k: v for k, v in (version_defaults or {}).items() if k in fields})
    if not fields["active"]:
        return []
    qs = BoundaryVersion.objects.filter(active=True, jurisdiction=fields["jurisdiction"]).exclude(code=version_code)
    if fields["valid_to"] is not None:
        qs = qs.filter(Q(valid_from__isnull=True) | Q(valid_from__lte=fields["valid_to"]))
    if fields["valid_from"] is not None:
        qs = qs.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=fields["valid_from"]))
    return sorted(qs.values_list("code", flat=True))


def rebuild_parts(area_ids) -> int:
    """Replace the subdivided pieces of these areas: ST_Subdivide(geom, 256) in SQL."""
    area_ids = list(area_ids)
    if not area_ids:
        return 0
    AreaPart.objects.filter(area_id__in=area_ids).delete()
    with connection.cursor() as cur:
        cur.execute(
            f"""
            INSERT INTO {AreaPart._meta.db_table} (area_id, version_id, type_id, geom)
            SELECT a.id, a.version_id, a.type_id, d.geom
            FROM {Area._meta.db_table} a
            CROSS JOIN LATERAL (
                SELECT (ST_Dump(ST_Subdivide(a.geom, %s))).geom
            ) d
            WHERE a.id = ANY(%s) AND GeometryType(d.geom) = 'POLYGON'
            """,
            [SUBDIVIDE_MAX_VERTICES, area_ids],
        )
        return cur.rowcount


# --- parents built from children ----------------------------------------------------


@dataclass
class UnionResult:
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    without_children: list = field(default_factory=list)


def upsert_union_areas(version, child_type, parent_type, key_property, parents):
    """Create or update parent areas whose geometry is ST_Union of their children.

    parents: {code: {"name":…, "name_en":…, "properties": {...}}}; a child belongs to the
    parent whose code is in its ``properties[key_property]``. A parent's union is
    recomputed only when its children changed (fingerprint of their checksums).
    Parents without any child get no row (geometry is required).
    """
    res = UnionResult()
    table = Area._meta.db_table
    with connection.cursor() as cur:
        cur.execute(
            f"""
            SELECT c.properties->>%s AS pcode,
                   encode(sha256(convert_to(
                       string_agg(c.code || ':' || c.geom_checksum, ',' ORDER BY c.code), 'UTF8')), 'hex')
            FROM {table} c WHERE c.version_id = %s AND c.type_id = %s
            GROUP BY 1
            """,
            [key_property, version.id, child_type.id],
        )
        fingerprints = {code: fp for code, fp in cur.fetchall() if code}
    existing = {a.code: a for a in Area.objects.filter(version=version, type=parent_type)}
    changed_ids = []
    for code, meta in parents.items():
        fp = fingerprints.get(code)
        if fp is None:
            res.without_children.append(code)
            continue
        props = dict(meta.get("properties") or {})
        props["children_fingerprint"] = fp
        area = existing.get(code)
        same_attrs = area is not None and area.name == meta["name"] and area.name_en == meta.get("name_en", "")
        if area is not None and area.properties.get("children_fingerprint") == fp:
            if not same_attrs or area.properties != props:
                Area.objects.filter(pk=area.pk).update(
                    name=meta["name"], name_en=meta.get("name_en", ""), properties=props
                )
                res.updated.append(code)
            else:
                res.unchanged.append(code)
            continue
        with connection.cursor() as cur:
            cur.execute(
                f"""
                WITH u AS (
                    SELECT ST_Multi(ST_CollectionExtract(ST_MakeValid(ST_Union(c.geom)), 3)) AS geom
                    FROM {table} c
                    WHERE c.version_id = %s AND c.type_id = %s AND c.properties->>%s = %s
                )
                SELECT ST_AsBinary(geom), encode(sha256(ST_AsBinary(ST_Normalize(geom))), 'hex') FROM u
                """,
                [version.id, child_type.id, key_property, code],
            )
            wkb, checksum = cur.fetchone()
        geom = GEOSGeometry(memoryview(bytes(wkb)), srid=4326)
        if area is None:
            area = Area.objects.create(
                version=version,
                type=parent_type,
                code=code,
                name=meta["name"],
                name_en=meta.get("name_en", ""),
                geom=geom,
                geom_checksum=checksum,
                properties=props,
            )
            res.created.append(code)
        else:
            Area.objects.filter(pk=area.pk).update(
                name=meta["name"], name_en=meta.get("name_en", ""), geom=geom, geom_checksum=checksum, properties=props
            )
            res.updated.append(code)
        changed_ids.append(area.pk)
    rebuild_parts(changed_ids)
    return res


def link_parents(version, child_type, parent_type, key_property, parent_version=None) -> int:
    """Set each child's parent to the area of ``parent_type`` whose code is the child's
    ``properties[key_property]``; returns how many rows changed. Differences are found
    in Python over (id, key, parent) rows and only those rows are updated."""
    parents = dict(Area.objects.filter(version=parent_version or version, type=parent_type).values_list("code", "id"))
    with connection.cursor() as cur:
        cur.execute(
            f"SELECT id, properties->>%s, parent_id FROM {Area._meta.db_table} WHERE version_id = %s AND type_id = %s",
            [key_property, version.id, child_type.id],
        )
        rows = cur.fetchall()
    todo = defaultdict(list)
    for area_id, key, parent_id in rows:
        wanted = parents.get(key)
        if wanted is not None and wanted != parent_id:
            todo[wanted].append(area_id)
    for parent_id, ids in todo.items():
        Area.objects.filter(id__in=ids).update(parent_id=parent_id)
    return sum(len(ids) for ids in todo.values())


def ensure_version(code, **fields):
    """Get or create a version, updating the given fields when they differ."""
    version, created = BoundaryVersion.objects.get_or_create(code=code, defaults=_version_fields(code, fields))
    if not created:
        dirty = [k for k, v in fields.items() if getattr(version, k) != v]
        if dirty:
            for k in dirty:
                setattr(version, k, fields[k])
            version.save(update_fields=dirty)
    return version


def ensure_type(code, **fields):
    area_type, _created = AreaType.objects.get_or_create(code=code, defaults=_type_fields(code, fields))
    return area_type
