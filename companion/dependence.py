"""The nightly over-dependence score (CN-EMO-06) and the pop-up it opens (CN-DIS-03, BX-06).

Privacy by construction: only metadata is read (when the user wrote, and the risk categories the
inbound screen stored with each message), never message text, and nobody reads a score's inputs.
A flagged score sends nothing by itself: no mail, notification or message, so rising dependence
is never met with a nudge to come back (BX-06). The next time the user opens a chat, `open_chat`
asks `dependence_notice_due` and shows the AI-disclosure pop-up with offline suggestions.

Thresholds (settings, defaults from the obligation):
- COMPANION_DEPENDENCE_HEAVY_MINUTES (240) active minutes exceeded on at least
  COMPANION_DEPENDENCE_HEAVY_DAYS (3) of the 7 days;
- use between 00:00 and 05:00 local time on at least COMPANION_DEPENDENCE_NIGHT_DAYS (5) days;
- at least COMPANION_DEPENDENCE_CUES (3) dependence cues in the 7 days.
"""
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from itertools import groupby
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from accounts.models import User
from companion.models import Author, DependenceScore, Message, Reminder, ReminderKind

WINDOW_DAYS = 7
NIGHT_END_HOUR = 5  # 00:00-05:00 local counts as night use
# A score is acted on the day after its window (the job runs at night) and, should one run be
# missed, the day after that; an older flag no longer describes the user.
FLAG_VALID_DAYS = 2
DEPENDENCE_CATEGORY = "dependence"


class Reason:
    HEAVY_USE = "heavy_use"
    NIGHT_USE = "night_use"
    CUES = "cues"


@dataclass(frozen=True)
class Thresholds:
    heavy_minutes: float
    heavy_days: int
    night_days: int
    cues: int

    @classmethod
    def from_settings(cls) -> "Thresholds":
        return cls(heavy_minutes=settings.COMPANION_DEPENDENCE_HEAVY_MINUTES,
                   heavy_days=settings.COMPANION_DEPENDENCE_HEAVY_DAYS,
                   night_days=settings.COMPANION_DEPENDENCE_NIGHT_DAYS,
                   cues=settings.COMPANION_DEPENDENCE_CUES)


@dataclass(frozen=True)
class DayUsage:
    minutes: float
    sessions: int
    night: bool
    cues: int


@dataclass(frozen=True)
class Assessment:
    flagged: bool
    reasons: list[str]
    heavy_days: int
    night_days: int
    cues: int


def day_usage(moments: list[tuple[dt.datetime, bool]], *, gap: dt.timedelta) -> DayUsage:
    """One local day of a user's messages, `(local time, is a dependence cue)` oldest first.

    Messages closer than `gap` (COMPANION_CONTINUITY_GAP_MINUTES, as for continuous use) form one
    session; a session lasts from its first to its last message plus the minute of the last.
    """
    minutes, sessions = 0.0, 0
    first = previous = None
    for moment, _ in moments:
        if previous is None or moment - previous >= gap:
            if first is not None:
                minutes += (previous - first).total_seconds() / 60 + 1
            first, sessions = moment, sessions + 1
        previous = moment
    if first is not None:
        minutes += (previous - first).total_seconds() / 60 + 1
    return DayUsage(minutes=minutes, sessions=sessions, night=any(m.hour < NIGHT_END_HOUR for m, _ in moments),
                    cues=sum(cue for _, cue in moments))


def assess(days: list[DayUsage], thresholds: Thresholds) -> Assessment:
    """Pure decision over the window's active days (days without use need not be listed)."""
    heavy_days = sum(day.minutes > thresholds.heavy_minutes for day in days)
    night_days = sum(day.night for day in days)
    cues = sum(day.cues for day in days)
    reasons = [reason for reason, hit in ((Reason.HEAVY_USE, heavy_days >= thresholds.heavy_days),
                                          (Reason.NIGHT_USE, night_days >= thresholds.night_days),
                                          (Reason.CUES, cues >= thresholds.cues)) if hit]
    return Assessment(flagged=bool(reasons), reasons=reasons, heavy_days=heavy_days, night_days=night_days,
                      cues=cues)


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def default_day() -> dt.date:
    """Yesterday, local: the last complete day when the job runs after midnight."""
    return dt.datetime.now(_zone()).date() - dt.timedelta(days=1)


@transaction.atomic(durable=True)
def score_all(*, day: dt.date | None = None) -> int:
    """Score every user who wrote in the 7 local days ending with `day` (default: yesterday), and
    every user flagged the night before, so a flag clears once the signs are gone. Writes one
    DependenceScore per user for `day`; a rerun updates those rows in place. Sends nothing.
    Returns how many users were scored.
    """
    day = day or default_day()
    zone = _zone()
    start = dt.datetime.combine(day - dt.timedelta(days=WINDOW_DAYS - 1), dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    gap = dt.timedelta(minutes=settings.COMPANION_CONTINUITY_GAP_MINUTES)
    thresholds = Thresholds.from_settings()
    # CN-EMO-06 "no human reading": the single read of the window selects no text column.
    rows = (Message.objects.filter(author=Author.USER, created_at__gte=start, created_at__lt=end)
            .order_by("conversation__user_id", "created_at")
            .values_list("conversation__user_id", "created_at", "risk")
            .iterator(chunk_size=2000))
    assessments: dict[int, Assessment] = {}
    for user_id, user_rows in groupby(rows, key=lambda row: row[0]):
        by_day: dict[dt.date, list[tuple[dt.datetime, bool]]] = defaultdict(list)
        for _, created_at, risk in user_rows:
            local = created_at.astimezone(zone)
            by_day[local.date()].append((local, _is_cue(risk)))
        assessments[user_id] = assess([day_usage(moments, gap=gap) for moments in by_day.values()], thresholds)
    quiet = assess([], thresholds)
    for user_id in DependenceScore.objects.filter(scored_on=day - dt.timedelta(days=1), flagged=True).values_list(
            "user_id", flat=True):
        assessments.setdefault(user_id, quiet)
    DependenceScore.objects.bulk_create(
        [DependenceScore(user_id=user_id, scored_on=day, flagged=a.flagged, reasons=a.reasons,
                         heavy_days=a.heavy_days, night_days=a.night_days, cues=a.cues)
         for user_id, a in assessments.items()],
        update_conflicts=True, unique_fields=["user", "scored_on"],
        update_fields=["flagged", "reasons", "heavy_days", "night_days", "cues"], batch_size=500)
    return len(assessments)


def _is_cue(risk) -> bool:
    return isinstance(risk, dict) and DEPENDENCE_CATEGORY in (risk.get("categories") or ())


def dependence_notice_due(user: User) -> bool:
    """Whether opening a chat should show the dependence pop-up (CN-DIS-03): the user's latest
    score is flagged and recent, and no dependence pop-up was created since it was computed.
    (The pop-up itself also keeps to at most one per COMPANION_DEPENDENCE_REMINDER_HOURS.)"""
    latest = DependenceScore.objects.filter(user=user).order_by("-scored_on").first()
    today = dt.datetime.now(_zone()).date()
    if latest is None or not latest.flagged or latest.scored_on < today - dt.timedelta(days=FLAG_VALID_DAYS):
        return False
    return not Reminder.objects.filter(user=user, kind=ReminderKind.DEPENDENCE,
                                       created_at__gte=latest.created_at).exists()
