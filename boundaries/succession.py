"""The succession of old units into new ones, and moving a point across a cut-over.

The official old→new commune table (2025-07-01) is loaded as AreaSuccession rows
between two versions; the share of each old unit's area that lies in each new one is
computed from the polygons on the geography (square metres, never degrees).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from django.db import connection, transaction

from boundaries.models import Area, AreaSuccession, AreaType, BoundaryVersion

_CODE_IN_PARENS = re.compile(r"\((\d+)\)\s*$")

NOTE_WHOLE = "Nhập toàn bộ"
NOTE_PART = "Nhập một phần"


@dataclass
class SuccessionRow:
    new_province: str  # 2-digit code
    new_name: str
    new_code: str
    old_name: str
    old_code: str
    note: str
    old_district: str  # "Thành phố Hạ Long (193)"
    old_province: str  # "Tỉnh Quảng Ninh (22)"

    @property
    def old_district_code(self):
        m = _CODE_IN_PARENS.search(self.old_district)
        return m.group(1) if m else ""

    @property
    def old_province_code(self):
        m = _CODE_IN_PARENS.search(self.old_province)
        return m.group(1) if m else ""


def read_conversion_table(path) -> list[SuccessionRow]:
    """Parse the official table: two header lines, then rows; a row whose new-commune
    code is empty is a province separator ("THÀNH PHỐ HÀ NỘI") and is skipped. Six rows
    have no old commune (a whole island district became a special zone, "đặc khu"):
    they are kept with ``old_code == ""``; load_succession ignores them."""
    rows = []
    with open(Path(path), encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        next(reader, None)
        for rec in reader:
            rec = [c.strip() for c in rec] + [""] * 8
            province, new_name, new_code, old_name, old_code, note, old_district, old_province = rec[:8]
            if not new_code:
                continue
            m = _CODE_IN_PARENS.search(province)
            rows.append(
                SuccessionRow(
                    new_province=m.group(1) if m else "",
                    new_name=new_name,
                    new_code=new_code.zfill(5),
                    old_name=old_name,
                    old_code=old_code.zfill(5) if old_code else "",
                    note=note,
                    old_district=old_district,
                    old_province=old_province,
                )
            )
    return rows


def load_succession(rows, old_version, new_version, type_code="commune", new_type_code=None):
    """Store the rows whose old and new areas both exist, with shares computed in SQL.

    A pair whose polygons did not change since the last load keeps its share (``basis``
    is the sha256 of the two geometry checksums). Pairs no longer in the table between
    these two versions are deleted. Returns {"pairs": n, "computed": m, "missing_old": k,
    "missing_new": j, "deleted": d}.
    """
    old_type = AreaType.objects.get(code=type_code)
    new_type = AreaType.objects.get(code=new_type_code or type_code)
    old_areas = dict(Area.objects.filter(version=old_version, type=old_type).values_list("code", "id"))
    new_areas = dict(Area.objects.filter(version=new_version, type=new_type).values_list("code", "id"))
    pairs = {}
    missing_old, missing_new = set(), set()
    for r in rows:
        if not r.old_code:
            continue
        o, n = old_areas.get(r.old_code), new_areas.get(r.new_code)
        if o is None:
            missing_old.add(r.old_code)
        if n is None:
            missing_new.add(r.new_code)
        if o is not None and n is not None:
            pairs[(o, n)] = r.note
    old_ids = [p[0] for p in pairs]
    new_ids = [p[1] for p in pairs]
    notes = list(pairs.values())
    table = AreaSuccession._meta.db_table
    area_table = Area._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        # Drop rows between these versions that the table no longer has.
        cur.execute(
            f"""
            DELETE FROM {table} s USING {area_table} o, {area_table} n
            WHERE s.old_id = o.id AND s.new_id = n.id AND o.version_id = %s AND n.version_id = %s
              AND o.type_id = %s AND n.type_id = %s
              AND NOT EXISTS (SELECT 1 FROM unnest(%s::bigint[], %s::bigint[]) t(o, n)
                              WHERE t.o = s.old_id AND t.n = s.new_id)
            """,
            [old_version.id, new_version.id, old_type.id, new_type.id, old_ids, new_ids],
        )
        deleted = cur.rowcount
        # Insert or refresh only pairs whose basis (the two polygons) changed.
        cur.execute(
            f"""
            WITH t AS (
                SELECT t.o, t.n, t.note, o.geom AS og, n.geom AS ng,
                       encode(sha256(convert_to(o.geom_checksum || n.geom_checksum, 'UTF8')), 'hex') AS basis
                FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) t(o, n, note)
                JOIN {area_table} o ON o.id = t.o
                JOIN {area_table} n ON n.id = t.n
            ), todo AS (
                SELECT t.* FROM t LEFT JOIN {table} s ON s.old_id = t.o AND s.new_id = t.n
                WHERE s.id IS NULL OR s.basis <> t.basis OR s.note <> t.note
            )
            INSERT INTO {table} (old_id, new_id, share, note, basis)
            SELECT o, n,
                   CASE WHEN ST_Area(og::geography) > 0 THEN
                        LEAST(1.0, ST_Area(ST_Intersection(og, ng)::geography) / ST_Area(og::geography))
                   END,
                   note, basis
            FROM todo
            ON CONFLICT (old_id, new_id) DO UPDATE
                SET share = EXCLUDED.share, note = EXCLUDED.note, basis = EXCLUDED.basis
            """,
            [old_ids, new_ids, notes],
        )
        computed = cur.rowcount
    return {
        "pairs": len(pairs),
        "computed": computed,
        "deleted": deleted,
        "missing_old": len(missing_old),
        "missing_new": len(missing_new),
    }


def successors(old_area) -> list[tuple[Area, float | None]]:
    """The new areas an old one went into, largest share first."""
    rows = AreaSuccession.objects.filter(old=old_area).select_related("new", "new__type", "new__version")
    items = [(s.new, s.share) for s in rows]
    items.sort(key=lambda item: (-(item[1] or 0), item[0].code))
    return items


def predecessors(new_area) -> list[tuple[Area, float | None]]:
    """The old areas (with the share of each old area) a new one was made of."""
    rows = AreaSuccession.objects.filter(new=new_area).select_related("old", "old__type", "old__version")
    return sorted(((s.old, s.share) for s in rows), key=lambda item: item[0].code)


@dataclass
class SuccessionEntry:
    old: Area
    successors: list  # [(Area, share, note)], largest share first

    @property
    def main_successor(self):
        return self.successors[0][0] if self.successors else None


def succession_table(old_version, new_version, type_code=None) -> list[SuccessionEntry]:
    """For two versions (objects or codes): every old area (of ``type_code`` if given)
    with its successors and shares, largest share first; old areas without a successor
    are listed with an empty list."""
    if isinstance(old_version, str):
        old_version = BoundaryVersion.objects.get(code=old_version)
    if isinstance(new_version, str):
        new_version = BoundaryVersion.objects.get(code=new_version)
    olds = Area.objects.filter(version=old_version).select_related("type").order_by("type__level", "code")
    if type_code:
        olds = olds.filter(type__code=type_code)
    by_old = {}
    links = (
        AreaSuccession.objects.filter(old__version=old_version, new__version=new_version)
        .select_related("new", "new__type")
        .only("old_id", "share", "note", "new__code", "new__name", "new__name_en", "new__type__code", "new__version_id")
    )
    for s in links:
        by_old.setdefault(s.old_id, []).append((s.new, s.share, s.note))
    out = []
    for old in olds.defer("geom"):
        items = sorted(by_old.get(old.id, []), key=lambda x: (-(x[1] or 0), x[0].code))
        out.append(SuccessionEntry(old=old, successors=items))
    return out


def reroute(point, category_codes, at_version: BoundaryVersion, at=None, rules=None):
    """Locate ``point`` in the areas of ``at_version`` and route it again: used at a
    cut-over to move an open report by its point (never by name).

    ``at`` (date or datetime) is the day asked for, by default a day inside the version's
    validity; only areas of ``at_version`` are kept (another version valid that day does
    not answer for it). ``rules`` (routing.load_rules()) saves a query per call in a
    batch. Returns (LocateResult, RouteResult).
    """
    from boundaries.lookup import LocateResult, locate
    from boundaries.routing import RouteResult, route

    if isinstance(at_version, str):
        at_version = BoundaryVersion.objects.get(code=at_version)
    if at is not None:
        day = at
    # A day inside the version's validity, so locate() picks this version.
    elif at_version.valid_from is not None:
        day = at_version.valid_from
    elif at_version.valid_to is not None:
        day = at_version.valid_to
    else:
        from django.utils import timezone

        day = timezone.localdate()
    located = locate(point, at=day, jurisdiction=at_version.jurisdiction)
    areas = [a for a in located.areas if a.version_id == at_version.pk]
    if len(areas) != len(located.areas):
        located = LocateResult(areas=areas, snapped_m=located.snapped_m if areas else None)
    if not located.areas:
        return located, RouteResult(authority=None, rule=None, area=None, explanation=located.message)
    return located, route(located.areas, list(category_codes), rules=rules)
