"""The consent ledger (CN-REG-01, CN-DAT-06, CN-DAT-07): what each person agreed to, per purpose and
policy version, and the gate in front of chatting.

Chatting needs the current versions of the terms, the privacy policy and the separate consent to
process sensitive personal information (what people tell a companion about their feelings and health
is sensitive, PIPL art. 28-29). Publishing a new version (ACCOUNTS_POLICY_VERSIONS) asks again before
the next chat. Training use is a separate opt-in, off by default, withdrawable at any time, and
re-checked when data is extracted (`export_training_data`). Each decision is a new ledger row and an
audit row.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import audit
from accounts.models import Consent, ConsentPurpose, User

REQUIRED_FOR_CHAT = (ConsentPurpose.TERMS, ConsentPurpose.PRIVACY, ConsentPurpose.SENSITIVE)
SOURCES = ("signup", "privacy_centre", "reconsent")


class ConsentRefused(Exception):
    pass


def current_version(purpose: str) -> str:
    return settings.ACCOUNTS_POLICY_VERSIONS[purpose]


@dataclass(frozen=True)
class ConsentState:
    purpose: str
    label: str
    current_version: str
    granted: bool  # to the current version, not withdrawn since
    version: str | None  # the version of the latest decision
    at: object | None  # when
    required: bool


def consent_states(user: User) -> list[ConsentState]:
    """The latest decision per purpose, against the current versions."""
    latest: dict[str, Consent] = {}
    for row in Consent.objects.filter(user=user).order_by("purpose", "-at", "-id"):
        latest.setdefault(row.purpose, row)
    states = []
    for purpose, label in ConsentPurpose.choices:
        row = latest.get(purpose)
        states.append(ConsentState(
            purpose=purpose, label=label, current_version=current_version(purpose),
            granted=bool(row and row.granted and row.version == current_version(purpose)),
            version=row.version if row else None, at=row.at if row else None,
            required=purpose in REQUIRED_FOR_CHAT))
    return states


def missing_for_chat(user: User) -> list[str]:
    """Purposes the person must (re)accept before the next chat; empty when they may chat."""
    granted = {state.purpose for state in consent_states(user) if state.granted}
    return [purpose for purpose in REQUIRED_FOR_CHAT if purpose not in granted]


def has_training_consent(user_id: int) -> bool:
    latest = (Consent.objects.filter(user_id=user_id, purpose=ConsentPurpose.TRAINING)
              .order_by("-at", "-id").values("granted", "version").first())
    return bool(latest and latest["granted"] and latest["version"] == current_version(ConsentPurpose.TRAINING))


def _decide(user: User, purpose: str, granted: bool, source: str) -> Consent | None:
    """A new ledger row, unless it would repeat the latest decision (a replayed form changes nothing)."""
    latest = Consent.objects.filter(user=user, purpose=purpose).order_by("-at", "-id").first()
    version = current_version(purpose)
    if latest is not None and latest.granted == granted and (latest.version == version or not granted):
        return None
    if latest is None and not granted and source != "signup":
        return None  # never given: nothing to withdraw (a refusal at sign-up is still recorded)
    row = Consent.objects.create(user=user, purpose=purpose, version=version, granted=granted,
                                 at=timezone.now(), source=source)
    audit.record("consent.granted" if granted else "consent.withdrawn", actor=user, subject_type="user",
                 subject_id=user.pk, data={"purpose": purpose, "version": version, "source": source})
    return row


def record_consents(*, user: User, granted: dict[str, bool], source: str) -> list[Consent]:
    """Record decisions inside the caller's transaction (sign-up). Unknown purposes are refused."""
    if source not in SOURCES:
        raise ConsentRefused(f"unknown source {source!r}")
    unknown = set(granted) - set(ConsentPurpose.values)
    if unknown:
        raise ConsentRefused(f"unknown purposes {sorted(unknown)}")
    User.objects.select_for_update().filter(pk=user.pk).first()  # one decision at a time per person
    rows = [_decide(user, purpose, bool(value), source) for purpose, value in granted.items()]
    return [row for row in rows if row is not None]


@transaction.atomic(durable=True)
def update_consents(*, user: User, granted: dict[str, bool], source: str) -> list[Consent]:
    """The privacy centre and the re-consent screen: give or withdraw, per purpose."""
    return record_consents(user=user, granted=granted, source=source)
