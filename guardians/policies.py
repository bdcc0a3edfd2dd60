"""Pure decisions about safety contacts: who is told, and which help lines they get (CN-CRI-07); and
the minors' time defaults a guardian may only tighten (CN-MIN-10).
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
# --- CN-MIN-10: minors' daily time limits and rest hours (Beijing time); guardians may tighten them ---

@dataclass(frozen=True)
class MinorDailyMinutes:
    under_8: float = 40
    age_8_to_15: float = 60
    age_16_to_17: float = 120


def minor_daily_limit_minutes(age: int | None, limits: MinorDailyMinutes) -> float | None:
    """The default daily limit for a minor of `age`; None for adults (and unknown ages, which the
    sign-up form never lets through)."""
    if age is None or age >= 18:
        return None
    if age < 8:
        return limits.under_8
    if age < 16:
        return limits.age_8_to_15
    return limits.age_16_to_17


def parse_rest_hours(spec: str) -> tuple[dt.time, dt.time] | None:
    """"22:00-06:00" → (22:00, 06:00); an empty string switches rest hours off."""
    spec = spec.strip()
    if not spec:
        return None
    start, end = (dt.time.fromisoformat(part.strip()) for part in spec.split("-", 1))
    return start, end


def in_rest_hours(local_time: dt.time, rest: tuple[dt.time, dt.time] | None) -> bool:
    """Whether a local wall-clock time falls in [start, end); the span may wrap past midnight."""
    if rest is None:
        return False
    start, end = rest
    if start <= end:
        return start <= local_time < end
    return local_time >= start or local_time < end


# CN-MIN-10 (MMG): no service to minors 22:00-06:00. A guardian's window must cover it even where the
# deployment switched the default off (COMPANION_MINOR_CURFEW = ""), so it never loosens the rule.
STATUTORY_REST = (dt.time(22, 0), dt.time(6, 0))


@dataclass(frozen=True)
class GuardianLimits:
    """What the minor's guardian set (CN-MIN-10); None = the default for that part."""
    daily_minutes: int | None = None
    rest: tuple[dt.time, dt.time] | None = None


def rest_covers(outer: tuple[dt.time, dt.time], inner: tuple[dt.time, dt.time]) -> bool:
    """Whether every minute of `inner` falls in `outer` (both [start, end), either may wrap midnight)."""
    start = dt.datetime.combine(dt.date.min, inner[0])
    minutes = int(((dt.datetime.combine(dt.date.min, inner[1]) - start).total_seconds() // 60) % (24 * 60))
    return all(in_rest_hours((start + dt.timedelta(minutes=step)).time(), outer) for step in range(minutes))


def limits_refusal(*, limits: GuardianLimits, default_minutes: float | None,
                   default_rest: tuple[dt.time, dt.time] | None) -> str | None:
    """CN-MIN-10: why a guardian may not set these limits, or None. A guardian may only tighten: daily
    minutes from 0 (no chat) up to the age default; rest hours that include the whole default window
    (the deployment's, else 22:00-06:00): they may start earlier and end later, never less."""
    if default_minutes is None:
        return "not_minor"
    if limits.daily_minutes is not None and not 0 <= limits.daily_minutes <= default_minutes:
        return "minutes_above_default"
    if limits.rest is not None and not rest_covers(limits.rest, default_rest or STATUTORY_REST):
        return "rest_too_short"
    return None
