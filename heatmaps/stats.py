"""Key figures and the public ranking of authorities.

Definitions (the same in the roll-up and in the raw computation):
  received            reports created in the period (local days; roll-up: whole months)
  forwarded on time   forwarded_at set and (no forward deadline or forwarded_at <= forward_due)
  resolved            resolved_at set and the report is not open again (reopened)
  resolved on time    resolved, with a resolve deadline, and resolved_at <= resolve_due.
                      The on-time rate is resolved_on_time / resolved_with_due: resolved
                      reports without a deadline are in neither. For imported Boston 311
                      records (CLOSED_DT → resolved_at, TARGET_DT → resolve_due) this is
                      exactly the file's OnTime_Status = ONTIME share over closed requests
                      with a target (OVERDUE ⇔ CLOSED_DT > TARGET_DT).
  overdue now         reports.policy's rule: received/reopened past forward_due, or
                      forwarded/accepted/in progress past resolve_due — as of the last
                      roll-up refresh (beat: ~1 min) in the roll-up, as of now in the raw
                      computation
  median handling     of resolved_at - created_at over resolved reports: exact from raw
                      reports, interpolated from a 18-bucket histogram in the roll-up
  satisfaction        counts of rating levels 1 (very dissatisfied) .. 5 (very satisfied)

Ranking (league table of authorities), for authorities with at least
HEATMAP_RANKING_MIN_VOLUME (20) reports received in the period; the others are listed
as "not ranked yet":
  score = 100 × (0.6 × on_time_rate + 0.3 × satisfaction + 0.1 × volume)
  on_time_rate  = resolved_on_time / resolved_with_due (0 when nothing was due)
  satisfaction  = (mean rating − 1) / 4, 0.5 (neutral) when nobody rated
  volume        = ln(1 + received) / ln(1 + the largest received among ranked units)
Ties: more reports first, then the code. Volume weighs little: it breaks near-ties in
favour of units that carry more load, it does not let a big unit buy its rank.
"""

from __future__ import annotations

import math

from django.utils.translation import gettext as _

from heatmaps import aggregates as agg
from heatmaps.aggregates import HANDLING_BUCKET_HOURS, Filters, fetchall
from reports import policy

RATING_KEYS = ("rating_1", "rating_2", "rating_3", "rating_4", "rating_5")
SUM_FIELDS = agg.ROLLUP_SUM_FIELDS


def median_from_hist(hist):
    """Median in hours, linearly interpolated inside the histogram bucket."""
    total = sum(hist)
    if not total:
        return None
    half, cum, lo = total / 2, 0, 0.0
    for i, count in enumerate(hist):
        hi = HANDLING_BUCKET_HOURS[i] if i < len(HANDLING_BUCKET_HOURS) else None
        if count and cum + count >= half:
            if hi is None:
                return lo
            return lo + (hi - lo) * (half - cum) / count
        cum += count
        lo = hi if hi is not None else lo
    return lo


def _finish(row, median_hours):
    out = {k: int(row.get(k) or 0) for k in SUM_FIELDS}
    out["on_time_rate"] = out["resolved_on_time"] / out["resolved_with_due"] if out["resolved_with_due"] else None
    out["forwarded_on_time_rate"] = out["forwarded_on_time"] / out["forwarded"] if out["forwarded"] else None
    ratings = [out[k] for k in RATING_KEYS]
    n_rated = sum(ratings)
    out["satisfaction"] = {str(i + 1): ratings[i] for i in range(5)}
    out["rated"] = n_rated
    out["rating_mean"] = sum((i + 1) * c for i, c in enumerate(ratings)) / n_rated if n_rated else None
    out["median_handling_hours"] = round(median_hours, 1) if median_hours is not None else None
    out["mean_handling_hours"] = (round(out["handling_seconds_sum"] / 3600 / out["resolved"], 1)
                                  if out["resolved"] else None)
    return out


def _sum_sql(alias="g"):
    return ", ".join(f"coalesce(sum({alias}.{k}), 0)::bigint AS {k}" for k in SUM_FIELDS)


def _hist_sum_sql(alias="g"):
    n = len(HANDLING_BUCKET_HOURS) + 1
    return ("ARRAY[" + ", ".join(f"coalesce(sum({alias}.handling_hist[{i}]), 0)::bigint" for i in range(1, n + 1))
            + "] AS hist")


def summary(filters: Filters, group_by=None):
    """Key figures from the roll-ups (never raw reports; the smallest that answers,
    aggregates.summary_rollup_table). group_by: None,
    "province", "authority", "category" or "group" → a list of rows with a "key"."""
    where, params = filters.rollup_sql("g", with_state=False)
    keys = {
        None: ("NULL::text", ""),
        "province": ("g.province_code", ""),
        "authority": ("g.authority_id::text", ""),
        "category": ("c.code", "JOIN reports_category c ON c.id = g.category_id"),
        "group": ("coalesce(pc.code, c.code)",
                  "JOIN reports_category c ON c.id = g.category_id "
                  "LEFT JOIN reports_category pc ON pc.id = c.parent_id"),
    }
    if group_by not in keys:
        raise agg.FilterError({"by": _("Không thể nhóm theo %(k)s.") % {"k": group_by}})
    key, join = keys[group_by]
    table = agg.summary_rollup_table(filters, group_by)
    rows = fetchall(
        f"SELECT {key} AS key, {_sum_sql()}, {_hist_sum_sql()} FROM {table} g {join} WHERE {where} "
        "GROUP BY 1 ORDER BY 1",
        params,
    )
    out = []
    for r in rows:
        figures = _finish(r, median_from_hist([int(x) for x in r["hist"]]))
        figures["key"] = r["key"]
        out.append(figures)
    if group_by is None:
        if not out:
            return _finish({}, None)
        out[0].pop("key")
        return out[0]
    return out


def summary_raw(filters: Filters, commune_id=None):
    """The same figures computed from raw reports (exact median, overdue as of now);
    what an area without a roll-up (a commune) uses, and the bench's baseline."""
    where, params = filters.raw_sql("r")
    if commune_id is not None:
        where += " AND r.commune_id = %s"
        params.append(commune_id)
    resolved = f"r.resolved_at IS NOT NULL AND NOT {policy.OPEN.sql('r')}"
    ratings = ", ".join(f"count(*) FILTER (WHERE r.rating_level = {i}) AS rating_{i}" for i in range(1, 6))
    row = fetchall(
        f"""SELECT count(*) AS received,
                   count(*) FILTER (WHERE r.forwarded_at IS NOT NULL) AS forwarded,
                   count(*) FILTER (
                       WHERE r.forwarded_at IS NOT NULL AND (r.forward_due IS NULL OR r.forwarded_at <= r.forward_due)
                   ) AS forwarded_on_time,
                   count(*) FILTER (WHERE {resolved}) AS resolved,
                   count(*) FILTER (WHERE {resolved} AND r.resolve_due IS NOT NULL) AS resolved_with_due,
                   count(*) FILTER (WHERE {resolved} AND r.resolve_due IS NOT NULL AND r.resolved_at <= r.resolve_due)
                       AS resolved_on_time,
                   count(*) FILTER (WHERE {policy.OPEN.sql('r')}) AS open,
                   count(*) FILTER (WHERE {policy.overdue_sql('r')}) AS overdue,
                   count(*) FILTER (WHERE r.state = '{policy.State.REJECTED.value}') AS rejected,
                   {ratings},
                   coalesce(sum(extract(epoch FROM r.resolved_at - r.created_at)) FILTER (WHERE {resolved}), 0)::bigint
                       AS handling_seconds_sum,
                   percentile_cont(0.5) WITHIN GROUP (
                       ORDER BY extract(epoch FROM r.resolved_at - r.created_at) / 3600.0)
                       FILTER (WHERE {resolved}) AS median_h
            FROM reports_report r WHERE {where}""",
        params,
    )[0]
    return _finish(row, row["median_h"])


def figures_for(kind, code, filters: Filters):
    """Figures for one area or unit: kind province | authority | category | commune |
    all. Communes come from raw reports (the roll-up is not split by commune)."""
    from boundaries.models import Area, Authority
    from reports.models import Category

    f = Filters(**{k: getattr(filters, k) for k in ("start", "end", "category_ids", "states", "authority_id",
                                                     "province",
                                                     "jurisdiction", "codes_in", "codes_not_in")})
    if kind in ("province", "authority", "commune") and f.jurisdiction is None:
        # the unit names its place: the home country's default scope does not apply
        # (Boston's departments have figures of their own)
        f.codes_in = f.codes_not_in = None
    if kind == "all":
        return summary(f)
    if kind == "province":
        # the same check as ?province= (a province of the boundaries or an imported
        # jurisdiction): an unknown code is a field error, not a table of zeros
        f.province = Filters.from_params({"province": code}).province
        return summary(f)
    if kind == "authority":
        a = Authority.objects.filter(code=code).first()
        if a is None:
            raise agg.FilterError({"code": _("Không có cơ quan mã %(code)s.") % {"code": code}})
        f.authority_id = a.id
        return summary(f)
    if kind == "category":
        c = Category.objects.filter(code=code).first()
        if c is None:
            raise agg.FilterError({"code": _("Không có lĩnh vực mã %(code)s.") % {"code": code}})
        f.category_ids = [c.id, *Category.objects.filter(parent=c).values_list("id", flat=True)]
        return summary(f)
    if kind == "commune":
        area = (Area.objects.filter(code=code, type__code__in=("commune", "city-ward"))
                .order_by("-version__valid_from").first())
        if area is None:
            raise agg.FilterError({"code": _("Không có xã/phường mã %(code)s.") % {"code": code}})
        return summary_raw(f, commune_id=area.id)
    raise agg.FilterError({"kind": _("Loại phải là province, authority, category, commune hoặc all.")})


def min_volume():
    return int(agg.conf("HEATMAP_RANKING_MIN_VOLUME"))


def league_table(filters: Filters, minimum=None):
    """The public ranking: ranked units first (rank 1..n), then "not ranked yet", and
    the figures of the reports no authority holds yet ("unassigned")."""
    from boundaries.models import Authority

    minimum = min_volume() if minimum is None else minimum
    rows = summary(filters, group_by="authority")
    names = {
        str(a["id"]): a
        for a in Authority.objects.filter(id__in=[int(r["key"]) for r in rows if r["key"]])
                                  .values("id", "code", "name", "province_code", "kind")
    }
    ranked, unranked = [], []
    # Reports no authority holds yet (with the desk, e.g. a commune matter routed under
    # old boundaries): in no unit's row, shown beside the table so that its figures add
    # up to the province's (the wall's and the dashboard's "overdue").
    unassigned = {"received": 0, "overdue": 0}
    for r in rows:
        if not r["key"]:
            unassigned = {"received": r["received"], "overdue": r["overdue"]}
            continue
        a = names.get(r["key"])
        if a is None:
            continue
        entry = {
            "authority": a["code"],
            "name": a["name"],
            "province": a["province_code"],
            "received": r["received"],
            "resolved": r["resolved"],
            "on_time_rate": r["on_time_rate"],
            "rating_mean": r["rating_mean"],
            "rated": r["rated"],
            "overdue": r["overdue"],
        }
        (ranked if r["received"] >= minimum else unranked).append(entry)
    biggest = max((e["received"] for e in ranked), default=0)
    for e in ranked:
        on_time = e["on_time_rate"] or 0.0
        sat = (e["rating_mean"] - 1) / 4 if e["rating_mean"] is not None else 0.5
        vol = math.log1p(e["received"]) / math.log1p(biggest) if biggest else 0.0
        e["score"] = round(100 * (0.6 * on_time + 0.3 * sat + 0.1 * vol), 1)
        e["ranked"] = True
    ranked.sort(key=lambda e: (-e["score"], -e["received"], e["authority"]))
    for i, e in enumerate(ranked, 1):
        e["rank"] = i
    for e in unranked:
        e.update(score=None, rank=None, ranked=False, note=_("Chưa xếp hạng (dưới %(n)s phản ánh)") % {"n": minimum})
    unranked.sort(key=lambda e: (-e["received"], e["authority"]))
    return {"minimum": minimum, "ranked": ranked, "unranked": unranked, "unassigned": unassigned}


def find_in_league(table, text):
    """The rows of a league table (ranked, then not ranked yet) whose authority's name or
    code holds ``text``, without regard to case or Vietnamese diacritics ("hong gai"
    finds "Phường Hồng Gai"), each keeping its rank in the whole table: with 3,695
    authorities nationally a citizen finds their ward's rank without paging to it."""
    from boundaries.lookup import fold_text

    rows = table["ranked"] + table["unranked"]
    wanted = fold_text(text)
    if not wanted:
        return rows
    return [e for e in rows if wanted in fold_text(e["name"]) or wanted in fold_text(e["authority"])]


def live_counters(province=None, now=None, jurisdiction=None):
    """The IOC wall's counters, from raw reports on their indexes (small: today's and
    the open ones): received today, open, overdue now, on-time % of the last 30 days."""
    import datetime as dt

    from django.utils import timezone

    now = now or timezone.now()
    today = timezone.localtime(now).date()
    where, params = agg.place_sql("r", province, jurisdiction)
    # overdue: one count per stage, each a range of that stage's deadline index
    stages = policy.overdue_by_stage_sql("r", "%s")
    overdue = " + ".join(f"(SELECT count(*) FROM reports_report r WHERE {where} AND {part})" for part in stages)
    row = fetchall(
        f"""SELECT
              (SELECT count(*) FROM reports_report r WHERE {where} AND r.created_at >= %s) AS today,
              (SELECT count(*) FROM reports_report r WHERE {where} AND {policy.OPEN.sql('r')}) AS open,
              {overdue} AS overdue""",
        [*params, agg.local_midnight(today), *params, *[*params, now] * len(stages)],
    )[0]
    month = Filters(start=today - dt.timedelta(days=30), end=today, province=province)
    if not province:
        month.scope_to(jurisdiction)
    month = summary(month)
    row["on_time_rate"] = month["on_time_rate"]
    return row
