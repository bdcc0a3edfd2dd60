"""Measures against users who present a major safety hazard: restrict, suspend for N days,
terminate (CN-CRI-09, the sanctions ladder of CN-CON-04), each with its reason, evidence and actor,
told to the user with the way to appeal (CN-CMP-03), and exported for the authorities.

Only compliance officers impose and lift; operators and regulators read. Writes run in their own
durable transaction with the user (impose) or the sanction (lift) locked; what the user's open
sockets must hear leaves through the channel layer group `chat.user.<id>` after commit, as a
`chat.sanction` event handled by the ChatConsumer.

Effects (enforced by companion/consumers.py and the `chat` view):
- `restrict`: chats open and history shows, but no AI text is generated for the user. A message is
  accepted only when it can reach the safety team: while the conversation is with the team
  (`waiting`/`human`), when it is high-risk (it opens a case), or when it asks to exit. Others
  are refused with `error` `restricted`.
- `suspend` (until `ends_at`) and `terminate` (no end): every open socket gets the `notice` frame
  and `closed` `suspended` at once; a new socket gets the same instead of `ready`; the chat page
  shows the notice.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext

from accounts import audit
from accounts.models import Role, User
from companion.broadcast import user_group
from companion.models import Author, Conversation, CrisisCase, Message, Mode, Sanction, SanctionKind
from companion.policies import is_exit_request
from companion.protocol import staff_number
from companion.refusals import Refused
from companion.services import MessageRefused
from moderation.pipeline import ScreeningInput, screen

MAX_SUSPEND_DAYS = 365
MAX_REASON_CHARS = 2000
MAX_EVIDENCE_ITEMS = 50
CLOSING_KINDS = (SanctionKind.SUSPEND, SanctionKind.TERMINATE)
# The harsher measure is the one the user is told about when several are active.
SEVERITY = {SanctionKind.TERMINATE: 3, SanctionKind.SUSPEND: 2, SanctionKind.RESTRICT: 1}


class SanctionRefused(Refused):
    """A sanction request that cannot be carried out."""


# --- who may do what --------------------------------------------------------------------------

def may_view_sanctions(user) -> bool:
    return user.is_authenticated and any(user.has_role(role) for role in (Role.COMPLIANCE, Role.OPERATOR,
                                                                            Role.REGULATOR))


def may_impose_sanctions(user) -> bool:
    return user.is_authenticated and user.has_role(Role.COMPLIANCE)


def may_export_sanctions(user) -> bool:
    return user.is_authenticated and any(user.has_role(role) for role in (Role.COMPLIANCE, Role.REGULATOR))


# --- reads ------------------------------------------------------------------------------------

def active_sanctions(user_id: int, *, now: dt.datetime | None = None) -> QuerySet[Sanction]:
    now = now or timezone.now()
    return Sanction.objects.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now), user_id=user_id,
                                   lifted_at__isnull=True)


def _harshest(sanctions) -> Sanction | None:
    """Terminate over suspend over restrict; of equals, the one that ends last (no end = last)."""
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return max(sanctions, key=lambda s: (SEVERITY[s.kind], s.ends_at or far), default=None)


def blocking_sanction(user_id: int) -> Sanction | None:
    """The active suspension or termination that closes the user's chats, if any."""
    return _harshest(active_sanctions(user_id).filter(kind__in=CLOSING_KINDS))


def pseudonym(user_id: int) -> str:
    """A stable reference to a user for exports to outsiders: keyed by SECRET_KEY, so it cannot be
    reversed by counting ids."""
    return hmac.new(settings.SECRET_KEY.encode(), str(user_id).encode(), hashlib.sha256).hexdigest()[:16]


def appeal_channel(sanction: Sanction) -> dict:
    """CN-CMP-03: the appeal form for this sanction (`page`, decided by someone other than the
    officer who imposed it; companion/complaints.py), and the appeals mailbox as a second way."""
    email = settings.COMPANION_APPEALS_EMAIL
    subject = quote(f"Appeal / 申诉 {sanction.public_id}")
    page = reverse("complaint_new") + "?" + urlencode({"kind": "appeal", "target": "sanction",
                                                       "sanction": str(sanction.public_id)})
    return {"email": email, "url": f"mailto:{email}?subject={subject}", "page": page,
            "sanction": str(sanction.public_id)}


def notice_text(sanction: Sanction, language: str) -> str:
    """What the user is told, in their language: the measure, its end, the reason and how to appeal."""
    appeal = appeal_channel(sanction)
    with translation.override(language):
        if sanction.ends_at is not None:
            end = formats.date_format(timezone.localtime(sanction.ends_at), "DATETIME_FORMAT")
        if sanction.kind == SanctionKind.TERMINATE:
            measure = gettext("The service has been stopped for your account.")
        elif sanction.kind == SanctionKind.SUSPEND:
            measure = gettext("Your account is suspended until %(end)s. You cannot chat until then.") % {"end": end}
        elif sanction.ends_at is not None:
            measure = gettext("Your account is restricted until %(end)s: the AI characters will not reply. "
                              "The safety team can still reach you here.") % {"end": end}
        else:
            measure = gettext("Your account is restricted: the AI characters will not reply. "
                              "The safety team can still reach you here.")
        return " ".join([
            measure,
            gettext("Reason: %(reason)s") % {"reason": sanction.reason},
            gettext("If you think this is wrong, you can appeal on our complaints page (%(page)s) or write to "
                    "%(email)s, quoting the reference %(reference)s. A different staff member will decide within "
                    "%(days)d working days.")
            % {"page": settings.COMPANION_SITE_URL.rstrip("/") + appeal["page"], "email": appeal["email"],
               "reference": appeal["sanction"], "days": settings.COMPANION_APPEAL_WORKING_DAYS},
        ])


def notice_frame(sanction: Sanction, language: str) -> dict:
    """The `notice` extension frame of the chat protocol (docs/protocol.md)."""
    return {"type": "notice", "kind": "sanction", "action": sanction.kind, "sanction": str(sanction.public_id),
            "text": notice_text(sanction, language),
            "ends_at": sanction.ends_at.isoformat() if sanction.ends_at else None,
            "appeal": appeal_channel(sanction)}


def lifted_frame(sanction: Sanction, language: str) -> dict:
    with translation.override(language):
        text = gettext("The restriction on your account has been lifted.")
    return {"type": "notice", "kind": "sanction_lifted", "action": sanction.kind,
            "sanction": str(sanction.public_id), "text": text}


@dataclass(frozen=True)
class ChatStanding:
    """What a chat socket must do on connecting: close with `notice` (suspended or terminated), or
    go on, restricted (then `notice` follows `ready`) or not."""
    closes: bool
    restricted: bool
    notice: dict | None


def chat_standing(*, user: User, language: str) -> ChatStanding:
    harshest = _harshest(active_sanctions(user.pk))
    if harshest is None:
        return ChatStanding(closes=False, restricted=False, notice=None)
    return ChatStanding(closes=harshest.kind in CLOSING_KINDS, restricted=True,
                        notice=notice_frame(harshest, language))


def restriction_refusal(*, user: User, conversation_id: int, text: str, language: str) -> MessageRefused | None:
    """For a restricted user: None when the message may be posted (see the module docstring), else
    the refusal to send. A lifted or expired restriction refuses nothing."""
    if not active_sanctions(user.pk).exists():
        return None
    conversation = Conversation.objects.filter(pk=conversation_id, user=user).only("mode").first()
    if conversation is None or conversation.mode != Mode.AI:
        return None
    if is_exit_request(text, settings.COMPANION_EXIT_KEYWORDS):
        return None
    # CN-CRI-04 outranks the restriction: a message in danger still opens a case (the AI stays off).
    if screen(ScreeningInput(text=text, direction="inbound", language=language)).at_least("high_risk"):
        return None
    with translation.override(language):
        return MessageRefused("restricted", gettext(
            "Your account is restricted: the AI characters will not reply. The safety team can still reach "
            "you. If you are in danger, write what is happening and we will respond."))


def sanctions_list(*, status: str = "", kind: str = "") -> QuerySet[Sanction]:
    now = timezone.now()
    queryset = Sanction.objects.select_related("user", "actor", "lifted_by")
    if status == "active":
        queryset = queryset.filter(Q(ends_at__isnull=True) | Q(ends_at__gt=now), lifted_at__isnull=True)
    elif status == "lifted":
        queryset = queryset.filter(lifted_at__isnull=False)
    elif status == "ended":
        queryset = queryset.filter(lifted_at__isnull=True, ends_at__lte=now)
    if kind:
        queryset = queryset.filter(kind=kind)
    return queryset


def sanction_record(sanction: Sanction, *, include_username: bool, now: dt.datetime | None = None) -> dict:
    """One sanction for the staff page and the export for authorities: ids and staff-written text
    only, never chat text (CN-CRI-09). Staff appear by their public staff number."""
    now = now or timezone.now()
    record = {
        "id": str(sanction.public_id),
        "user_ref": pseudonym(sanction.user_id),
        "kind": sanction.kind,
        "reason": sanction.reason,
        "evidence": list(sanction.evidence),
        "actor": staff_number(sanction.actor_id) if sanction.actor_id else None,
        "created_at": sanction.created_at.isoformat(),
        "ends_at": sanction.ends_at.isoformat() if sanction.ends_at else None,
        "active": sanction.is_active_at(now),
        "lifted_at": sanction.lifted_at.isoformat() if sanction.lifted_at else None,
        "lifted_by": staff_number(sanction.lifted_by_id) if sanction.lifted_by_id else None,
        "lift_reason": sanction.lift_reason,
    }
    if include_username:
        record["username"] = sanction.user.username
    return record


def case_prefill(case_id: str) -> dict | None:
    """The impose form for a safety case: its user, and as evidence its trigger message and itself."""
    try:
        case = CrisisCase.objects.select_related("trigger").get(public_id=uuid.UUID(str(case_id)))
    except (ValueError, CrisisCase.DoesNotExist):
        return None
    evidence = [str(case.trigger.public_id)] if case.trigger is not None else []
    return {"case": str(case.public_id), "evidence": "\n".join([*evidence, str(case.public_id)])}


# --- writes -----------------------------------------------------------------------------------

def _evidence_items(user: User, evidence: list[str]) -> list[dict]:
    """Each id must be a message in one of the user's conversations or one of the user's cases."""
    if not evidence:
        raise SanctionRefused("no_evidence", gettext("Name at least one message or case as evidence."),
                              field="evidence")
    if len(evidence) > MAX_EVIDENCE_ITEMS:
        raise SanctionRefused("too_much_evidence", gettext("Name at most %(limit)d items of evidence.")
                              % {"limit": MAX_EVIDENCE_ITEMS}, field="evidence")
    items = []
    for raw in dict.fromkeys(str(item).strip() for item in evidence):
        try:
            public_id = uuid.UUID(raw)
        except ValueError:
            raise SanctionRefused("bad_evidence", gettext("“%(id)s” is not a message or case id.") % {"id": raw},
                                  field="evidence") from None
        if Message.objects.filter(public_id=public_id, conversation__user=user).exists():
            items.append({"kind": "message", "id": str(public_id)})
        elif CrisisCase.objects.filter(public_id=public_id, user=user).exists():
            items.append({"kind": "case", "id": str(public_id)})
        else:
            raise SanctionRefused("foreign_evidence", gettext(
                "%(id)s is not a message or case of this user.") % {"id": raw}, field="evidence")
    return items


def _announce(user_id: int, event: dict) -> None:
    transaction.on_commit(lambda: async_to_sync(get_channel_layer().group_send)(user_group(user_id), event))


def _frames(build, sanction: Sanction) -> dict:
    return {code: build(sanction, code) for code, _name in settings.LANGUAGES}


@transaction.atomic(durable=True)
def impose_sanction(*, actor: User, kind: str, reason: str, evidence: list[str], days: int | None = None,
                    user_id: int | None = None, case_id: str | None = None) -> Sanction:
    """Impose a measure on the user named by `user_id` or by the safety case `case_id` (whose id is
    added to the evidence). Compliance only. Stores the sanction and a `system` notice in each of
    the user's current conversations; after commit every open socket of the user hears of it
    (suspend/terminate: notice, then `closed` `suspended`). Refuses a second active measure of
    the same kind: lift it first to change it."""
    if not may_impose_sanctions(actor):
        raise SanctionRefused("forbidden", gettext("Only compliance officers can impose sanctions."))
    if kind not in SanctionKind.values:
        raise SanctionRefused("bad_kind", gettext("Choose a measure."), field="kind")
    reason = (reason or "").strip()
    if not reason:
        raise SanctionRefused("no_reason", gettext("Give the reason."), field="reason")
    if len(reason) > MAX_REASON_CHARS:
        raise SanctionRefused("reason_too_long", gettext("The reason can be at most %(limit)d characters long.")
                              % {"limit": MAX_REASON_CHARS}, field="reason")
    if kind == SanctionKind.SUSPEND and days is None:
        raise SanctionRefused("no_days", gettext("A suspension needs a number of days."), field="days")
    if kind == SanctionKind.TERMINATE and days is not None:
        raise SanctionRefused("days_not_allowed", gettext("A termination has no end: leave the days empty."),
                              field="days")
    if days is not None and not 1 <= days <= MAX_SUSPEND_DAYS:
        raise SanctionRefused("bad_days", gettext("Days must be between 1 and %(limit)d.")
                              % {"limit": MAX_SUSPEND_DAYS}, field="days")
    evidence = list(evidence)
    if case_id is not None:
        try:
            case = CrisisCase.objects.get(public_id=uuid.UUID(str(case_id)))
        except (ValueError, CrisisCase.DoesNotExist):
            raise SanctionRefused("no_case", gettext("No such case."), field="case") from None
        user_id = case.user_id
        evidence.append(str(case.public_id))
    try:
        user = User.objects.select_for_update().get(pk=user_id)  # one decision per user at a time
    except (User.DoesNotExist, ValueError, TypeError):
        raise SanctionRefused("no_user", gettext("No such user."), field="username") from None
    if user.pk == actor.pk:
        raise SanctionRefused("self", gettext("You cannot sanction your own account."), field="username")
    items = _evidence_items(user, evidence)
    now = timezone.now()
    if active_sanctions(user.pk, now=now).filter(kind=kind).exists():
        raise SanctionRefused("already_active", gettext(
            "This user already has an active measure of this kind. Lift it first to change it."), field="kind")
    sanction = Sanction(user=user, kind=kind, reason=reason, evidence=items, actor=actor, created_at=now,
                        ends_at=now + dt.timedelta(days=days) if days is not None else None)
    sanction.notice_text = notice_text(sanction, user.language)
    sanction.save()
    Message.objects.bulk_create(
        Message(conversation=conversation, author=Author.SYSTEM, text=sanction.notice_text)
        for conversation in Conversation.objects.filter(user=user, archived_at=None))
    _announce(user.pk, {"type": "chat.sanction", "close": kind in CLOSING_KINDS, "restricted": True,
                        "notices": _frames(notice_frame, sanction)})
    audit.record("sanction.imposed", actor=actor, subject_type="sanction", subject_id=sanction.public_id,
                 data={"user": user.pk, "kind": kind, "days": days, "evidence": [item.get("id") for item in items]})
    return sanction


@transaction.atomic(durable=True)
def lift_sanction(*, actor: User, sanction_id: str, reason: str) -> Sanction:
    """Lift a sanction with a reason. Compliance only. Lifting a lifted sanction changes nothing.
    After commit the user's open sockets hear whether a restriction remains."""
    if not may_impose_sanctions(actor):
        raise SanctionRefused("forbidden", gettext("Only compliance officers can lift sanctions."))
    reason = (reason or "").strip()
    if not reason:
        raise SanctionRefused("no_reason", gettext("Give the reason for lifting."), field="reason")
    if len(reason) > MAX_REASON_CHARS:
        raise SanctionRefused("reason_too_long", gettext("The reason can be at most %(limit)d characters long.")
                              % {"limit": MAX_REASON_CHARS}, field="reason")
    try:
        sanction = Sanction.objects.select_for_update().get(public_id=uuid.UUID(str(sanction_id)))
    except (ValueError, Sanction.DoesNotExist):
        raise SanctionRefused("not_found", gettext("No such sanction.")) from None
    return apply_lift(actor=actor, sanction=sanction, reason=reason)


def apply_lift(*, actor: User, sanction: Sanction, reason: str) -> Sanction:
    """Lift a locked sanction inside the caller's transaction (lift_sanction, an upheld appeal)."""
    if sanction.lifted_at is not None:
        return sanction
    sanction.lifted_at, sanction.lifted_by, sanction.lift_reason = timezone.now(), actor, reason
    sanction.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
    audit.record("sanction.lifted", actor=actor, subject_type="sanction", subject_id=sanction.public_id,
                 data={"user": sanction.user_id, "kind": sanction.kind})
    remaining = _harshest(active_sanctions(sanction.user_id))
    _announce(sanction.user_id, {"type": "chat.sanction", "close": False, "restricted": remaining is not None,
                                 "notices": _frames(notice_frame, remaining) if remaining else
                                 _frames(lifted_frame, sanction)})
    return sanction
