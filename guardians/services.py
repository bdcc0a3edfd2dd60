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
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts import audit
from accounts.models import User
from guardians import tasks
from guardians.models import Channel, Contact, ContactKind, Notification, Reason, Status
from accounts.policies import normalise_phone
from guardians.selectors import access_contact_by_id, guardian_account, safety_contacts
from guardians.sms import SMS, sms_backend
from guardians.texts import safety_notice
from moderation.pipeline import LEVELS

NOTIFY_LEVELS = tuple(level for level in LEVELS if level != "none")
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


def _check_room(user: User, kind: str, *, excluding: int | None = None) -> None:
    others = Contact.objects.filter(user=user, kind=kind, active=True).exclude(pk=excluding)
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


@transaction.atomic(durable=True)
def add_contact(*, user: User, kind: str, name: str, relationship: str = "", email: str = "", phone: str = "",
                language: str) -> Contact:
    """Add an active contact. Raises ContactRefused (rules) or ValidationError (fields)."""
    _lock_owner(user)
    _check_room(user, kind)
    contact = Contact(user=user, kind=kind)
    _fill(contact, name=name, relationship=relationship, email=email, phone=phone, language=language)
    contact.save()
    _audit_contact("contact.added", user, contact)
    return contact


def _audit_contact(action: str, user: User, contact: Contact) -> None:
    """BX-11: who changed which contact of whose; the contact's name, email and phone stay out of the log."""
    audit.record(action, actor=user, subject_type="contact", subject_id=contact.pk,
                 data={"user": contact.user_id, "kind": contact.kind})


@transaction.atomic(durable=True)
def update_contact(*, user: User, contact_id: int, name: str, relationship: str = "", email: str = "",
                   phone: str = "", language: str) -> Contact:
    """Change a contact's details (not its kind). Raises ContactNotFound or ValidationError."""
    _lock_owner(user)
    contact = access_contact_by_id(user, contact_id, lock=True)
    _fill(contact, name=name, relationship=relationship, email=email, phone=phone, language=language)
    contact.save()
    _audit_contact("contact.updated", user, contact)
    return contact


@transaction.atomic(durable=True)
def deactivate_contact(*, user: User, contact_id: int) -> Contact:
    """Stop telling this contact; the row stays for the delivery log. Raises ContactNotFound."""
    contact = access_contact_by_id(user, contact_id, lock=True)
    if contact.active:
        contact.active = False
        contact.save(update_fields=["active", "updated_at"])
        _audit_contact("contact.deactivated", user, contact)
    return contact


# --- Safety notifications -------------------------------------------------------------------

def display_name(user: User) -> str:
    return user.first_name.strip() or user.username


def notify_safety_concern(*, user: User, event_key: str, level: str,
                          reason: str = Reason.DETECTED) -> list[Notification]:
    """Queue the safety notice for everyone `safety_contacts(user)` names (CN-CRI-07, CN-MIN-07, CN-CRI-08).

    Runs inside the caller's transaction: one pending row per contact and channel (email if the contact
    has an address, SMS if a phone) plus a portal alert for the guardian account matching a guardian
    contact's email. Idempotent per `event_key`: a second call returns the existing rows and queues
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
    if notification.channel == Channel.EMAIL:
        EmailMessage(subject=notification.subject, body=notification.body, from_email=settings.DEFAULT_FROM_EMAIL,
                     to=[notification.address], headers={"Message-ID": notification.message_id}).send()
    elif notification.channel == Channel.SMS:
        sms_backend().send(SMS(to=notification.address, text=notification.body, id=f"notification-{notification.pk}"))
    # A portal alert is shown from its row: committing it was the delivery.


@transaction.atomic(durable=True)
def mark_notification_sent(*, notification_id: int) -> None:
    """`last_error` stays: the log shows what an attempt before this one ran into."""
    Notification.objects.filter(pk=notification_id, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now())


@transaction.atomic(durable=True)
def record_delivery_failure(*, notification_id: int, error: str, final: bool) -> None:
    """Release the claim so the retry can take it, or give up for good (`final`)."""
    Notification.objects.filter(pk=notification_id, status=Status.SENDING).update(
        status=Status.FAILED if final else Status.PENDING, last_error=error[:2000])


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
