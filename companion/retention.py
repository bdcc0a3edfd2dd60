"""How long each store keeps personal information, and the nightly purge (CN-DAT-08, #8 item 4).

`POLICIES` is the retention table: one row per model of our apps, plus the stores that are not
models. docs/retention.md prints the same table and a test holds the two equal, and holds every
model to having a row, so nothing new is kept without a decision. Periods in days come from
COMPANION_RETENTION_DAYS (the compliance officer's choice, set per deployment), never below the
legal floors noted in the basis column. `purge_expired_records` (beat, nightly) applies every row
that has a purge; each run is idempotent and writes one audit row with the counts.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts import audit
from accounts.models import AgeCue, PhoneCode
from companion.models import (CaseStatus, Complaint, ComplaintStatus, CrisisCase, DailyUsage, DependenceScore,
                              DrillRun, Reminder, Sanction)
from companion.privacy import purge_expired_exports
from guardians.models import Notification


@dataclass(frozen=True)
class Policy:
    store: str  # a model label ("companion.Message") or a named store that is not a model
    kept: str  # what docs/retention.md says, word for word
    basis: str
    days_key: str = ""  # key in COMPANION_RETENTION_DAYS when the period is a number of days
    purge: Callable[[dt.datetime], int] | None = None  # deletes what is older than the cutoff
    purged_by: str = ""  # for a store another job purges

    def days(self) -> int | None:
        return int(settings.COMPANION_RETENTION_DAYS[self.days_key]) if self.days_key else None

    def kept_text(self) -> str:
        return self.kept.format(days=self.days()) if self.days_key else self.kept

    def purge_text(self) -> str:
        return self.purged_by or ("nightly purge" if self.purge else "—")


def _purge_crisis_cases(cutoff: dt.datetime) -> int:
    """Resolved cases past retention, with their timeline and the notices sent about them."""
    cases = list(CrisisCase.objects.filter(status=CaseStatus.RESOLVED, resolved_at__lt=cutoff)
                 .values_list("pk", "public_id"))
    if not cases:
        return 0
    keys = Q()
    for _, public_id in cases:
        keys |= Q(event_key=f"case:{public_id}") | Q(event_key__startswith=f"case:{public_id}:")
    Notification.objects.filter(keys).delete()
    CrisisCase.objects.filter(pk__in=[pk for pk, _ in cases]).delete()
    return len(cases)


def _purge_notifications(cutoff: dt.datetime) -> int:
    return Notification.objects.filter(created_at__lt=cutoff).delete()[1].get("guardians.Notification", 0)


def _purge_complaints(cutoff: dt.datetime) -> int:
    return Complaint.objects.filter(status=ComplaintStatus.RESOLVED, resolved_at__lt=cutoff).delete()[0]


def _purge_sanctions(cutoff: dt.datetime) -> int:
    """Measures that ended (lifted, or their end date passed) before the cutoff; a termination
    that was never lifted stays while the account exists."""
    ended = Q(lifted_at__lt=cutoff) | Q(lifted_at=None, ends_at__lt=cutoff)
    return Sanction.objects.filter(ended).delete()[1].get("companion.Sanction", 0)


def _purge_dependence_scores(cutoff: dt.datetime) -> int:
    return DependenceScore.objects.filter(scored_on__lt=timezone.localtime(cutoff).date()).delete()[0]


def _purge_reminders(cutoff: dt.datetime) -> int:
    return Reminder.objects.filter(created_at__lt=cutoff).delete()[0]


def _purge_daily_usage(cutoff: dt.datetime) -> int:
    return DailyUsage.objects.filter(day__lt=timezone.localtime(cutoff).date()).delete()[0]


def _purge_drill_runs(cutoff: dt.datetime) -> int:
    return DrillRun.objects.filter(started_at__lt=cutoff).exclude(outcome=DrillRun.Outcome.RUNNING).delete()[0]


def _purge_phone_codes(cutoff: dt.datetime) -> int:
    """Codes are only needed while they can be used and for the hourly sending limit."""
    return PhoneCode.objects.filter(expires_at__lt=cutoff - dt.timedelta(days=1)).delete()[0]


def _purge_age_cues(cutoff: dt.datetime) -> int:
    """CN-MIN-05: cues count only inside their window; while minor mode is on they stay as the
    evidence an appeal is decided on (granting deletes them)."""
    window = dt.timedelta(days=settings.ACCOUNTS_AGE_CUE_WINDOW_DAYS)
    return AgeCue.objects.filter(created_at__lt=cutoff - window, user__minor_mode_since__isnull=True).delete()[0]


def _purge_sessions(cutoff: dt.datetime) -> int:
    return Session.objects.filter(expire_date__lt=cutoff).delete()[0]  # no period: the cutoff is now


UNTIL_DELETION = "until the user deletes it or closes the account"
POLICIES: tuple[Policy, ...] = (
    Policy("accounts.User", "until the account is closed, then an anonymous stub",
           "PIPL art. 47: personal data deleted on closure; the stub keeps sanction records linked (CN-CRI-09)"),
    # Purged by accounts.tasks.audit_daily, which keeps the hash chain verifiable (docs/audit.md).
    Policy("accounts.AuditEvent", "AUDIT_RETENTION_DAYS (184, never less), then purged daily",
           "Cybersecurity Law art. 21: network logs at least 6 months; a trigger refuses younger deletions",
           purged_by="daily (`audit_daily`)"),
    Policy("accounts.PhoneCode", "1 day after it expires, then purged nightly (only a hash of the code is stored)",
           "CN-REG-04 sign-up verification; abuse limits", "", _purge_phone_codes),
    Policy("accounts.Consent", "until the account is closed, withdrawals included",
           "PIPL art. 14-17: proof of what was agreed and when (CN-DAT-07)"),
    Policy("accounts.AgeCue", "ACCOUNTS_AGE_CUE_WINDOW_DAYS (14) days, or while minor mode is on; kind and weight only",
           "CN-MIN-05: signs of a minor add up over the window; the evidence an appeal is decided on", "",
           _purge_age_cues),
    Policy("accounts.MinorModeAppeal", "until the account is closed (only the ID number's last four characters)",
           "CN-MIN-06: record of each appeal and decision"),
    Policy("accounts.MinorsAuditSignOff", "kept: one row a year of counts, no personal information",
           "CN-MIN-15: the signed yearly audit is the record reported to the authorities"),
    Policy("companion.MinorDataAccess", "with its complaint", "CN-DAT-02: who asked to read a minor's message, who approved"),
    Policy("companion.ImpactAssessment", "kept: the record of each assessment", "CN-DAT-10; PIPL art. 56: at least three years"),
    Policy("companion.Character", "while offered, then kept as the service record", "CN-EMO-08 review records"),
    Policy("companion.Conversation", UNTIL_DELETION, "PIPL art. 19 / CN-DAT-05 (privacy centre)"),
    Policy("companion.Message", UNTIL_DELETION, "PIPL art. 19 / CN-DAT-05; encrypted at rest (CN-DAT-01)"),
    Policy("companion.UsageClock", "one row per account, overwritten", "CN-USE-01 usage clock"),
    Policy("companion.DailyUsage", "{days} days", "CN-MIN-10 minors' daily limit; BX-07 one clock per user",
           "daily_usage", _purge_daily_usage),
    Policy("companion.Reminder", "{days} days", "CN-USE-01, CN-DIS-02: proof reminders were shown",
           "reminders", _purge_reminders),
    Policy("companion.CrisisCase", "{days} days after resolution, with its timeline and notices",
           "CN-CRI-10 records; the compliance officer sets the period", "crisis_cases", _purge_crisis_cases),
    Policy("companion.CaseEvent", "with its crisis case", "CN-CRI-10"),
    Policy("companion.OperatorPresence", "one row per staff account, overwritten", "CN-CRI-05 console presence"),
    Policy("companion.DrillRun", "{days} days", "BX-16 drill records", "drill_runs", _purge_drill_runs),
    Policy("companion.Sanction", "{days} days after the measure ends", "CN-CRI-09 keep records",
           "sanctions", _purge_sanctions),
    Policy("companion.DependenceScore", "{days} days", "CN-EMO-06: only recent scores are needed",
           "dependence_scores", _purge_dependence_scores),
    Policy("companion.DataExport", "until it expires (COMPANION_DATA_EXPORT_DAYS), then purged nightly",
           "CN-DAT-09: a copy for the person; stored encrypted", "", purge_expired_exports),
    Policy("companion.Complaint", "{days} days after resolution", "CN-CMP-04; Civil Code art. 188 limitation period",
           "complaints", _purge_complaints),
    Policy("companion.ServiceNotice", "kept", "CN-SVC-01: the record of advance notice"),
    Policy("companion.ServiceNoticeDelivery", "kept with its notice", "CN-SVC-01: proof each user was told"),
    Policy("companion.Incident", "kept", "CN-SVC-02: the public status history"),
    Policy("companion.Wallet", "one row per account, until the account is closed",
           "CN-MIN-11 balance; changes only through the ledger"),
    Policy("companion.LedgerEntry", "kept: append-only money record",
           "Accounting Archives Measures art. 14 (30 years); E-Commerce Law art. 31 (3 years); CN-MIN-11 proof of caps and approvals"),
    Policy("companion.TopUp", "kept with the ledger",
           "payment reconciliation with the provider; CN-MIN-11"),
    Policy("companion.SpendingRequest", "kept with the ledger",
           "CN-MIN-11: proof each minor's purchase was approved by the guardian"),
    Policy("companion.SpendingControl", "with its guardian contact; each change is in the audit log",
           "CN-MIN-11 guardian's spending settings"),
    Policy("guardians.Contact", "until removed by the user or the account is closed", "CN-REG-03, CN-CRI-07"),
    Policy("guardians.CharacterBlock",
           "until the guardian allows the character again, otherwise with its guardian contact",
           "CN-MIN-09 per-minor block list; who blocked and when is in the audit log"),
    Policy("guardians.Notification", "{days} days (with the crisis case they belong to)", "CN-CRI-07 delivery log",
           "notifications", _purge_notifications),
    Policy("moderation.FeatureTerm", "kept, retired terms included", "CN-CON-03 versioned feature library"),
    Policy("moderation.SafetyTemplate", "kept, retired versions included", "CN-CRI-03 template versions"),
    Policy("moderation.LibraryVersion", "kept", "CN-CON-03 version history"),
    Policy("sessions.Session", "until expiry, then purged nightly", "sign-in sessions (SESSION_COOKIE_AGE)",
           "", _purge_sessions),
    Policy("cache", "rate-limit counters 1 hour; library version keys until replaced",
           "abuse limits (no personal content)"),
    Policy("exports", "not stored: built on request and streamed", "CN-DAT-04"),
    Policy("celery results", "not stored (CELERY_RESULT_BACKEND is None)", "tasks take ids only"),
)


@transaction.atomic(durable=True)
def purge_expired_records(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Apply every purge with its own cutoff; one audit row with what was removed (counts only)."""
    now = now or timezone.now()
    removed = {}
    for policy in POLICIES:
        if policy.purge is None:
            continue
        days = policy.days()
        cutoff = now - dt.timedelta(days=days) if days is not None else now
        removed[policy.store] = policy.purge(cutoff)
    if any(removed.values()):
        audit.record("retention.purged", actor=None, ip="", data=removed)
    return removed
