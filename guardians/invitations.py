"""The secrets of a contact invitation (BX-13, CN-REG-03, CN-MIN-03), derived, never stored.

A contact gets a link (to confirm or decline) and a six-digit code (to read out to the user, or for a
guardian to type in the portal). Both are keyed HMACs of the contact's id and a random nonce kept on
the row, so a copy of the database gives neither away, and a new nonce retires every earlier link or
code at once. The code lives `GUARDIANS_CONTACT_CODE_TTL_SECONDS` and allows
`GUARDIANS_CONTACT_CODE_MAX_ATTEMPTS` tries; the link lives `GUARDIANS_CONTACT_LINK_TTL_DAYS`.
"""
import datetime as dt
import secrets

from django.conf import settings
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from guardians.models import Contact

CODE_DIGITS = 6


def new_nonce() -> str:
    return secrets.token_hex(16)


def link_token(contact: Contact) -> str:
    return salted_hmac("guardians.contact_link", f"{contact.pk}:{contact.link_nonce}",
                       algorithm="sha256").hexdigest()[:40]


def code_for(contact: Contact) -> str:
    digest = salted_hmac("guardians.contact_code", f"{contact.pk}:{contact.code_nonce}", algorithm="sha256")
    return f"{int(digest.hexdigest(), 16) % 10 ** CODE_DIGITS:0{CODE_DIGITS}d}"


def link_path(contact: Contact) -> str:
    return reverse("guardians:respond", args=[contact.pk, link_token(contact)])


def link_url(contact: Contact) -> str:
    return settings.COMPANION_SITE_URL.rstrip("/") + link_path(contact)


def link_is_valid(contact: Contact, token: str, now: dt.datetime) -> bool:
    """The link of the contact's current invitation, not expired, for a contact still active."""
    if not contact.link_nonce or contact.invited_at is None or not contact.active:
        return False
    if now > contact.invited_at + dt.timedelta(days=settings.GUARDIANS_CONTACT_LINK_TTL_DAYS):
        return False
    return constant_time_compare(token, link_token(contact))


def code_is_live(contact: Contact, now: dt.datetime) -> bool:
    return (bool(contact.code_nonce) and contact.code_sent_at is not None
            and contact.code_attempts < settings.GUARDIANS_CONTACT_CODE_MAX_ATTEMPTS
            and now < contact.code_sent_at + dt.timedelta(seconds=settings.GUARDIANS_CONTACT_CODE_TTL_SECONDS))


def code_matches(contact: Contact, code: str) -> bool:
    return constant_time_compare(code.strip(), code_for(contact))


def resend_wait(contact: Contact, now: dt.datetime) -> int:
    """Whole seconds until another code may be sent (0: now)."""
    if contact.code_sent_at is None:
        return 0
    left = (contact.code_sent_at + dt.timedelta(seconds=settings.GUARDIANS_CONTACT_CODE_RESEND_SECONDS)
            - now).total_seconds()
    return max(0, int(left + 0.999))


def masked_phone(phone: str) -> str:
    """+8613800138000 → +86 138****8000: enough to recognise, not to harvest."""
    if len(phone) < 8:
        return phone
    return f"{phone[:-8]}****{phone[-4:]}"
