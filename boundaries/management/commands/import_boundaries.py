"""python manage.py import_boundaries SOURCE --type TYPE --version VERSION --code-field FIELD
--name-field FIELD [--name-en-field FIELD] [--parent-field FIELD --parent-type TYPE] [--commit]

A dry run unless --commit: prints what it would create, change, repair and reject.
"""

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from boundaries.importer import BoundaryImportError, import_areas


def _date(value):
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(_("Ngày không hợp lệ (cần YYYY-MM-DD): %(v)s") % {"v": value}) from exc


class Command(BaseCommand):
    requires_system_checks = []  # an import needs the models, not the URL configuration
    help = _(
        "Nhập địa giới từ một nguồn OGR (GeoJSON, Shapefile, GeoPackage, zip) vào một phiên bản và loại đơn vị. Chạy "
        "thử trừ khi có --commit."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Our --version (the boundary version) replaces Django's --version (its own).
        kwargs.setdefault("conflict_handler", "resolve")
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("source", help=_("tệp nguồn: .geojson, .shp, .gpkg, .zip, .gz…"))
        parser.add_argument("--type", required=True, dest="type_code", help=_("mã loại đơn vị (tạo mới nếu chưa có)"))
        parser.add_argument(
            "--version", required=True, dest="version_code", help=_("mã phiên bản địa giới (tạo mới nếu chưa có)")
        )
        parser.add_argument("--code-field", required=True, help=_("trường chứa mã chính thức"))
        parser.add_argument("--name-field", help=_("trường chứa tên tiếng Việt"))
        parser.add_argument("--name-format", help=_('mẫu tên thay cho --name-field, ví dụ "Ward {WARD}"'))
        parser.add_argument("--name-en-field", help=_("trường chứa tên tiếng Anh"))
        parser.add_argument("--parent-field", help=_("trường chứa mã đơn vị cha"))
        parser.add_argument("--parent-type", help=_("loại của đơn vị cha (cùng phiên bản)"))
        parser.add_argument("--commit", action="store_true", help=_("ghi vào cơ sở dữ liệu (mặc định: chạy thử)"))
        parser.add_argument(
            "--prune", action="store_true", help=_("xoá các đơn vị của phiên bản/loại không còn trong nguồn")
        )
        parser.add_argument("--force", action="store_true", help=_("so sánh lại từng đơn vị kể cả khi tệp không đổi"))
        parser.add_argument("--layer", help=_("tên lớp (GeoPackage nhiều lớp)"))
        parser.add_argument("--where", help=_("bộ lọc OGR SQL, ví dụ \"province_code = '22'\""))
        parser.add_argument(
            "--filter",
            action="append",
            default=[],
            metavar="FIELD=VALUE",
            help=_("chỉ giữ đối tượng có FIELD=VALUE (lặp lại được)"),
        )
        parser.add_argument("--version-name", help=_("tên phiên bản"))
        parser.add_argument("--jurisdiction", help=_('vùng tài phán, ví dụ "VN" hoặc "US-MA-BOS"'))
        parser.add_argument("--valid-from", type=_date, help=_("hiệu lực từ YYYY-MM-DD"))
        parser.add_argument("--valid-to", type=_date, help=_("hiệu lực đến YYYY-MM-DD"))
        parser.add_argument("--description", help=_("mô tả phiên bản (nguồn, niên đại)"))
        parser.add_argument("--level", type=int, help=_("cấp của loại đơn vị mới (tỉnh 10, huyện 20, xã 30)"))
        parser.add_argument("--type-name", help=_("tên loại đơn vị mới"))
        parser.add_argument("--no-progress", action="store_true", help=_("không hiện thanh tiến trình"))

    def handle(self, *args, **o):
        if o["parent_field"] and not o["parent_type"]:
            raise CommandError(_("--parent-field cần đi kèm --parent-type."))
        if not (o["name_field"] or o["name_format"]):
            raise CommandError(_("Cần --name-field hoặc --name-format."))
        filters = {}
        for item in o["filter"]:
            if "=" not in item:
                raise CommandError(_("--filter cần dạng FIELD=VALUE: %(v)s") % {"v": item})
            k, v = item.split("=", 1)
            filters[k.strip()] = v.strip()
        version_defaults = {
            k: v
            for k, v in {
                "name": o["version_name"],
                "jurisdiction": o["jurisdiction"],
                "valid_from": o["valid_from"],
                "valid_to": o["valid_to"],
                "description": o["description"],
            }.items()
            if v is not None
        }
        type_defaults = {"level": o["level"], "name": o["type_name"]}
        try:
            result = import_areas(
                o["source"],
                type_code=o["type_code"],
                version_code=o["version_code"],
                code_field=o["code_field"],
                name_field=o["name_field"],
                name_en_field=o["name_en_field"],
                parent_field=o["parent_field"],
                parent_type=o["parent_type"],
                commit=o["commit"],
                layer=o["layer"],
                where=o["where"],
                filters=filters,
                name_format=o["name_format"],
                version_defaults=version_defaults,
                type_defaults=type_defaults,
                force=o["force"],
                prune=o["prune"],
                progress=not o["no_progress"],
            )
        except BoundaryImportError as exc:
            if exc.result is not None:
                for line in exc.result.lines():
                    self.stderr.write(line)
            raise CommandError(str(exc)) from exc
        for line in result.lines(limit=50 if o["verbosity"] > 1 else 20):
            self.stdout.write(line)
        if result.committed:
            self.stdout.write(
                self.style.SUCCESS(_("Xong: %(n)d mảnh chia nhỏ được dựng lại.") % {"n": result.parts_rebuilt})
            )
