"""Run the deadline sweep now (what the periodic task does every 10 minutes): queue
reminders before forward/resolve deadlines and escalations after them, then send."""

from django.core.management.base import BaseCommand

from reports import notify


class Command(BaseCommand):
    help = "Nhắc hạn và báo quá hạn phản ánh ngay (như tác vụ định kỳ)."

    def add_arguments(self, parser):
        parser.add_argument("--no-send", action="store_true", help="chỉ xếp hàng, không gửi")

    def handle(self, *args, **options):
        created = notify.sweep_deadlines()
        sent = 0 if options["no_send"] else notify.send_pending()
        self.stdout.write(f"reminders/escalations queued: {created}; notifications sent: {sent}")
