"""The yearly minors' personal-information compliance audit evidence pack (CN-MIN-15, #8 item 6).

Reads only (plus one audit row saying the pack was built). Minors are accounts whose date of birth
makes them under 18 on the last day of the year (or today, for the current year). Every figure is
counted from the live tables and the audit log; the pack never holds a name or a message.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts import audit
from accounts.models import AuditEvent, Consent, MinorModeAppeal, MinorsAuditSignOff, Role, User
from accounts.policies import AgeBand, age_band, age_on
from companion.models import Complaint, Conversation, CrisisCase, Sanction
from guardians.models import SAFETY_REASONS, Contact, ContactKind, Notification, Reason

SECTIONS = ("population", "consents", "staff_access", "sharing", "deletions", "incidents")
STAFF_READS = ("case.viewed", "complaint.viewed")


def _bounds(year: int) -> tuple[dt.datetime, dt.datetime, dt.date]:
    zone = timezone.get_current_timezone()
    start = dt.datetime(year, 1, 1, tzinfo=zone)
    end = dt.datetime(year + 1, 1, 1, tzinfo=zone)
    return start, end, min(dt.date(year, 12, 31), timezone.localdate())


def minors_pi_audit(*, year: int) -> dict:
    start, end, on = _bounds(year)
    people = list(User.objects.exclude(birth_date=None).values_list("pk", "birth_date", "date_joined"))
    bands = {pk: age_band(age_on(birth, on)) for pk, birth, _ in people}
    minors = {pk for pk, band in bands.items() if band in (AgeBand.CHILD, AgeBand.MINOR)}
    # CN-MIN-05: declared adults in minor mode by suspicion count as minors for every figure below.
    suspected = set(User.objects.filter(minor_mode_since__isnull=False).values_list("pk", flat=True)) - minors
    minors |= suspected
    joined = {pk: when for pk, _, when in people}

    minor_cases = dict(CrisisCase.objects.filter(user_id__in=minors).values_list("public_id", "user_id"))
    minor_complaints = set(Complaint.objects.filter(user_id__in=minors).values_list("public_id", flat=True))
    reads = AuditEvent.objects.filter(created_at__gte=start, created_at__lt=end, action__in=STAFF_READS)
    case_reads = reads.filter(action="case.viewed", subject_id__in=[str(key) for key in minor_cases])
    complaint_reads = reads.filter(action="complaint.viewed", subject_id__in=[str(key) for key in minor_complaints])
    readers = set(case_reads.values_list("actor_id", flat=True)) | set(complaint_reads.values_list("actor_id", flat=True))

    in_year = {"created_at__gte": start, "created_at__lt": end}
    consent_rows = Consent.objects.filter(user_id__in=minors, at__gte=start, at__lt=end)
    notifications = Notification.objects.filter(user_id__in=minors, reason__in=SAFETY_REASONS, **in_year)
    invitations = Notification.objects.filter(user_id__in=minors, reason=Reason.INVITATION, **in_year)
    guardians = Contact.objects.filter(user_id__in=minors, kind=ContactKind.GUARDIAN, active=True)
    pack = {
        "year": year,
        "as_of": on.isoformat(),
        "generated_at": timezone.now().isoformat(),
        "population": {
            "minors": len(minors),
            "under_14": sum(1 for pk in minors if bands[pk] == AgeBand.CHILD),
            "aged_14_to_17": sum(1 for pk in minors if bands[pk] == AgeBand.MINOR),
            "suspected_minors_in_minor_mode": len(suspected),
            "minor_mode_switches_this_year": AuditEvent.objects.filter(action="minor_mode.switched_on",
                                                                       **in_year).count(),
            "appeals_this_year": dict(MinorModeAppeal.objects.filter(filed_at__gte=start, filed_at__lt=end)
                                      .values_list("status").annotate(n=Count("id")).order_by()),
            "joined_this_year": sum(1 for pk in minors if start <= joined.get(pk, end) < end),
            "with_conversations": Conversation.objects.filter(user_id__in=minors).values("user_id").distinct().count(),
        },
        "consents": {
            "decisions_this_year": dict(Counter(f"{purpose}:{'given' if granted else 'withdrawn'}"
                                                for purpose, granted in consent_rows.values_list("purpose", "granted"))),
            # CN-DAT-06: minors' training opt-ins are never acted on; the count shows how many exist.
            "training_opt_ins_ignored": Consent.objects.filter(user_id__in=minors, purpose="training",
                                                               granted=True).values("user_id").distinct().count(),
            # CN-MIN-03, CN-MIN-04: guardians linked with the texted code, consent now and this year.
            "guardian_linked": guardians.filter(account__isnull=False).count(),
            "guardian_consent_in_force": guardians.filter(consent_at__isnull=False,
                                                          consent_revoked_at__isnull=True).count(),
            "guardian_decisions_this_year": dict(Counter(
                AuditEvent.objects.filter(action__in=("guardian.consent_given", "guardian.consent_withdrawn"),
                                          subject_type="contact", subject_id__in=[
                                              str(pk) for pk in guardians.values_list("pk", flat=True)], **in_year)
                .values_list("action", flat=True))),
        },
        "staff_access": {
            "crisis_case_reads": case_reads.count(),
            "complaint_reads": complaint_reads.count(),
            "distinct_staff": len(readers - {None}),
            "exports_by_minors": AuditEvent.objects.filter(action="data.exported", actor_id__in=minors,
                                                           **in_year).count(),
        },
        "sharing": {
            "training_extracts_this_year": AuditEvent.objects.filter(action="data.training_exported",
                                                                     **in_year).count(),
            "rules": ["training extracts leave out everyone under 18 by date of birth "
                      "(companion/training_export.py, tested)",
                      "the service has no other path that gives personal information to a third party"],
            "safety_notifications_to_contacts": dict(notifications.values_list("channel").annotate(n=Count("id"))
                                                     .order_by()),
            "contact_invitations": dict(invitations.values_list("channel").annotate(n=Count("id")).order_by()),
        },
        "deletions": {
            "retention_purges_this_year": AuditEvent.objects.filter(action="retention.purged", **in_year).count(),
        },
        "incidents": {
            "crisis_cases_by_level": dict(CrisisCase.objects.filter(user_id__in=minors, opened_at__gte=start,
                                                                    opened_at__lt=end)
                                          .values_list("level").annotate(n=Count("id")).order_by()),
            "sanctions": Sanction.objects.filter(user_id__in=minors, **in_year).count(),
            "complaints_filed": Complaint.objects.filter(user_id__in=minors, **in_year).count(),
        },
    }
    audit.record("data.minors_audit_built", actor=None, data={"year": year, "minors": len(minors)})
    return pack


# --- the yearly sign-off (CN-MIN-15) ------------------------------------------------------------------

REMIND_DAYS = 30


@dataclass(frozen=True)
class AuditStatus:
    year: int  # the year audited
    due: dt.date
    state: str  # `signed`, `upcoming`, `due_soon` (within REMIND_DAYS), `overdue`
    days_left: int
    sign_off: MinorsAuditSignOff | None


def audit_due(year: int) -> dt.date:
    """Year `year`'s audit is due on COMPANION_MINORS_AUDIT_DUE ("MM-DD") of the following year."""
    month, day = (int(part) for part in settings.COMPANION_MINORS_AUDIT_DUE.split("-"))
    return dt.date(year + 1, month, day)


def audit_state(*, today: dt.date, due: dt.date, signed: bool) -> str:
    if signed:
        return "signed"
    if today > due:
        return "overdue"
    return "due_soon" if (due - today).days <= REMIND_DAYS else "upcoming"


def audit_status(today: dt.date | None = None) -> AuditStatus:
    """The audit of last year, whose sign-off is due this year."""
    today = today or timezone.localdate()
    year = today.year - 1
    due = audit_due(year)
    sign_off = MinorsAuditSignOff.objects.filter(year=year).select_related("signed_by").first()
    return AuditStatus(year=year, due=due, state=audit_state(today=today, due=due, signed=sign_off is not None),
                       days_left=(due - today).days, sign_off=sign_off)


class AlreadySigned(Exception):
    pass


def pack_digest(pack: dict) -> str:
    return hashlib.sha256(json.dumps(pack, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@transaction.atomic(durable=True)
def sign_off(*, officer: User, year: int, note: str) -> MinorsAuditSignOff:
    """A compliance officer signs the year's pack as built now; the pack and its hash are kept."""
    if MinorsAuditSignOff.objects.select_for_update().filter(year=year).exists():
        raise AlreadySigned
    pack = minors_pi_audit(year=year)
    try:
        with transaction.atomic():
            row = MinorsAuditSignOff.objects.create(year=year, pack=pack, pack_sha256=pack_digest(pack),
                                                    signed_by=officer, note=note.strip())
    except IntegrityError:
        raise AlreadySigned from None
    audit.record("data.minors_audit_signed", actor=officer, subject_type="minors_audit", subject_id=year,
                 data={"sha256": row.pack_sha256})
    return row


def remind(today: dt.date | None = None) -> int:
    """Daily: from REMIND_DAYS before the due date until it is signed, email the compliance officers
    once when it falls due soon and once when it is overdue. Returns the emails sent."""
    status = audit_status(today)
    if status.state not in ("due_soon", "overdue"):
        return 0
    key = f"{status.year}:{status.state}"
    with transaction.atomic():
        if AuditEvent.objects.filter(action="data.minors_audit_reminded", subject_type="minors_audit",
                                     subject_id=key).exists():
            return 0
        officers = list(User.objects.filter(groups__name=Role.COMPLIANCE, is_active=True).exclude(email="")
                        .values_list("email", "language"))
        audit.record("data.minors_audit_reminded", actor=None, subject_type="minors_audit", subject_id=key,
                     data={"recipients": len(officers)})
        for email, language in officers:
            with translation.override(language or settings.LANGUAGE_CODE):
                subject = (gettext("Overdue: the %(year)s minors' data audit is not signed") if status.state == "overdue"
                           else gettext("Due in %(days)d days: the %(year)s minors' data audit")) % {
                    "year": status.year, "days": status.days_left}
                body = gettext("The yearly audit of minors' personal-information processing for %(year)s is due on "
                               "%(due)s. Review the evidence pack and sign it off in the compliance area: %(url)s") % {
                    "year": status.year, "due": status.due.isoformat(),
                    "url": settings.COMPANION_SITE_URL.rstrip("/") + reverse("minors_audit")}
            transaction.on_commit(partial(send_mail, subject, body, None, [email]))
    return len(officers)
