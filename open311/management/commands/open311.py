"""``manage.py open311 keys add NAME [--jurisdiction ID …]`` prints a new API key;
``keys list`` shows the keys (never the secrets); ``keys revoke PREFIX`` deactivates;
``seed`` adds the demo questions (scripts/run, after load_demo)."""

from django.core.management.base import BaseCommand, CommandError

from boundaries import jurisdictions
from open311.models import ApiKey


class Command(BaseCommand):
    help = "Open311: keys add NAME [--jurisdiction ID …] | keys list | keys revoke PREFIX | seed"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="group", required=True)
        keys = sub.add_parser("keys")
        ksub = keys.add_subparsers(dest="action", required=True)
        add = ksub.add_parser("add")
        add.add_argument("name")
        add.add_argument("--jurisdiction", action="append", default=[],
                         help="jurisdiction code (22, boston, VN); repeat for several; none: every jurisdiction")
        ksub.add_parser("list")
        revoke = ksub.add_parser("revoke")
        revoke.add_argument("prefix")
        sub.add_parser("seed", help="the demo questions of a few categories (idempotent)")

    def handle(self, *args, group=None, action=None, **options):
        if group == "seed":
            from open311.seed import seed_attributes

            self.stdout.write(f"{seed_attributes()} service attributes created")
        elif action == "add":
            found = []
            for code in options["jurisdiction"]:
                j = jurisdictions.get(code)
                if j is None:
                    raise CommandError(f"unknown jurisdiction {code!r}")
                found.append(j)
            key, raw = ApiKey.create(options["name"], found)
            self.stderr.write(f"API key for {key.name} ({', '.join(j.code for j in found) or 'every jurisdiction'}):")
            self.stdout.write(raw)
        elif action == "list":
            for key in ApiKey.objects.prefetch_related("jurisdictions"):
                codes = ",".join(j.code for j in key.jurisdictions.all()) or "*"
                self.stdout.write(f"{key.prefix}\t{'active' if key.active else 'revoked'}\t{codes}\t{key.name}")
        elif action == "revoke":
            n = ApiKey.objects.filter(prefix=options["prefix"]).update(active=False)
            if not n:
                raise CommandError("no key with that prefix")
            self.stdout.write(f"revoked {n}")
