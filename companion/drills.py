"""Monthly end-to-end crisis drills with a synthetic account (BX-16, CN-CRI-05, CN-CRI-07, CN-CRI-10).

A drill walks the real path: the month's synthetic account `drill-<yyyymm>` (flagged by its
`DrillRun` rows), whose only emergency contact is the drill mailbox, opens a chat and posts a crisis
message through `post_user_message`, the service the chat socket uses. The drill then times four
steps from the moment it posted: detection (the message stored with its risk verdict), the preset
safety reply, an operator's claim and the first contact notification sent. With an operator named,
the drill claims as them itself (schedules, CI); without one it waits for a person to claim the case
in /console/. It then resolves the case as a drill (`false_positive`, follow-up "drill") so it leaves
the queue, and records the result. Drill cases never count in the crisis statistics (`reports`).

Each write is its own durable transaction (STYLE.md §3); the waits happen between them, never
inside one.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from companion import broadcast
from companion.crisis import (TAKEOVER_LEVELS, CaseActionRefused, claim_case, open_case_of, record_case_event,
                              resolve_case, sla_seconds)
from companion.models import (CaseEventKind, CaseOutcome, CaseStatus, Conversation, CrisisCase,
                              DrillRun, Mode)
from companion.reports import case_event_key
from companion.selectors import characters_for
from companion.services import MessageRefused, open_chat, post_user_message
from guardians.models import Contact, ContactKind, Notification, Status
from guardians.services import add_contact, deactivate_contact

logger = logging.getLogger(__name__)

DRILL_USERNAME_PREFIX = "drill-"
DRILL_FOLLOW_UP = "drill"
# The drill message, per language: what a user in crisis might write (crisis texts are language data).
DRILL_TEXTS = {
    "zh-hans": "我已经把药准备好了，今晚就结束自己。",
    "en": "I can't do this anymore. I've got the pills ready and I'm going to end it tonight.",
}
NOTIFY_WITHIN_SECONDS = 60  # CN-CRI-07: contacts told within a minute
STALE_RUN = dt.timedelta(minutes=15)  # a `running` drill older than this died with its process
POLL_SECONDS = 1.0


class DrillError(Exception):
    """The drill could not start: no character to talk to, the account name taken, a drill running."""


def contact_email() -> str:
    return settings.COMPANION_DRILL_CONTACT_EMAIL


def scheduled_operator_username() -> str:
    return settings.COMPANION_DRILL_OPERATOR


def drill_username(moment: dt.datetime) -> str:
    return f"{DRILL_USERNAME_PREFIX}{timezone.localtime(moment):%Y%m}"


def is_drill_account(user: User) -> bool:
    """Synthetic drill accounts: the `drill-` name *and* a DrillRun row, so a person who signs up as
    `drill-…` is still counted (and never has a case closed as a drill)."""
    return user.username.startswith(DRILL_USERNAME_PREFIX) and DrillRun.objects.filter(user=user).exists()


@transaction.atomic(durable=True)
def start_drill(*, operator: User | None) -> DrillRun:
    """Create or reuse this month's drill account and record a running DrillRun for it.

    Raises DrillError when the name belongs to a real account or another drill of the account is
    still running; a `running` row older than STALE_RUN is marked failed (its process died).
    """
    now = timezone.now()
    username = drill_username(now)
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        user = User(username=username, language=settings.LANGUAGE_CODE,
                    birth_date=dt.date(timezone.localdate().year - 30, 1, 1))
        user.set_unusable_password()  # nobody signs in as a drill account
        user.save()
    elif not DrillRun.objects.filter(user=user).exists():
        raise DrillError(f"{username} is a real account, not a drill account")
    running = DrillRun.objects.select_for_update().filter(user=user, outcome=DrillRun.Outcome.RUNNING)
    if running.filter(started_at__gt=now - STALE_RUN).exists():
        raise DrillError(f"a drill of {username} is already running")
    running.update(outcome=DrillRun.Outcome.FAIL, finished_at=now, notes="interrupted: the drill process stopped")
    return DrillRun.objects.create(user=user, operator=operator, automated=operator is not None, started_at=now)


def ensure_drill_contact(user: User) -> Contact:
    """The drill account's one active emergency contact is the drill mailbox (COMPANION_DRILL_CONTACT_EMAIL)."""
    email = contact_email()
    keep = None
    for contact in Contact.objects.filter(user=user, active=True).order_by("id"):
        if keep is None and contact.kind == ContactKind.EMERGENCY and contact.email == email and not contact.phone:
            keep = contact
        else:
            deactivate_contact(user=user, contact_id=contact.pk)
    return keep or add_contact(user=user, kind=ContactKind.EMERGENCY, name="Drill mailbox",
                               relationship=DRILL_FOLLOW_UP, email=email, language=user.language,
                               service_mailbox=True)


@transaction.atomic(durable=True)
def close_drill_case(*, case_id: int) -> CrisisCase | None:
    """Resolve a drill case nobody claimed (or one left open by a drill that died), as a drill.

    `resolve_case` needs the claiming operator; a drill case nobody took must still leave the queue.
    Refuses (DrillError) a real user's case. Returns None when the case is gone or already resolved.
    """
    case = CrisisCase.objects.select_for_update(of=("self",)).select_related("user").filter(pk=case_id).first()
    if case is None or not case.is_open:
        return None
    if not is_drill_account(case.user):
        raise DrillError(f"case {case.public_id} is not a drill case")
    case.status, case.outcome, case.follow_up = CaseStatus.RESOLVED, CaseOutcome.FALSE_POSITIVE, DRILL_FOLLOW_UP
    case.resolved_at = timezone.now()
    case.save(update_fields=["status", "outcome", "follow_up", "resolved_at"])
    record_case_event(case, CaseEventKind.RESOLVED, case.claimed_by, outcome=case.outcome,
                      follow_up=DRILL_FOLLOW_UP, drill=True)
    Conversation.objects.filter(user=case.user, archived_at=None).exclude(mode=Mode.AI).update(mode=Mode.AI)
    return case


@transaction.atomic(durable=True)
def finish_drill(*, run_id: int, posted_at: dt.datetime | None, case: CrisisCase | None,
                 timings: dict[str, float | None], problems: list[str]) -> DrillRun:
    """Record the drill's result: pass when all four steps happened in time, else fail with the reasons."""
    run = DrillRun.objects.select_for_update().get(pk=run_id)
    for name, seconds in timings.items():
        setattr(run, f"{name}_seconds", None if seconds is None else round(seconds, 3))
    if posted_at is not None:
        run.started_at = posted_at
    run.case = case
    run.finished_at = timezone.now()
    run.outcome = DrillRun.Outcome.FAIL if problems else DrillRun.Outcome.PASS
    run.notes = "\n".join(problems)
    run.save()
    return run


@dataclass
class _Measure:
    posted_at: dt.datetime | None = None
    case: CrisisCase | None = None
    timings: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(
        ("detection", "template", "accept", "notification")))
    problems: list[str] = field(default_factory=list)

    def since_post(self, moment: dt.datetime | None) -> float | None:
        return None if moment is None else max(0.0, (moment - self.posted_at).total_seconds())


def run_drill(*, operator: User | None, wait_seconds: float, poll_seconds: float = POLL_SECONDS) -> DrillRun:
    """Run one drill end to end and return its DrillRun (BX-16); see the module docstring.

    `operator` claims automatically; without one, a person has `wait_seconds` to claim in the console.
    Contact notification is awaited up to NOTIFY_WITHIN_SECONDS (CN-CRI-07). Raises DrillError before
    the drill starts; any later error is recorded on the run as a failure and raised again.
    """
    run = start_drill(operator=operator)
    measure = _Measure()
    try:
        _walk(run, operator, wait_seconds, poll_seconds, measure)
    except Exception as error:
        measure.problems.append(f"error: {type(error).__name__}: {error}")
        if measure.case is not None:  # leave no drill case in the queue
            try:
                _close(CrisisCase.objects.get(pk=measure.case.pk))
            except Exception as cleanup:
                measure.problems.append(f"case left open: {type(cleanup).__name__}: {cleanup}")
        finish_drill(run_id=run.pk, posted_at=measure.posted_at, case=measure.case, timings=measure.timings,
                     problems=measure.problems)
        raise
    return finish_drill(run_id=run.pk, posted_at=measure.posted_at, case=measure.case, timings=measure.timings,
                        problems=measure.problems)


def _walk(run: DrillRun, operator: User | None, wait_seconds: float, poll_seconds: float, measure: _Measure) -> None:
    user = run.user
    ensure_drill_contact(user)
    leftover = open_case_of(user)
    if leftover is not None:
        _close(leftover)
    character = characters_for(user).first()
    if character is None:
        raise DrillError("no active character to talk to")
    language = user.language if user.language in DRILL_TEXTS else "zh-hans"
    opening = open_chat(user=user, character_slug=character.slug, session_key=f"drill-{run.pk}", language=language)

    measure.posted_at = timezone.now()
    started = time.monotonic()
    try:
        posted = post_user_message(user=user, conversation_id=opening.conversation.pk, text=DRILL_TEXTS[language],
                                   client_id=f"drill-{run.pk}", language=language)
    except MessageRefused as refused:
        measure.problems.append(f"message refused: {refused.code}")
        return
    message = posted.message
    if message.risk_level in TAKEOVER_LEVELS:
        measure.timings["detection"] = measure.since_post(message.created_at)
    else:
        measure.problems.append(f"not detected: risk level {message.risk_level!r}")
    notice = posted.crisis
    case = CrisisCase.objects.filter(pk=notice.case_id).first() if notice and notice.case_id else None
    if case is None:
        measure.problems.append("no crisis case opened")
        return
    measure.case = case
    if notice.console_event:
        async_to_sync(broadcast.console_event)(notice.console_event, case.pk)
    reply = case.events.filter(kind=CaseEventKind.SAFETY_REPLY).order_by("at", "id").first()
    measure.timings["template"] = measure.since_post(reply and reply.at)
    if reply is None:
        measure.problems.append("no preset safety reply")

    if operator is not None:
        try:
            claim_case(operator=operator, case_id=str(case.public_id))
        except CaseActionRefused as refused:
            if refused.code != "already_claimed":  # a person in the console was quicker: accepted all the same
                raise
        async_to_sync(broadcast.console_event)("case_updated", case.pk)
    claimed_at = _poll(lambda: CrisisCase.objects.filter(pk=case.pk).values_list("claimed_at", flat=True).first(),
                       until=started + wait_seconds, poll_seconds=poll_seconds)
    measure.timings["accept"] = measure.since_post(claimed_at)
    if claimed_at is None:
        measure.problems.append(f"not accepted: no operator claimed within {wait_seconds:g} s")
    elif measure.timings["accept"] > sla_seconds():
        measure.problems.append(f"accepted after the {sla_seconds()} s SLA")

    key = case_event_key(case.public_id)
    _poll(lambda: _notifications_settled(key), until=started + NOTIFY_WITHIN_SECONDS, poll_seconds=poll_seconds)
    rows = list(Notification.objects.filter(event_key=key).values_list("status", "sent_at"))
    first_sent = min((sent_at for status, sent_at in rows if sent_at is not None), default=None)
    measure.timings["notification"] = measure.since_post(first_sent)
    if not rows:
        measure.problems.append("no contact notification queued")
    elif first_sent is None:
        measure.problems.append("no contact notification sent: " + ", ".join(sorted(s for s, _ in rows)))
    elif measure.timings["notification"] > NOTIFY_WITHIN_SECONDS:
        measure.problems.append(f"contact notified after {NOTIFY_WITHIN_SECONDS} s")

    _close(CrisisCase.objects.get(pk=case.pk))


def _notifications_settled(key: str) -> bool | None:
    statuses = set(Notification.objects.filter(event_key=key).values_list("status", flat=True))
    return bool(statuses) and statuses <= {Status.SENT, Status.FAILED} or None


def _poll(read, *, until: float, poll_seconds: float):
    """`read()` until it returns something truthy or the monotonic deadline passes; reads at least once."""
    while True:
        value = read()
        if value or time.monotonic() >= until:
            return value
        time.sleep(min(poll_seconds, max(0.0, until - time.monotonic())))


def _close(case: CrisisCase) -> None:
    """The claimant resolves as a drill (the console's own service); a case nobody took is closed as one."""
    if case.status == CaseStatus.HUMAN and case.claimed_by_id is not None:
        try:
            resolve_case(operator=case.claimed_by, case_id=str(case.public_id),
                         outcome=CaseOutcome.FALSE_POSITIVE, follow_up=DRILL_FOLLOW_UP)
        except CaseActionRefused as refused:
            if refused.code != "resolved":  # someone resolved it in the console meanwhile: fine
                raise
    else:
        close_drill_case(case_id=case.pk)
    async_to_sync(broadcast.console_event)("case_updated", case.pk)


def monthly_drill() -> DrillRun | None:
    """The scheduled automated drill (BX-16) with COMPANION_DRILL_OPERATOR claiming. Idempotent: once
    an automated drill passed this month, nothing runs. Returns None (logged) when it cannot run."""
    username = scheduled_operator_username()
    if not username:
        logger.warning("crisis drill skipped: COMPANION_DRILL_OPERATOR is not set (BX-16)")
        return None
    operator = User.objects.filter(username=username, is_active=True).first()
    if operator is None or not operator.has_role("operator"):
        logger.warning("crisis drill skipped: %r is not an active operator (BX-16)", username)
        return None
    start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if DrillRun.objects.filter(automated=True, outcome=DrillRun.Outcome.PASS, started_at__gte=start).exists():
        return None
    return run_drill(operator=operator, wait_seconds=0)
