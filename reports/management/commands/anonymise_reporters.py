"""Clear the reporter's name, phone and e-mail on reports closed long enough ago
(settings.REPORTER_RETENTION_DAYS; reports/retention.py). Dry run unless --commit; the
periodic task does the same every night."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from reports import retention


class Command(BaseCommand):
    help = "Ẩn danh thông tin người phản ánh sau thời hạn lưu giữ (chạy thử nếu không có --commit)."

    def add_arguments(self, parser):
        parser.add_argument("--commit", action="store_true", help="ghi thay đổi (mặc định chỉ chạy thử)")
        parser.add_argument("--days", type=int, help="thời hạn lưu giữ, ngày (mặc định REPORTER_RETENTION_DAYS)")

    def handle(self, *args, **options):
        if options["days"] is not None and options["days"] < 0:
            raise CommandError(_("--days phải là số không âm."))
        result = retention.run(days=options["days"], commit=options["commit"])
        w = self.stdout.write
        for item in result.due:
            w(f"  {item.code}  {item.state}  {item.closed_at.isoformat()}")
        for item, message in result.failed:
            w(f"  {item.code}  {item.state}  — {message}")
        verb = _("đã ẩn danh") if result.commit else _("sẽ ẩn danh")
        w(
            _("Thời hạn %(days)d ngày (đóng trước %(cutoff)s): %(verb)s %(n)d phản ánh; lỗi: %(failed)d.")
            % {"days": result.days, "cutoff": result.cutoff.isoformat(timespec="minutes"), "verb": verb,
               "n": len(result.due), "failed": len(result.failed)}
        )
        if not result.commit:
            w(_("Chạy thử: chưa thay đổi gì. Thêm --commit để thực hiện."))
