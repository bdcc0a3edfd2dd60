"""`manage.py export_training_data --output DIR [--since YYYY-MM-DD]` (CN-DAT-06): the conversations of
adults who gave the separate training consent, pseudonymised, with a manifest (companion/training_export.py)."""
import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from companion.training_export import NoImpactAssessment, export_training_data


class Command(BaseCommand):
    help = "Export consenting adults' conversations for model training: conversations.jsonl + manifest.json."

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, help="directory to write (created if missing)")
        parser.add_argument("--since", help="only turns from this date on (YYYY-MM-DD)")

    def handle(self, *args, output: str, since: str | None, **options):
        try:
            since_date = dt.date.fromisoformat(since) if since else None
        except ValueError:
            raise CommandError("--since takes a date, YYYY-MM-DD") from None
        try:
            report = export_training_data(output_dir=Path(output), since=since_date)
        except NoImpactAssessment:
            raise CommandError("No personal-information impact assessment of the training extract is in force "
                               "(CN-DAT-10): a compliance officer records one at /compliance/assessments/.") from None
        self.stdout.write(json.dumps({"users_included": report.users_included, "excluded": report.excluded,
                                      "conversations": report.conversations, "turns": report.turns}))
