"""python manage.py download_data [--dest DIR] [--only TEXT] [--verify-only]
python manage.py download_data --basemap [--jurisdiction CODE …] [--basemap-out PATH] [--dry-run]

Fetches the public originals of the data directory (settings.DATA_DIR) listed in
fixtures/data_manifest.json from their pinned commits when they are missing, and
verifies every file present against its sha256 (pooch). Files marked "derived" were
assembled from upstream files by a documented step: they cannot be fetched as such;
the command says which upstream files and which step. Offline, a missing original is a
clear error (non-zero exit), never a traceback.

``--basemap`` instead cuts a vector basemap for GEO_PORTAL_BASEMAP=pmtiles:… out of a
pinned Protomaps daily build: the go-pmtiles CLI reads only the byte ranges of the tiles
inside the bounding box of the jurisdictions (boundaries/extent.py) and writes an
archive under the data directory. ``--dry-run`` prints the bounding box and the command
without fetching.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

MANIFEST = Path(settings.BASE_DIR) / "fixtures" / "data_manifest.json"
# A Protomaps daily planet build (OpenStreetMap data, ODbL), pinned by date. Protomaps keeps
# recent builds only: when this one is gone, pass a newer one with --basemap-build (list:
# https://maps.protomaps.com/builds/).
PROTOMAPS_BUILD = "https://build.protomaps.com/20261201.pmtiles"
BASEMAP_MAX_ZOOM = 15  # the builds' deepest level; protomaps-leaflet overzooms beyond it
BASEMAP_DEFAULT_FILE = "basemap/vietnam.pmtiles"


@dataclass
class Outcome:
    path: str
    status: str  # ok | downloaded | mismatch | missing-derived | failed
    message: str = ""

    @property
    def failed(self):
        return self.status in ("mismatch", "failed", "missing-derived")


def load_manifest(path=MANIFEST) -> list[dict]:
    return json.loads(Path(path).read_text(encoding="utf-8"))["files"]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(entry: dict, dest: Path) -> Outcome:
    target = dest / entry["path"]
    actual = sha256_of(target)
    if actual != entry["sha256"]:
        return Outcome(
            entry["path"],
            "mismatch",
            _("sai checksum: sha256 %(a)s, cần %(e)s (tệp bị sửa hoặc là phiên bản khác)")
            % {"a": actual, "e": entry["sha256"]},
        )
    return Outcome(entry["path"], "ok")


def fetch(entry: dict, dest: Path, timeout: float = 60) -> Outcome:
    """Download one original with pooch, verifying its sha256; a clear outcome offline."""
    import pooch
    import requests

    target = dest / entry["path"]
    if entry.get("kind") != "original" or not entry.get("url"):
        build = entry.get("build", "")
        src = entry.get("source", {})
        return Outcome(
            entry["path"],
            "missing-derived",
            _("tệp dẫn xuất, không tải trực tiếp được: dựng từ %(repo)s@%(commit)s %(paths)s — %(build)s")
            % {
                "repo": src.get("repository", "?"),
                "commit": (src.get("commit") or "?")[:10],
                "paths": ", ".join(src.get("paths", [])),
                "build": build,
            },
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        pooch.retrieve(
            entry["url"],
            known_hash=f"sha256:{entry['sha256']}",
            fname=target.name,
            path=target.parent,
            downloader=pooch.HTTPDownloader(timeout=timeout, progressbar=False),
        )
    except ValueError as exc:  # pooch: hash mismatch (the bad download is removed)
        return Outcome(entry["path"], "mismatch", _("tải về nhưng sai checksum: %(e)s") % {"e": exc})
    except (requests.exceptions.RequestException, OSError) as exc:
        return Outcome(
            entry["path"],
            "failed",
            _("không tải được %(url)s (không có mạng hoặc máy chủ không trả lời): %(e)s")
            % {"url": entry["url"], "e": exc.__class__.__name__},
        )
    return Outcome(entry["path"], "downloaded")


def sync(entries, dest: Path, verify_only=False, timeout=60, on_outcome=None) -> list[Outcome]:
    outcomes = []
    for entry in entries:
        target = dest / entry["path"]
        if target.exists():
            outcome = verify(entry, dest)
        elif verify_only:
            outcome = Outcome(entry["path"], "failed", _("thiếu tệp"))
        else:
            outcome = fetch(entry, dest, timeout=timeout)
        outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)
    return outcomes


def basemap_extract_command(build_url, out, bbox, max_zoom=BASEMAP_MAX_ZOOM, pmtiles_cli="pmtiles") -> list[str]:
    """The go-pmtiles invocation that extracts ``bbox`` (west, south, east, north) of a
    remote archive into ``out`` (HTTP range requests: only those tiles travel)."""
    w, s, e, n = bbox
    return [pmtiles_cli, "extract", build_url, str(out), f"--bbox={w},{s},{e},{n}", f"--maxzoom={max_zoom}"]


def basemap_target(dest: Path, out: str | None = None) -> Path:
    """Where the extract goes: --basemap-out; else the configured pmtiles archive; else
    <data dir>/basemap/vietnam.pmtiles. Relative paths are under the data directory."""
    from geo_portal import basemap

    if out:
        path = Path(out)
        return path if path.is_absolute() else dest / path
    configured = basemap.current()
    if configured.kind == "pmtiles":
        return configured.path
    return dest / BASEMAP_DEFAULT_FILE


class Command(BaseCommand):
    help = _("Tải dữ liệu gốc công khai (commit cố định, kiểm tra sha256) vào thư mục dữ liệu khi còn thiếu.")
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--dest", help=_("thư mục đích (mặc định settings.DATA_DIR)"))
        parser.add_argument("--only", help=_("chỉ các tệp có đường dẫn chứa chuỗi này"))
        parser.add_argument("--verify-only", action="store_true", help=_("chỉ kiểm tra checksum, không tải"))
        parser.add_argument("--timeout", type=float, default=60, help=_("thời gian chờ mỗi lần tải (giây)"))
        parser.add_argument("--manifest", default=str(MANIFEST), help=_("tệp danh mục dữ liệu"))
        parser.add_argument("--basemap", action="store_true",
                            help=_("cắt bản đồ nền vector (PMTiles) theo khung bao các vùng tài phán"))
        parser.add_argument("--jurisdiction", action="append", default=[],
                            help=_("mã vùng tài phán (lặp lại được; mặc định mọi vùng đang dùng của quốc gia)"))
        parser.add_argument("--country", default="VN", help=_("quốc gia của các vùng tài phán mặc định"))
        parser.add_argument("--basemap-out", help=_("tệp PMTiles đích (mặc định tệp trong GEO_PORTAL_BASEMAP)"))
        parser.add_argument("--basemap-build", default=PROTOMAPS_BUILD, help=_("bản dựng Protomaps nguồn"))
        parser.add_argument("--maxzoom", type=int, default=BASEMAP_MAX_ZOOM, help=_("mức thu phóng sâu nhất"))
        parser.add_argument("--dry-run", action="store_true", help=_("chỉ in khung bao và lệnh, không tải"))

    def handle(self, *args, **o):
        dest = Path(o["dest"] or settings.DATA_DIR)
        if o["basemap"]:
            return self.extract_basemap(dest, o)
        try:
            entries = load_manifest(o["manifest"])
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(
                _("Không đọc được danh mục dữ liệu %(p)s: %(e)s") % {"p": o["manifest"], "e": exc}
            ) from exc
        if o["only"]:
            entries = [e for e in entries if o["only"] in e["path"]]
        labels = {
            "ok": _("đúng checksum"),
            "downloaded": _("đã tải, đúng checksum"),
            "mismatch": _("SAI CHECKSUM"),
            "missing-derived": _("THIẾU"),
            "failed": _("LỖI"),
        }

        def report(out):
            line = f"{labels[out.status]:>22}  {out.path}" + (f"\n{'':>24}{out.message}" if out.message else "")
            self.stdout.write(self.style.ERROR(line) if out.failed else line)

        outcomes = sync(entries, dest, verify_only=o["verify_only"], timeout=o["timeout"], on_outcome=report)
        bad = [x for x in outcomes if x.failed]
        if bad:
            raise CommandError(
                _("%(n)d/%(t)d tệp dữ liệu thiếu hoặc sai trong %(d)s.")
                % {"n": len(bad), "t": len(outcomes), "d": dest}
            )
        self.stdout.write(
            self.style.SUCCESS(
                _("%(t)d tệp dữ liệu đầy đủ và đúng checksum trong %(d)s.") % {"t": len(outcomes), "d": dest}
            )
        )

    def extract_basemap(self, dest, o):
        import shutil
        import subprocess

        from boundaries.extent import jurisdictions_bbox

        bbox = jurisdictions_bbox(o["jurisdiction"] or None, country=None if o["jurisdiction"] else o["country"])
        if bbox is None:
            raise CommandError(_("Không có ranh giới nào của các vùng tài phán đã chọn: hãy nạp địa giới trước."))
        out = basemap_target(dest, o["basemap_out"])
        cmd = basemap_extract_command(o["basemap_build"], out, bbox, o["maxzoom"])
        self.stdout.write(_("Khung bao (tây, nam, đông, bắc): %(b)s") % {"b": ", ".join(str(v) for v in bbox)})
        self.stdout.write(" ".join(cmd))
        if o["dry_run"]:
            self.stdout.write(_("Chạy thử: không tải gì."))
            return
        if not shutil.which(cmd[0]):
            raise CommandError(
                _("Cần chương trình 'pmtiles' (go-pmtiles, https://github.com/protomaps/go-pmtiles/releases) "
                  "trong PATH để cắt bản đồ nền.")
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".part")
        cmd[3] = str(partial)
        result = subprocess.run(cmd, check=False)  # noqa: S603 — our own argument list, no shell
        if result.returncode != 0 or not partial.exists():
            partial.unlink(missing_ok=True)
            raise CommandError(
                _("Không cắt được bản đồ nền từ %(url)s (mã thoát %(rc)s): có mạng không, bản dựng còn không?")
                % {"url": o["basemap_build"], "rc": result.returncode}
            )
        partial.replace(out)  # a map page never meets a half-written archive
        self.stdout.write(self.style.SUCCESS(
            _("Đã ghi %(p)s (%(mb).1f MB, sha256 %(h)s). Đặt GEO_PORTAL_BASEMAP=pmtiles:%(p)s")
            % {"p": out, "mb": out.stat().st_size / 1e6, "h": sha256_of(out)}
        ))
