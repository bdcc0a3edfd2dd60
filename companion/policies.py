"""Pure chat decisions: no ORM, no clock, no I/O (STYLE.md §2)."""
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from guardians.policies import in_rest_hours

_PUNCTUATION = re.compile(r"[\s\.,!?;:~…。，！？；：、“”\"'（）()\[\]【】]+")

# Chinese exit keywords still count inside a short sentence ("我要退出"); English ones only as
# (almost) the whole message, so "how do I quit smoking" is not an exit.
SHORT_CHINESE_MESSAGE = 12
SHORT_ENGLISH_WORDS = 3


def normalise_for_keywords(text: str) -> str:
    """Full-width to half-width, case-folded, without spacing or punctuation."""
    return _PUNCTUATION.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def is_exit_request(text: str, keywords: Iterable[str]) -> bool:
    """CN-USE-04: a message asking to leave ends the session before any generation."""
    normalised = normalise_for_keywords(text)
    if not normalised:
        return False
    words = normalised.split()
    compact = normalised.replace(" ", "")
    for keyword in keywords:
        key = normalise_for_keywords(keyword)
        if not key:
            continue
        if normalised == key or compact == key.replace(" ", ""):
            return True
        if key.isascii():
            if len(words) <= SHORT_ENGLISH_WORDS and key in words:
                return True
        elif len(compact) <= SHORT_CHINESE_MESSAGE and key in compact:
            return True
    return False


def may_open_character(*, user_is_minor: bool, character_is_adult_only: bool, character_is_active: bool,
                       user_is_elderly: bool = False, character_is_relative: bool = False) -> bool:
    """Romantic and virtual-relative characters are never available to minors (CN-MIN, contracts §4);
    virtual relatives are not available to users aged 60+ either (CN-ELD-03: an elderly user's
    relatives are never simulated)."""
    return character_is_active and not (user_is_minor and character_is_adult_only) and not (
        user_is_elderly and character_is_relative)


def within_rate(recent: Sequence[float], now: float, *, limit: int, window: float = 60.0) -> bool:
    """`recent` holds the times of the last `limit` accepted messages, oldest first."""
    return len(recent) < limit or now - recent[0] >= window


@dataclass(frozen=True)
class UsageStreak:
    """A stretch of continuous use: activity with no gap as long as the continuity gap."""
    started_at: dt.datetime
    last_active_at: dt.datetime


def extend_streak(streak: UsageStreak | None, now: dt.datetime, *, gap: dt.timedelta) -> UsageStreak:
    """CN-USE-01: a gap of `gap` or more starts a new streak; activity from any device extends it."""
    if streak is None or now - streak.last_active_at >= gap:
        return UsageStreak(started_at=now, last_active_at=now)
    return UsageStreak(started_at=streak.started_at, last_active_at=max(now, streak.last_active_at))


def due_occurrence(streak: UsageStreak, now: dt.datetime, *, every_minutes: float, already_sent: int) -> int | None:
    """The number of the periodic reminder now due in this streak (1 at 2 h, 2 at 4 h…), or None."""
    reached = int((now - streak.started_at).total_seconds() // (every_minutes * 60))
    return reached if reached > already_sent else None


# --- CN-MIN-10: minors' daily time limits and rest hours (Beijing time) ---
# The defaults and the rest-hours arithmetic live in guardians.policies: guardians may only tighten them.

def credited_seconds(last_active_at: dt.datetime | None, now: dt.datetime, *, gap: dt.timedelta,
                     day_start: dt.datetime) -> float:
    """BX-07: the active time one report adds to today's total: the time since the last report of any
    socket, if shorter than the continuity gap, counted from the start of today only. Two tabs
    reporting the same moment add it once (the second finds nothing new)."""
    if last_active_at is None or now - last_active_at >= gap:
        return 0.0
    return max(0.0, (now - max(last_active_at, day_start)).total_seconds())


def usage_lock(*, limit_minutes: float | None, used_seconds: float, local_time: dt.time,
               rest: tuple[dt.time, dt.time] | None) -> str | None:
    """CN-MIN-10: why a minor may not chat now (`curfew` or `time_limit`, the `closed` reasons), or None."""
    if in_rest_hours(local_time, rest):
        return "curfew"
    if limit_minutes is not None and used_seconds >= limit_minutes * 60:
        return "time_limit"
    return None
