"""Policy packs: each jurisdiction's rules as data, in one place (docs/policy-packs.md).

`POLICY_PACKS` lists the packs a deployment enables. CN applies to every user when enabled (the
service is offered in China); a foreign pack applies to users whose region matches. Where several
apply, the strictest value wins: the shortest reminder interval, the most frequent notice, the
union of what a reminder must say.
"""
from dataclasses import dataclass
from enum import StrEnum


class Part(StrEnum):
    """What a periodic reminder must say; texts live in companion/reminders.py."""
    USAGE_TIME = "usage_time"  # how long the user has been chatting (CN-USE-01)
    TAKE_BREAK = "take_break"  # suggest a break (US-CA-03)
    AI_NATURE = "ai_nature"  # the companion is AI, not human (US-CA-03, US-NY-02)


class StartNotice(StrEnum):
    """How often the AI-disclosure pop-up opens a chat (beyond the always-visible header)."""
    NONE = "none"
    DAILY = "daily"  # US-NY-02: once per calendar day
    EVERY_LOGIN = "every_login"  # CN-DIS-02 (draft only): first chat after each login


@dataclass(frozen=True)
class PeriodicDuty:
    kind: str  # contracts §5 reminder kind
    every_minutes: int
    parts: tuple[Part, ...]
    minors_only: bool = False


@dataclass(frozen=True)
class PolicyPack:
    code: str
    regions: frozenset[str]  # user regions it applies to; empty = everyone
    periodic: tuple[PeriodicDuty, ...]
    start_notice: StartNotice
    start_notice_draft_only: bool = False  # switched off under CN_REGIME=final


PACKS: dict[str, PolicyPack] = {
    "CN": PolicyPack(
        code="CN", regions=frozenset(),
        # CN-USE-01/02: a reminder after every 2 hours of continuous use (draft and final agree).
        # CN-MIN-01: minor mode adds a reality reminder (定期现实提醒) every 30 minutes: take a break;
        # the companion is AI.
        periodic=(PeriodicDuty("continuous_use", 120, (Part.USAGE_TIME, Part.TAKE_BREAK)),
                  PeriodicDuty("break", 30, (Part.TAKE_BREAK, Part.AI_NATURE), minors_only=True)),
        start_notice=StartNotice.EVERY_LOGIN, start_notice_draft_only=True,
    ),
    "US-CA": PolicyPack(
        code="US-CA", regions=frozenset({"US-CA"}),
        # SB 243 §22602(c): known minors, at least every 3 hours: take a break; the chatbot is AI.
        periodic=(PeriodicDuty("break", 180, (Part.TAKE_BREAK, Part.AI_NATURE), minors_only=True),),
        start_notice=StartNotice.NONE,
    ),
    "US-NY": PolicyPack(
        code="US-NY", regions=frozenset({"US-NY"}),
        # GBL §1702: notice at the start (once a day suffices) and every 3 hours, adults included.
        periodic=(PeriodicDuty("disclosure", 180, (Part.AI_NATURE,)),),
        start_notice=StartNotice.DAILY,
    ),
    "EU": PolicyPack(
        code="EU", regions=frozenset({"EU"}),
        # AI Act Art. 50(1): disclosure at the first interaction; the chat header carries it always.
        periodic=(), start_notice=StartNotice.NONE,
    ),
}

_NOTICE_STRICTNESS = [StartNotice.NONE, StartNotice.DAILY, StartNotice.EVERY_LOGIN]


@dataclass(frozen=True)
class ReminderRule:
    kind: str
    every_minutes: int
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class UserRules:
    packs: tuple[str, ...]
    periodic: ReminderRule | None
    start_notice: StartNotice


def packs_for(region: str, enabled: list[str]) -> tuple[PolicyPack, ...]:
    """The enabled packs that reach a user from `region`, in the order POLICY_PACKS lists them."""
    return tuple(PACKS[code] for code in enabled
                 if code in PACKS and (not PACKS[code].regions or region in PACKS[code].regions))


def rules_for(*, region: str, is_minor: bool, enabled: list[str], regime: str,
              interval_cap_minutes: float | None = None) -> UserRules:
    """Combine the packs reaching a user into one rule set (strictest wins).

    `interval_cap_minutes` lets compliance staff shorten (never lengthen) reminder intervals.
    """
    packs = packs_for(region, enabled)
    duties = [duty for pack in packs for duty in pack.periodic if is_minor or not duty.minors_only]
    periodic = None
    if duties:
        first = min(duties, key=lambda duty: duty.every_minutes)  # ties: the earlier pack names the kind
        parts = tuple(dict.fromkeys(part for duty in duties for part in duty.parts))
        every = first.every_minutes if interval_cap_minutes is None else min(first.every_minutes,
                                                                             interval_cap_minutes)
        periodic = ReminderRule(kind=first.kind, every_minutes=every, parts=parts)
    notices = [pack.start_notice for pack in packs
               if not (pack.start_notice_draft_only and regime == "final")]
    start_notice = max(notices, key=_NOTICE_STRICTNESS.index, default=StartNotice.NONE)
    return UserRules(packs=tuple(pack.code for pack in packs), periodic=periodic, start_notice=start_notice)
