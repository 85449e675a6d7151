"""Move the open reports of an old boundary version to the new one (reports/cutover.py).

    manage.py cutover --from vn-2009 --to vn-2025 [--at 2025-07-01] [--commit]

Dry run unless --commit: prints what would move, per old unit → new unit, and the
reports left for the desk.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from tqdm import tqdm

from reports import cutover
from reports.models import Report


class Command(BaseCommand):
    help = "Chuyển các phản ánh đang mở sang phiên bản địa giới mới (chạy thử nếu không có --commit)."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="from_version", required=True, help="phiên bản cũ, ví dụ vn-2009")
        parser.add_argument("--to", dest="to_version", required=True, help="phiên bản mới, ví dụ vn-2025")
        parser.add_argument("--at", help="ngày/giờ tra cứu trong phiên bản mới (mặc định: ngày bắt đầu hiệu lực)")
        parser.add_argument("--commit", action="store_true", help="ghi thay đổi (mặc định chỉ chạy thử)")
        parser.add_argument("--no-progress", action="store_true", help="không hiện thanh tiến trình")

    def handle(self, *args, **options):
        at = None
        if options["at"]:
            at = parse_datetime(options["at"]) or parse_date(options["at"])
            if at is None:
                raise CommandError(_("--at không hợp lệ (dạng YYYY-MM-DD hoặc YYYY-MM-DDTHH:MM)."))

        def progress(items):
            return tqdm(items, desc="cutover", unit="report", disable=options["no_progress"], file=self.stderr._out)

        try:
            result = cutover.run(
                options["from_version"], options["to_version"], at=at, commit=options["commit"], progress=progress
            )
        except cutover.CutoverError as exc:
            raise CommandError(str(exc)) from None
        self._print(result)

    def _print(self, result):
        w = self.stdout.write
        w(
            _("Phiên bản %(old)s → %(new)s, tra cứu ngày %(day)s: %(n)d phản ánh đang mở thuộc %(old)s.")
            % {
                "old": result.from_version.code,
                "new": result.to_version.code,
                "day": result.day.isoformat(),
                "n": result.considered,
            }
        )
        rows = [(o.label(), n.label(), str(c)) for o, n, c in result.summary()]
        if rows:
            head = (_("đơn vị cũ"), _("đơn vị mới"), _("số phản ánh"))
            widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
            w("  ".join(h.ljust(widths[i]) for i, h in enumerate(head)))
            w("  ".join("-" * x for x in widths))
            for r in rows:
                w(f"{r[0].ljust(widths[0])}  {r[1].ljust(widths[1])}  {r[2].rjust(widths[2])}")
        changed = sum(1 for m in result.moved if m.authority_changed)
        verb = _("đã chuyển") if result.commit else _("sẽ chuyển")
        w(
            _("%(verb)s: %(n)d (đổi cơ quan xử lý: %(changed)d); để Tổ vận hành xem xét: %(left)d; lỗi: %(failed)d.")
            % {"verb": verb, "n": len(result.moved), "changed": changed, "left": len(result.left),
               "failed": len(result.failed)}
        )
        for title, items in ((_("Để Tổ vận hành xem xét"), result.left), (_("Không chuyển được"), result.failed)):
            if items:
                w(f"{title}:")
                for m in items:
                    w(f"  {m.code}  {Report.State(m.state).label}  {m.old.label()}  — {m.reason}")
        if not result.commit:
            w(_("Chạy thử: chưa thay đổi gì. Thêm --commit để thực hiện."))
