"""Helpers shared by the boundary tests: points found or checked in SQL against the
loaded real data."""

from django.db import connection


def interior_point(code, version="vn-2025", type_code="commune"):
    """(lon, lat) of ST_PointOnSurface of an area: surely inside it."""
    with connection.cursor() as cur:
        cur.execute(
            """SELECT ST_X(p), ST_Y(p) FROM (
                 SELECT ST_PointOnSurface(a.geom) p FROM boundaries_area a
                 JOIN boundaries_boundaryversion v ON v.id = a.version_id
                 JOIN boundaries_areatype t ON t.id = a.type_id
                 WHERE a.code = %s AND v.code = %s AND t.code = %s) s""",
            [code, version, type_code],
        )
        row = cur.fetchone()
    assert row, f"{version}/{type_code}/{code} is not loaded"
    return row


def distance_to_nearest_commune(lon_lat, expected_code, version="vn-2025"):
    """Metres from a point covered by no commune to the nearest commune, which must be
    ``expected_code``."""
    lon, lat = lon_lat
    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT a.code, ST_Distance(a.geom::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography) d
            FROM boundaries_area a
            JOIN boundaries_boundaryversion v ON v.id = a.version_id
            JOIN boundaries_areatype t ON t.id = a.type_id
            WHERE v.code = %(v)s AND t.code = 'commune'
              AND a.geom && ST_Expand(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 0.05)
            ORDER BY d LIMIT 1
            """,
            {"lon": lon, "lat": lat, "v": version},
        )
        code, dist = cur.fetchone()
    assert code == expected_code
    return dist


def shared_vertex(code_a, code_b, version="vn-2025"):
    """A vertex of commune A's boundary that both A and B cover (on their shared border)."""
    with connection.cursor() as cur:
        cur.execute(
            """
            WITH a AS (SELECT a.geom FROM boundaries_area a JOIN boundaries_boundaryversion v ON v.id = a.version_id
                       WHERE a.code = %(a)s AND v.code = %(v)s),
                 b AS (SELECT a.geom FROM boundaries_area a JOIN boundaries_boundaryversion v ON v.id = a.version_id
                       WHERE a.code = %(b)s AND v.code = %(v)s)
            SELECT ST_X(d.geom), ST_Y(d.geom)
            FROM a, b, ST_DumpPoints(a.geom) d
            WHERE ST_Covers(b.geom, d.geom) AND ST_Covers(a.geom, d.geom)
            LIMIT 1
            """,
            {"a": code_a, "b": code_b, "v": version},
        )
        row = cur.fetchone()
    assert row, f"{code_a} and {code_b} share no vertex"
    return row
