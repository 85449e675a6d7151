"""locate_points IN.csv[.gz] --lat COL --lon COL --type TYPE [--version V] --out OUT.csv[.gz]

Writes every input column plus ``area_code``, ``area_name``, ``snapped_m`` (empty when
the point is in no area, or its coordinates are empty/non-numeric/out of range).

Set-based, never one query per row, and streaming (a million rows fit; nothing is held
in Python):

1. The CSV bytes are COPYed as they are into an unlogged work table (all columns text,
   plus the row number); PostgreSQL parses the CSV.
2. Valid coordinates become points in a second work table, sorted spatially, with a
   GiST index.
3. ``boundaries.lookup.locate_many``: ONE join driven from the subdivided parts of the
   chosen version and type (for each part, the points it covers; consecutive probes use
   the same polygon, so PostGIS reuses its prepared geometry; two parallel workers; work
   tables are unlogged, not temporary, because temporary tables are invisible to
   parallel workers).
4. Also locate_many: the points left over are snapped, set-based, to the nearest area
   within LOCATE_SNAP_TOLERANCE_M (geography distance, bbox prefilter on the parts'
   index).
5. The rows are COPYed out in input order (merge join on the row number; progress
   bar by blocks of rows).

Border rule as in boundaries.lookup.locate (locate_many applies it): a point covered by
several areas (on a shared border) gets the one with the lowest code. Work tables are
dropped at the end.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import time
import uuid

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DataError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from boundaries.lookup import locate_many

NUMERIC_RE = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
COPY_BLOCK = 1 << 20


def _open(path, mode):
    if str(path).endswith(".gz"):
        return gzip.open(path, mode, compresslevel=1) if "w" in mode else gzip.open(path, mode)
    return open(path, mode)


def _qi(name):
    return '"' + name.replace('"', '""') + '"'


def read_header(path) -> list[str]:
    try:
        with _open(path, "rb") as f:
            first = f.readline().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise CommandError(_("Không tìm thấy tệp %(p)s.") % {"p": path}) from exc
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # a directory, a broken .gz, not UTF-8
        raise CommandError(
            _("Không đọc được %(p)s (cần CSV UTF-8, có thể nén .gz): %(e)s") % {"p": path, "e": exc}
        ) from exc
    if not first.strip():
        raise CommandError(_("%(p)s: tệp rỗng hoặc không có dòng tiêu đề.") % {"p": path})
    return next(csv.reader(io.StringIO(first)))


def _copy_error(path, exc) -> CommandError:
    """A COPY failure (a row with more columns than the header, bytes that are not
    UTF-8…) as a message naming the file and the line, not the work table."""
    diag = getattr(exc, "diag", None)
    primary = (diag and diag.message_primary) or str(exc).splitlines()[0]
    m = re.search(r"line (\d+)", (diag and diag.context) or str(exc))
    where = _("%(p)s, dòng %(n)s") % {"p": path, "n": m.group(1)} if m else str(path)
    return CommandError(
        _("Không đọc được CSV %(where)s: %(e)s (cần CSV UTF-8, mỗi dòng đủ các cột của tiêu đề).")
        % {"where": where, "e": primary}
    )


def _resolve_version_type(version_code, type_code):
    from boundaries.models import AreaType, BoundaryVersion

    area_type = AreaType.objects.filter(code=type_code).first()
    if area_type is None:
        known = ", ".join(AreaType.objects.values_list("code", flat=True))
        raise CommandError(_("Không có loại đơn vị “%(t)s” (có: %(known)s).") % {"t": type_code, "known": known})
    if version_code:
        version = BoundaryVersion.objects.filter(code=version_code).first()
        if version is None:
            raise CommandError(_("Không có phiên bản địa giới “%(v)s”.") % {"v": version_code})
        return version, area_type
    versions = list(
        BoundaryVersion.objects.valid_on(timezone.localdate()).filter(areas__type=area_type).distinct().order_by("code")
    )
    if not versions:
        raise CommandError(
            _("Không có phiên bản nào đang hiệu lực có đơn vị loại “%(t)s”; hãy chỉ rõ --version.") % {"t": type_code}
        )
    if len(versions) > 1:
        names = ", ".join(v.code for v in versions)
        raise CommandError(
            _("Nhiều phiên bản đang hiệu lực có loại “%(t)s” (%(names)s); hãy chỉ rõ --version.")
            % {"t": type_code, "names": names}
        )
    return versions[0], area_type


def locate_csv(
    in_path,
    out_path,
    lat_col,
    lon_col,
    type_code,
    version_code=None,
    tolerance_m=None,
    chunk_rows=100_000,
    progress=True,
    stats=None,
):
    """Locate every row of ``in_path``; write ``out_path``. Returns a dict of counts and
    timings (rows, located, snapped, invalid, seconds per phase)."""
    from tqdm import tqdm

    stats = {} if stats is None else stats
    header = read_header(in_path)
    for col in (lat_col, lon_col):
        if col not in header:
            raise CommandError(
                _("Không có cột “%(c)s” trong %(p)s (các cột: %(cols)s).")
                % {"c": col, "p": in_path, "cols": ", ".join(header)}
            )
    out_dir = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(out_dir):
        raise CommandError(_("Không có thư mục %(d)s để ghi %(p)s.") % {"d": out_dir, "p": out_path})
    # Unique work-table column names even when the CSV repeats a header.
    cols, seen = [], {}
    for name in header:
        n = seen.get(name, 0)
        seen[name] = n + 1
        cols.append(name if n == 0 else f"{name}__{n}")
    version, area_type = _resolve_version_type(version_code, type_code)
    tol = float(settings.LOCATE_SNAP_TOLERANCE_M if tolerance_m is None else tolerance_m)
    tag = uuid.uuid4().hex[:10]
    t_in, t_pt, t_best = (f"_lp_{tag}_{x}" for x in ("in", "pt", "best"))
    lat_q, lon_q = _qi(cols[header.index(lat_col)]), _qi(cols[header.index(lon_col)])
    t0 = time.perf_counter()
    try:
        with connection.cursor() as cur:
            coldefs = ", ".join(f"{_qi(c)} text" for c in cols)
            cur.execute(f"CREATE UNLOGGED TABLE {t_in} ({coldefs}, _n bigint GENERATED ALWAYS AS IDENTITY)")
            # 1. COPY the file in as it is.
            collist = ", ".join(_qi(c) for c in cols)
            raw = cur.connection  # psycopg connection under Django's wrapper
            total_bytes = None
            if not str(in_path).endswith(".gz"):
                total_bytes = os.path.getsize(in_path)
            bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc="copy in", disable=not progress)
            try:
                # atomic: inside a caller's transaction a failed COPY rolls back to a
                # savepoint, so the work tables can still be dropped.
                with transaction.atomic(), raw.cursor() as rc, _open(in_path, "rb") as f:
                    with rc.copy(
                        f"COPY {t_in} ({collist}) FROM STDIN WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')"
                    ) as cp:
                        while block := f.read(COPY_BLOCK):
                            cp.write(block)
                            bar.update(len(block))
            except psycopg.DataError as exc:
                raise _copy_error(in_path, exc) from exc
            except (OSError, EOFError) as exc:  # a truncated or corrupt .gz
                raise CommandError(_("Không đọc được %(p)s: %(e)s") % {"p": in_path, "e": exc}) from exc
            finally:
                bar.close()
            cur.execute(f"SELECT count(*) FROM {t_in}")
            n_rows = cur.fetchone()[0]
            stats["rows"] = n_rows
            stats["copy_in_s"] = time.perf_counter() - t0

            # 2. Valid points with a GiST index, in the file's order. (Sorted by geometry
            #    first, the join took the same 1.48 s on a national 1 M and the sort cost
            #    0.5 s: the points just written are in memory, whatever their order.) Fast path: cast
            #    the columns directly; if a row has a non-numeric coordinate the cast
            #    fails and the rows are checked one by one with a regular expression
            #    (4x slower), so such rows get empty outputs instead of a crash.
            t1 = time.perf_counter()
            select = (
                f"CREATE UNLOGGED TABLE {t_pt} AS "
                "SELECT _n, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS g "
                f"FROM (SELECT _n, {{lon}} AS lon, {{lat}} AS lat FROM {t_in}) s "
                "WHERE lon BETWEEN -180 AND 180 AND lat BETWEEN -90 AND 90"
            )
            checked = "CASE WHEN {c} ~ %(re)s THEN {c}::float8 END"
            fast = "nullif(btrim({c}), '')::float8"
            with transaction.atomic():
                cur.execute("SET LOCAL maintenance_work_mem = '512MB'")  # the GiST build
                cur.execute("SET LOCAL max_parallel_workers_per_gather = 2")  # a parallel scan of the rows
                cur.execute("SET LOCAL jit = off")
                try:
                    with transaction.atomic():
                        cur.execute(select.format(lon=fast.format(c=lon_q), lat=fast.format(c=lat_q)))
                except DataError:
                    cur.execute(
                        select.format(lon=checked.format(c=lon_q), lat=checked.format(c=lat_q)), {"re": NUMERIC_RE}
                    )
                n_valid = cur.rowcount
                cur.execute(f"CREATE INDEX ON {t_pt} USING gist (g)")
            cur.execute(f"ANALYZE {t_pt}")
            stats["valid"] = n_valid
            stats["invalid"] = n_rows - n_valid
            stats["prepare_s"] = time.perf_counter() - t1

            # 3+4. The join driven from the parts, the snap of the leftovers and the
            #      border rule: boundaries.lookup.locate_many, one row per located point.
            located, snapped = locate_many(t_pt, version, area_type, tol, out_table=t_best, stats=stats)
            stats["located"], stats["snapped"] = located, snapped
            cur.execute(f"CREATE UNIQUE INDEX ON {t_in} (_n)")

            # 5. COPY out in input order: a merge join of two index scans on the row
            #    number (no sort); progress by block of rows.
            t5 = time.perf_counter()
            cur.execute(f"ANALYZE {t_in}")
            cur.execute(f"ANALYZE {t_best}")
            out_cols = ", ".join(f"i.{_qi(c)}" for c in cols)
            with _open(out_path, "wb") as out:
                w = io.TextIOWrapper(out, encoding="utf-8", newline="")
                # "\n" like the rows COPY writes (csv's default "\r\n" would mix line ends)
                csv.writer(w, lineterminator="\n").writerow([*header, "area_code", "area_name", "snapped_m"])
                w.flush()
                w.detach()
                bar = tqdm(total=n_rows, unit="rows", desc="copy out", disable=not progress)
                sql = (
                    f"COPY (SELECT {out_cols}, b.code, b.name, round(b.snapped_m::numeric, 1) "
                    f"FROM {t_in} i LEFT JOIN {t_best} b ON b._n = i._n ORDER BY i._n) "
                    "TO STDOUT WITH (FORMAT csv, ENCODING 'UTF8')"
                )
                # libpq hands COPY TO data over one row at a time: a row per chunk, written
                # in blocks of COPY_BLOCK (a million small writes and a count of the line
                # ends of every row took a fifth of the run).
                pending, buf = 0, bytearray()
                with raw.cursor() as rc, rc.copy(sql) as cp:
                    for data in cp:
                        buf += data
                        pending += 1
                        if len(buf) >= COPY_BLOCK:
                            out.write(buf)
                            buf.clear()
                        if pending >= chunk_rows:
                            bar.update(pending)
                            pending = 0
                out.write(buf)
                bar.update(min(pending, n_rows - bar.n))
                bar.close()
            stats["copy_out_s"] = time.perf_counter() - t5
    finally:
        with connection.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {t_in}, {t_pt}, {t_best}")
    stats["total_s"] = time.perf_counter() - t0
    return stats


class Command(BaseCommand):
    help = _(
        "Xác định đơn vị hành chính cho từng dòng của tệp CSV (cột vĩ độ/kinh độ) theo một loại đơn vị; "
        "xử lý theo tập hợp trong SQL."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Our --version (a boundary version) replaces Django's --version (its own).
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("input", help=_("tệp CSV (.csv hoặc .csv.gz) có dòng tiêu đề"))
        parser.add_argument("--lat", required=True, help=_("cột vĩ độ"))
        parser.add_argument("--lon", required=True, help=_("cột kinh độ"))
        parser.add_argument("--type", required=True, dest="type_code", help=_("mã loại đơn vị (commune, city-ward…)"))
        parser.add_argument(
            "--version",
            dest="version",
            default=None,
            help=_("mã phiên bản địa giới (mặc định: phiên bản đang hiệu lực hôm nay)"),
        )
        parser.add_argument("--out", required=True, help=_("tệp CSV kết quả (.csv hoặc .csv.gz)"))
        parser.add_argument("--tolerance", type=float, default=None, help=_("khoảng bắt dính tối đa, mét"))
        parser.add_argument("--chunk-rows", type=int, default=100_000)
        parser.add_argument("--no-progress", action="store_true", help=_("không hiện thanh tiến trình"))

    def handle(self, *args, **o):
        stats = locate_csv(
            o["input"],
            o["out"],
            o["lat"],
            o["lon"],
            o["type_code"],
            version_code=o["version"],
            tolerance_m=o["tolerance"],
            chunk_rows=o["chunk_rows"],
            progress=not o["no_progress"],
        )
        rate = stats["rows"] / stats["total_s"] if stats["total_s"] else 0
        self.stdout.write(
            _(
                "%(rows)d dòng: %(located)d xác định được (%(snapped)d bắt dính vào đơn vị gần nhất), "
                "%(invalid)d không có toạ độ dùng được, %(outside)d nằm ngoài; %(s).1f s (%(rate)d dòng/s) → %(out)s"
            )
            % {
                "rows": stats["rows"],
                "located": stats["located"],
                "snapped": stats["snapped"],
                "invalid": stats["invalid"],
                "outside": stats["rows"] - stats["located"] - stats["invalid"],
                "s": stats["total_s"],
                "rate": rate,
                "out": o["out"],
            }
        )
