"""python manage.py webhooks add --authority CODE --url URL   (prints the new secret)
python manage.py webhooks rotate ID [--overlap-hours 24]      (prints the new secret)
python manage.py webhooks list"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from agencies import services
from agencies.models import WebhookEndpoint
from boundaries.models import Authority


class Command(BaseCommand):
    help = "Agencies' webhook endpoints: add (prints the secret), rotate a secret, list."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="cmd", required=True)
        add = sub.add_parser("add")
        add.add_argument("--authority", required=True)
        add.add_argument("--url", required=True)
        add.add_argument("--description", default="")
        add.add_argument("--include-children", action="store_true")
        rot = sub.add_parser("rotate")
        rot.add_argument("id", type=int)
        rot.add_argument("--overlap-hours", type=int, default=24)
        sub.add_parser("list")

    def handle(self, *args, **opts):
        if opts["cmd"] == "add":
            authority = Authority.objects.filter(code=opts["authority"]).first()
            if authority is None:
                raise CommandError(f"no authority with code {opts['authority']!r}")
            try:
                endpoint, secret = services.add_endpoint(authority, opts["url"], opts["description"],
                                                         opts["include_children"])
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from None
            self.stderr.write(f"endpoint {endpoint.pk}: {authority.code} → {endpoint.url}")
            self.stdout.write(secret)
        elif opts["cmd"] == "rotate":
            endpoint = WebhookEndpoint.objects.filter(pk=opts["id"]).first()
            if endpoint is None:
                raise CommandError(f"no endpoint {opts['id']}")
            self.stdout.write(services.rotate_secret(endpoint, opts["overlap_hours"]))
        else:
            for e in WebhookEndpoint.objects.select_related("authority").order_by("id"):
                pending = e.deliveries.filter(status="pending").count()
                dead = e.deliveries.filter(status="dead").count()
                state = "active" if e.active else f"disabled ({e.disabled_reason})"
                self.stdout.write(f"{e.pk}\t{e.authority.code}\t{e.url}\t{state}\tpending={pending}\tdead={dead}")
