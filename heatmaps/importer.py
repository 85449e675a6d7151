"""Import records of another system as reports, keeping their own timestamps and states.

A column mapping names, for each report field, the column of the CSV (.csv or .csv.gz)
that carries it:

    external_id   the record's id in its system (re-imports update by it: idempotent)
    created_at    when it was opened            resolve_due   its resolve deadline
    resolved_at   when it was closed (also closed_at when the state is closed)
    state         mapped through ``states`` (a dict: their value → our state)
    category      a category created per value under the group "imported"
    authority     an Authority (kind department, level city) per value
    area          the file's own area code (used when the point is in no area)
    lat, lon      the point; title, description, address, result: texts

plus ``datetime_format``, ``timezone`` (of the file's wall-clock times), ``source``
(Report.source, e.g. "import:boston311"), ``jurisdiction`` and ``version`` (the
boundary version whose areas the points are placed in, e.g. "boston-wards"),
``area_pattern`` (a regex whose first group is the area code in the area column).

Rows are parsed with pandas, copied (COPY) into a temporary staging table, and moved
into reports with two set-based statements (update the known external ids, insert the
new ones), the area found for each point by boundaries.lookup.locate_many (the one
lookup: covering, lowest code on a shared border, snapping within tolerance).
Records at a known placeholder point (settings.HEATMAP_PLACEHOLDER_POINTS, e.g.
Boston's City Hall "not geocoded" default) keep their point and the file's own area;
the heat layers leave them out. The roll-ups are refreshed for the months touched.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from boundaries import jurisdictions
from boundaries.lookup import locate_many
from reports import policy, sla
from reports.models import Report

State = Report.State

PRESETS = {
    "boston311": {
        "external_id": "CASE_ENQUIRY_ID",
        "created_at": "OPEN_DT",
        "resolve_due": "TARGET_DT",
        "resolved_at": "CLOSED_DT",
        "state": "CASE_STATUS",
        "category": "TYPE",
        "authority": "Department",
        "area": "ward",
        "lat": "LATITUDE",
        "lon": "LONGITUDE",
        "title": "CASE_TITLE",
        "description": "TYPE",
        "address": "Location",
        "result": "CLOSURE_REASON",
        "states": {"Closed": State.CLOSED.value, "Open": State.FORWARDED.value},
        "datetime_format": "%m/%d/%Y %I:%M:%S %p",
        "timezone": "America/New_York",
        "source": "import:boston311",
        "code_prefix": "BOS",
        "jurisdiction": "US-MA-BOS",
        "version": "boston-wards",
        "area_pattern": r"(\d+)",
    }
}
FIELDS = ("external_id", "created_at", "resolve_due", "resolved_at", "state", "category", "authority", "area",
          "lat", "lon", "title", "description", "address", "result")
REQUIRED = ("external_id", "created_at", "category", "lat", "lon")
# What a mapping may hold besides the fields' columns.
SETTINGS_KEYS = ("states", "datetime_format", "timezone", "source", "code_prefix", "jurisdiction", "version",
                 "area_pattern")


class ImportError_(ValueError):
    pass


@dataclass
class ImportResult:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    placeholders: int = 0
    outside: int = 0
    categories: int = 0
    authorities: int = 0
    months_refreshed: int = 0


def load_mapping(preset=None, mapping_file=None, overrides=None):
    mapping = dict(PRESETS[preset]) if preset else {}
    if preset and preset not in PRESETS:
        raise ImportError_(_("Không có mẫu ánh xạ %(p)s.") % {"p": preset})
    if mapping_file:
        try:
            text = open(mapping_file, encoding="utf-8").read()
        except OSError as exc:
            raise ImportError_(_("Không mở được tệp ánh xạ %(f)s: %(e)s") % {"f": mapping_file,
                                                                             "e": exc.strerror}) from None
        try:
            if mapping_file.endswith((".yaml", ".yml")):
                import yaml

                loaded = yaml.safe_load(text) or {}
            else:
                loaded = json.loads(text)
        except ValueError as exc:  # json.JSONDecodeError
            raise ImportError_(_("Tệp ánh xạ %(f)s không đọc được: %(e)s") % {"f": mapping_file, "e": exc}) from None
        except Exception as exc:  # noqa: BLE001 - yaml.YAMLError
            raise ImportError_(_("Tệp ánh xạ %(f)s không đọc được: %(e)s") % {"f": mapping_file, "e": exc}) from None
        if not isinstance(loaded, dict):
            raise ImportError_(_("Tệp ánh xạ phải là một bảng {trường: cột}."))
        mapping.update(loaded)
    mapping.update(overrides or {})
    unknown = [k for k in mapping if k not in FIELDS and k not in SETTINGS_KEYS]
    if unknown:
        raise ImportError_(_("Trường không có trong ánh xạ: %(u)s (các trường: %(f)s)") % {
            "u": ", ".join(sorted(unknown)), "f": ", ".join(FIELDS)})
    missing = [f for f in REQUIRED if not mapping.get(f)]
    if missing:
        raise ImportError_(_("Thiếu ánh xạ cho trường: %(f)s") % {"f": ", ".join(missing)})
    mapping.setdefault("source", "import")
    mapping.setdefault("code_prefix", "IMP")
    mapping.setdefault("timezone", "UTC")
    mapping.setdefault("states", {})
    return mapping


def _localize(series, fmt, tz):
    import pandas as pd

    parsed = pd.to_datetime(series, format=fmt, errors="coerce") if fmt else pd.to_datetime(series, errors="coerce")
    if parsed.dt.tz is None:
        # Wall-clock times of the file's zone. In the autumn's repeated hour the first
        # (daylight) reading is taken; a spring-forward gap moves forward.
        parsed = parsed.dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return parsed.dt.tz_convert("UTC")


def read_frame(path, mapping):
    import pandas as pd

    cols = sorted({mapping[f] for f in FIELDS if mapping.get(f)})
    header = set(pd.read_csv(path, nrows=0).columns)
    absent = [f"{mapping[f]} ({f})" for f in FIELDS if mapping.get(f) and mapping[f] not in header]
    if absent:
        raise ImportError_(_("Tệp không có cột: %(c)s. Các cột của tệp: %(h)s") % {
            "c": ", ".join(absent), "h": ", ".join(sorted(header))})
    df = pd.read_csv(path, usecols=cols, dtype=str, keep_default_na=False, na_values=[""])
    out = pd.DataFrame({"external_id": df[mapping["external_id"]].astype(str).str.strip()})
    for f in ("created_at", "resolve_due", "resolved_at"):
        col = mapping.get(f)
        out[f] = _localize(df[col], mapping.get("datetime_format"), mapping["timezone"]) if col else pd.NaT
    for f in ("category", "authority", "title", "description", "address", "result"):
        col = mapping.get(f)
        out[f] = df[col].fillna("").astype(str).str.strip() if col else ""
    out["lat"] = pd.to_numeric(df[mapping["lat"]], errors="coerce")
    out["lon"] = pd.to_numeric(df[mapping["lon"]], errors="coerce")
    if mapping.get("state"):
        raw = df[mapping["state"]].fillna("").astype(str).str.strip()
        out["state"] = raw.map(lambda v: mapping["states"].get(v, v.lower() if v else State.RECEIVED.value))
    else:
        out["state"] = State.RECEIVED.value
    area_col = mapping.get("area")
    if area_col:
        codes = df[area_col].fillna("").astype(str)
        pat = mapping.get("area_pattern")
        if pat:
            codes = codes.str.extract(re.compile(pat), expand=False).fillna("")
        out["area"] = codes.map(lambda v: str(int(v)) if v.isdigit() else v)
    else:
        out["area"] = ""
    return out


def _ensure_categories(names, jurisdiction=None):
    """The file's categories (created under the group "imported"); with the records'
    jurisdiction they are that jurisdiction's own (Boston's "Pothole" is not offered
    in Vietnam: Category.offered_in)."""
    from reports.models import Category

    group, _created = Category.objects.get_or_create(
        code="imported", defaults={"name": _("Nhập từ hệ thống khác"), "name_en": "Imported", "sort_order": 900}
    )
    codes = {}
    for name in sorted(set(names)):
        slug = slugify(name)[:40] or "khac"
        code = f"imp-{slug}-{hashlib.sha1(name.encode()).hexdigest()[:6]}"
        codes[name] = code
    existing = dict(Category.objects.filter(code__in=codes.values()).values_list("code", "id"))
    new = [Category(code=c, name=n[:120], parent=group, sort_order=900) for n, c in codes.items() if c not in existing]
    Category.objects.bulk_create(new, ignore_conflicts=True)
    ids = dict(Category.objects.filter(code__in=codes.values()).values_list("code", "id"))
    if jurisdiction is not None:
        through = Category.jurisdictions.through
        through.objects.bulk_create([through(category_id=pk, jurisdiction_id=jurisdiction.pk) for pk in ids.values()],
                                    ignore_conflicts=True)
    return {n: ids[c] for n, c in codes.items()}, len(new)


def _ensure_authorities(names, mapping, province_code=""):
    from boundaries.models import Authority

    prefix = slugify(mapping["source"].split(":")[-1]) or "import"
    codes = {n: f"{prefix}-{slugify(n) or 'x'}"[:80] for n in sorted(set(names)) if n}
    existing = set(Authority.objects.filter(code__in=codes.values()).values_list("code", flat=True))
    new = [
        Authority(code=c, name=n[:200], kind=Authority.Kind.DEPARTMENT, level=Authority.Level.CITY,
                  province_code=province_code[:10])
        for n, c in codes.items() if c not in existing
    ]
    Authority.objects.bulk_create(new, ignore_conflicts=True)
    ids = dict(Authority.objects.filter(code__in=codes.values()).values_list("code", "id"))
    return {n: ids[c] for n, c in codes.items()}, len(new)


STAGING_COLS = ("external_id", "created_at", "resolve_due", "resolved_at", "state", "category_id", "authority_id",
                "area_code", "lat", "lon", "title", "description", "address", "result")


def import_records(path, mapping, chunk=20000, progress=None, refresh=True):
    """Import the CSV at ``path`` with ``mapping``; returns an ImportResult."""
    import pandas as pd

    from boundaries.models import BoundaryVersion
    from heatmaps import aggregates as agg
    from reports.models import Report

    res = ImportResult()
    df = read_frame(path, mapping)
    res.rows = len(df)
    bad = (df["created_at"].isna() | df["lat"].isna() | df["lon"].isna() | (df["external_id"] == "")
           | (df["category"] == ""))
    res.skipped = int(bad.sum())
    df = df[~bad].drop_duplicates("external_id", keep="last")
    valid_states = set(Report.State.values)
    df.loc[~df["state"].isin(valid_states), "state"] = State.RECEIVED.value
    version = BoundaryVersion.objects.filter(code=mapping.get("version") or "").first()
    # The records' jurisdiction ("US-MA-BOS" or "boston" name Boston): their province
    # code, and the calendar and time zone of the deadlines the file does not carry.
    juris = jurisdictions.get(mapping.get("jurisdiction")) if mapping.get("jurisdiction") else None
    if mapping.get("jurisdiction") and juris is None:
        raise ImportError_(_("Không có vùng tài phán %(j)s.") % {"j": mapping["jurisdiction"]})
    prov = juris.province_code if juris is not None else ""
    df["resolve_due"] = pd.to_datetime(df["resolve_due"], utc=True)
    missing_due = df["resolve_due"].isna() & df["state"].isin(list(policy.OPEN.values))
    if missing_due.any():
        df.loc[missing_due, "resolve_due"] = pd.Series(
            sla.add_working_days_many(list(df.loc[missing_due, "created_at"]), sla.resolve_days(None), juris),
            index=df.index[missing_due], dtype="datetime64[ns, UTC]",
        )
    placeholders = agg.conf("HEATMAP_PLACEHOLDER_POINTS")
    is_ph = pd.Series(False, index=df.index)
    for lon, lat in placeholders:
        is_ph |= ((df["lon"] - lon).abs() < 1e-7) & ((df["lat"] - lat).abs() < 1e-7)
    res.placeholders = int(is_ph.sum())
    with transaction.atomic():
        cat_ids, res.categories = _ensure_categories(df["category"], juris)
        auth_ids, res.authorities = _ensure_authorities(df["authority"], mapping, prov)
        df["category_id"] = df["category"].map(cat_ids)
        df["authority_id"] = df["authority"].map(auth_ids)
        with connection.cursor() as cur:
            # ON COMMIT DROP, and dropped first: inside an outer transaction (tests, a
            # caller's atomic block) an earlier import's tables may still be there.
            cur.execute("DROP TABLE IF EXISTS import_staging, import_points, import_placed")
            cur.execute(
                """CREATE TEMP TABLE import_staging (
                     external_id text, created_at timestamptz, resolve_due timestamptz, resolved_at timestamptz,
                     state text, category_id bigint, authority_id bigint, area_code text, lat float8, lon float8,
                     title text, description text, address text, result text, placeholder boolean) ON COMMIT DROP"""
            )
            raw = cur.cursor
            total = len(df)
            for start in range(0, total, chunk):
                part = df.iloc[start:start + chunk]
                ph = is_ph.loc[part.index]
                with raw.copy(f"COPY import_staging ({', '.join(STAGING_COLS)}, placeholder) FROM STDIN") as cp:
                    for row, p in zip(part.itertuples(index=False), ph, strict=True):
                        cp.write_row((
                            row.external_id,
                            None if pd.isna(row.created_at) else row.created_at.to_pydatetime(),
                            None if pd.isna(row.resolve_due) else row.resolve_due.to_pydatetime(),
                            None if pd.isna(row.resolved_at) else row.resolved_at.to_pydatetime(),
                            row.state, int(row.category_id),
                            None if pd.isna(row.authority_id) else int(row.authority_id),
                            row.area or None, float(row.lat), float(row.lon),
                            row.title[:200], row.description or row.category, row.address[:300], row.result, bool(p),
                        ))
                if progress:
                    progress(min(start + chunk, total), total)
            cur.execute("ANALYZE import_staging")
            cur.execute("CREATE INDEX ON import_staging (external_id)")
            # The area: the point's, located by boundaries.lookup.locate_many in the
            # version (its border and snapping rules); the file's own where the point is
            # a placeholder or in no area.
            vid = version.id if version else None
            located = f"import_located_{uuid.uuid4().hex[:10]}"
            cur.execute(
                """CREATE TEMP TABLE import_points ON COMMIT DROP AS
                   SELECT external_id, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS g
                   FROM import_staging WHERE NOT placeholder ORDER BY 2"""
            )
            cur.execute("CREATE INDEX ON import_points USING gist (g)")
            cur.execute("ANALYZE import_points")
            try:
                if version is not None:
                    locate_many("import_points", version, out_table=located, key="external_id")
                else:
                    cur.execute(f"CREATE TEMP TABLE {located} ON COMMIT DROP (external_id text, area_id bigint)")
                cur.execute(
                    f"""CREATE TEMP TABLE import_placed ON COMMIT DROP AS
                       SELECT s.*, coalesce(hit.area_id, own.id) AS area_id,
                              (hit.area_id IS NULL AND NOT s.placeholder) AS outside
                       FROM import_staging s
                       LEFT JOIN {located} hit ON hit.external_id = s.external_id
                       LEFT JOIN boundaries_area own ON own.version_id = %s AND own.code = s.area_code""",
                    [vid],
                )
            finally:
                cur.execute(f"DROP TABLE IF EXISTS {located}")
            cur.execute("SELECT count(*) FILTER (WHERE outside) FROM import_placed")
            res.outside = cur.fetchone()[0]
            cur.execute("CREATE INDEX ON import_placed (external_id)")
            closed_states = [State.CLOSED.value]
            now = timezone.now()
            source = mapping["source"]
            cur.execute(
                """UPDATE reports_report r SET
                       state = s.state, resolve_due = s.resolve_due,
                       resolved_at = CASE WHEN s.state = ANY(%s) THEN NULL ELSE s.resolved_at END,
                       closed_at = CASE WHEN s.state = ANY(%s) THEN s.resolved_at END,
                       category_id = s.category_id, authority_id = s.authority_id, commune_id = s.area_id,
                       jurisdiction_id = coalesce(%s, r.jurisdiction_id),
                       result_text = coalesce(s.result, ''), updated_at = %s, row_version = r.row_version + 1
                   FROM import_placed s
                   WHERE r.source = %s AND r.external_id = s.external_id
                     AND (r.state, r.resolve_due, r.resolved_at, r.category_id, r.authority_id, r.commune_id)
                         IS DISTINCT FROM (s.state, s.resolve_due,
                                           CASE WHEN s.state = ANY(%s) THEN NULL ELSE s.resolved_at END,
                                           s.category_id, s.authority_id, s.area_id)
                   RETURNING r.id""",
                [list(policy.OPEN.values), closed_states, juris.id if juris is not None else None, now, source,
                 list(policy.OPEN.values)],
            )
            touched = [row[0] for row in cur.fetchall()]
            res.updated = len(touched)
            cur.execute(
                """INSERT INTO reports_report (code, title, description, category_id, location, address,
                        boundary_version_id, commune_id, province_code, jurisdiction_id, authority_id,
                        routing_explanation, state,
                        reject_reason, result_text, contact_name, contact_phone, contact_email, source, external_id,
                        created_at, resolved_at, closed_at, resolve_due, extension_reason, updated_at, row_version)
                    SELECT left(%s || '-' || s.external_id, 32), coalesce(s.title, ''), s.description, s.category_id,
                           ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), coalesce(s.address, ''),
                           %s, s.area_id, %s, %s, s.authority_id, %s, s.state, '', coalesce(s.result, ''), '', '', '',
                           %s, s.external_id, s.created_at,
                           CASE WHEN s.state = ANY(%s) THEN NULL ELSE s.resolved_at END,
                           CASE WHEN s.state = ANY(%s) THEN s.resolved_at END,
                           s.resolve_due, '', %s, 0
                    FROM import_placed s
                    WHERE NOT EXISTS (SELECT 1 FROM reports_report r
                                      WHERE r.external_id = s.external_id AND r.source = %s)
                    RETURNING id""",
                [mapping["code_prefix"], vid, prov, juris.id if juris is not None else None,
                 _("Nhập từ %(src)s") % {"src": source}, source,
                 list(policy.OPEN.values), closed_states, now, source],
            )
            new_ids = [row[0] for row in cur.fetchall()]
            res.inserted = len(new_ids)
            res.unchanged = len(df) - res.inserted - res.updated
            if refresh:
                res.months_refreshed = agg.refresh_for_reports(touched + new_ids)
    return res
