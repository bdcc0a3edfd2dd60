"""Check the compliance matrix (docs/compliance.md) against the obligations catalog and the code.

    .venv/bin/python manage.py check_compliance [--matrix docs/compliance.md] [--obligations ../shared/obligations.md]

Exits non-zero and lists every problem: a catalog ID without a row, a cited test or file that does
not exist, a `done` row without a test, totals that do not add up (companion/compliance.py).
"""
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from companion.compliance import check, matrix_rows


class Command(BaseCommand):
    help = "Verify docs/compliance.md: every obligation listed once, every cited test and file exists."

    def add_arguments(self, parser):
        parser.add_argument("--matrix", type=Path, default=settings.BASE_DIR / "docs" / "compliance.md")
        parser.add_argument("--obligations", type=Path, default=settings.COMPLIANCE_OBLIGATIONS_FILE)

    def handle(self, *args, matrix: Path, obligations: Path, **options):
        try:
            matrix_text = matrix.read_text(encoding="utf-8")
            obligations_text = obligations.read_text(encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot read {error.filename}: {error.strerror}") from error
        problems = check(matrix_text, obligations_text, settings.BASE_DIR)
        for problem in problems:
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} problem(s) in {matrix}")
        self.stdout.write(self.style.SUCCESS(f"{matrix}: {len(matrix_rows(matrix_text))} obligations, all references exist"))
