"""Writes for safety contacts and safety notifications, each in its own transaction (STYLE.md §3).

Delivery (CN-CRI-07) is at-least-once with deduplication at every edge we can reach:

- one `Notification` row per (event, contact, channel): asking twice for the same event queues nothing new;
- the task claims its row under a lock and commits `sending` before any I/O, so a second copy of the
  task (Redis redelivery, a retry racing a slow attempt) backs off while the claim's lease runs;
- SMS carries the notification id as the gateway's `Idempotency-Key`;
- email carries a deterministic Message-ID (see `Notification.message_id`).

The trade-off for email: SMTP has no idempotency, so nothing can tell a worker that died *after* the
server accepted the message from one that died *before* (during connect, EHLO, TLS or login, which is
where the time goes). We resend a row left in `sending` once its lease has expired, with the same
Message-ID. A worker lost before hand-off therefore yields exactly one email; one lost in the
milliseconds between the server's "250 OK" and our commit of `sent` may yield a second copy, which mail
systems that deduplicate on Message-ID collapse. For a safety notice a rare duplicate is better than
silence; SMS and the portal alert go out independently of the email.
"""
import datetime as dt
from functools import partial

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from accounts import audit
from accounts.models import Role, User
from accounts.policies import normalise_phone
from guardians import catalogue, invitations, tasks
from guardians.policies import STATUTORY_REST, GuardianLimits, limits_refusal
from guardians.models import CharacterBlock, Channel, Contact, ContactKind, Notification, Reason, Status
from guardians.signals import character_blocked, chat_gate_closed, limits_changed
from guardians.selectors import (ContactNotFound, access_contact_by_id, access_ward_by_id, default_daily_minutes,
                                 default_rest_hours, guardian_account, safety_contacts)
from guardians.sms import SMS, sms_backend
from guardians.texts import contact_message, safety_notice
from moderation.pipeline import LEVELS

NOTIFY_LEVELS = tuple(level for level in LEVELS if level != "none")
SECRET_REASONS = (Reason.INVITATION, Reason.CODE)
MAX_EVENT_KEY = 100


class ContactRefused(Exception):
    """A contact change that would break a rule: a second guardian, too many emergency contacts."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class DeliveryDeferred(Exception):
    """Another attempt holds the notification's lease; try again after `seconds`."""

    def __init__(self, seconds: float):
        super().__init__(f"claimed by another attempt for {seconds:.0f} s more")
        self.seconds = seconds


# --- Contacts -----------------------------------------------------------------------------

def _lock_owner(user: User) -> None:
    """Serialise contact changes per user so the one-guardian and cap rules hold under races."""
    User.objects.select_for_update().filter(pk=user.pk).first()


def _check_room(user: User, kind: str) -> None:
    others = Contact.objects.filter(user=user, kind=kind, active=True)
    if kind == ContactKind.GUARDIAN and others.exists():
        raise ContactRefused("second_guardian", gettext(
            "You already have a guardian contact. Deactivate it before adding another."))
    cap = settings.GUARDIANS_MAX_EMERGENCY_CONTACTS
    if kind == ContactKind.EMERGENCY and others.count() >= cap:
        raise ContactRefused("too_many_emergency", gettext(
            "You can have at most %(count)d emergency contacts. Deactivate one before adding another.")
            % {"count": cap})


def _fill(contact: Contact, *, name: str, relationship: str, email: str, phone: str, language: str) -> None:
    contact.name = name.strip()
    contact.relationship = relationship.strip()
    contact.email = email.strip()
    contact.phone = (normalise_phone(phone) or phone.strip()) if phone.strip() else ""
    contact.language = language
    contact.full_clean()  # raises ValidationError for callers that skipped the form
    # CN-MIN-03: a guardian confirms with a code texted to their mobile and is invited to the portal by
    # email, so both are needed. (The form asks everyone for a mobile, CN-REG-03; a service mailbox such
    # as the drill contact may have email only, and gets the code by email.)
    if contact.kind == ContactKind.GUARDIAN and not contact.phone:
        raise ValidationError({"phone": gettext("Give the contact's mobile number: the confirmation code is "
                                                "texted there.")})
    if contact.kind == ContactKind.GUARDIAN and not contact.email:
        raise ValidationError({"email": gettext("Give your guardian's email address: the invitation to the "
                                                "guardian portal is sent there.")})
    if contact.phone and contact.phone == contact.user.phone:
        raise ValidationError({"phone": gettext("This is your own number. Name someone else.")})


@transaction.atomic(durable=True)
def add_contact(*, user: User, kind: str, name: str, relationship: str = "", email: str = "", phone: str = "",
                language: str, service_mailbox: bool = False) -> Contact:
    """Add an active contact and invite them (BX-13). `service_mailbox`: a mailbox the service runs
    itself (the crisis-drill contact), confirmed by configuration and never invited. Raises
    ContactRefused (rules) or ValidationError (fields)."""
    _lock_owner(user)
    _check_room(user, kind)
    contact = Contact(user=user, kind=kind)
    _fill(contact, name=name, relationship=relationship, email=email, phone=phone, language=language)
    if service_mailbox:
        contact.verified_at = timezone.now()
    contact.save()
    _audit_contact("contact.added", user, contact, **({"service_mailbox": True} if service_mailbox else {}))
    if not service_mailbox:
        _invite(contact)
    return contact


def _audit_contact(action: str, user: User, contact: Contact, **data) -> None:
    """BX-11: who changed which contact of whose; the contact's name, email and phone stay out of the log."""
    audit.record(action, actor=user, subject_type="contact", subject_id=contact.pk,
                 data={"user": contact.user_id, "kind": contact.kind, **data})


@transaction.atomic(durable=True)
def update_contact(*, user: User, contact_id: int, name: str, relationship: str = "", email: str = "",
                   phone: str = "", language: str) -> Contact:
    """Change a contact's details (not its kind). A new email or number must be confirmed again and
    the old one is told it is no longer a contact (CN-REG-03); a guardian's link and consent end with
    it. Raises ContactNotFound or ValidationError."""
    _lock_owner(user)
    contact = access_contact_by_id(user, contact_id, lock=True)
    before = {"email": contact.email, "phone": contact.phone, "language": contact.language}
    _fill(contact, name=name, relationship=relationship, email=email, phone=phone, language=language)
    moved = (contact.email, contact.phone) != (before["email"], before["phone"])
    if moved and contact.active:
        _tell_replaced(contact, email=before["email"] if before["email"] != contact.email else "",
                       phone=before["phone"] if before["phone"] != contact.phone else "",
                       language=before["language"])
        _reset_confirmation(contact)
    contact.save()
    _audit_contact("contact.updated", user, contact, reverify=moved)
    if moved and contact.active:
        _invite(contact)
    return contact


def _reset_confirmation(contact: Contact) -> None:
    contact.verified_at = contact.bounced_at = contact.declined_at = None
    if contact.account_id is not None or contact.consent_at is not None:
        contact.account = None
        contact.consent_at, contact.consent_version, contact.consent_revoked_at = None, "", None
        transaction.on_commit(partial(close_chats, contact.user_id))


def _end_contact(contact: Contact, *, declined_at=None) -> None:
    """The contact stops being one: link, consent and confirmation end, the link and code die; the row
    stays for the delivery log."""
    _reset_confirmation(contact)
    contact.declined_at = declined_at
    contact.active = False
    contact.link_nonce = contact.code_nonce = ""
    contact.save()


@transaction.atomic(durable=True)
def deactivate_contact(*, user: User, contact_id: int) -> Contact:
    """Stop telling this contact, and tell them so; the row stays for the delivery log. A guardian's
    link and consent end with it. Raises ContactNotFound."""
    contact = access_contact_by_id(user, contact_id, lock=True)
    if contact.active:
        if contact.invited_at is not None and contact.declined_at is None:
            _tell_replaced(contact, email=contact.email, phone=contact.phone, language=contact.language)
        _end_contact(contact)
        _audit_contact("contact.deactivated", user, contact)
    return contact


def _queue(contact: Contact, reason: str, rows: list[tuple[str, str]], *, language: str, text, tag: str) -> None:
    """One delivery-log row per channel, handed to `deliver_notification` after commit."""
    for channel, address in rows:
        if not address:
            continue
        notification = Notification.objects.create(
            event_key=f"contact:{contact.pk}:{reason}:{tag}", user_id=contact.user_id, contact=contact,
            channel=channel, level="", reason=reason, address=address, language=language,
            subject=text.subject, body=text.body if channel == Channel.EMAIL else text.short)
        transaction.on_commit(partial(tasks.deliver_notification.delay, notification.pk))


def _contact_text(contact: Contact, reason: str, *, reveal: bool, language: str | None = None):
    """The message for `contact`; the link and code only when `reveal` (at send time), so the stored
    copy in the delivery log holds neither."""
    hidden = "[" + gettext("shown only in the message sent") + "]"
    return contact_message(
        reason=reason, kind=contact.kind, display_name=display_name(contact.user), contact_name=contact.name,
        language=language or contact.language, band=contact.user.age_band,
        link=invitations.link_url(contact) if reveal else hidden,
        code=invitations.code_for(contact) if reveal else hidden)


def _invite(contact: Contact) -> None:
    """BX-13, CN-REG-03: tell the contact they were named, with a link to confirm or decline and a
    code; a new invitation retires the links and codes of earlier ones."""
    now = timezone.now()
    contact.link_nonce, contact.code_nonce = invitations.new_nonce(), invitations.new_nonce()
    contact.invited_at = contact.code_sent_at = now
    contact.code_attempts = 0
    contact.save(update_fields=["link_nonce", "code_nonce", "invited_at", "code_sent_at", "code_attempts"])
    text = _contact_text(contact, Reason.INVITATION, reveal=False)
    with translation.override(contact.language):
        _queue(contact, Reason.INVITATION, [(Channel.EMAIL, contact.email), (Channel.SMS, contact.phone)],
               language=contact.language, text=text, tag=contact.link_nonce[:12])


def _tell_replaced(contact: Contact, *, email: str, phone: str, language: str) -> None:
    text = contact_message(reason=Reason.REPLACED, kind=contact.kind, display_name=display_name(contact.user),
                           contact_name=contact.name, language=language)
    _queue(contact, Reason.REPLACED, [(Channel.EMAIL, email), (Channel.SMS, phone)], language=language,
           text=text, tag=invitations.new_nonce()[:12])


def _check_resend(contact: Contact, now) -> None:
    wait = invitations.resend_wait(contact, now)
    if wait:
        raise ContactRefused("resend_wait", gettext(
            "A message went to this contact a moment ago. You can send another in %(seconds)d s.")
            % {"seconds": wait})


@transaction.atomic(durable=True)
def reinvite_contact(*, user: User, contact_id: int) -> Contact:
    """Send the invitation again, with a new link and code. Raises ContactNotFound or ContactRefused."""
    contact = _active_contact(user, contact_id)
    if contact.verified_at is not None and contact.bounced_at is None:
        raise ContactRefused("already_confirmed", gettext("This contact has already confirmed."))
    _check_resend(contact, timezone.now())
    _invite(contact)
    _audit_contact("contact.invited", user, contact)
    return contact


def _active_contact(user: User, contact_id: int) -> Contact:
    """The user's active contact, locked; a deactivated or declined one is ContactNotFound."""
    contact = access_contact_by_id(user, contact_id, lock=True)
    if not contact.active:
        raise ContactNotFound(contact_id)
    return contact


def _spend_code_attempt(contact: Contact, code: str, now) -> None:
    """Check a typed code against the contact's live one, counting the try. Raises ContactRefused;
    the counted try is committed even then (the caller's transaction ends normally)."""
    if not invitations.code_is_live(contact, now):
        raise ContactRefused("code_expired", gettext(
            "This code is no longer valid (expired, used or too many tries). Send a new one."))
    contact.code_attempts += 1
    contact.save(update_fields=["code_attempts"])
    if not invitations.code_matches(contact, code):
        left = settings.GUARDIANS_CONTACT_CODE_MAX_ATTEMPTS - contact.code_attempts
        raise ContactRefused("code_wrong", gettext("That code is not right. %(left)d tries left.") % {"left": left})


def verify_contact_code(*, user: User, contact_id: int, code: str) -> Contact:
    """CN-REG-03: the user types the code texted to their emergency contact. A guardian confirms in
    the portal instead (CN-MIN-03). Raises ContactNotFound or ContactRefused."""
    refusal = None
    with transaction.atomic(durable=True):
        contact = _active_contact(user, contact_id)
        if contact.kind == ContactKind.GUARDIAN:
            raise ContactRefused("guardian_in_portal", gettext(
                "Your guardian confirms in the guardian portal, with the link we sent them."))
        now = timezone.now()
        try:
            _spend_code_attempt(contact, code, now)
        except ContactRefused as error:
            refusal = error  # the try stays counted
        else:
            _confirm(contact, now, by="code")
    if refusal is not None:
        raise refusal
    return contact


def _confirm(contact: Contact, now, *, by: str) -> None:
    contact.verified_at = now
    contact.bounced_at = contact.declined_at = None
    contact.code_nonce = ""  # used: the code dies, the link stays for declining later
    contact.save(update_fields=["verified_at", "bounced_at", "declined_at", "code_nonce"])
    audit.record("contact.confirmed", actor=contact.user if by == "code" else None, subject_type="contact",
                 subject_id=contact.pk, data={"user": contact.user_id, "kind": contact.kind, "by": by})


@transaction.atomic(durable=True)
def reconfirm_contact(*, user: User, contact_id: int) -> Contact:
    """CN-ELD-01: the person confirms, as every year, that a confirmed contact is still right.
    Raises ContactNotFound or ContactRefused (a contact not confirmed yet needs its code instead)."""
    contact = _active_contact(user, contact_id)
    if not contact.confirmed:
        raise ContactRefused("not_confirmed", gettext("This contact has not confirmed yet: use the code instead."))
    contact.verified_at = timezone.now()
    contact.save(update_fields=["verified_at"])
    _audit_contact("contact.reconfirmed", user, contact)
    return contact


def contact_by_link(contact_id: int, token: str, *, lock: bool = False) -> Contact:
    """The contact a link in an invitation names, if the link is current. Raises ContactNotFound."""
    rows = Contact.objects.select_for_update() if lock else Contact.objects.select_related("user", "account")
    contact = rows.filter(pk=contact_id).first()
    if contact is None or not invitations.link_is_valid(contact, token, timezone.now()):
        raise ContactNotFound(contact_id)
    return contact


@transaction.atomic(durable=True)
def respond_to_invitation(*, contact_id: int, token: str, accept: bool) -> Contact:
    """BX-13: the contact, through the link, confirms (emergency contacts) or declines (either kind).
    Declining ends the contact, so the user must name someone else. Raises ContactNotFound or
    ContactRefused."""
    contact = contact_by_link(contact_id, token, lock=True)
    now = timezone.now()
    if accept:
        if contact.kind == ContactKind.GUARDIAN:
            raise ContactRefused("guardian_in_portal", gettext(
                "A guardian confirms by signing in, entering the texted code and answering the consent request."))
        _confirm(contact, now, by="link")
        return contact
    _end_contact(contact, declined_at=now)
    audit.record("contact.declined", subject_type="contact", subject_id=contact.pk,
                 data={"user": contact.user_id, "kind": contact.kind})
    return contact


def link_guardian(*, contact_id: int, token: str, account: User, code: str) -> Contact:
    """CN-MIN-03, CN-MIN-04: a signed-in guardian confirms the link with the code texted to the
    guardian's number and gives consent to the notice of GUARDIANS_CONSENT_NOTICE_VERSION. The account
    gains the guardian role. Raises ContactNotFound or ContactRefused."""
    refusal = None
    with transaction.atomic(durable=True):
        contact = contact_by_link(contact_id, token, lock=True)
        if contact.kind != ContactKind.GUARDIAN:
            raise ContactNotFound(contact_id)
        if account.pk == contact.user_id or account.is_minor:
            raise ContactRefused("not_an_adult_guardian", gettext(
                "A guardian must be an adult with their own account."))
        if contact.account_id not in (None, account.pk):
            raise ContactRefused("other_guardian", gettext("Another account is already linked as this guardian."))
        now = timezone.now()
        try:
            _spend_code_attempt(contact, code, now)
        except ContactRefused as error:
            refusal = error
        else:
            contact.account = account
            _confirm(contact, now, by="guardian")
            _give_consent(contact, account, now)
            contact.save(update_fields=["account", "consent_at", "consent_version", "consent_revoked_at"])
            account.groups.add(Group.objects.get_or_create(name=Role.GUARDIAN)[0])
    if refusal is not None:
        raise refusal
    return contact


def _give_consent(contact: Contact, guardian: User, now) -> None:
    """CN-MIN-03/04: consent to the current notice version, audited; the caller saves the row."""
    contact.consent_at, contact.consent_version = now, settings.GUARDIANS_CONSENT_NOTICE_VERSION
    contact.consent_revoked_at = None
    audit.record("guardian.consent_given", actor=guardian, subject_type="contact", subject_id=contact.pk,
                 data={"user": contact.user_id, "version": contact.consent_version})


@transaction.atomic(durable=True)
def send_new_code(*, contact_id: int, token: str) -> Contact:
    """A new code for the guardian on the link page, texted to the guardian's number (the link stays).
    Raises ContactNotFound or ContactRefused."""
    contact = contact_by_link(contact_id, token, lock=True)
    now = timezone.now()
    _check_resend(contact, now)
    contact.code_nonce, contact.code_sent_at, contact.code_attempts = invitations.new_nonce(), now, 0
    contact.save(update_fields=["code_nonce", "code_sent_at", "code_attempts"])
    text = _contact_text(contact, Reason.CODE, reveal=False)
    _queue(contact, Reason.CODE, [(Channel.SMS, contact.phone)], language=contact.language, text=text,
           tag=contact.code_nonce[:12])
    return contact


@transaction.atomic(durable=True)
def set_guardian_consent(*, guardian: User, contact_id: int, consent: bool) -> Contact:
    """CN-MIN-03, CN-MIN-04: the linked guardian withdraws or gives again their consent; withdrawing
    closes the minor's open chats at once. Raises ContactNotFound."""
    contact = access_ward_by_id(guardian, contact_id, lock=True)
    now = timezone.now()
    if consent and not contact.has_consent:
        _give_consent(contact, guardian, now)
    elif not consent and contact.has_consent:
        contact.consent_revoked_at = now
        audit.record("guardian.consent_withdrawn", actor=guardian, subject_type="contact", subject_id=contact.pk,
                     data={"user": contact.user_id})
        transaction.on_commit(partial(close_chats, contact.user_id))
    contact.save(update_fields=["consent_at", "consent_version", "consent_revoked_at"])
    return contact


def close_chats(user_id: int) -> None:
    """After commit: the user's open chats end at once (companion's receiver closes the sockets)."""
    chat_gate_closed.send(sender=Contact, user_id=user_id)


class UnknownCharacter(Exception):
    """Not a character a minor could open: there is nothing to turn off."""


@transaction.atomic(durable=True)
def block_character(*, guardian: User, contact_id: int, slug: str) -> Contact:
    """CN-MIN-09: the linked guardian turns a character off for their ward. The character disappears
    for the minor and the minor's open chats with it end at once (after commit). Idempotent: blocking
    again changes nothing and audits nothing. Returns the guardian contact, with the minor. Raises
    ContactNotFound or UnknownCharacter."""
    contact = access_ward_by_id(guardian, contact_id, lock=True)
    if slug not in dict(catalogue.characters()):
        raise UnknownCharacter(slug)
    _, created = CharacterBlock.objects.get_or_create(contact=contact, character_slug=slug,
                                                      defaults={"created_by": guardian})
    if created:
        audit.record("guardian.character_blocked", actor=guardian, subject_type="contact", subject_id=contact.pk,
                     data={"user": contact.user_id, "character": slug})
        transaction.on_commit(partial(character_blocked.send, sender=CharacterBlock, user_id=contact.user_id,
                                      slug=slug))
    return contact


@transaction.atomic(durable=True)
def allow_character(*, guardian: User, contact_id: int, slug: str) -> Contact:
    """CN-MIN-09: the linked guardian turns a blocked character on again; the minor sees it at once.
    Idempotent: allowing a character that is not blocked changes nothing and audits nothing. Works for
    any slug, so a block on a character no longer offered can still be lifted. Returns the guardian
    contact, with the minor. Raises ContactNotFound."""
    contact = access_ward_by_id(guardian, contact_id, lock=True)
    removed, _ = CharacterBlock.objects.filter(contact=contact, character_slug=slug).delete()
    if removed:
        audit.record("guardian.character_allowed", actor=guardian, subject_type="contact", subject_id=contact.pk,
                     data={"user": contact.user_id, "character": slug})
    return contact


def limits_refusal_text(code: str) -> str:
    """The guardian's error for a `limits_refusal` code; %(name)s, %(default)s, %(start)s, %(end)s."""
    return {
        "not_minor": gettext("%(name)s is 18 or over: there are no limits to set."),
        "minutes_above_default": gettext("Daily chat time can only be lowered: enter 0 to %(default)s minutes "
                                         "(the default for %(name)s's age)."),
        "rest_too_short": gettext("Rest hours must include the whole of %(start)s–%(end)s: start at %(start)s "
                                  "or earlier and end at %(end)s or later."),
    }[code]


@transaction.atomic(durable=True)
def set_limits(*, guardian: User, contact_id: int, daily_minutes: int | None, rest_start: dt.time | None,
               rest_end: dt.time | None) -> Contact:
    """CN-MIN-10: the linked guardian tightens their ward's daily chat minutes and rest hours (Beijing
    time); None (rest: both None) = back to the default. Nothing is saved unless all of it is allowed
    (guardians.policies.limits_refusal). Audited with the numbers only; after commit `limits_changed`
    lets companion close the ward's open chats if they are now locked. Idempotent: the same values again
    change and audit nothing. Returns the guardian contact, with the minor. Raises ContactNotFound or
    ContactRefused."""
    contact = access_ward_by_id(guardian, contact_id, lock=True)
    if (rest_start is None) != (rest_end is None):
        raise ContactRefused("rest_incomplete", gettext("Enter both rest-hour times, or leave both empty."))
    limits = GuardianLimits(daily_minutes=daily_minutes, rest=(rest_start, rest_end) if rest_start else None)
    default_minutes, default_rest = default_daily_minutes(contact.user), default_rest_hours()
    refusal = limits_refusal(limits=limits, default_minutes=default_minutes, default_rest=default_rest)
    if refusal is not None:
        start, end = default_rest or STATUTORY_REST
        raise ContactRefused(refusal, limits_refusal_text(refusal) % {
            "name": display_name(contact.user), "default": f"{default_minutes or 0:g}",
            "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")})
    if (contact.daily_minutes, contact.rest_start, contact.rest_end) == (daily_minutes, rest_start, rest_end):
        return contact
    contact.daily_minutes, contact.rest_start, contact.rest_end = daily_minutes, rest_start, rest_end
    contact.save(update_fields=["daily_minutes", "rest_start", "rest_end", "updated_at"])
    audit.record("guardian.limits_set", actor=guardian, subject_type="contact", subject_id=contact.pk,
                 data={"user": contact.user_id, "daily_minutes": daily_minutes,
                       "rest_start": rest_start and rest_start.strftime("%H:%M"),
                       "rest_end": rest_end and rest_end.strftime("%H:%M")})
    transaction.on_commit(partial(limits_changed.send, sender=Contact, user_id=contact.user_id))
    return contact


@transaction.atomic(durable=True)
def skip_contact_prompt(*, user: User) -> None:
    """CN-REG-03: an adult chooses not to name an emergency contact for now; asked again later."""
    User.objects.filter(pk=user.pk).update(contact_prompt_skipped_at=timezone.now())
    audit.record("contact.skipped", actor=user, subject_type="user", subject_id=user.pk)


# --- Safety notifications -------------------------------------------------------------------

def display_name(user: User) -> str:
    return user.first_name.strip() or user.username


def notify_safety_concern(*, user: User, event_key: str, level: str,
                          reason: str = Reason.DETECTED) -> list[Notification]:
    """Queue the safety notice for everyone `safety_contacts(user)` names (CN-CRI-07, CN-MIN-07, CN-CRI-08).

    Runs inside the caller's transaction: one pending row per contact and channel (email if the contact
    has an address, SMS if a phone) plus a portal alert for the guardian account linked to a guardian
    contact with the texted code (`guardian_account`). Idempotent per `event_key`: a second call returns the existing rows and queues
    nothing. Each new row is handed to `deliver_notification` after commit. `reason="unclaimed"` is the
    fallback escalation when no operator took the case in time.
    """
    if reason not in Reason.values:
        raise ValueError(f"unknown reason {reason!r}")
    if level not in NOTIFY_LEVELS:
        raise ValueError(f"unknown level {level!r}")
    if not event_key or len(event_key) > MAX_EVENT_KEY:
        raise ValueError("event_key must be 1-100 characters")
    with transaction.atomic():
        existing = list(Notification.objects.filter(event_key=event_key, user=user).order_by("id"))
        if existing:
            return existing
        now = timezone.now()
        notifications = []
        for contact in safety_contacts(user):
            notice = partial(safety_notice, display_name=display_name(user), region=user.region, level=level,
                             reason=reason, moment=now)
            text = notice(contact_name=contact.name, language=contact.language)
            rows = []
            if contact.email:
                rows.append({"channel": Channel.EMAIL, "address": contact.email, "language": contact.language,
                             "subject": text.subject, "body": text.body})
            if contact.phone:
                rows.append({"channel": Channel.SMS, "address": contact.phone, "language": contact.language,
                             "subject": text.subject, "body": text.short})
            account = guardian_account(contact)
            if account is not None:
                portal = notice(contact_name=display_name(account), language=account.language)
                rows.append({"channel": Channel.PORTAL, "recipient": account, "language": account.language,
                             "subject": portal.subject, "body": portal.body})
            for row in rows:
                notification, created = Notification.objects.get_or_create(
                    event_key=event_key, contact=contact, channel=row.pop("channel"),
                    defaults={"user": user, "level": level, "reason": reason, **row})
                notifications.append(notification)
                if created:
                    transaction.on_commit(partial(tasks.deliver_notification.delay, notification.pk))
        return notifications


@transaction.atomic(durable=True)
def claim_notification(*, notification_id: int) -> Notification | None:
    """Start an attempt: lock the row, and unless it is finished, mark it `sending` with the lease
    starting now. Returns None when there is nothing to do (sent, failed or gone); raises
    DeliveryDeferred while another attempt's lease runs. Committed before any I/O."""
    notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
    if notification is None or notification.status in (Status.SENT, Status.FAILED):
        return None
    now = timezone.now()
    if notification.status == Status.SENDING:
        lease_end = notification.claimed_at + dt.timedelta(seconds=settings.GUARDIANS_DELIVERY_LEASE_SECONDS)
        if lease_end > now:
            raise DeliveryDeferred((lease_end - now).total_seconds())
        notification.last_error = (f"attempt {notification.attempts} was lost mid-send (worker stopped); "
                                   f"sending again with the same Message-ID/Idempotency-Key")
    notification.status = Status.SENDING
    notification.attempts += 1
    notification.claimed_at = now
    notification.save(update_fields=["status", "attempts", "claimed_at", "last_error"])
    return notification


def _transmit(notification: Notification) -> None:
    body = notification.body
    if notification.reason in SECRET_REASONS:
        # The stored copy hides the link and the code; the message sent carries the current ones.
        contact = notification.contact
        if contact is None or not contact.active or not contact.link_nonce:
            return  # declined, replaced or removed since: nothing to confirm any more
        text = _contact_text(contact, notification.reason, reveal=True, language=notification.language)
        body = text.body if notification.channel == Channel.EMAIL else text.short
    if notification.channel == Channel.EMAIL:
        EmailMessage(subject=notification.subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL,
                     to=[notification.address], headers={"Message-ID": notification.message_id}).send()
    elif notification.channel == Channel.SMS:
        sms_backend().send(SMS(to=notification.address, text=body, id=f"notification-{notification.pk}"))
    # A portal alert is shown from its row: committing it was the delivery.


@transaction.atomic(durable=True)
def mark_notification_sent(*, notification_id: int) -> None:
    """`last_error` stays: the log shows what an attempt before this one ran into."""
    Notification.objects.filter(pk=notification_id, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now())


@transaction.atomic(durable=True)
def record_delivery_failure(*, notification_id: int, error: str, final: bool) -> None:
    """Release the claim so the retry can take it, or give up for good (`final`)."""
    updated = Notification.objects.filter(pk=notification_id, status=Status.SENDING).update(
        status=Status.FAILED if final else Status.PENDING, last_error=error[:2000])
    if final and updated:
        # CN-REG-03: an address that fails every retry is flagged; the user must fix it (gate).
        contact_id = Notification.objects.filter(pk=notification_id).values_list("contact_id", flat=True).first()
        Contact.objects.filter(pk=contact_id, active=True, bounced_at=None).update(bounced_at=timezone.now())


def send_notification(*, notification_id: int) -> bool:
    """Deliver one notification: claim (committed), send, mark sent (committed). Returns False if
    there was nothing to do. Transport errors (SMTPException, OSError, SMSError) propagate for the
    task to retry; the row then still says `sending` until `record_delivery_failure`."""
    notification = claim_notification(notification_id=notification_id)
    if notification is None:
        return False
    _transmit(notification)
    mark_notification_sent(notification_id=notification_id)
    return True
