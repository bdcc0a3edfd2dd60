"""The crisis protocol: safety cases, takeover by the safety team and the fallback when nobody
answers (CN-CRI-02..10, CN-EMO-06, US-CA-02, US-NY-01, BX-03).

Writes run inside the caller's transaction or their own (STYLE.md §3) and never call the model.
What must reach sockets is returned as plain frames; the callers (chat and console consumers,
the SLA task) broadcast them after commit.

Levels (moderation verdict): `distress` gets a comforting card with hotlines and the AI goes on;
`high_risk` and `crisis` stop the AI for this turn (no model call), send the active preset safety
reply, open or raise the user's one open case, notify the guardian/emergency contacts, and, when
the regime asks for a takeover, put every conversation of the user in `waiting` until an
operator claims (`human`), hands back (`ai`) or resolves.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Case, IntegerField, Value, When
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts import audit
from accounts.models import User
from companion.models import (OPEN_CASE_STATUSES, Author, CaseEvent, CaseEventKind, CaseOutcome, CaseStatus,
                              Conversation, CrisisCase, Message, Mode, OperatorPresence)
from guardians.selectors import safety_contacts
from guardians.services import notify_safety_concern
from moderation.pipeline import LEVELS, Verdict
from moderation.safety_replies import safety_reply

TAKEOVER_LEVELS = ("high_risk", "crisis")
SELF_HARM = frozenset({"suicide", "self_harm"})
MAX_OPERATOR_TEXT = 4000
CONTEXT_MESSAGES = 40


class CaseActionRefused(Exception):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class CrisisNotice:
    """What the chat sends after a risky message: a `crisis` frame, maybe a stored safety reply,
    maybe a mode change for every conversation of the user, maybe a console event."""
    level: str
    text: str
    resources: tuple[dict, ...]
    template_key: str = ""
    safety_message: Message | None = None
    mode: str | None = None  # new mode of every open conversation of the user
    stop_ai: bool = False
    console_event: str | None = None  # "case_opened" | "case_updated"
    case_id: int | None = None
    summaries: dict | None = None  # the case summary per interface language, for consoles without a read
    sla_seconds: int | None = None  # start the SLA timer (case opened or re-opened)

    def frame(self) -> dict:
        return {"type": "crisis", "level": self.level, "text": self.text, "resources": list(self.resources)}


def takeover_required(verdict: Verdict, regime: str) -> bool:
    """Where the draft and final texts differ (CN_REGIME): the draft hands users who raise suicide or
    self-harm to a human (CN-CRI-05); the final text asks for intervention on a stated intent to harm
    oneself or a major property loss (CN-CRI-06). `union` (default) takes over on every high-risk
    verdict; every regime notifies contacts (CN-CRI-07 is in both)."""
    if not verdict.at_least("high_risk"):
        return False
    categories = set(verdict.categories)
    if regime == "draft":
        return bool(categories & SELF_HARM)
    if regime == "final":
        return verdict.level == "crisis" or bool(categories & (SELF_HARM | {"property_loss"}))
    return True


def sla_seconds() -> int:
    return int(settings.COMPANION_CRISIS_SLA_SECONDS)


# Words staff wrote stay on the case's own timeline; the audit copy keeps ids, codes and numbers.
_FREE_TEXT_DETAIL = frozenset({"note", "follow_up"})


def record_case_event(case: CrisisCase, kind: str, actor: User | None = None, **detail) -> CaseEvent:
    """A step on the case's timeline (CN-CRI-10) and its row in the tamper-evident audit log (BX-11)."""
    event = CaseEvent.objects.create(case=case, kind=kind, actor=actor, detail=detail)
    audit.record(f"case.{kind}", actor=actor, subject_type="crisis_case", subject_id=case.public_id,
                 data={"user": case.user_id, **{key: round(value) if isinstance(value, float) else value
                                                for key, value in detail.items() if key not in _FREE_TEXT_DETAIL}})
    return event


def _reply_for(user: User, level: str, categories, language: str):
    return safety_reply(level=level, categories=tuple(categories), language=language, region=user.region)


def _schedule_sla_check(case: CrisisCase) -> None:
    """With Celery workers, a countdown task after commit (and a beat sweep as a safety net); with
    eager Celery (embedded default) the chat consumer runs a timer in the server process instead."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from companion.tasks import check_case_sla  # tasks import this module
        case_id = case.pk
        transaction.on_commit(lambda: check_case_sla.apply_async((case_id,), countdown=sla_seconds()))


def open_case_of(user: User, *, lock: bool = False) -> CrisisCase | None:
    queryset = CrisisCase.objects.filter(user=user, status__in=OPEN_CASE_STATUSES)
    if lock:
        queryset = queryset.select_for_update()
    return queryset.first()


def _set_modes(user: User, mode: str) -> None:
    Conversation.objects.filter(user=user, archived_at=None).exclude(mode=mode).update(mode=mode)


def handle_risk(*, user: User, conversation: Conversation, message: Message, verdict: Verdict,
                language: str) -> CrisisNotice | None:
    """Called in post_user_message's transaction for a verdict of distress or worse, or for any
    message while the conversation is not in `ai` mode. Updates `conversation.mode` in place."""
    if verdict.level == "distress" and conversation.mode == Mode.AI:
        reply = _reply_for(user, "distress", verdict.categories, language)
        return CrisisNotice(level="distress", text=reply.text, resources=reply.resources, template_key=reply.key)
    if not verdict.at_least("high_risk"):
        case = open_case_of(user, lock=True)
        if case is None:
            # A mode left behind without a case (resolved elsewhere): the AI answers again.
            _set_modes(user, Mode.AI)
            conversation.mode = Mode.AI
            return None
        if case.conversation_id != conversation.pk:
            # The user went on in another chat: the safety team follows them there.
            case.conversation = conversation
            case.save(update_fields=["conversation"])
            return CrisisNotice(level=case.level, text="", resources=(), console_event="case_updated",
                                case_id=case.pk)
        return None

    now = timezone.now()
    case = open_case_of(user, lock=True)
    takeover = takeover_required(verdict, settings.CN_REGIME)
    opened, reopened, raised = False, False, False
    if case is None:
        case = CrisisCase.objects.create(
            user=user, conversation=conversation, trigger=message, level=verdict.level,
            categories=list(verdict.categories), sla_deadline=now + dt.timedelta(seconds=sla_seconds()))
        record_case_event(case, CaseEventKind.OPENED, level=verdict.level, categories=list(verdict.categories),
               message=str(message.public_id), versions=dict(verdict.versions), takeover=takeover)
        opened = True
        _schedule_sla_check(case)
    else:
        changed = ["conversation", "categories", "last_signal_at"]
        case.conversation, case.last_signal_at = conversation, now
        case.categories = list(dict.fromkeys([*case.categories, *verdict.categories]))
        if LEVELS.index(verdict.level) > LEVELS.index(case.level):
            record_case_event(case, CaseEventKind.ESCALATED, before=case.level, after=verdict.level,
                   message=str(message.public_id))
            case.level = verdict.level
            changed.append("level")
            raised = True
        if case.status == CaseStatus.HANDED_BACK:
            # Back with the AI but still open: a new high-risk message brings the team back at once.
            case.status, case.claimed_by, case.claimed_at = CaseStatus.WAITING, None, None
            case.sla_deadline, case.escalated_at = now + dt.timedelta(seconds=sla_seconds()), None
            changed += ["status", "claimed_by", "claimed_at", "sla_deadline", "escalated_at"]
            reopened = True
            _schedule_sla_check(case)
        case.save(update_fields=changed)

    mode = None
    if takeover and conversation.mode == Mode.AI:
        mode = Mode.HUMAN if case.status == CaseStatus.HUMAN else Mode.WAITING
        _set_modes(user, mode)
        conversation.mode = mode

    reply = _reply_for(user, verdict.level, verdict.categories, language)
    text = reply.text
    if raised:  # CN-MIN-07, CN-CRI-07: the level rose within the open case: the contacts hear it, once per level
        notified = notify_safety_concern(user=user, event_key=f"case:{case.public_id}:level:{case.level}",
                                         level=case.level)
        record_case_event(case, CaseEventKind.CONTACTS_NOTIFIED, notifications=len(notified),
                          contacts=len({n.contact_id for n in notified if n.contact_id}), level=case.level)
    if opened:  # CN-CRI-07: guardian / emergency contacts, once per case (the task is idempotent too)
        notified = notify_safety_concern(user=user, event_key=f"case:{case.public_id}", level=case.level)
        case.contacts_notified = len({n.contact_id for n in notified if n.contact_id})
        case.save(update_fields=["contacts_notified"])
        record_case_event(case, CaseEventKind.CONTACTS_NOTIFIED, notifications=len(notified),
               contacts=case.contacts_notified)
        if case.contacts_notified:
            with translation.override(language):  # the user is told, and told what was not shared
                text += "\n\n" + gettext("We have let your guardian or emergency contact know that you may need "
                                          "support. We did not share what you wrote.")
    safety_message = Message.objects.create(conversation=conversation, author=Author.SYSTEM, text=text)
    record_case_event(case, CaseEventKind.SAFETY_REPLY, template=reply.key, version=reply.version,
           message=str(safety_message.public_id))
    case.user, case.conversation = user, conversation
    return CrisisNotice(
        level=verdict.level, text=reply.text, resources=reply.resources, template_key=reply.key,
        safety_message=safety_message, mode=mode, stop_ai=True,
        console_event="case_opened" if opened or reopened else "case_updated", case_id=case.pk,
        summaries=summaries(case), sla_seconds=sla_seconds() if opened or reopened else None)


def state_on_open(user: User, conversation: Conversation, language: str) -> CrisisNotice | None:
    """On (re)connecting: an open case's card and takeover follow the user to every chat and device
    (CN-CRI-05). Sets `conversation.mode` to the takeover's mode when it lags behind."""
    case = open_case_of(user)
    if case is None:
        if conversation.mode != Mode.AI:
            _set_modes(user, Mode.AI)
            conversation.mode = Mode.AI
        return None
    if case.status == CaseStatus.HANDED_BACK:
        return None
    taken_over = Conversation.objects.filter(pk=case.conversation_id).exclude(mode=Mode.AI).exists()
    if taken_over and conversation.mode == Mode.AI:
        conversation.mode = Mode.HUMAN if case.status == CaseStatus.HUMAN else Mode.WAITING
        conversation.save(update_fields=["mode"])
    reply = _reply_for(user, case.level, case.categories, language)
    return CrisisNotice(level=case.level, text=reply.text, resources=reply.resources, template_key=reply.key)


# --- Console side ---------------------------------------------------------------------------

def _operator_case(case_id: str, *, lock: bool = True) -> CrisisCase:
    try:
        queryset = CrisisCase.objects.select_related("user", "conversation__character", "claimed_by")
        if lock:
            queryset = queryset.select_for_update(of=("self",))
        return queryset.get(public_id=uuid.UUID(str(case_id)))
    except (ValueError, CrisisCase.DoesNotExist):
        raise CaseActionRefused("not_found", gettext("No such case.")) from None


def _require_owner(case: CrisisCase, operator: User) -> None:
    if case.status != CaseStatus.HUMAN or case.claimed_by_id != operator.pk:
        raise CaseActionRefused("not_claimed", gettext("Claim the case before you act on it."))


@dataclass(frozen=True)
class CaseChange:
    case: CrisisCase
    mode: str | None = None
    messages: tuple[Message, ...] = ()


@transaction.atomic(durable=True)
def view_case(*, operator: User, case_id: str, record: bool = True) -> tuple[CrisisCase, list[Message]]:
    """An operator opens a case: the context they need, and a record that they read it."""
    case = _operator_case(case_id, lock=False)
    if record:
        record_case_event(case, CaseEventKind.VIEWED, operator)
    latest = case.conversation.messages.select_related("sent_by").order_by("-created_at", "-id")[:CONTEXT_MESSAGES]
    return case, list(reversed(latest))


@transaction.atomic(durable=True)
def claim_case(*, operator: User, case_id: str) -> CaseChange:
    """First to claim owns it; the user's chats switch to `human` (CN-CRI-05)."""
    case = _operator_case(case_id)
    if case.status == CaseStatus.RESOLVED:
        raise CaseActionRefused("resolved", gettext("This case is already resolved."))
    if case.status == CaseStatus.HUMAN:
        if case.claimed_by_id == operator.pk:
            return CaseChange(case=case)
        raise CaseActionRefused("already_claimed", gettext("Another operator has claimed this case."))
    case.status, case.claimed_by, case.claimed_at = CaseStatus.HUMAN, operator, timezone.now()
    case.save(update_fields=["status", "claimed_by", "claimed_at"])
    record_case_event(case, CaseEventKind.CLAIMED, operator,
           waited_seconds=round((case.claimed_at - case.opened_at).total_seconds(), 3))
    _set_modes(case.user, Mode.HUMAN)
    return CaseChange(case=case, mode=Mode.HUMAN)


@transaction.atomic(durable=True)
def operator_send(*, operator: User, case_id: str, text: str, client_id: str) -> tuple[CaseChange, bool]:
    """A safety-team member writes to the user, labelled human, never AI (CN-CRI-05, CN-DIS-01).
    Idempotent per client_id. Returns the change and whether the message is new."""
    text = (text or "").strip()
    if not text or len(text) > MAX_OPERATOR_TEXT:
        raise CaseActionRefused("bad_text", gettext("Write 1 to %(limit)d characters.") % {"limit": MAX_OPERATOR_TEXT})
    if not client_id or len(client_id) > 64:
        raise CaseActionRefused("bad_frame", gettext("client_id must be 1 to 64 characters."))
    case = _operator_case(case_id)
    _require_owner(case, operator)
    existing = case.conversation.messages.filter(client_id=client_id).first()
    if existing is not None:
        return CaseChange(case=case, messages=(existing,)), False
    message = Message.objects.create(conversation=case.conversation, author=Author.OPERATOR, text=text,
                                     client_id=client_id, sent_by=operator)
    record_case_event(case, CaseEventKind.OPERATOR_MESSAGE, operator, message=str(message.public_id))
    return CaseChange(case=case, messages=(message,)), True


def _system_line(case: CrisisCase, text: str) -> Message:
    return Message.objects.create(conversation=case.conversation, author=Author.SYSTEM, text=text)


@transaction.atomic(durable=True)
def hand_back(*, operator: User, case_id: str, note: str) -> CaseChange:
    """Only the operator who holds the case hands it back to the AI; the case stays open (monitored)
    until resolved, and a new high-risk message brings the team back (CN-CRI-05)."""
    note = (note or "").strip()[:1000]
    if not note:
        raise CaseActionRefused("note_required", gettext("Add a note for the hand-back."))
    case = _operator_case(case_id)
    _require_owner(case, operator)
    case.status = CaseStatus.HANDED_BACK
    case.save(update_fields=["status"])
    record_case_event(case, CaseEventKind.HANDED_BACK, operator, note=note)
    _set_modes(case.user, Mode.AI)
    with translation.override(case.user.language):
        line = _system_line(case, gettext("The safety team member has left the chat. You are talking with the AI "
                                          "again; the team is still here if you need them."))
    return CaseChange(case=case, mode=Mode.AI, messages=(line,))


@transaction.atomic(durable=True)
def resolve_case(*, operator: User, case_id: str, outcome: str, follow_up: str) -> CaseChange:
    if outcome not in CaseOutcome.values:
        raise CaseActionRefused("bad_outcome", gettext("Choose an outcome."))
    case = _operator_case(case_id)
    if case.status == CaseStatus.RESOLVED:
        raise CaseActionRefused("resolved", gettext("This case is already resolved."))
    if case.status == CaseStatus.HUMAN and case.claimed_by_id != operator.pk:
        raise CaseActionRefused("already_claimed", gettext("Another operator has claimed this case."))
    if case.status == CaseStatus.WAITING:
        raise CaseActionRefused("not_claimed", gettext("Claim the case before you act on it."))
    was_human = case.status == CaseStatus.HUMAN
    case.status, case.outcome, case.follow_up = CaseStatus.RESOLVED, outcome, (follow_up or "").strip()[:2000]
    case.resolved_at = timezone.now()
    case.save(update_fields=["status", "outcome", "follow_up", "resolved_at"])
    record_case_event(case, CaseEventKind.RESOLVED, operator, outcome=outcome, follow_up=case.follow_up)
    _set_modes(case.user, Mode.AI)
    messages = ()
    if was_human:
        with translation.override(case.user.language):
            messages = (_system_line(case, gettext("The safety team member has left the chat. You are talking with "
                                                   "the AI again.")),)
    return CaseChange(case=case, mode=Mode.AI, messages=messages)


CALL_OUTCOMES = ("reached", "no_answer", "wrong_number", "declined")


def call_deadline(case: CrisisCase) -> dt.datetime:
    """CN-CRI-07: an operator phones the guardian or emergency contact within this time."""
    return case.opened_at + dt.timedelta(minutes=settings.COMPANION_CONTACT_CALL_MINUTES)


def case_contacts(case: CrisisCase) -> list[dict]:
    """The people the safety team calls for this case, with the calls logged so far."""
    calls = {}
    for event in case.events.filter(kind=CaseEventKind.CONTACT_CALLED).order_by("at", "id"):
        calls.setdefault(event.detail.get("contact"), []).append(
            {"outcome": event.detail.get("outcome"), "at": event.at.isoformat(), "by": event.actor_id})
    return [{"id": contact.pk, "kind": contact.kind, "name": contact.name, "relationship": contact.relationship,
             "phone": contact.phone, "calls": calls.get(contact.pk, [])} for contact in safety_contacts(case.user)]


@transaction.atomic(durable=True)
def log_contact_call(*, operator: User, case_id: str, contact_id, outcome: str, note: str) -> CaseChange:
    """CN-CRI-07: the operator phoned a contact; the result is kept on the case's timeline. Any
    member of the safety team may call (the one who holds the chat may be busy writing)."""
    if outcome not in CALL_OUTCOMES:
        raise CaseActionRefused("bad_outcome", gettext("Choose how the call went."))
    case = _operator_case(case_id)
    if case.status == CaseStatus.RESOLVED:
        raise CaseActionRefused("resolved", gettext("This case is already resolved."))
    contact = next((c for c in safety_contacts(case.user) if str(c.pk) == str(contact_id)), None)
    if contact is None:
        raise CaseActionRefused("not_found", gettext("No such contact for this case."))
    record_case_event(case, CaseEventKind.CONTACT_CALLED, operator, contact=contact.pk, outcome=outcome,
           note=(note or "").strip()[:1000],
           within_deadline=timezone.now() <= call_deadline(case))
    return CaseChange(case=case)


@dataclass(frozen=True)
class Fallback:
    case: CrisisCase
    message: Message
    notice: CrisisNotice


@transaction.atomic(durable=True)
def run_sla_fallback(*, case_id: int) -> Fallback | None:
    """Nobody claimed within the SLA (CN-CRI-08): escalate to every operator and the on-call
    contacts, send the second preset message with hotlines, and ask the emergency contacts to act.
    Idempotent: runs once per waiting period, whoever calls it (Celery task, beat sweep, timer)."""
    case = CrisisCase.objects.select_for_update(of=("self",)).select_related("user").filter(pk=case_id).first()
    if case is None or case.status != CaseStatus.WAITING or case.escalated_at is not None \
            or timezone.now() < case.sla_deadline:
        return None
    case.escalated_at = timezone.now()
    case.save(update_fields=["escalated_at"])
    language = case.user.language
    reply = _reply_for(case.user, "fallback", case.categories, language)
    message = _system_line(case, reply.text)
    record_case_event(case, CaseEventKind.SLA_MISSED, waited_seconds=round((case.escalated_at - case.opened_at).total_seconds()),
           template=reply.key, message=str(message.public_id))
    notify_safety_concern(user=case.user, event_key=f"case:{case.public_id}:unclaimed", level=case.level,
                          reason="unclaimed")
    oncall = list(settings.COMPANION_CRISIS_ONCALL_EMAILS)
    if oncall:
        from companion.tasks import page_oncall  # tasks import this module
        transaction.on_commit(lambda: page_oncall.delay(case.pk))
    notice = CrisisNotice(level=case.level, text=reply.text, resources=reply.resources, template_key=reply.key)
    return Fallback(case=case, message=message, notice=notice)


QUIET_AFTER = dt.timedelta(hours=72)


@transaction.atomic(durable=True)
def close_quiet_cases() -> int:
    """BX-02: a case handed back to the AI closes itself after 72 h without a high-risk signal;
    cases waiting for or held by a person never do."""
    now = timezone.now()
    quiet = list(CrisisCase.objects.select_for_update().filter(status=CaseStatus.HANDED_BACK,
                                                               last_signal_at__lte=now - QUIET_AFTER))
    for case in quiet:
        case.status, case.outcome, case.resolved_at = CaseStatus.RESOLVED, CaseOutcome.QUIET, now
        case.save(update_fields=["status", "outcome", "resolved_at"])
        record_case_event(case, CaseEventKind.RESOLVED, outcome=CaseOutcome.QUIET)
    return len(quiet)


def overdue_case_ids() -> list[int]:
    return list(CrisisCase.objects.filter(status=CaseStatus.WAITING, escalated_at=None,
                                          sla_deadline__lte=timezone.now()).values_list("pk", flat=True))


# --- Console reads --------------------------------------------------------------------------

def queue() -> list[CrisisCase]:
    """Open cases needing a human, most severe first, then longest waiting (CN-CRI-05, CN-CRI-08)."""
    severity = Case(When(level="crisis", then=Value(0)), When(level="high_risk", then=Value(1)),
                    default=Value(2), output_field=IntegerField())
    return list(CrisisCase.objects.filter(status__in=OPEN_CASE_STATUSES)
                .select_related("user", "conversation__character", "claimed_by")
                .annotate(severity=severity).order_by("severity", "opened_at"))


def operator_name(user: User) -> str:
    return user.get_full_name() or user.username


def case_summary(case: CrisisCase, language: str) -> dict:
    user, character = case.user, case.conversation.character
    return {
        "id": str(case.public_id), "level": case.level, "categories": list(case.categories),
        "status": case.status,
        # Operators see who they help (first name or user name), age band and region; no more.
        "user": {"name": user.first_name or user.username, "age_band": str(user.age_band), "region": user.region},
        "character": {"slug": character.slug, "name": character.name_for(language)},
        "opened_at": case.opened_at.isoformat(), "sla_deadline": case.sla_deadline.isoformat(),
        "claimed_by": ({"id": case.claimed_by_id, "name": operator_name(case.claimed_by)}
                       if case.claimed_by_id else None),
        "escalated": case.escalated_at is not None, "contacts_notified": case.contacts_notified,
    }


def summaries(case: CrisisCase) -> dict:
    return {code: case_summary(case, code) for code, _ in settings.LANGUAGES}


def online_operators() -> list[dict]:
    recent = timezone.now() - dt.timedelta(seconds=settings.COMPANION_PRESENCE_TIMEOUT_SECONDS)
    rows = OperatorPresence.objects.filter(connections__gt=0, last_seen_at__gte=recent).select_related("user")
    return [{"id": row.user_id, "name": operator_name(row.user)} for row in rows.order_by("user__username")]


@transaction.atomic(durable=True)
def set_presence(*, operator: User, delta: int) -> None:
    row, _ = OperatorPresence.objects.select_for_update().get_or_create(user=operator)
    row.connections = max(0, row.connections + delta)
    row.save()
