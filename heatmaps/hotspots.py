"""Hot and cold spots: Getis-Ord Gi* over the grid bins.

A dense cell is not yet a hotspot: Gi* compares the sum over a cell and its
neighbours (the cell itself included: "star") with what the whole study area would
give by chance, as a z-score. Hot spot: z > 0, cold spot: z < 0, with the confidence
of the (two-sided, normal) test: 90 % (|z| >= 1.645), 95 % (1.960), 99 % (2.576), the
usual convention of hot-spot analysis. Weights are binary: the cell and its 8
surrounding cells. The z-score is Getis & Ord's (1995) Gi*, the statistic esda.G_Local
(star=True) computes; it is written out below in numpy because importing esda/libpysal
costs ~7 s per process on our machines, for ten lines of arithmetic:

    Gi* = (sum_j w_ij x_j - xbar * W_i) / (S * sqrt((n * sum_j w_ij^2 - W_i^2) / (n - 1)))

with W_i = sum_j w_ij, xbar the mean and S the (population) standard deviation of the
counts over the lattice.

The study area is the lattice of cells (of one grid level) that cover land — the
areas of the boundary versions — inside the selection (a province's areas, or a lon/lat
box), zeros included: empty land is what makes a cold spot. The level is the finest whose
lattice stays under HOTSPOT_MAX_CELLS. The confidence levels control the false
discovery rate over the lattice (Benjamini-Hochberg, as ArcGIS's "FDR correction").
Placeholder points are not in the bins, so never in a hotspot.
"""

from __future__ import annotations

import json

import numpy as np
from django.utils.translation import gettext as _

from heatmaps import aggregates as agg
from heatmaps.aggregates import Filters, fetchall

Z_LEVELS = ((2.576, 99), (1.960, 95), (1.645, 90))
HOTSPOT_MAX_CELLS = 6000


def _lattice(level, province=None, bbox=None, version_code=None):
    """Land cells of a level: (cx, cy, lon, lat) for the selection."""
    s = agg.cell_size(level)
    half = 2**level * agg.conf("HEATMAP_BINS_PER_TILE") // 2
    if province:
        ids_sql = """SELECT array_agg(a.id) AS ids FROM boundaries_area a
                     JOIN boundaries_boundaryversion v ON v.id = a.version_id
                     WHERE v.code = %s AND (a.code = %s OR a.parent_id IN
                         (SELECT id FROM boundaries_area WHERE code = %s AND version_id = v.id))"""
        ids_params = [version_code, province, province]
    else:
        ids_sql = """SELECT array_agg(DISTINCT p.area_id) AS ids FROM boundaries_areapart p
                     WHERE p.geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)"""
        ids_params = list(bbox)
    return fetchall(
        f"""WITH ids AS MATERIALIZED ({ids_sql}),
                 ext AS (SELECT ST_Transform(ST_SetSRID(ST_Extent(p.geom), 4326), 3857) AS e
                         FROM boundaries_areapart p, ids WHERE p.area_id = ANY(ids.ids)),
                 cells AS (SELECT c.i, c.j, c.geom, ST_Transform(c.geom, 4326) AS g4
                           FROM ext, ST_SquareGrid(%s, ext.e) AS c)
            SELECT c.i + {half} AS cx, c.j + {half} AS cy,
                   ST_X(ST_Centroid(c.g4)) AS lon, ST_Y(ST_Centroid(c.g4)) AS lat
            FROM cells c, ids
            WHERE EXISTS (SELECT 1 FROM boundaries_areapart p WHERE p.geom && c.g4 AND p.area_id = ANY(ids.ids)
                            AND ST_Intersects(p.geom, c.g4))""",
        [*ids_params, s],
    )


def _choose_level(province=None, bbox=None, version_code=None):
    """Finest level whose lattice (by the selection's extent) stays under the cap."""
    if province:
        ext = fetchall(
            """SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
                 SELECT ST_Transform(ST_SetSRID(ST_Extent(a.geom), 4326), 3857) AS e FROM boundaries_area a
                 JOIN boundaries_boundaryversion v ON v.id = a.version_id WHERE v.code = %s AND a.code = %s) x""",
            [version_code, province],
        )[0]
        x0, y0, x1, y1 = ext.values()
        if x0 is None:
            return None
    else:
        from pyproj import Transformer

        t = Transformer.from_crs(4326, 3857, always_xy=True)
        x0, y0 = t.transform(bbox[0], bbox[1])
        x1, y1 = t.transform(bbox[2], bbox[3])
    area = max(1.0, (x1 - x0) * (y1 - y0))
    for level in range(agg.conf("HEATMAP_MAX_BIN_ZOOM"), agg.conf("HEATMAP_MIN_LEVEL") - 1, -1):
        if area / agg.cell_size(level) ** 2 * 0.6 <= HOTSPOT_MAX_CELLS:  # ~60 % of a box is land
            return level
    return agg.conf("HEATMAP_MIN_LEVEL")


def gi_star(cx, cy, y):
    """Gi* z-scores on the grid (queen neighbourhood + the cell itself)."""
    n = len(y)
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(cx, cy, strict=True))}
    xbar = y.mean()
    s = np.sqrt((y**2).mean() - xbar**2)
    z = np.full(n, np.nan)
    if s == 0 or n < 2:
        return z
    for i in range(n):
        a, b = int(cx[i]), int(cy[i])
        nb = [index[(a + da, b + db)] for da in (-1, 0, 1) for db in (-1, 0, 1) if (a + da, b + db) in index]
        wi = len(nb)
        denom = s * np.sqrt((n * wi - wi**2) / (n - 1))
        if denom > 0:
            z[i] = (y[nb].sum() - xbar * wi) / denom
    return z


def confidence_of(z):
    """Per-cell confidence from the z-score alone (no multiple-testing correction)."""
    if z is None or not np.isfinite(z):
        return "", None
    for threshold, pct in Z_LEVELS:
        if abs(z) >= threshold:
            return ("hot" if z > 0 else "cold"), pct
    return "", None


def fdr_thresholds(p_values):
    """Benjamini-Hochberg: for each confidence (99, 95, 90) the largest p-value that
    stays significant with the false discovery rate held at 1 %, 5 %, 10 %."""
    p = np.sort(p_values[np.isfinite(p_values)])
    m = len(p)
    out = {}
    for pct in (99, 95, 90):
        alpha = 1 - pct / 100
        ok = p <= alpha * np.arange(1, m + 1) / m
        out[pct] = p[np.nonzero(ok)[0].max()] if ok.any() else -1.0
    return out


def hotspots(filters: Filters, province=None, bbox=None, level=None, version_code=None, fdr=True):
    """Gi* per land cell: {"level", "cells": [dicts cx, cy, lon, lat, n, z, p, kind,
    confidence]} — kind "hot", "cold" or "" (not significant). With ``fdr`` (default)
    the confidence levels hold the false discovery rate over all the cells tested
    (Benjamini-Hochberg) instead of testing each cell alone: thousands of cells of a
    uniform scatter would otherwise give dozens of "90 %" spots by chance. A province
    is one of ``version_code`` (default: the current version)."""
    from scipy.stats import norm

    from boundaries.models import BoundaryVersion

    if version_code is None:
        current = BoundaryVersion.objects.current()
        version_code = current.code if current else ""

    if not province and not bbox:
        raise agg.FilterError({"province": _("Chọn một tỉnh hoặc một vùng bản đồ.")})
    level = level or _choose_level(province, bbox, version_code)
    if level is None:
        return {"level": None, "cells": []}
    lattice = _lattice(level, province, bbox, version_code)
    if len(lattice) < 9:
        return {"level": level, "cells": []}
    cx = np.array([c["cx"] for c in lattice])
    cy = np.array([c["cy"] for c in lattice])
    rows = agg.bins_in_range(level, int(cx.min()), int(cx.max()), int(cy.min()), int(cy.max()), filters)
    counts = {(r["cx"], r["cy"]): r["n"] for r in rows}
    y = np.array([counts.get((int(a), int(b)), 0) for a, b in zip(cx, cy, strict=True)], dtype=float)
    if y.sum() == 0:
        return {"level": level, "cells": []}
    zs = gi_star(cx, cy, y)
    ps = np.where(np.isfinite(zs), 2 * norm.sf(np.abs(np.nan_to_num(zs))), np.nan)
    limits = fdr_thresholds(ps) if fdr else None
    out = []
    for i, c in enumerate(lattice):
        z = float(zs[i])
        if limits is None:
            kind, conf = confidence_of(z)
        else:
            conf = next((pct for pct in (99, 95, 90) if np.isfinite(ps[i]) and ps[i] <= limits[pct]), None)
            kind = ("hot" if z > 0 else "cold") if conf else ""
        out.append(
            {
                "cx": int(cx[i]), "cy": int(cy[i]), "lon": c["lon"], "lat": c["lat"], "n": int(y[i]),
                "z": round(z, 3) if np.isfinite(z) else None,
                "p": float(f"{ps[i]:.3g}") if np.isfinite(ps[i]) else None,
                "kind": kind, "confidence": conf,
            }
        )
    return {"level": level, "cells": out}


def hotspots_geojson(filters: Filters, province=None, bbox=None, significant_only=True, **kw):
    """GeoJSON FeatureCollection of the cells (squares in lon/lat) with their Gi*."""
    from pyproj import Transformer

    result = hotspots(filters, province=province, bbox=bbox, **kw)
    level = result["level"]
    t = Transformer.from_crs(3857, 4326, always_xy=True)
    feats = []
    for c in result["cells"]:
        if significant_only and not c["kind"]:
            continue
        x0, y0, x1, y1 = agg.cell_bounds_3857(level, c["cx"], c["cy"])
        (lon0, lon1), (lat0, lat1) = t.transform([x0, x1], [y0, y1])
        ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
        feats.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": c})
    return {"type": "FeatureCollection", "level": level, "features": feats}


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False)
