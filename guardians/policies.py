"""Pure decisions about safety contacts: who is told, and which help lines they get (CN-CRI-07).
What a phone number is lives in accounts.policies.normalise_phone (sign-up verifies numbers too)."""
import datetime as dt
from dataclasses import dataclass

from accounts.policies import AgeBand


def guardian_is_told(band: AgeBand) -> bool:
    """CN-CRI-07: the guardian is the contact for minors; adults' and elders' own emergency contacts
    are told instead (an adult's former guardian link is not)."""
    return band in (AgeBand.CHILD, AgeBand.MINOR)


def hotlines(region: str) -> tuple[str, ...]:
    """Numbers a contact should call for a user of this region, most urgent first (CN-CRI-06)."""
    if region == "CN":
        return ("120", "110", "12356")
    if region.startswith("US-"):
        return ("911", "988")
    if region == "EU":
        return ("112",)
    return ()


RECONFIRM_DAYS = 365


@dataclass(frozen=True)
class ContactGate:
    """Whether the user's contacts let them chat (CN-REG-03, CN-MIN-03, CN-MIN-04, CN-ELD-01, BX-13).

    `blocking` names what is missing, "" when chat may open:
    guardian_missing · guardian_pending (not linked yet) · guardian_consent (no consent, or withdrawn) ·
    emergency_missing · emergency_pending (not confirmed yet) · emergency_reconfirm (an elder's yearly
    check that the contact is still right) · contact_bounced (messages fail).
    `prompt` asks an adult, who may skip, to name an emergency contact.
    """
    blocking: str = ""
    prompt: bool = False

    @property
    def open(self) -> bool:
        return not self.blocking


def guardian_consent_needed(band: AgeBand, regime: str) -> bool:
    """CN-MIN-03: under 14 always; CN-MIN-04 (draft only): 14-17 too unless CN_REGIME is `final`."""
    return band == AgeBand.CHILD or (band == AgeBand.MINOR and regime != "final")


def contact_gate(*, band: AgeBand, regime: str, guardian, emergency: list, skipped_at: dt.datetime | None,
                 declined_at: dt.datetime | None, now: dt.datetime, prompt_days: int) -> ContactGate:
    """`guardian` is the active guardian contact or None; `emergency` the active emergency contacts;
    `declined_at` the newest time a contact declined. Minors: the guardian, linked (and consenting where
    needed), is their safety contact. Elders: one confirmed emergency contact. Adults: asked, may skip."""
    if band in (AgeBand.CHILD, AgeBand.MINOR):
        if guardian is None:
            return ContactGate("guardian_missing")
        if guardian.bounced_at is not None:
            return ContactGate("contact_bounced")
        if guardian.verified_at is None or guardian.account_id is None:
            return ContactGate("guardian_pending")
        if guardian.consent_revoked_at is not None or (
                guardian_consent_needed(band, regime) and not guardian.has_consent):
            return ContactGate("guardian_consent")
        return ContactGate()
    confirmed = [contact for contact in emergency if contact.confirmed]
    if band == AgeBand.ELDERLY and not confirmed:
        if not emergency:
            return ContactGate("emergency_missing")
        if any(contact.bounced_at is not None for contact in emergency):
            return ContactGate("contact_bounced")
        return ContactGate("emergency_pending")
    if band == AgeBand.ELDERLY:
        # CN-ELD-01: once a year the person confirms the contact is still right.
        if all(now - contact.verified_at > dt.timedelta(days=RECONFIRM_DAYS) for contact in confirmed):
            return ContactGate("emergency_reconfirm")
        return ContactGate()
    # Adults: asked until they name one or choose to skip; asked again after `prompt_days`, and at once
    # when a contact declines (BX-13) or stops being reachable.
    if any(contact.bounced_at is not None for contact in emergency):
        return ContactGate(prompt=True)
    if emergency:
        return ContactGate()
    if skipped_at is None or now - skipped_at > dt.timedelta(days=prompt_days):
        return ContactGate(prompt=True)
    return ContactGate(prompt=declined_at is not None and declined_at > skipped_at)
