"""manage.py import_records FILE [--preset boston311] [--mapping map.json|yaml] [--map field=COLUMN …]

Imports records of another system as reports (see heatmaps/importer.py for the mapping).
Idempotent: a second run updates the records whose state or dates changed, by external id.
"""

import time

from django.core.management.base import BaseCommand, CommandError

from heatmaps.importer import PRESETS, ImportError_, import_records, load_mapping


class Command(BaseCommand):
    help = "Nhập phản ánh từ hệ thống khác (CSV, .csv.gz) theo bảng ánh xạ cột."

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV or CSV.gz file")
        parser.add_argument("--preset", choices=sorted(PRESETS), help="built-in mapping (boston311)")
        parser.add_argument("--mapping", help="JSON or YAML mapping file: {field: column, states: {...}, ...}")
        parser.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                            help="override one field's column")
        parser.add_argument("--source", help='Report.source, e.g. "import:boston311"')
        parser.add_argument("--chunk", type=int, default=20000)
        parser.add_argument("--no-refresh", action="store_true", help="do not refresh the heatmaps' roll-ups")

    def handle(self, *args, **opts):
        overrides = {}
        for item in opts["map"]:
            if "=" not in item:
                raise CommandError(f"--map expects FIELD=COLUMN, got {item!r}")
            k, v = item.split("=", 1)
            overrides[k.strip()] = v.strip()
        if opts["source"]:
            overrides["source"] = opts["source"]
        try:
            mapping = load_mapping(opts["preset"], opts["mapping"], overrides)
        except (ImportError_, OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        t0 = time.perf_counter()

        def progress(done, total):
            self.stdout.write(f"  staged {done:,}/{total:,} rows ({time.perf_counter() - t0:.1f} s)")

        try:
            res = import_records(opts["path"], mapping, chunk=opts["chunk"], progress=progress,
                                 refresh=not opts["no_refresh"])
        except (ImportError_, OSError, KeyError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(
            f"{res.rows:,} rows: {res.inserted:,} new, {res.updated:,} updated, {res.unchanged:,} unchanged, "
            f"{res.skipped:,} skipped; {res.placeholders:,} at a placeholder point (kept, left out of maps), "
            f"{res.outside:,} outside every area (file's own area kept); {res.categories} categories and "
            f"{res.authorities} authorities created; {res.months_refreshed} months of roll-ups refreshed "
            f"in {time.perf_counter() - t0:.1f} s"
        ))
