"""Who a person is: the mobile number they proved they hold (CN-REG-04) and the age band their birth
date puts them in, recomputed daily (CN-REG-02, CN-REG-05).

Real-identity verification (DSP art. 9, CSL art. 24) is a one-time code texted to the number given
at sign-up. Only a keyed hash of a code is stored (HMAC-SHA256 under SECRET_KEY, bound to the
account and the number). A code lives ACCOUNTS_PHONE_CODE_TTL_SECONDS, allows
ACCOUNTS_PHONE_CODE_MAX_ATTEMPTS tries, right or wrong, and works once; only the newest code of an
account counts. Codes are sent at most every ACCOUNTS_PHONE_CODE_RESEND_SECONDS and
ACCOUNTS_PHONE_CODES_PER_HOUR times an hour per account and per number, so nobody can use the
service to flood someone else's phone. Staff accounts verify by TOTP instead and are not asked.

The text leaves after commit through the sender SMS_BACKEND names (guardians/sms.py). accounts sits
below guardians (STYLE.md §1), so it reaches the sender through the setting, as Django reaches
EMAIL_BACKEND, and builds the message in the shape those senders take.
"""
from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
from collections import defaultdict
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string
from django.utils.translation import gettext, gettext_lazy as _, ngettext_lazy

from accounts import audit
from accounts.selectors import is_staff_account
from accounts.models import PhoneCode, Region, User
from accounts.policies import age_band, age_on, normalise_phone

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
_HOUR = dt.timedelta(hours=1)
_AGE_BAND_BATCH = 2000

REFUSALS = {
    "invalid_phone": _("Enter a mobile number with its country code, e.g. +86 138 0013 8000 or +1 415 555 0100."),
    "not_mainland": _("Accounts in mainland China verify a mainland mobile number (+86): carriers register those "
                      "under a real name."),
    "phone_taken": _("This mobile number is already verified on another account."),
    "number_limit": _("Too many codes were sent to this number in the last hour. Please try again later."),
    "account_limit": _("You asked for too many codes in the last hour. Please try again later."),
    "too_soon": ngettext_lazy("Please wait %(seconds)d second before asking for another code.",
                              "Please wait %(seconds)d seconds before asking for another code.", "seconds"),
    "no_code": _("Ask for a code first."),
    "expired": _("This code has expired. Ask for a new one."),
    "used": _("This code was already used. Ask for a new one if you need it."),
    "locked": _("Too many wrong tries for this code. Ask for a new one."),
    "wrong": ngettext_lazy("That code is not right. %(left)d try left.",
                           "That code is not right. %(left)d tries left.", "left"),
}


class PhoneVerificationRefused(Exception):
    """`reason` is a key of REFUSALS; str(error) is the message for the person, in the active language."""

    def __init__(self, reason: str, **values):
        message = REFUSALS[reason]
        super().__init__(str(message % values if values else message))
        self.reason = reason


# --- pure ----------------------------------------------------------------------------------------

def phone_problem(phone: str | None, region: str) -> str | None:
    """Why a normalised number cannot verify an account of `region`, or None. Mainland real-name
    rules rest on carriers' real-name registration, which only mainland numbers have."""
    if phone is None:
        return "invalid_phone"
    if region == Region.CN and not phone.startswith("+86"):
        return "not_mainland"
    return None


def resend_wait(*, now: dt.datetime, last_sent_at: dt.datetime | None) -> int:
    """Whole seconds until another code may be sent (0: now)."""
    if last_sent_at is None:
        return 0
    left = (last_sent_at + dt.timedelta(seconds=settings.ACCOUNTS_PHONE_CODE_RESEND_SECONDS) - now).total_seconds()
    return max(0, int(left + 0.999))


def code_hash(user_id: int, phone: str, code: str) -> str:
    """Keyed, so a copy of the table does not give the codes away; bound to the account and the
    number, so a row cannot be moved to another of either."""
    return salted_hmac("accounts.identity.phone_code", f"{user_id}:{phone}:{code}", algorithm="sha256").hexdigest()


# --- reads ---------------------------------------------------------------------------------------

def needs_phone_verification(user: User) -> bool:
    """CN-REG-04: true until the account has a verified mobile number. Staff accounts (Django staff,
    or the operator, compliance or regulator role) prove who they are with TOTP instead."""
    return user.phone_verified_at is None and not is_staff_account(user)


def latest_phone_code(user: User) -> PhoneCode | None:
    """The account's newest code, the only one that counts."""
    return PhoneCode.objects.filter(user=user).order_by("-created_at", "-id").first()


def is_live(row: PhoneCode, now: dt.datetime) -> bool:
    return row.used_at is None and row.attempts < settings.ACCOUNTS_PHONE_CODE_MAX_ATTEMPTS and now < row.expires_at


def _usable_phone(raw: str, *, region: str, user: User | None) -> str:
    phone = normalise_phone(raw)
    problem = phone_problem(phone, region)
    if problem:
        raise PhoneVerificationRefused(problem)
    others = User.objects.filter(phone=phone)
    if user is not None:
        others = others.exclude(pk=user.pk)
    if others.exists():
        raise PhoneVerificationRefused("phone_taken")
    return phone


def _check_number_cap(phone: str, now: dt.datetime) -> None:
    if PhoneCode.objects.filter(phone=phone, created_at__gt=now - _HOUR).count() >= settings.ACCOUNTS_PHONE_CODES_PER_HOUR:
        raise PhoneVerificationRefused("number_limit")


def checked_phone(raw: str, *, region: str) -> str:
    """`raw` in E.164 if it may verify a new account of `region` now, else PhoneVerificationRefused
    (invalid_phone, not_mainland, phone_taken, number_limit). Sign-up checks it before anything is saved."""
    phone = _usable_phone(raw, region=region, user=None)
    _check_number_cap(phone, timezone.now())
    return phone


# --- writes --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CodeText:
    """What an SMS_BACKEND sender takes (guardians.sms.SMS): `id` is the gateway's idempotency key."""
    to: str
    text: str
    id: str


def _text_code(code_id: int, phone: str, code: str, language: str) -> None:
    with translation.override(language):
        text = gettext("{service} verification code: {code}. It expires in {minutes} minutes. Never tell it to "
                       "anyone, our staff included.").format(
            service=settings.COMPANION_SERVICE_NAME, code=code,
            minutes=settings.ACCOUNTS_PHONE_CODE_TTL_SECONDS // 60)
    try:
        import_string(settings.SMS_BACKEND)().send(CodeText(to=phone, text=text, id=f"phone-code-{code_id}"))
    except Exception:  # whatever the configured sender raises: the person asks again after the wait
        logger.exception("phone code %s was not sent", code_id)


@transaction.atomic(durable=True)
def send_phone_code(*, user: User, phone: str) -> PhoneCode:
    """Issue a new code for `user` to prove they hold `phone` (any common spelling; stored as E.164)
    and text it after commit. The new code replaces any earlier one. Raises PhoneVerificationRefused
    (invalid_phone, not_mainland, phone_taken, too_soon, account_limit, number_limit); then nothing
    is written or sent. A sender failure is logged; the code stands and another may be asked for
    after the wait."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # one code at a time per account
    now = timezone.now()
    number = _usable_phone(phone, region=user.region, user=user)
    recent = list(PhoneCode.objects.filter(user=user, created_at__gt=now - _HOUR).values_list("created_at", flat=True))
    wait = resend_wait(now=now, last_sent_at=max(recent, default=None))
    if wait:
        raise PhoneVerificationRefused("too_soon", seconds=wait)
    if len(recent) >= settings.ACCOUNTS_PHONE_CODES_PER_HOUR:
        raise PhoneVerificationRefused("account_limit")
    _check_number_cap(number, now)
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    row = PhoneCode.objects.create(
        user=user, phone=number, code_hash=code_hash(user.pk, number, code), created_at=now,
        expires_at=now + dt.timedelta(seconds=settings.ACCOUNTS_PHONE_CODE_TTL_SECONDS))
    # The actor is explicit: at sign-up the request is still anonymous. No number in the log (BX-11).
    audit.record("identity.code_sent", actor=user, subject_type="user", subject_id=user.pk,
                 data={"code": row.pk, "resend": len(recent) > 0})
    transaction.on_commit(partial(_text_code, row.pk, number, code, user.language))
    return row


def _try_code(user: User, row: PhoneCode | None, code: str, now: dt.datetime) -> tuple[str, dict]:
    if row is None:
        return "no_code", {}
    if row.used_at is not None:
        return "used", {}
    if row.attempts >= settings.ACCOUNTS_PHONE_CODE_MAX_ATTEMPTS:
        return "locked", {}
    if now >= row.expires_at:
        return "expired", {}
    row.attempts += 1  # counted before comparing: a right code after the last try is refused too
    if not hmac.compare_digest(row.code_hash, code_hash(user.pk, row.phone, code)):
        row.save(update_fields=["attempts"])
        audit.record("identity.code_refused", actor=user, subject_type="user", subject_id=user.pk,
                     data={"code": row.pk, "attempts": row.attempts})
        left = settings.ACCOUNTS_PHONE_CODE_MAX_ATTEMPTS - row.attempts
        return ("wrong", {"left": left}) if left else ("locked", {})
    try:
        with transaction.atomic():
            # The unique index settles a race with another account verifying the same number.
            User.objects.filter(pk=user.pk).update(phone=row.phone, phone_verified_at=now)
    except IntegrityError:
        row.save(update_fields=["attempts"])
        return "phone_taken", {}
    row.used_at = now
    row.save(update_fields=["attempts", "used_at"])
    user.phone, user.phone_verified_at = row.phone, now
    audit.record("identity.phone_verified", actor=user, subject_type="user", subject_id=user.pk,
                 data={"code": row.pk})
    return "", {}


def verify_phone_code(*, user: User, code: str) -> None:
    """Check `code` against the account's newest code; if right, its number becomes the account's
    verified number. Raises PhoneVerificationRefused (no_code, used, locked, expired, wrong,
    phone_taken) after committing the counted try, so a refusal still uses up one of the code's tries."""
    with transaction.atomic(durable=True):
        User.objects.select_for_update().filter(pk=user.pk).first()  # tries on one account in turn
        row = PhoneCode.objects.select_for_update().filter(user=user).order_by("-created_at", "-id").first()
        refusal, values = _try_code(user, row, code.strip(), timezone.now())
    if refusal:
        raise PhoneVerificationRefused(refusal, **values)


def _recompute_batch(after_id: int, today: dt.date) -> tuple[int, int | None]:
    """One batch of accounts by id; (changes recorded, last id seen or None when done)."""
    rows = list(User.objects.filter(pk__gt=after_id).order_by("pk")
                .values_list("pk", "birth_date", "age_band_recorded")[:_AGE_BAND_BATCH])
    if not rows:
        return 0, None
    first_seen: dict[str, list[int]] = defaultdict(list)
    changes = 0
    for pk, birth_date, recorded in rows:
        band = age_band(None if birth_date is None else age_on(birth_date, today)).value
        if band == recorded:
            continue
        if not recorded:
            first_seen[band].append(pk)  # first look (older or bulk-made accounts): nothing changed
            continue
        # Conditional, so two runs at once record each move once.
        if User.objects.filter(pk=pk, age_band_recorded=recorded).update(age_band_recorded=band):
            audit.record("account.age_band_changed", actor=None, subject_type="user", subject_id=pk,
                         data={"from": recorded, "to": band, "on": today.isoformat()})
            changes += 1
    for band, ids in first_seen.items():
        User.objects.filter(pk__in=ids, age_band_recorded="").update(age_band_recorded=band)
    return changes, rows[-1][0]


def recompute_age_bands(*, today: dt.date | None = None) -> int:
    """CN-REG-02, CN-REG-05: store every account's age band as of `today` (default: the local date)
    and audit each move, from → to (turning 14, 18 or 60). Returns the number of moves. Idempotent:
    a second run the same day moves nobody. Each batch commits on its own, so a long run holds the
    audit chain only briefly. Protections follow the birth date at once (User.age_band); this keeps
    the record of when a band changed."""
    today = today or timezone.localdate()
    total, after_id = 0, 0
    while after_id is not None:
        with transaction.atomic(durable=True):
            changes, after_id = _recompute_batch(after_id, today)
        total += changes
    return total
