"""Synthetic reports generated in SQL, for the benchmark and for the heatmaps' tests.

Points are drawn inside the 2025 communes of the loaded provinces (ST_GeneratePoints),
each commune weighted by how urban it is (a "Phường" ×12, the provincial seats' wards
×3 more); created_at spread over ``days`` (default 3 years, denser recently);
categories by skewed shares; authorities as the routing rules would pick them (commune
committee, or the province's department / power or water company / police by the
category's group); states by age (older: mostly closed, rated or published; the last
days: mostly open); deadlines 1.4 / 7 calendar days; handling times log-normal, slower
for some authorities; ratings on the rated ones, skewed to satisfied.
"""

from django.db import connection

from boundaries.models import BoundaryVersion
from reports.models import Report

GENERATE_SQL = """
WITH v AS (SELECT %(version)s::bigint AS id),
communes AS (
    SELECT a.id, a.code, p.code AS pc, a.geom,
           (CASE WHEN a.name ILIKE 'Phường%%' THEN 12 ELSE 1 END)
           * (CASE WHEN a.name ~* ('(Hạ Long|Bãi Cháy|Hồng Gai|Hà Tu|Cao Xanh|Việt Hưng|Thuận Hóa|Phú Xuân|'
                                   || 'Điện Biên Phủ|Cà Mau|An Xuyên|Tân Thành)') THEN 3 ELSE 1 END) AS w
    FROM boundaries_area a JOIN boundaries_areatype t ON t.id = a.type_id AND t.code = 'commune'
    JOIN boundaries_area p ON p.id = a.parent_id, v
    WHERE a.version_id = v.id AND (%(province)s::text IS NULL OR p.code = %(province)s::text)
),
shares AS (SELECT *, greatest(1, round(%(n)s::float * w / sum(w) OVER ()))::int AS k FROM communes),
pts AS (
    SELECT s.id AS commune_id, s.code AS commune_code, s.pc,
           (ST_Dump(ST_GeneratePoints(s.geom, s.k, %(seed)s))).geom AS location
    FROM shares s
),
cats AS (
    SELECT c.id, c.code, coalesce(g.code, c.code) AS grp,
           row_number() OVER (ORDER BY c.code) AS rn, count(*) OVER () AS total
    FROM reports_category c LEFT JOIN reports_category g ON g.id = c.parent_id
    WHERE c.parent_id IS NOT NULL
),
base AS (
    SELECT p.*, random() AS r_age, random() AS r_cat, random() AS r_state, random() AS r_h, random() AS r_rate
    FROM pts p
),
-- MATERIALIZED: computed once per row. Inlined, every reference to category_id and
-- authority_id (the join, the handling time, the INSERT) ran its subqueries again:
-- 5x slower (bench/national.py).
shaped AS MATERIALIZED (
    SELECT b.*, now() - (b.r_age ^ 1.15) * %(days)s * interval '1 day' AS created_at,
           1 + floor((b.r_cat ^ 1.6) * (SELECT count(*) FROM cats))::int AS cat_rn
    FROM base b
),
routed AS MATERIALIZED (
    SELECT s.*, c.id AS category_id, c.grp,
           coalesce(a.id, (SELECT t.id FROM boundaries_authority t WHERE t.code = 'ubnd-tinh-' || s.pc))
               AS authority_id,
           (SELECT j.id FROM boundaries_jurisdiction j WHERE j.province_code = s.pc) AS jurisdiction_id
    FROM shaped s JOIN cats c ON c.rn = s.cat_rn
    LEFT JOIN boundaries_authority a ON a.code = CASE c.grp
                 WHEN 'dien' THEN 'dien-luc-' || s.pc WHEN 'nuoc' THEN 'cap-nuoc-' || s.pc
                 WHEN 'y-te' THEN 'so-yt-' || s.pc WHEN 'giao-duc' THEN 'so-gd-' || s.pc
                 WHEN 'giao-thong' THEN 'so-gtvt-' || s.pc WHEN 'an-ninh' THEN 'cong-an-' || s.pc
                 WHEN 'du-lich' THEN 'so-dl-' || s.pc WHEN 'xay-dung' THEN 'so-xd-' || s.pc
                 ELSE 'ubnd-' || s.commune_code END
),
timed AS (
    SELECT r.*, r.created_at + interval '1.4 days' AS forward_due, r.created_at + interval '7 days' AS resolve_due,
           r.created_at + (exp(ln(60.0) + 1.5 * (r.r_h - 0.5) * 3.4) * (1 + (r.authority_id %% 5) * 0.3)
                           * interval '1 hour') AS resolved_cand,
           r.created_at + (r.r_h * 30) * interval '1 hour' AS forwarded_cand
    FROM routed r
)
INSERT INTO reports_report (code, title, description, category_id, location, address, boundary_version_id,
    commune_id, province_code, jurisdiction_id, authority_id, routing_explanation, state, reject_reason, result_text,
    contact_name, contact_phone, contact_email, source, external_id, created_at, forwarded_at, resolved_at,
    closed_at, forward_due, resolve_due, extension_reason, rating_level, updated_at, row_version)
SELECT 'BN-' || lpad(nextval('bench_code_seq')::text, 8, '0'), '', 'bench', t.category_id, t.location, '',
       (SELECT id FROM v), t.commune_id, t.pc, t.jurisdiction_id, t.authority_id, '',
       st.state, '', '', '', '', '', 'bench', '', t.created_at,
       CASE WHEN st.state <> %(state_received)s THEN least(t.forwarded_cand, now()) END,
       CASE WHEN st.state IN (%(state_resolved)s, %(state_published)s, %(state_rated)s, %(state_closed)s)
            THEN least(t.resolved_cand, now()) END,
       CASE WHEN st.state = %(state_closed)s THEN least(t.resolved_cand + interval '3 days', now()) END,
       t.forward_due, t.resolve_due,
       '', CASE WHEN st.state = %(state_rated)s THEN least(5, 1 + floor((1 - t.r_rate * t.r_rate) * 5)::int) END,
       now(), 0
FROM timed t
CROSS JOIN LATERAL (SELECT CASE
    WHEN t.resolved_cand < now() - interval '2 days' THEN
         CASE WHEN t.r_state < 0.04 THEN %(state_rejected)s WHEN t.r_state < 0.06 THEN %(state_in_progress)s
              WHEN t.r_state < 0.45 THEN %(state_closed)s WHEN t.r_state < 0.75 THEN %(state_rated)s
              ELSE %(state_published)s END
    WHEN t.r_state < 0.25 THEN %(state_received)s WHEN t.r_state < 0.5 THEN %(state_forwarded)s
    WHEN t.r_state < 0.7 THEN %(state_in_progress)s ELSE %(state_resolved)s END AS state) st
"""


def generate(n, seed=0.42, days=1095, province=None):
    """Insert n synthetic reports (codes BN-…); province limits them to one province."""
    with connection.cursor() as cur:
        cur.execute("CREATE SEQUENCE IF NOT EXISTS bench_code_seq")
        cur.execute("SELECT setseed(%s)", [seed])
        states = {f"state_{s.value}": s.value for s in Report.State}
        cur.execute(GENERATE_SQL, {"n": n, "seed": int(seed * 1000), "days": days, "province": province,
                                   "version": BoundaryVersion.objects.current().id, **states})
        cur.execute("ANALYZE reports_report")


