"""Run an end-to-end crisis drill with the month's synthetic account (BX-16).

`manage.py crisis_drill --operator USERNAME` claims as that operator (automated: CI, schedules);
without `--operator` a person has `--wait-seconds` to claim the drill case in /console/.
Exits non-zero when the drill fails.
"""
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from companion.drills import DrillError, run_drill
from companion.models import DrillRun

OPERATOR_ROLES = ("operator", "compliance")  # who may claim in the console


class Command(BaseCommand):
    help = "Post a crisis message as the month's drill account and time detection, safety reply, operator " \
           "accept and contact notification (BX-16)."

    def add_arguments(self, parser):
        parser.add_argument("--operator", metavar="USERNAME", default=None,
                            help="claim the case as this operator (automated drill)")
        parser.add_argument("--wait-seconds", type=float, default=120.0, metavar="N",
                            help="without --operator: how long to wait for a person to claim (default 120)")

    def handle(self, *args, operator: str | None, wait_seconds: float, **options):
        if wait_seconds < 0:
            raise CommandError("--wait-seconds must be 0 or more")
        claimant = None
        if operator is not None:
            claimant = User.objects.filter(username=operator, is_active=True).first()
            if claimant is None or not any(claimant.has_role(role) for role in OPERATOR_ROLES):
                raise CommandError(f"{operator!r} is not an active operator or compliance officer")
        elif wait_seconds:
            self.stdout.write(f"Drill case opening: claim it in /console/ within {wait_seconds:g} s.")
        try:
            run = run_drill(operator=claimant, wait_seconds=wait_seconds)
        except DrillError as error:
            raise CommandError(str(error)) from None
        for step in ("detection", "template", "accept", "notification"):
            value = getattr(run, f"{step}_seconds")
            self.stdout.write(f"{step}: {'not reached' if value is None else f'{value:g} s'}"
                              + (" (not accepted)" if step == "accept" and value is None else ""))
        for note in run.notes.splitlines():
            self.stdout.write(f"  {note}")
        if run.outcome != DrillRun.Outcome.PASS:
            raise CommandError(f"drill {run.pk} failed")
        self.stdout.write(self.style.SUCCESS(f"drill {run.pk} passed"))
