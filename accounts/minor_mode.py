"""Suspected minors (CN-MIN-05) and their appeals (CN-MIN-06).

A declared adult whose chat messages say they are a minor is switched into minor mode: the chat
path (companion.services.post_user_message) hands each message to `note_age_cue`, which keeps the
kind and weight of any cue (moderation.age_cues: never the words) and switches once the cues of the
last ACCOUNTS_AGE_CUE_WINDOW_DAYS add up to 1.0. Nobody reads messages to decide. Minor mode then
applies everywhere `User.is_minor` is asked (characters, screening, time limits, spending); the
person cannot switch it off. They can appeal with a real-name check (a resident ID number whose
birth date must be the account's and 18 or over); compliance officers decide within
ACCOUNTS_MINOR_APPEAL_WORKING_DAYS working days, and a granted appeal is the only way out. Every
switch, appeal and decision is in the audit log.
"""
from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from accounts.models import AgeCue, AppealStatus, IdCheck, MinorModeAppeal, User
from accounts.policies import add_working_days, cues_switch, id_check
from accounts.selectors import is_staff_account
from accounts.signals import minor_mode_switched_on
from moderation.age_cues import age_cues


class AppealRefused(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code  # `not_in_minor_mode`, `pending`, `decided`, `note_needed`


def may_be_switched(user: User) -> bool:
    """Declared adults only: minors by birth date are in minor mode already, an age verified by an
    appeal is not overruled by chat talk, and staff accounts are never switched."""
    return not (user.is_minor or user.age_verified_at is not None or is_staff_account(user))


def note_age_cue(*, user: User, text: str) -> bool:
    """Called in the transaction that stores a user message. Records a cue if the message has one
    and switches minor mode on when the window's cues add up; True when it switched just now."""
    cue = age_cues(text)
    if cue is None or not may_be_switched(user):
        return False
    now = timezone.now()
    AgeCue.objects.create(user=user, kind=cue.kind, weight=cue.weight, age=cue.age, created_at=now)
    since = now - timezone.timedelta(days=settings.ACCOUNTS_AGE_CUE_WINDOW_DAYS)
    window = list(AgeCue.objects.filter(user=user, created_at__gte=since).values_list("kind", "weight", "age"))
    if not cues_switch(weight for _, weight, _ in window):
        return False
    ages = [age for _, _, age in window if age is not None]
    return _switch_on(user, actor=None, age=min(ages) if ages else None, chosen=False,
                      cues=sorted({kind for kind, _, _ in window}))


def _switch_on(user: User, *, actor: User | None, age: int | None, chosen: bool, cues: list[str]) -> bool:
    """Turn minor mode on unless it already is (a concurrent message may have won), audit it, and
    after commit tell companion to end the person's open chats. True when it switched now."""
    now = timezone.now()
    if not User.objects.filter(pk=user.pk, minor_mode_since__isnull=True).update(
            minor_mode_since=now, minor_mode_age=age, minor_mode_chosen=chosen):
        return False
    user.minor_mode_since, user.minor_mode_age, user.minor_mode_chosen = now, age, chosen
    audit.record("minor_mode.switched_on", actor=actor, subject_type="user", subject_id=user.pk,
                 data={"cues": cues, "age": age})
    user_id = user.pk
    transaction.on_commit(lambda: minor_mode_switched_on.send(sender=User, user_id=user_id))
    return True


@transaction.atomic(durable=True)
def choose_minor_mode(*, user: User) -> bool:
    """CN-MIN-01: an adult turns minor mode on for themselves (for example a parent setting up a
    child's device). Like a switch by suspicion it ends only by a granted appeal. False if it was on."""
    if user.is_minor or is_staff_account(user):
        return False
    return _switch_on(user, actor=user, age=None, chosen=True, cues=["chosen"])


@transaction.atomic(durable=True)
def file_appeal(*, user: User, explanation: str, id_birth_date, id_last4: str) -> MinorModeAppeal:
    """CN-MIN-06: the person asks to leave minor mode. `id_birth_date` is the birth date read from a
    resident ID number whose form the caller checked (None when none was given); only the number's
    last four characters are kept. Minor mode stays on until a compliance officer decides."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.minor_mode_since is None:
        raise AppealRefused("not_in_minor_mode")
    now = timezone.now()
    check = id_check(id_birth_date, locked.birth_date, timezone.localdate())
    try:
        with transaction.atomic():
            appeal = MinorModeAppeal.objects.create(
                user=locked, explanation=explanation, id_check=check, id_last4=id_last4 if id_birth_date else "",
                filed_at=now, due_at=add_working_days(timezone.localtime(now), settings.ACCOUNTS_MINOR_APPEAL_WORKING_DAYS))
    except IntegrityError:
        raise AppealRefused("pending") from None
    audit.record("minor_mode.appeal_filed", actor=locked, subject_type="minor_appeal", subject_id=appeal.public_id,
                 data={"id_check": check, "due_at": appeal.due_at.isoformat()})
    return appeal


@transaction.atomic(durable=True)
def decide_appeal(*, staff: User, appeal_id, grant: bool, note: str) -> MinorModeAppeal:
    """A compliance officer's decision. Granting ends minor mode at once and forgets the cues; with a
    matching real-name check the age counts as verified, so chat talk no longer switches the account.
    Granting without a matching check needs a note saying what proved the age."""
    appeal = MinorModeAppeal.objects.select_for_update().select_related("user").get(public_id=appeal_id)
    if appeal.status != AppealStatus.PENDING:
        raise AppealRefused("decided")
    if grant and appeal.id_check != IdCheck.MATCH and not note.strip():
        raise AppealRefused("note_needed")
    now = timezone.now()
    appeal.status = AppealStatus.GRANTED if grant else AppealStatus.REJECTED
    appeal.decided_at, appeal.decided_by, appeal.decision_note = now, staff, note.strip()
    appeal.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    user = appeal.user
    if grant:
        user.minor_mode_since = user.minor_mode_age = None
        user.minor_mode_chosen = False
        if appeal.id_check == IdCheck.MATCH:
            user.age_verified_at = now
        user.save(update_fields=["minor_mode_since", "minor_mode_age", "minor_mode_chosen", "age_verified_at"])
        AgeCue.objects.filter(user=user).delete()
    audit.record("minor_mode.appeal_granted" if grant else "minor_mode.appeal_refused", actor=staff,
                 subject_type="minor_appeal", subject_id=appeal.public_id,
                 data={"id_check": appeal.id_check, "overdue": now > appeal.due_at})
    return appeal


def overdue(appeal: MinorModeAppeal, now) -> bool:
    """CN-MIN-06: a pending appeal past its due time is flagged in the compliance area."""
    return appeal.status == AppealStatus.PENDING and now > appeal.due_at
