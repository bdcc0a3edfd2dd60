"""`manage.py minors_pi_audit [--year YYYY] [--output FILE]` (CN-MIN-15): the yearly evidence pack on
minors' personal information (companion/minors_audit.py) as JSON."""
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from companion.minors_audit import minors_pi_audit


class Command(BaseCommand):
    help = "Build the yearly minors' personal-information audit evidence pack (JSON)."

    def add_arguments(self, parser):
        parser.add_argument("--year", type=int, default=None, help="calendar year (default: last year)")
        parser.add_argument("--output", help="file to write (default: stdout)")

    def handle(self, *args, year: int | None, output: str | None, **options):
        year = year or timezone.localdate().year - 1
        if not 2000 <= year <= timezone.localdate().year:
            raise CommandError(f"--year must be between 2000 and {timezone.localdate().year}")
        text = json.dumps(minors_pi_audit(year=year), ensure_ascii=False, indent=2)
        if output:
            with open(output, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        else:
            self.stdout.write(text)
