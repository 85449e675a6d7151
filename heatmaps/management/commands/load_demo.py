from django.core.management.base import BaseCommand

from fixtures.demo import demo_refusal, load_demo


class Command(BaseCommand):
    help = ("Load the demo: real boundaries, categories, authorities, rules, demo staff and a year of reports "
            "(idempotent). --auto (scripts/run): only into a new database or the demo's own (GEO_PORTAL_DEMO).")

    def add_arguments(self, parser):
        parser.add_argument("--auto", action="store_true",
                            help="skip the demo in a database holding reports it did not make, or with "
                                 "GEO_PORTAL_DEMO=0 (GEO_PORTAL_DEMO=1: load it always)")

    def handle(self, *args, auto=False, **options):
        refusal = demo_refusal() if auto else None
        if refusal:
            self.stdout.write(f"demo: {refusal}\n")
            return
        load_demo(stdout=self.stdout)
