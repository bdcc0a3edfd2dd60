"""`manage.py classify` (contracts.md §6): screen JSONL text with the live pipeline, one line out per line in.

Streams line by line, so files of any size run in constant memory; a malformed line yields
`{"id": ..., "error": str}` and the run goes on (CN-CRI-01: `classify` gives the level live chat gives).
"""
import json
import sys

from django.core.management.base import BaseCommand, CommandError

from moderation.pipeline import ScreeningInput, screen

LANGUAGES = {"zh": "zh-hans", "en": "en"}


def classify_line(line: str, direction: str) -> dict:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        return {"id": None, "error": f"invalid JSON: {error.msg}"}
    if not isinstance(record, dict):
        return {"id": None, "error": "each line must be a JSON object"}
    item_id = record.get("id")
    text, history, lang = record.get("text"), record.get("history", []), record.get("lang", "zh")
    if not isinstance(text, str):
        return {"id": item_id, "error": "text must be a string"}
    if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
        return {"id": item_id, "error": "history must be a list of strings"}
    if lang not in LANGUAGES:
        return {"id": item_id, "error": "lang must be zh or en"}
    verdict = screen(ScreeningInput(text=text, direction=direction, language=LANGUAGES[lang], history=tuple(history)))
    return {"id": item_id, "level": verdict.level, "categories": list(verdict.categories),
            "score": float(min(max(verdict.score, 0.0), 1.0))}


class Command(BaseCommand):
    help = "Screen JSONL lines {id, text, lang?, history?} and write {id, level, categories, score} per line."

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="JSONL file, or - for stdin")
        parser.add_argument("--output", required=True, help="JSONL file, or - for stdout")
        parser.add_argument("--direction", choices=("inbound", "outbound"), default="inbound")

    def handle(self, *args, input, output, direction, **options):
        try:
            source = sys.stdin if input == "-" else open(input, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot read {input}: {error}") from error
        try:
            target = self.stdout if output == "-" else open(output, "w", encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot write {output}: {error}") from error
        try:
            for line in source:
                result = json.dumps(classify_line(line, direction), ensure_ascii=False)
                if output == "-":
                    target.write(result)
                else:
                    target.write(result + "\n")
        finally:
            if source is not sys.stdin:
                source.close()
            if output != "-":
                target.close()
