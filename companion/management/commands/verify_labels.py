"""Check conversation exports for their explicit and implicit AI labels (CN-DIS-04, CN-DIS-05, CN-DIS-06, EU-02).

HMACs are checked with this deployment's key, so run it where the exports were made.
"""
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from companion.exports import ai_messages, export_from_html, label_problems


class Command(BaseCommand):
    help = "Verify that .json or .html conversation exports carry every AI label; exit non-zero on any problem."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="an export.json or export.html file")

    def handle(self, *args, paths: list[str], **options):
        problems, labelled = 0, 0
        for path in paths:
            try:
                export = read_export(Path(path))
            except (OSError, UnicodeDecodeError, ValueError) as error:
                lines = [f"cannot read: {error}"]
            else:
                lines = label_problems(export)
                labelled += len(ai_messages(export))
            for line in lines:
                self.stdout.write(f"{path}: {line}")
            problems += len(lines)
        if problems:
            raise CommandError(f"{problems} labelling problem(s) in {len(paths)} file(s)")
        self.stdout.write(self.style.SUCCESS(f"OK: {labelled} AI messages labelled"))


def read_export(path: Path):
    """The export as a dict, from JSON or from its HTML rendering; ValueError for other files."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        return json.loads(text)
    if path.suffix.lower() in (".html", ".htm"):
        return export_from_html(text)
    raise ValueError(f"expected a .json or .html export, not {path.suffix or 'a file without extension'}")
