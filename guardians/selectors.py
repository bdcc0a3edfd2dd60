from django.db.models import QuerySet

from accounts.models import Role, User
from guardians.models import Channel, Contact, ContactKind, Notification
from guardians.policies import guardian_is_told


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
    """The guardian account that sees portal alerts for this guardian contact: role `guardian` and the
    contact's email (emails are unique per account)."""
    if contact.kind != ContactKind.GUARDIAN or not contact.email:
        return None
    return (User.objects.filter(groups__name=Role.GUARDIAN, email__iexact=contact.email, is_active=True)
            .exclude(pk=contact.user_id).order_by("pk").first())


def portal_alerts(recipient: User) -> QuerySet[Notification]:
    """Portal alerts addressed to this guardian account, newest first (CN-MIN-07)."""
    return (Notification.objects.filter(recipient=recipient, channel=Channel.PORTAL)
            .select_related("user").order_by("-created_at", "-id"))
