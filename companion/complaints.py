"""Complaints, reports and appeals (CN-CMP-01..04, CN-CRI-09 appeals, CN-DAT-02 staff reads).

Anyone may report illegal or harmful content, signed in or not; complaints and appeals need an
account, because they are about the person's own chats or decisions. Filing acknowledges at once
(on screen and by email) with the published deadlines fixed on the row. Compliance officers take a
ticket up, answer (the person sees the answer and gets it by email), escalate a complex one (longer
deadline, the person is told) and resolve it. An appeal is decided by someone other than the
officer whose decision it contests, and an upheld appeal against a sanction lifts it. A beat job
flags tickets past their deadline once and mails the compliance team. Every step is audited.
"""
from __future__ import annotations

import datetime as dt
import statistics
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts import audit
from accounts.models import Role, User
from accounts.policies import AgeBand, working_days_after
from companion.models import (SAFETY_CATEGORIES, Author, Character, Complaint, ComplaintCategory, ComplaintKind,
                              ComplaintOutcome, ComplaintStatus, ComplaintTarget, Message, MinorDataAccess,
                              Sanction)
from companion.refusals import Refused
from companion.sanctions import apply_lift

MIN_TEXT_CHARS = 5
MAX_TEXT_CHARS = 4000
MAX_ANSWER_CHARS = 4000

# Which targets each kind may be about; reports are the only kind open to people without an account.
TARGETS = {
    ComplaintKind.COMPLAINT: (ComplaintTarget.REPLY, ComplaintTarget.CHARACTER, ComplaintTarget.SERVICE),
    ComplaintKind.REPORT: (ComplaintTarget.REPLY, ComplaintTarget.CHARACTER, ComplaintTarget.SERVICE),
    ComplaintKind.APPEAL: (ComplaintTarget.SANCTION, ComplaintTarget.MODERATION),
}


class ComplaintRefused(Refused):
    """A complaint, report or appeal, or a staff step on one, that cannot be carried out."""


# --- policies (pure) ------------------------------------------------------------------------------

def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """`days` working days (Monday to Friday, in the service's time zone) after `start`, same clock
    time. Public holidays are not modelled: the deadline is never later than the law's."""
    return working_days_after(timezone.localtime(start), days)


@dataclass(frozen=True)
class Deadlines:
    acknowledge_hours: int
    result_days: int
    complex_working_days: int
    triage_minutes: int
    appeal_working_days: int


def published_deadlines() -> Deadlines:
    """CN-CMP-02: the deadlines the help page publishes and every ticket is held to."""
    return Deadlines(acknowledge_hours=settings.COMPANION_COMPLAINT_ACK_HOURS,
                     result_days=settings.COMPANION_COMPLAINT_RESULT_DAYS,
                     complex_working_days=settings.COMPANION_COMPLAINT_COMPLEX_WORKING_DAYS,
                     triage_minutes=settings.COMPANION_COMPLAINT_TRIAGE_MINUTES,
                     appeal_working_days=settings.COMPANION_APPEAL_WORKING_DAYS)


def due_dates(*, kind: str, safety_related: bool, filed_at: dt.datetime,
              deadlines: Deadlines) -> tuple[dt.datetime | None, dt.datetime]:
    """(triage due, answer due) for a new ticket."""
    triage = filed_at + dt.timedelta(minutes=deadlines.triage_minutes) if safety_related else None
    if kind == ComplaintKind.APPEAL:
        return triage, add_working_days(filed_at, deadlines.appeal_working_days)
    return triage, filed_at + dt.timedelta(days=deadlines.result_days)


def overdue_reason(complaint: Complaint, now: dt.datetime) -> str | None:
    """"triage" (a safety-related report nobody took up in time), "answer" (no resolution by the
    due date), "reply" (a help request nobody answered in time) or None."""
    if complaint.status == ComplaintStatus.RESOLVED:
        return None
    if complaint.kind == ComplaintKind.HELP:  # CN-ELD-05: only the first staff reply is timed
        return "reply" if complaint.answered_at is None and now > complaint.due_at else None
    if complaint.triage_due_at and complaint.assigned_at is None and now > complaint.triage_due_at:
        return "triage"
    if now > complaint.due_at:
        return "answer"
    return None


def may_handle_complaints(user) -> bool:
    return user.is_authenticated and user.has_role(Role.COMPLIANCE)


def may_read_complaints(user) -> bool:
    return user.is_authenticated and (user.has_role(Role.COMPLIANCE) or user.has_role(Role.REGULATOR))


# --- filing ---------------------------------------------------------------------------------------

def _clean_text(text: str) -> str:
    text = (text or "").strip()
    if len(text) < MIN_TEXT_CHARS:
        raise ComplaintRefused("text_short", gettext("Tell us what happened in at least %(n)d characters.")
                               % {"n": MIN_TEXT_CHARS}, field="text")
    if len(text) > MAX_TEXT_CHARS:
        raise ComplaintRefused("text_long", gettext("Please keep it under %(n)d characters.") % {"n": MAX_TEXT_CHARS},
                               field="text")
    return text


def _message_of(user: User, message_id: str, *, authors: tuple[str, ...]) -> Message:
    try:
        public_id = uuid.UUID(str(message_id))
    except ValueError:
        public_id = None
    message = (Message.objects.select_related("conversation__character")
               .filter(public_id=public_id, conversation__user=user, author__in=authors).first()) if public_id else None
    if message is None:  # one answer for "missing" and "not yours" (STYLE.md §2)
        raise ComplaintRefused("bad_message", gettext("That message is not one of your chats."), field="target")
    return message


def _sanction_of(user: User, sanction_id: str) -> Sanction:
    try:
        sanction = Sanction.objects.filter(public_id=uuid.UUID(str(sanction_id)), user=user).first()
    except ValueError:
        sanction = None
    if sanction is None:
        raise ComplaintRefused("bad_sanction", gettext("That is not a measure against your account."), field="target")
    return sanction


@transaction.atomic(durable=True)
def file_complaint(*, user: User | None, kind: str, target: str, category: str, text: str, contact_email: str = "",
                   language: str, message_id: str = "", character_slug: str = "", sanction_id: str = "") -> Complaint:
    """Validate and store a ticket with its deadlines; acknowledge it by email after commit; a
    safety-related report alerts the compliance team at once. Raises ComplaintRefused."""
    if kind not in TARGETS:  # help requests go through request_help
        raise ComplaintRefused("bad_kind", gettext("Choose what you want to do."), field="kind")
    if target not in TARGETS[kind]:
        raise ComplaintRefused("bad_target", gettext("Choose what this is about."), field="target")
    if kind != ComplaintKind.APPEAL and category not in ComplaintCategory.values:
        raise ComplaintRefused("bad_category", gettext("Choose a category."), field="category")
    anonymous = user is None or not user.is_authenticated
    if anonymous and kind != ComplaintKind.REPORT:
        raise ComplaintRefused("sign_in", gettext("Sign in to complain or appeal about your own chats."), field="kind")
    if anonymous and target == ComplaintTarget.REPLY:
        raise ComplaintRefused("sign_in", gettext("Sign in to report a reply in your chats."), field="target")
    text = _clean_text(text)
    contact_email = (contact_email or "").strip()
    if contact_email:
        try:
            validate_email(contact_email)
        except ValidationError:
            raise ComplaintRefused("bad_email", gettext("Enter a valid email address."), field="contact_email") from None
    complaint = Complaint(kind=kind, target=target, text=text, contact_email=contact_email,
                          user=None if anonymous else user,
                          language=language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE)
    if target == ComplaintTarget.REPLY:
        complaint.message = _message_of(user, message_id, authors=(Author.AI,))
        complaint.character = complaint.message.conversation.character
    elif target == ComplaintTarget.MODERATION:
        complaint.message = _message_of(user, message_id, authors=(Author.USER,))
    elif target == ComplaintTarget.CHARACTER:
        complaint.character = Character.objects.filter(slug=character_slug, is_active=True).first()
        if complaint.character is None:
            raise ComplaintRefused("bad_character", gettext("Choose a character."), field="target")
    elif target == ComplaintTarget.SANCTION:
        complaint.sanction = _sanction_of(user, sanction_id)
    complaint.category = ComplaintCategory.DECISION if kind == ComplaintKind.APPEAL else category
    complaint.safety_related = kind != ComplaintKind.APPEAL and category in SAFETY_CATEGORIES
    now = timezone.now()
    complaint.created_at = complaint.acknowledged_at = now
    complaint.triage_due_at, complaint.due_at = due_dates(kind=kind, safety_related=complaint.safety_related,
                                                          filed_at=now, deadlines=published_deadlines())
    complaint.save()
    audit.record("complaint.filed", actor=None if anonymous else user, subject_type="complaint",
                 subject_id=complaint.public_id, data={"kind": kind, "target": target, "category": complaint.category,
                                                       "safety": complaint.safety_related})
    complaint_id = complaint.pk
    transaction.on_commit(lambda: _mail_reporter(complaint_id, "acknowledged"))
    if complaint.safety_related:
        transaction.on_commit(lambda: _alert_team(complaint_id, "safety"))
    return complaint


# --- staff workflow -------------------------------------------------------------------------------

def _staff_complaint(staff: User, complaint_id: str) -> Complaint:
    if not may_handle_complaints(staff):
        raise ComplaintRefused("forbidden", gettext("Only compliance officers handle complaints."))
    try:
        complaint = Complaint.objects.select_for_update().get(public_id=uuid.UUID(str(complaint_id)))
    except (ValueError, Complaint.DoesNotExist):
        raise ComplaintRefused("not_found", gettext("No such complaint.")) from None
    if complaint.status == ComplaintStatus.RESOLVED:
        raise ComplaintRefused("resolved", gettext("This complaint is already resolved."))
    return complaint


def _decided_by_someone_else(complaint: Complaint, staff: User) -> None:
    """CN-CMP-03: the officer whose decision is appealed cannot answer or decide the appeal."""
    if complaint.sanction is not None and complaint.sanction.actor_id == staff.pk:
        raise ComplaintRefused("own_decision", gettext("You imposed this measure: another officer must decide "
                                                       "the appeal."))


def _audit_step(action: str, staff: User, complaint: Complaint, **data) -> None:
    audit.record(action, actor=staff, subject_type="complaint", subject_id=complaint.public_id,
                 data={"kind": complaint.kind, **data})


@transaction.atomic(durable=True)
def assign_complaint(*, staff: User, complaint_id: str) -> Complaint:
    """Take a ticket up (triage for safety-related reports). Taking one's own ticket again is a no-op."""
    complaint = _staff_complaint(staff, complaint_id)
    if complaint.kind == ComplaintKind.APPEAL:
        _decided_by_someone_else(complaint, staff)
    if complaint.assignee_id == staff.pk:
        return complaint
    now = timezone.now()
    complaint.assignee, complaint.status = staff, ComplaintStatus.IN_REVIEW
    complaint.assigned_at = complaint.assigned_at or now
    complaint.save(update_fields=["assignee", "status", "assigned_at"])
    _audit_step("complaint.assigned", staff, complaint)
    return complaint


@transaction.atomic(durable=True)
def answer_complaint(*, staff: User, complaint_id: str, answer: str) -> Complaint:
    """Write (or rewrite) the answer the person sees; they get it by email too."""
    complaint = _staff_complaint(staff, complaint_id)
    if complaint.kind == ComplaintKind.APPEAL:
        _decided_by_someone_else(complaint, staff)
    _set_answer(complaint, staff, answer)
    complaint.save(update_fields=["answer", "answered_at", "answered_by", "status", "assignee", "assigned_at"])
    _audit_step("complaint.answered", staff, complaint)
    complaint_pk = complaint.pk
    transaction.on_commit(lambda: _mail_reporter(complaint_pk, "answered"))
    return complaint


def _set_answer(complaint: Complaint, staff: User, answer: str) -> None:
    answer = (answer or "").strip()
    if not answer:
        raise ComplaintRefused("no_answer", gettext("Write the answer the person will read."), field="answer")
    if len(answer) > MAX_ANSWER_CHARS:
        raise ComplaintRefused("answer_long", gettext("Please keep it under %(n)d characters.")
                               % {"n": MAX_ANSWER_CHARS}, field="answer")
    now = timezone.now()
    complaint.answer, complaint.answered_at, complaint.answered_by = answer, now, staff
    complaint.status = ComplaintStatus.IN_REVIEW
    if complaint.assignee_id is None:
        complaint.assignee, complaint.assigned_at = staff, now


@transaction.atomic(durable=True)
def resolve_complaint(*, staff: User, complaint_id: str, outcome: str, answer: str = "") -> Complaint:
    """Close with an outcome and an answer (given here or earlier). An upheld appeal against an
    active sanction lifts it in the same transaction."""
    complaint = _staff_complaint(staff, complaint_id)
    if outcome not in ComplaintOutcome.values:
        raise ComplaintRefused("bad_outcome", gettext("Choose an outcome."), field="outcome")
    if complaint.kind == ComplaintKind.APPEAL:
        _decided_by_someone_else(complaint, staff)
    answered = bool(answer and answer.strip())
    if answered:
        _set_answer(complaint, staff, answer)
    elif not complaint.answer:
        raise ComplaintRefused("no_answer", gettext("Write the answer the person will read."), field="answer")
    now = timezone.now()
    complaint.status, complaint.outcome, complaint.resolved_at, complaint.resolved_by = (
        ComplaintStatus.RESOLVED, outcome, now, staff)
    complaint.save()
    if complaint.sanction is not None and outcome == ComplaintOutcome.UPHELD:
        sanction = Sanction.objects.select_for_update().get(pk=complaint.sanction_id)
        apply_lift(actor=staff, sanction=sanction, reason=f"appeal {complaint.reference} upheld")
    _audit_step("complaint.resolved", staff, complaint, outcome=outcome,
                on_time=now <= complaint.due_at)
    complaint_pk = complaint.pk
    transaction.on_commit(lambda: _mail_reporter(complaint_pk, "resolved"))
    return complaint


@transaction.atomic(durable=True)
def escalate_complaint(*, staff: User, complaint_id: str, note: str) -> Complaint:
    """A complex case: the answer is due within the longer period (CN-CMP-02: ≤15 working days
    from filing, with notice); the note is for staff, the person is told of the new date."""
    complaint = _staff_complaint(staff, complaint_id)
    note = (note or "").strip()
    if not note:
        raise ComplaintRefused("no_note", gettext("Say why this needs more time."), field="note")
    if complaint.escalated_at is not None:
        raise ComplaintRefused("escalated", gettext("This complaint is already escalated."))
    complaint.escalated_at, complaint.escalation_note = timezone.now(), note[:2000]
    complaint.due_at = max(complaint.due_at, add_working_days(
        complaint.created_at, published_deadlines().complex_working_days))
    complaint.overdue_alerted_at = None  # a new deadline: alert again if that one passes
    complaint.save(update_fields=["escalated_at", "escalation_note", "due_at", "overdue_alerted_at"])
    _audit_step("complaint.escalated", staff, complaint, due=complaint.due_at.isoformat())
    complaint_pk = complaint.pk
    transaction.on_commit(lambda: _mail_reporter(complaint_pk, "extended"))
    return complaint


@transaction.atomic(durable=True)
def flag_overdue_complaints(*, now: dt.datetime | None = None) -> int:
    """Beat job: each ticket past its triage or answer deadline is flagged once (until a new
    deadline) and the compliance team is mailed. Idempotent."""
    now = now or timezone.now()
    candidates = Complaint.objects.select_for_update(skip_locked=True).filter(
        Q(due_at__lt=now) | Q(triage_due_at__lt=now, assigned_at=None),
        overdue_alerted_at=None).exclude(status=ComplaintStatus.RESOLVED)
    flagged = []
    for complaint in candidates:
        reason = overdue_reason(complaint, now)
        if reason is None:
            continue
        complaint.overdue_alerted_at = now
        complaint.save(update_fields=["overdue_alerted_at"])
        audit.record("complaint.overdue", actor=None, subject_type="complaint", subject_id=complaint.public_id,
                     data={"kind": complaint.kind, "reason": reason})
        flagged.append((complaint.pk, reason))
    for complaint_pk, reason in flagged:
        transaction.on_commit(lambda pk=complaint_pk, why=reason: _alert_team(pk, why))
    return len(flagged)


# --- mail -----------------------------------------------------------------------------------------

def _site_link(path: str) -> str:
    return settings.COMPANION_SITE_URL.rstrip("/") + path


def _status_path(complaint: Complaint) -> str:
    return reverse("complaint_status", args=[complaint.public_id])


def _mail_reporter(complaint_pk: int, step: str) -> None:
    """Tell the person, in their language: acknowledged (with deadlines), answered, extended, resolved."""
    complaint = Complaint.objects.select_related("user").get(pk=complaint_pk)
    address = complaint.contact_email or (complaint.user.email if complaint.user else "")
    if not address:
        return
    with translation.override(complaint.language):
        deadline = timezone.localtime(complaint.due_at).strftime("%Y-%m-%d %H:%M")
        subject = {
            "acknowledged": gettext("We received your %(kind)s %(reference)s"),
            "answered": gettext("An answer to %(reference)s"),
            "extended": gettext("More time needed for %(reference)s"),
            "resolved": gettext("%(reference)s is resolved"),
        }[step] % {"kind": complaint.get_kind_display().lower(), "reference": complaint.reference}
        lines = {
            "acknowledged": [gettext("We have received it and will answer by %(deadline)s.") % {"deadline": deadline}],
            "answered": [gettext("Our answer:"), complaint.answer],
            "extended": [gettext("This needs a closer look. We will answer by %(deadline)s.") % {"deadline": deadline}],
            "resolved": [gettext("Outcome: %(outcome)s") % {"outcome": complaint.get_outcome_display()},
                         complaint.answer],
        }[step]
        lines += ["", gettext("Follow it here: %(link)s") % {"link": _site_link(_status_path(complaint))}]
        send_mail(subject, "\n".join(lines), None, [address])


def alert_recipients() -> list[str]:
    configured = list(settings.COMPANION_COMPLAINTS_ALERT_EMAILS)
    if configured:
        return configured
    return sorted(set(User.objects.filter(groups__name=Role.COMPLIANCE, is_active=True)
                      .exclude(email="").values_list("email", flat=True)))


def _alert_team(complaint_pk: int, reason: str) -> None:
    """Mail the compliance team (COMPANION_COMPLAINTS_ALERT_EMAILS, else every compliance officer),
    in the service's default language: a new safety-related report, or a missed deadline."""
    complaint = Complaint.objects.get(pk=complaint_pk)
    recipients = alert_recipients()
    if not recipients:
        return
    with translation.override(settings.LANGUAGE_CODE):
        subject = {
            "safety": gettext("Safety-related report %(reference)s: take it up within %(minutes)d minutes"),
            "triage": gettext("Overdue: nobody took up safety-related report %(reference)s"),
            "answer": gettext("Overdue: the answer to %(reference)s was due"),
            "help": gettext("Help request %(reference)s from an older user: reply within %(help_minutes)d minutes"),
            "reply": gettext("Overdue: nobody replied to help request %(reference)s"),
        }[reason] % {"reference": complaint.reference, "minutes": published_deadlines().triage_minutes,
                     "help_minutes": settings.COMPANION_HELP_REPLY_MINUTES}
        body = "\n".join([
            f"{complaint.reference}: {complaint.get_kind_display()}, {complaint.get_category_display()}",
            gettext("Answer due: %(deadline)s") % {"deadline": f"{timezone.localtime(complaint.due_at):%Y-%m-%d %H:%M}"},
            _site_link(reverse("complaint_staff_detail", args=[complaint.public_id])),
        ])
        send_mail(subject, body, None, recipients)


# --- reads ----------------------------------------------------------------------------------------

def access_own_complaint(user, public_id) -> Complaint:
    """The person's own ticket; a report filed without an account is open to whoever holds its
    unguessable link. One error for missing and not yours."""
    complaint = Complaint.objects.select_related("character", "message").filter(public_id=public_id).first()
    if complaint is None or (complaint.user_id is not None and complaint.user_id != getattr(user, "pk", None)):
        raise Complaint.DoesNotExist
    return complaint


def complaints_of(user: User) -> QuerySet[Complaint]:
    return Complaint.objects.filter(user=user).select_related("character")


def staff_queue(*, status: str = "", kind: str = "", overdue: bool = False,
                now: dt.datetime | None = None) -> QuerySet[Complaint]:
    """Open safety-related reports first, then by due date."""
    now = now or timezone.now()
    rows = Complaint.objects.select_related("assignee", "character")
    if status:
        rows = rows.filter(status=status)
    if kind:
        rows = rows.filter(kind=kind)
    if overdue:
        rows = rows.exclude(status=ComplaintStatus.RESOLVED).filter(
            Q(due_at__lt=now) | Q(triage_due_at__lt=now, assigned_at=None)).exclude(
            kind=ComplaintKind.HELP, answered_at__isnull=False)
    return rows.order_by("status", "-safety_related", "due_at")


def _hours(deltas) -> float | None:
    values = [delta.total_seconds() / 3600 for delta in deltas]
    return round(statistics.median(values), 2) if values else None


def complaint_stats(start: dt.datetime, end: dt.datetime, *, now: dt.datetime | None = None) -> dict:
    """CN-CMP-04 figures for tickets filed in [start, end): volume, by kind and category, median
    hours to acknowledge and to resolve, how many were or are overdue. Straight from the table."""
    now = now or timezone.now()
    rows = list(Complaint.objects.filter(created_at__gte=start, created_at__lt=end)
                .values("kind", "category", "created_at", "acknowledged_at", "resolved_at", "due_at",
                        "triage_due_at", "assigned_at", "answered_at", "status"))
    by_kind = dict(Complaint.objects.filter(created_at__gte=start, created_at__lt=end)
                   .values_list("kind").annotate(n=Count("id")).order_by())
    by_category = dict(Complaint.objects.filter(created_at__gte=start, created_at__lt=end)
                       .values_list("category").annotate(n=Count("id")).order_by())

    def late(row) -> bool:
        if row["kind"] == ComplaintKind.HELP:
            return (row["answered_at"] or now) > row["due_at"]
        finished = row["resolved_at"] or now
        triage_late = row["triage_due_at"] is not None and (row["assigned_at"] or now) > row["triage_due_at"]
        return finished > row["due_at"] or triage_late

    return {
        "total": len(rows),
        "by_kind": by_kind,
        "by_category": by_category,
        "open": sum(1 for row in rows if row["status"] != ComplaintStatus.RESOLVED),
        "resolved": sum(1 for row in rows if row["status"] == ComplaintStatus.RESOLVED),
        "median_hours_to_acknowledge": _hours(row["acknowledged_at"] - row["created_at"] for row in rows
                                              if row["acknowledged_at"]),
        "median_hours_to_resolve": _hours(row["resolved_at"] - row["created_at"] for row in rows if row["resolved_at"]),
        "overdue": sum(1 for row in rows if late(row)),
    }


# --- help requests (CN-ELD-05) --------------------------------------------------------------------

# "Talk to a person" topics: scams and money are safety topics (the safety badge, first in the queue).
HELP_TOPICS = (ComplaintCategory.FRAUD, ComplaintCategory.SERVICE, ComplaintCategory.OTHER)
HELP_SAFETY_TOPICS = frozenset({ComplaintCategory.FRAUD})


@transaction.atomic(durable=True)
def request_help(*, user: User, topic: str, text: str, language: str) -> Complaint:
    """A 60+ user pressed "Talk to a person" (CN-ELD-05): a ticket of kind `help` whose first staff
    reply is due within COMPANION_HELP_REPLY_MINUTES, day and night. The person is acknowledged at
    once (on screen and by email), the compliance team is mailed after commit; the reply is the
    ticket's answer, shown on its status page. Raises ComplaintRefused."""
    if user.age_band != AgeBand.ELDERLY:
        raise ComplaintRefused("not_elderly", gettext("This button is for people aged 60 and over."))
    if topic not in HELP_TOPICS:
        raise ComplaintRefused("bad_category", gettext("Choose what you need help with."), field="topic")
    text = (text or "").strip()[:MAX_TEXT_CHARS]
    language = language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    if not text:
        with translation.override(language):
            text = gettext("I would like to talk to a person.")
    now = timezone.now()
    due = now + dt.timedelta(minutes=settings.COMPANION_HELP_REPLY_MINUTES)
    complaint = Complaint.objects.create(
        kind=ComplaintKind.HELP, target=ComplaintTarget.SERVICE, category=topic, user=user, language=language,
        text=text, safety_related=topic in HELP_SAFETY_TOPICS, created_at=now, acknowledged_at=now,
        triage_due_at=due, due_at=due)
    audit.record("complaint.filed", actor=user, subject_type="complaint", subject_id=complaint.public_id,
                 data={"kind": ComplaintKind.HELP, "target": ComplaintTarget.SERVICE, "category": topic,
                       "safety": complaint.safety_related})
    complaint_id = complaint.pk
    transaction.on_commit(lambda: _mail_reporter(complaint_id, "acknowledged"))
    transaction.on_commit(lambda: _alert_team(complaint_id, "help"))
    return complaint


def help_requests_of(user: User) -> QuerySet[Complaint]:
    return Complaint.objects.filter(user=user, kind=ComplaintKind.HELP)


# --- CN-DAT-02: a second approver before a minor's chat text is read under a ticket -------------------

MINOR_ACCESS_HOURS = 24


def message_of_minor(complaint: Complaint) -> bool:
    """The ticket's message was written in a minor's conversation (minor by birth date or suspicion)."""
    message = complaint.message
    return message is not None and message.conversation.user.is_minor


def minor_access_granted(complaint: Complaint, staff: User, now: dt.datetime) -> bool:
    return MinorDataAccess.objects.filter(complaint=complaint, requester=staff, approved_at__isnull=False,
                                          expires_at__gt=now).exists()


@transaction.atomic(durable=True)
def request_minor_access(*, staff: User, complaint_id: str, reason: str) -> MinorDataAccess:
    """A compliance officer asks to read the minor's message this ticket is about; another must approve."""
    complaint = _staff_complaint(staff, complaint_id)
    if not message_of_minor(complaint):
        raise ComplaintRefused("not_minor", gettext("This ticket's message is not a minor's: no approval is needed."))
    reason = _clean_text(reason)[:300]
    if not reason:
        raise ComplaintRefused("reason", gettext("Say why you need to read it."))
    if MinorDataAccess.objects.filter(complaint=complaint, requester=staff, approved_at__isnull=True).exists():
        raise ComplaintRefused("pending", gettext("Your request is already waiting for a second officer."))
    access = MinorDataAccess.objects.create(complaint=complaint, requester=staff, reason=reason)
    _audit_step("data.minor_access_requested", staff, complaint, request=access.pk)
    return access


@transaction.atomic(durable=True)
def approve_minor_access(*, staff: User, complaint_id: str, request_id: int) -> MinorDataAccess:
    """A second compliance officer approves someone else's request, for MINOR_ACCESS_HOURS."""
    complaint = _staff_complaint(staff, complaint_id)
    access = (MinorDataAccess.objects.select_for_update()
              .filter(pk=request_id, complaint=complaint, approved_at__isnull=True).first())
    if access is None:
        raise ComplaintRefused("not_found", gettext("No such request waiting for approval."))
    if access.requester_id == staff.pk:
        raise ComplaintRefused("own_request", gettext("Another officer must approve your request."))
    now = timezone.now()
    access.approver, access.approved_at = staff, now
    access.expires_at = now + dt.timedelta(hours=MINOR_ACCESS_HOURS)
    access.save(update_fields=["approver", "approved_at", "expires_at"])
    _audit_step("data.minor_access_approved", staff, complaint, request=access.pk, requester=access.requester_id)
    return access
