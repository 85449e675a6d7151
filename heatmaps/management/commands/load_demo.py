from django.core.management.base import BaseCommand

from fixtures.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo: real boundaries, categories, authorities, rules and a year of reports (idempotent)."

    def handle(self, *args, **options):
        load_demo(stdout=self.stdout)
