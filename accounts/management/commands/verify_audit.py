"""`manage.py verify_audit [--anchors FILE]`: recompute the audit chain and report tampering (BX-11).

Exit status 0 when every row matches its hash and follows the one before it, 1 otherwise; each
problem is printed with its row id. `--anchors` takes the file the daily job appends the chain head
to (AUDIT_ANCHOR_FILE): every anchor must still be in the chain, which proves nothing was cut off
the end since.
"""
from django.core.management.base import BaseCommand, CommandError

from accounts import audit


class Command(BaseCommand):
    help = "Verify the hash-chained audit log; exits 1 if any row was edited, removed or reordered."

    def add_arguments(self, parser):
        parser.add_argument("--anchors", help="file of anchors exported earlier (AUDIT_ANCHOR_FILE)")

    def handle(self, *args, anchors=None, **options):
        try:
            known = audit.read_anchors(anchors) if anchors else []
        except (OSError, ValueError) as error:
            raise CommandError(f"--anchors: {error}") from None
        report = audit.verify_chain(anchors=known)
        for problem in report.problems:
            self.stderr.write(f"row {problem.row_id}: {problem.kind}: {problem.detail}")
        if report.head_id is None:
            summary = "audit log: empty"
        else:
            summary = (f"audit log: {report.checked} rows checked (ids {report.first_id}..{report.head_id}), "
                       f"{len(known)} anchors; head {report.head_id}:{report.head_hash}")
        if not report.ok:
            raise CommandError(f"{summary}; {len(report.problems)} problem(s): the log was tampered with", returncode=1)
        self.stdout.write(f"{summary}; chain intact")
