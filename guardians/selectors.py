import datetime as dt

from django.conf import settings
from django.db.models import Max, QuerySet
from django.utils import timezone

from accounts.models import User
from guardians.models import CharacterBlock, Channel, Contact, ContactKind, Notification
from accounts.selectors import is_staff_account
from guardians.policies import (ContactGate, GuardianLimits, MinorDailyMinutes, contact_gate, guardian_is_told,
                                minor_daily_limit_minutes, parse_rest_hours)


class ContactNotFound(Exception):
    """No such contact, or not this user's."""


def access_contact_by_id(user: User, contact_id: int, *, lock: bool = False) -> Contact:
    contacts = Contact.objects.select_for_update() if lock else Contact.objects.all()
    try:
        return contacts.get(pk=contact_id, user=user)
    except (Contact.DoesNotExist, ValueError, TypeError):
        raise ContactNotFound(contact_id) from None


def contacts_of(user: User) -> list[Contact]:
    """Every contact the user has set, active ones first."""
    return list(Contact.objects.filter(user=user).order_by("-active", "kind", "created_at", "id"))


def safety_contacts(user: User) -> list[Contact]:
    """Who is told when `user` is at risk (CN-CRI-07): the active guardian contact while the user is a
    minor, and every active emergency contact (minors, elders and adults who set one)."""
    kinds = [ContactKind.EMERGENCY]
    if guardian_is_told(user.age_band):
        kinds.append(ContactKind.GUARDIAN)
    return list(Contact.objects.filter(user=user, active=True, kind__in=kinds).order_by("-kind", "created_at", "id"))


def guardian_account(contact: Contact) -> User | None:
    """The guardian account that sees portal alerts for this guardian contact: the one that confirmed
    the link with the texted code (CN-MIN-03), while it is active."""
    if contact.kind != ContactKind.GUARDIAN or contact.account_id is None:
        return None
    account = contact.account
    return account if account.is_active else None


def linked_guardian_contact(user: User) -> Contact | None:
    """The minor's active guardian contact whose link a guardian account confirmed (CN-MIN-03), with
    that account; None while nobody confirmed it. Spending approvals and caps hang on it (CN-MIN-11)."""
    return (Contact.objects.filter(user=user, kind=ContactKind.GUARDIAN, active=True, account__isnull=False)
            .select_related("account").first())


def wards(guardian: User) -> list[Contact]:
    """The guardian contacts this account confirmed, active ones, with the minor's account."""
    return list(Contact.objects.filter(account=guardian, kind=ContactKind.GUARDIAN, active=True)
                .select_related("user").order_by("created_at", "id"))


def access_ward_by_id(guardian: User, contact_id: int, *, lock: bool = False) -> Contact:
    """The active guardian contact `contact_id` that `guardian` linked (CN-MIN-03), with the minor.
    Raises ContactNotFound for a missing contact and for anyone else's alike."""
    contacts = Contact.objects.select_for_update(of=("self",)) if lock else Contact.objects.all()
    contact = (contacts.select_related("user")
               .filter(pk=contact_id, account=guardian, kind=ContactKind.GUARDIAN, active=True).first())
    if contact is None:
        raise ContactNotFound(contact_id)
    return contact


def blocked_slugs(user: User) -> set[str]:
    """CN-MIN-09: the characters the minor's guardian turned off (blocks on the user's active guardian
    contact). Empty for anyone who is not a minor: the guardian's controls end at 18."""
    if not user.is_authenticated or not user.is_minor:
        return set()
    return set(CharacterBlock.objects.filter(contact__user=user, contact__kind=ContactKind.GUARDIAN,
                                             contact__active=True).values_list("character_slug", flat=True))


def ward_blocks(contacts: list[Contact]) -> dict[int, set[str]]:
    """CN-MIN-09: for the portal, contact id → the slugs blocked on it."""
    blocks: dict[int, set[str]] = {contact.pk: set() for contact in contacts}
    for contact_id, slug in CharacterBlock.objects.filter(contact__in=contacts).values_list(
            "contact_id", "character_slug"):
        blocks[contact_id].add(slug)
    return blocks


def default_daily_minutes(user: User) -> float | None:
    """CN-MIN-10: the deployment's daily chat minutes for a minor of the user's age; None for adults."""
    return minor_daily_limit_minutes(user.protective_age, MinorDailyMinutes(**settings.COMPANION_MINOR_DAILY_MINUTES))


def default_rest_hours() -> tuple[dt.time, dt.time] | None:
    """CN-MIN-10: the deployment's rest hours (Beijing time); None where switched off."""
    return parse_rest_hours(settings.COMPANION_MINOR_CURFEW)


def guardian_limits(user: User) -> GuardianLimits | None:
    """CN-MIN-10: the limits the minor's active guardian contact holds, or None if it holds none (or the
    user is not a minor: the guardian's controls end at 18)."""
    if not user.is_authenticated or not user.is_minor:
        return None
    row = (Contact.objects.filter(user=user, kind=ContactKind.GUARDIAN, active=True)
           .values_list("daily_minutes", "rest_start", "rest_end").first())
    if row is None or row == (None, None, None):
        return None
    minutes, start, end = row
    return GuardianLimits(daily_minutes=minutes, rest=(start, end) if start is not None else None)


def portal_alerts(recipient: User) -> QuerySet[Notification]:
    """Portal alerts addressed to this guardian account, newest first (CN-MIN-07)."""
    return (Notification.objects.filter(recipient=recipient, channel=Channel.PORTAL)
            .select_related("user").order_by("-created_at", "-id"))


def chat_gate(user: User) -> ContactGate:
    """CN-REG-03, CN-MIN-03/04, CN-ELD-01, BX-13: what the user's contacts still need before chat.
    Staff accounts do not chat as users and are not asked."""
    if is_staff_account(user):
        return ContactGate()
    contacts = list(Contact.objects.filter(user=user, active=True).select_related("account"))
    guardian = next((contact for contact in contacts if contact.kind == ContactKind.GUARDIAN), None)
    emergency = [contact for contact in contacts if contact.kind == ContactKind.EMERGENCY]
    declined_at = None
    if user.contact_prompt_skipped_at is not None:
        declined_at = Contact.objects.filter(user=user, declined_at__isnull=False).aggregate(
            newest=Max("declined_at"))["newest"]
    return contact_gate(band=user.age_band, regime=settings.CN_REGIME, guardian=guardian, emergency=emergency,
                        skipped_at=user.contact_prompt_skipped_at, declined_at=declined_at, now=timezone.now(),
                        prompt_days=settings.GUARDIANS_CONTACT_PROMPT_DAYS)
