"""Service change notices (CN-SVC-01) and outage statements (CN-SVC-02).

A compliance officer schedules a notice of a major change (a character's persona, or the terms),
a suspension or a discontinuation, of one character or of the whole service, at least the
advance period ahead (COMPANION_NOTICE_DISCONTINUE_DAYS for suspensions and discontinuations,
COMPANION_NOTICE_CHANGE_DAYS for major changes); a shorter notice is refused and nothing is
saved. After commit a task posts a `system` message with the export reminder in every affected
conversation and mails every affected user once, in their language: for a character, users who
ever talked with it; for the whole service, every active user. Until the date every page shows
the affected user a banner (companion/context_processors.py).

On the date of a suspension or discontinuation chat with the character (or any character) ends:
a new chat socket gets a `notice` (kind `service_ended`) and `closed` `service_ended` instead of
`ready`, whatever the clock says; the beat job `carry_out_notices` closes the sockets already
open the same way (through each affected conversation's group) and retires a discontinued
character, which leaves the home list. Its conversations stay readable and exportable for
COMPANION_EXPORT_AFTER_END_DAYS at /chat/<slug>/archive/; a suspension ends at `resumes_at`.
A notice can be cancelled until it takes effect. Every step is audited.

An outage is announced by opening an incident (statement in both languages): a banner on every
page and an entry on the public /status/ page until it is resolved with an incident note.
"""
from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext

from accounts import audit
from accounts.models import Role, User
from companion.broadcast import conversation_group, records
from companion.models import (ENDING_NOTICE_KINDS, Author, Character, Conversation, Incident, Message, NoticeKind,
                              ServiceNotice, ServiceNoticeDelivery)
from companion.refusals import Refused

logger = logging.getLogger(__name__)

MAX_TITLE_CHARS = 200
MAX_TEXT_CHARS = 4000
# A claimed email not stamped as sent within this time (a worker died mid-send) is sent again.
CLAIM_TIMEOUT = dt.timedelta(minutes=15)


class NoticeRefused(Refused):
    """A service notice or incident request that cannot be carried out."""


# --- policies (pure) ------------------------------------------------------------------------------

@dataclass(frozen=True)
class NoticePeriods:
    ending_days: int
    change_days: int
    export_days: int


def notice_periods() -> NoticePeriods:
    return NoticePeriods(ending_days=settings.COMPANION_NOTICE_DISCONTINUE_DAYS,
                         change_days=settings.COMPANION_NOTICE_CHANGE_DAYS,
                         export_days=settings.COMPANION_EXPORT_AFTER_END_DAYS)


def advance_days(kind: str, periods: NoticePeriods) -> int:
    """CN-SVC-01: the least notice users get of this kind of change, in days."""
    return periods.change_days if kind == NoticeKind.MAJOR_CHANGE else periods.ending_days


def earliest_effective_at(*, kind: str, now: dt.datetime, periods: NoticePeriods) -> dt.datetime:
    return now + dt.timedelta(days=advance_days(kind, periods))


def notice_phase(notice: ServiceNotice, now: dt.datetime, periods: NoticePeriods) -> str:
    """"cancelled", "pending" (announced, not yet in effect), "in_effect" (a suspension until it
    resumes; a discontinuation while its conversations can still be exported) or "over"."""
    if notice.cancelled_at is not None:
        return "cancelled"
    if now < notice.effective_at:
        return "pending"
    if notice.kind == NoticeKind.SUSPENSION and (notice.resumes_at is None or now < notice.resumes_at):
        return "in_effect"
    if notice.kind == NoticeKind.DISCONTINUATION and now < export_until(notice, periods):
        return "in_effect"
    return "over"


def export_until(notice: ServiceNotice, periods: NoticePeriods) -> dt.datetime:
    return notice.effective_at + dt.timedelta(days=periods.export_days)


def statement_minutes(incident: Incident) -> int:
    """Minutes from the start of the outage to the published statement."""
    return max(0, int((incident.published_at - incident.started_at).total_seconds() // 60))


def statement_late(incident: Incident, limit_minutes: int) -> bool:
    """CN-SVC-02: the statement went up later than the rule's hour (default) after the outage began."""
    return statement_minutes(incident) > limit_minutes


def may_schedule_notices(user) -> bool:
    return user.is_authenticated and user.has_role(Role.COMPLIANCE)


def may_read_notices(user) -> bool:
    return user.is_authenticated and (user.has_role(Role.COMPLIANCE) or user.has_role(Role.REGULATOR))


# --- reads ----------------------------------------------------------------------------------------

def _in_scope(slug_field: str, slug: str) -> Q:
    """Notices about the whole service or about the character `slug`."""
    return Q(character=None) | Q(**{slug_field: slug})


def _ending_now(now: dt.datetime) -> Q:
    return (Q(kind__in=ENDING_NOTICE_KINDS, cancelled_at=None, effective_at__lte=now)
            & (Q(resumes_at=None) | Q(resumes_at__gt=now)))


def ending_notice(*, character_slug: str, now: dt.datetime | None = None) -> ServiceNotice | None:
    """The suspension or discontinuation that ends chat with this character now, if any."""
    now = now or timezone.now()
    return (ServiceNotice.objects.filter(_ending_now(now), _in_scope("character__slug", character_slug))
            .select_related("character").order_by("effective_at", "id").first())


def ended_notice_frame(*, character_slug: str, language: str) -> dict | None:
    """For the chat socket: the `notice` frame to send before `closed` `service_ended`, or None
    when chat with this character goes on."""
    notice = ending_notice(character_slug=character_slug)
    return None if notice is None else notice_frame(notice, language)


def archive_open(*, character_slug: str, now: dt.datetime | None = None) -> bool:
    """Chat with the character has ended by notice, and its conversations may still be read and
    exported here: during a suspension, and for the export period after a discontinuation."""
    now = now or timezone.now()
    window = now - dt.timedelta(days=notice_periods().export_days)
    return ServiceNotice.objects.filter(
        _ending_now(now), _in_scope("character__slug", character_slug),
        Q(kind=NoticeKind.SUSPENSION) | Q(effective_at__gt=window)).exists()


def access_archived_conversation(user: User, character_slug: str) -> Conversation:
    """The user's current conversation with a character whose chat has ended by notice, while
    its archive is open. One error (Conversation.DoesNotExist) for missing, not yours and closed."""
    conversation = (Conversation.objects.select_related("character")
                    .filter(user=user, character__slug=character_slug, archived_at=None).first())
    if conversation is None or not archive_open(character_slug=character_slug):
        raise Conversation.DoesNotExist
    return conversation


def affected_users(notice: ServiceNotice) -> QuerySet[User]:
    users = User.objects.filter(is_active=True)
    if notice.character_id is not None:
        users = users.filter(pk__in=Conversation.objects.filter(character_id=notice.character_id).values("user"))
    return users


def affected_conversations(notice: ServiceNotice) -> QuerySet[Conversation]:
    conversations = Conversation.objects.filter(archived_at=None)
    if notice.character_id is not None:
        conversations = conversations.filter(character_id=notice.character_id)
    return conversations


def notices_for(user, *, now: dt.datetime | None = None) -> list[ServiceNotice]:
    """What this visitor should be shown now, soonest first: notices pending or in effect about
    the whole service (to everyone) or about a character the user has talked with."""
    now = now or timezone.now()
    window = now - dt.timedelta(days=notice_periods().export_days)
    queryset = ServiceNotice.objects.filter(cancelled_at=None).filter(
        Q(effective_at__gt=now) | Q(kind=NoticeKind.SUSPENSION, resumes_at__gt=now)
        | Q(kind=NoticeKind.DISCONTINUATION, effective_at__gt=window))
    if user.is_authenticated:
        talked_with = Conversation.objects.filter(user=user).values("character")
        queryset = queryset.filter(Q(character=None) | Q(character__in=talked_with))
    else:
        queryset = queryset.filter(character=None)
    return list(queryset.select_related("character").order_by("effective_at", "id"))


def open_incidents() -> list[Incident]:
    return list(Incident.objects.filter(resolved_at=None))


def recent_incidents(*, days: int = 90, now: dt.datetime | None = None) -> QuerySet[Incident]:
    since = (now or timezone.now()) - dt.timedelta(days=days)
    return Incident.objects.filter(Q(resolved_at=None) | Q(started_at__gte=since)).select_related(
        "opened_by", "resolved_by")


def staff_notices() -> QuerySet[ServiceNotice]:
    """Every notice, latest date first, with `emailed_count`: users mailed so far."""
    return ServiceNotice.objects.select_related("character", "created_by", "cancelled_by").annotate(
        emailed_count=Count("deliveries", filter=Q(deliveries__emailed_at__isnull=False)))


# --- texts ----------------------------------------------------------------------------------------

def _when(moment: dt.datetime) -> str:
    """A date and time in the active language and the service's time zone."""
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


def _subject(notice: ServiceNotice, language: str) -> str:
    return notice.character.name_for(language) if notice.character_id else settings.COMPANION_SERVICE_NAME


def status_text(notice: ServiceNotice, language: str, *, now: dt.datetime | None = None) -> str:
    """One sentence: what happens (or happened) when, and what the user can do about their chats."""
    now = now or timezone.now()
    periods = notice_periods()
    phase = notice_phase(notice, now, periods)
    with translation.override(language):
        values = {"subject": _subject(notice, language), "date": _when(notice.effective_at),
                  "until": _when(export_until(notice, periods)), "days": periods.export_days,
                  "resumes": _when(notice.resumes_at) if notice.resumes_at else ""}
        if notice.kind == NoticeKind.MAJOR_CHANGE:
            return gettext("This change takes effect on %(date)s.") % values
        if notice.kind == NoticeKind.SUSPENSION:
            if phase == "pending":
                return gettext("%(subject)s will be unavailable from %(date)s until %(resumes)s. You can export "
                               "your conversations at any time.") % values
            return gettext("%(subject)s is unavailable until %(resumes)s. You can still read and export your "
                           "conversations.") % values
        if phase == "pending":
            return gettext("%(subject)s will be discontinued on %(date)s. Export your conversations before then; "
                           "afterwards you can still read and export them for %(days)d days.") % values
        return gettext("%(subject)s was discontinued on %(date)s. You can read and export your conversations "
                       "until %(until)s.") % values


def _site_link(path: str) -> str:
    return settings.COMPANION_SITE_URL.rstrip("/") + path


def conversation_text(notice: ServiceNotice, conversation: Conversation, language: str) -> str:
    """The `system` message in an affected conversation, with the export reminder (CN-SVC-01)."""
    with translation.override(language):
        link = _site_link(reverse("export_html", args=[conversation.character.slug]))
        return "\n".join([
            gettext("Service notice: %(title)s") % {"title": notice.title_for(language)},
            notice.body_for(language),
            status_text(notice, language),
            gettext("Export this conversation: %(link)s") % {"link": link},
        ])


def notice_frame(notice: ServiceNotice, language: str) -> dict:
    """The `notice` extension frame (kind `service_ended`) sent before `closed` `service_ended`."""
    with translation.override(language):
        link = {"url": reverse("notice_archive", args=[notice.character.slug]) if notice.character_id
                else reverse("my_notices"),
                "text": gettext("Read and export your conversations")}
        return {"type": "notice", "kind": "service_ended", "action": notice.kind, "notice": str(notice.public_id),
                "text": " ".join([notice.title_for(language) + ":", status_text(notice, language)]),
                "effective_at": notice.effective_at.isoformat(),
                "resumes_at": notice.resumes_at.isoformat() if notice.resumes_at else None,
                "link": link}


def banner(notice: ServiceNotice, language: str, *, now: dt.datetime) -> dict:
    return {"id": str(notice.public_id), "kind": notice.kind,
            "phase": notice_phase(notice, now, notice_periods()),
            "title": notice.title_for(language), "text": status_text(notice, language, now=now)}


def banners_for(user, language: str) -> list[dict]:
    """Every page: the service notices this visitor should see now (CN-SVC-01)."""
    now = timezone.now()
    return [banner(notice, language, now=now) for notice in notices_for(user, now=now)]


# --- scheduling -----------------------------------------------------------------------------------

def _clean(value: str, *, field: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise NoticeRefused("missing", gettext("Fill this in, in both languages."), field=field)
    if len(value) > limit:
        raise NoticeRefused("too_long", gettext("Please keep it under %(n)d characters.") % {"n": limit}, field=field)
    return value


def _announce_on_commit(group: str, event: dict) -> None:
    transaction.on_commit(lambda: async_to_sync(get_channel_layer().group_send)(group, event))


@transaction.atomic(durable=True)
def schedule_notice(*, actor: User, kind: str, effective_at: dt.datetime, title_zh: str, title_en: str,
                    body_zh: str, body_en: str, character_slug: str = "",
                    resumes_at: dt.datetime | None = None) -> ServiceNotice:
    """Schedule a notice of `kind` about the character `character_slug` (empty: the whole
    service). Compliance only. Refuses (NoticeRefused, nothing saved) a date inside the advance
    period, a suspension without a later `resumes_at`, and a second discontinuation of the same
    character or service. After commit the notice is posted in the affected conversations and
    mailed to the affected users (companion.tasks.deliver_service_notice)."""
    if not may_schedule_notices(actor):
        raise NoticeRefused("forbidden", gettext("Only compliance officers can schedule service notices."))
    if kind not in NoticeKind.values:
        raise NoticeRefused("bad_kind", gettext("Choose what the notice announces."), field="kind")
    titles = {"title_zh": title_zh, "title_en": title_en}
    bodies = {"body_zh": body_zh, "body_en": body_en}
    cleaned = {name: _clean(value, field=name, limit=MAX_TITLE_CHARS) for name, value in titles.items()}
    cleaned |= {name: _clean(value, field=name, limit=MAX_TEXT_CHARS) for name, value in bodies.items()}
    character = None
    if character_slug:
        # Locked: two officers retiring one character at once get one notice, not two.
        character = Character.objects.select_for_update().filter(slug=character_slug, is_active=True).first()
        if character is None:
            raise NoticeRefused("bad_character", gettext("Choose a character."), field="character")
    now = timezone.now()
    if effective_at is None or timezone.is_naive(effective_at):
        raise NoticeRefused("bad_date", gettext("Enter the date and time it takes effect."), field="effective_at")
    periods = notice_periods()
    earliest = earliest_effective_at(kind=kind, now=now, periods=periods)
    if effective_at < earliest:
        raise NoticeRefused("too_soon", gettext(
            "Users must be told at least %(days)d days ahead: choose %(earliest)s or later.")
            % {"days": advance_days(kind, periods), "earliest": _when(earliest)}, field="effective_at")
    if kind == NoticeKind.SUSPENSION:
        if resumes_at is None or resumes_at <= effective_at:
            raise NoticeRefused("bad_resume", gettext("A suspension needs the date the service resumes, after it "
                                                      "starts."), field="resumes_at")
    elif resumes_at is not None:
        raise NoticeRefused("resume_not_allowed", gettext("Only a suspension has a date the service resumes."),
                            field="resumes_at")
    if kind == NoticeKind.DISCONTINUATION and ServiceNotice.objects.filter(
            kind=kind, character=character, cancelled_at=None).exists():
        raise NoticeRefused("already_scheduled", gettext(
            "A discontinuation of this is already scheduled. Cancel it first to change the date."), field="kind")
    notice = ServiceNotice.objects.create(kind=kind, character=character, effective_at=effective_at,
                                          resumes_at=resumes_at, created_by=actor, created_at=now, **cleaned)
    audit.record("notice.scheduled", actor=actor, subject_type="service_notice", subject_id=notice.public_id,
                 data={"kind": kind, "character": character.slug if character else None,
                       "effective_at": effective_at.isoformat(),
                       "resumes_at": resumes_at.isoformat() if resumes_at else None,
                       "days_ahead": (effective_at - now).days})
    from companion.tasks import deliver_service_notice  # tasks import this module

    deliver_service_notice.delay_on_commit(notice.pk)
    return notice


@transaction.atomic(durable=True)
def cancel_notice(*, actor: User, notice_id: str) -> ServiceNotice:
    """Withdraw a notice before it takes effect. Compliance only. Cancelling twice changes nothing."""
    if not may_schedule_notices(actor):
        raise NoticeRefused("forbidden", gettext("Only compliance officers can cancel service notices."))
    try:
        notice = ServiceNotice.objects.select_for_update().get(public_id=uuid.UUID(str(notice_id)))
    except (ValueError, ServiceNotice.DoesNotExist):
        raise NoticeRefused("not_found", gettext("No such notice.")) from None
    if notice.cancelled_at is not None:
        return notice
    if notice.effective_at <= timezone.now():
        raise NoticeRefused("in_effect", gettext("This notice has already taken effect."))
    notice.cancelled_at, notice.cancelled_by = timezone.now(), actor
    notice.save(update_fields=["cancelled_at", "cancelled_by"])
    audit.record("notice.cancelled", actor=actor, subject_type="service_notice", subject_id=notice.public_id,
                 data={"kind": notice.kind, "character": notice.character.slug if notice.character_id else None})
    return notice


# --- delivery -------------------------------------------------------------------------------------

@transaction.atomic(durable=True)
def post_notice(*, notice_id: int) -> int:
    """Store the `system` notice in every affected current conversation, once per notice, and show
    it to the sockets open on them after commit. Returns the number of messages stored."""
    notice = ServiceNotice.objects.select_for_update(of=("self",)).select_related("character").get(pk=notice_id)
    if notice.cancelled_at is not None or notice.posted_at is not None:
        return 0
    conversations = affected_conversations(notice).select_related("user", "character")
    messages = Message.objects.bulk_create(
        Message(conversation=conversation, author=Author.SYSTEM,
                text=conversation_text(notice, conversation, conversation.user.language))
        for conversation in conversations)
    notice.posted_at = timezone.now()
    notice.save(update_fields=["posted_at"])
    for message in messages:
        _announce_on_commit(conversation_group(message.conversation_id),
                            {"type": "chat.messages", "records": records([message]), "origin": ""})
    return len(messages)


@transaction.atomic
def _claim(notice: ServiceNotice, user: User, now: dt.datetime) -> bool:
    """Whether this run sends the user's email: the first claim, or a stale one never sent."""
    delivery, created = ServiceNoticeDelivery.objects.get_or_create(notice=notice, user=user,
                                                                   defaults={"claimed_at": now})
    if created:
        return True
    return ServiceNoticeDelivery.objects.filter(pk=delivery.pk, emailed_at=None,
                                                claimed_at__lt=now - CLAIM_TIMEOUT).update(claimed_at=now) == 1


def _mail(notice: ServiceNotice, user: User) -> None:
    language = user.language if user.language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    with translation.override(language):
        subject = gettext("[%(service)s] %(title)s") % {"service": settings.COMPANION_SERVICE_NAME,
                                                        "title": notice.title_for(language)}
        body = "\n\n".join([
            notice.body_for(language),
            status_text(notice, language),
            gettext("Read the notice and export your conversations here: %(link)s")
            % {"link": _site_link(reverse("my_notices"))},
        ])
    send_mail(subject, body, None, [user.email])


def mail_notice(*, notice_id: int) -> int:
    """Mail each affected user with an address once, in their language, while the notice is
    pending. Idempotent: a rerun mails only users never mailed (or whose send never finished).
    A failed send is logged and retried by a later run. Returns the number of emails sent."""
    notice = ServiceNotice.objects.select_related("character").get(pk=notice_id)
    now = timezone.now()
    if notice.cancelled_at is not None or notice.emailed_at is not None or notice.effective_at <= now:
        return 0
    already = ServiceNoticeDelivery.objects.filter(notice=notice, emailed_at__isnull=False).values("user")
    sent = failed = 0
    for user in affected_users(notice).exclude(email="").exclude(pk__in=already).order_by("pk").iterator():
        if not _claim(notice, user, now):
            continue
        try:
            _mail(notice, user)
        except OSError:  # SMTP and network errors; the claim goes stale and a later run retries
            logger.exception("service notice %s: mail to user %s failed", notice.public_id, user.pk)
            failed += 1
            continue
        ServiceNoticeDelivery.objects.filter(notice=notice, user=user).update(emailed_at=timezone.now())
        sent += 1
    if not failed and not ServiceNoticeDelivery.objects.filter(notice=notice, emailed_at=None).exists():
        ServiceNotice.objects.filter(pk=notice.pk, emailed_at=None).update(emailed_at=timezone.now())
    return sent


@transaction.atomic(durable=True)
def take_effect(*, notice_id: int) -> bool:
    """On the date of a suspension or discontinuation: record it, retire a discontinued character
    (or every character, for the whole service), and after commit send every socket open on an
    affected conversation the notice and `closed` `service_ended`. Once per notice."""
    notice = ServiceNotice.objects.select_for_update(of=("self",)).select_related("character").get(pk=notice_id)
    now = timezone.now()
    if (notice.cancelled_at is not None or notice.took_effect_at is not None
            or notice.kind not in ENDING_NOTICE_KINDS or notice.effective_at > now):
        return False
    notice.took_effect_at = now
    notice.save(update_fields=["took_effect_at"])
    retired = []
    if notice.kind == NoticeKind.DISCONTINUATION:
        characters = Character.objects.filter(is_active=True)
        if notice.character_id is not None:
            characters = characters.filter(pk=notice.character_id)
        retired = sorted(characters.values_list("slug", flat=True))
        characters.update(is_active=False)
    audit.record("notice.took_effect", actor=None, subject_type="service_notice", subject_id=notice.public_id,
                 data={"kind": notice.kind, "character": notice.character.slug if notice.character_id else None,
                       "retired": retired})
    event = {"type": "chat.service_ended",
             "notices": {code: notice_frame(notice, code) for code, _name in settings.LANGUAGES}}
    for conversation_id in affected_conversations(notice).values_list("pk", flat=True):
        _announce_on_commit(conversation_group(conversation_id), event)
    return True


def carry_out_notices() -> dict:
    """Beat job: finish delivering pending notices (a lost task, a failed send) and end chat for
    the notices whose date has come. Idempotent."""
    now = timezone.now()
    undelivered = ServiceNotice.objects.filter(cancelled_at=None, effective_at__gt=now).filter(
        Q(posted_at=None) | Q(emailed_at=None)).values_list("pk", flat=True)
    mailed = 0
    for notice_id in list(undelivered):
        post_notice(notice_id=notice_id)
        mailed += mail_notice(notice_id=notice_id)
    due = ServiceNotice.objects.filter(kind__in=ENDING_NOTICE_KINDS, cancelled_at=None, took_effect_at=None,
                                       effective_at__lte=now).values_list("pk", flat=True)
    ended = sum(take_effect(notice_id=notice_id) for notice_id in list(due))
    return {"mailed": mailed, "ended": ended}


# --- outages (CN-SVC-02) --------------------------------------------------------------------------

@transaction.atomic(durable=True)
def open_incident(*, actor: User, title_zh: str, title_en: str, statement_zh: str, statement_en: str,
                  started_at: dt.datetime) -> Incident:
    """Publish an outage statement: the banner and the /status/ entry appear at once. Compliance only."""
    if not may_schedule_notices(actor):
        raise NoticeRefused("forbidden", gettext("Only compliance officers can publish outage statements."))
    cleaned = {"title_zh": _clean(title_zh, field="title_zh", limit=MAX_TITLE_CHARS),
               "title_en": _clean(title_en, field="title_en", limit=MAX_TITLE_CHARS),
               "statement_zh": _clean(statement_zh, field="statement_zh", limit=MAX_TEXT_CHARS),
               "statement_en": _clean(statement_en, field="statement_en", limit=MAX_TEXT_CHARS)}
    now = timezone.now()
    if started_at is None or timezone.is_naive(started_at) or started_at > now:
        raise NoticeRefused("bad_start", gettext("Enter when the outage began (not in the future)."),
                            field="started_at")
    incident = Incident.objects.create(started_at=started_at, published_at=now, opened_by=actor, **cleaned)
    audit.record("incident.opened", actor=actor, subject_type="incident", subject_id=incident.public_id,
                 data={"started_at": started_at.isoformat(), "minutes_to_statement": statement_minutes(incident)})
    return incident


@transaction.atomic(durable=True)
def resolve_incident(*, actor: User, incident_id: str, note_zh: str, note_en: str) -> Incident:
    """Close an outage with the incident note in both languages; the banner goes away. Compliance only."""
    if not may_schedule_notices(actor):
        raise NoticeRefused("forbidden", gettext("Only compliance officers can resolve incidents."))
    notes = {"note_zh": _clean(note_zh, field="note_zh", limit=MAX_TEXT_CHARS),
             "note_en": _clean(note_en, field="note_en", limit=MAX_TEXT_CHARS)}
    try:
        incident = Incident.objects.select_for_update().get(public_id=uuid.UUID(str(incident_id)))
    except (ValueError, Incident.DoesNotExist):
        raise NoticeRefused("not_found", gettext("No such incident.")) from None
    if incident.resolved_at is not None:
        raise NoticeRefused("resolved", gettext("This incident is already resolved."))
    incident.resolved_at, incident.resolved_by = timezone.now(), actor
    incident.note_zh, incident.note_en = notes["note_zh"], notes["note_en"]
    incident.save(update_fields=["resolved_at", "resolved_by", "note_zh", "note_en"])
    audit.record("incident.resolved", actor=actor, subject_type="incident", subject_id=incident.public_id,
                 data={"minutes": int((incident.resolved_at - incident.started_at).total_seconds() // 60)})
    return incident
