"""The bounding box of the jurisdictions a portal serves: what its basemap extract must cover
(``download_data --basemap``)."""

from __future__ import annotations

import math

from django.contrib.gis.db.models import Extent

from boundaries.models import Area, BoundaryVersion, Jurisdiction

# A margin around the areas (degrees, ~5 km): the coast, islands and a border's far side.
MARGIN_DEG = 0.05


def jurisdiction_extent(jurisdiction: Jurisdiction) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) of a jurisdiction's areas in its current boundary version:
    a province's own area; a country's provinces; a city's version's areas. None when none
    is loaded."""
    key = jurisdiction.boundary_key or (jurisdiction.parent.boundary_key if jurisdiction.parent else "")
    version = BoundaryVersion.objects.current(jurisdiction=key or jurisdiction.code)
    if version is None:
        return None
    areas = Area.objects.filter(version=version)
    if jurisdiction.kind == Jurisdiction.Kind.PROVINCE:
        areas = areas.filter(type__code="province", code=jurisdiction.province_code)
    elif jurisdiction.kind == Jurisdiction.Kind.COUNTRY:
        areas = areas.filter(type__code="province")
    return areas.aggregate(box=Extent("geom"))["box"]


def jurisdictions_bbox(codes=None, country=None, margin=MARGIN_DEG) -> tuple[float, float, float, float] | None:
    """The union of the jurisdictions' extents, widened by ``margin`` and rounded outwards
    to 4 decimals. ``codes``: those jurisdictions; else the active provinces and cities of
    ``country`` (default: every active one that is not a country)."""
    qs = Jurisdiction.objects.filter(active=True)
    if codes:
        qs = Jurisdiction.objects.filter(code__in=codes)
    else:
        qs = qs.exclude(kind=Jurisdiction.Kind.COUNTRY)
        if country:
            qs = qs.filter(country=country)
    boxes = [b for b in (jurisdiction_extent(j) for j in qs.select_related("parent")) if b]
    if not boxes:
        return None
    w = min(b[0] for b in boxes) - margin
    s = min(b[1] for b in boxes) - margin
    e = max(b[2] for b in boxes) + margin
    n = max(b[3] for b in boxes) + margin

    def down(v):
        return math.floor(v * 10_000) / 10_000

    def up(v):
        return math.ceil(v * 10_000) / 10_000

    return (max(-180.0, down(w)), max(-85.0511, down(s)), min(180.0, up(e)), min(85.0511, up(n)))
