"""Print the monthly crisis statistics (CN-CRI-10): `manage.py crisis_report --month 2026-11 [--format text]`."""
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from companion.reports import crisis_month, parse_month


def last_complete_month() -> str:
    first = timezone.localdate().replace(day=1)
    return f"{first.year - (first.month == 1):04d}-{(first.month - 2) % 12 + 1:02d}"


class Command(BaseCommand):
    help = "Crisis cases of one month (drills excluded): counts per level and outcome, takeovers, SLA misses, " \
           "median and p90 times, notifications, and the month's drills."

    def add_arguments(self, parser):
        parser.add_argument("--month", default=None, metavar="YYYY-MM",
                            help="calendar month in TIME_ZONE (default: the last complete month)")
        parser.add_argument("--format", choices=("json", "text"), default="json")

    def handle(self, *args, month: str | None, format: str, **options):
        try:
            year, number = parse_month(month or last_complete_month())
        except ValueError as error:
            raise CommandError(str(error)) from None
        report = crisis_month(year, number)
        if format == "json":
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
        else:
            self.stdout.write("\n".join(as_text(report)))


def as_text(report: dict) -> list[str]:
    def seconds(value):
        return "-" if value is None else f"{value:g} s"

    lines = [f"Crisis cases {report['month']} ({report['from']} to {report['until']}), drills excluded",
             f"Cases opened: {report['cases_opened']}",
             "By level: " + ", ".join(f"{level} {count}" for level, count in report["cases_by_level"].items()),
             "By outcome: " + ", ".join(f"{outcome} {count}" for outcome, count in report["cases_by_outcome"].items()),
             f"Takeovers (claimed): {report['takeovers']}",
             f"SLA misses: {report['sla_misses']}",
             "Seconds from the triggering message:"]
    for step, summary in report["seconds_to"].items():
        lines.append(f"  {step}: n={summary['count']} median={seconds(summary['median'])} "
                     f"p90={seconds(summary['p90'])}")
    lines.append("Notifications:")
    for channel, statuses in report["notifications"].items():
        lines.append(f"  {channel}: " + ", ".join(f"{status} {count}" for status, count in statuses.items()))
    lines.append(f"Drills: {len(report['drills'])}")
    for drill in report["drills"]:
        lines.append(f"  {drill['started_at']} {drill['outcome']}: detection {seconds(drill['detection_seconds'])}, "
                     f"template {seconds(drill['template_seconds'])}, accept {seconds(drill['accept_seconds'])}, "
                     f"notification {seconds(drill['notification_seconds'])}")
        lines += [f"    {note}" for note in drill["notes"].splitlines()]
    return lines
