"""Minors' daily time limits and rest hours (CN-MIN-10) on the one server clock per user (BX-07).

The decisions are pure (companion/policies.py, guardians/policies.py); this module reads the
settings, the guardian's limits, the user and the day's total, and words the pop-up. The minor's
guardian may tighten the defaults in the guardian portal (guardians.services.set_limits): fewer
daily minutes, longer rest hours.
"""
import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import formats, translation
from django.utils.translation import gettext

from accounts.models import User
from accounts.selectors import is_staff_account, rules_for_user
from companion.models import DailyUsage, Reminder, ReminderKind
from companion.policies import usage_lock
from guardians.policies import in_rest_hours
from guardians.selectors import default_daily_minutes, default_rest_hours, guardian_limits

BEIJING = ZoneInfo("Asia/Shanghai")  # CN-MIN-10 counts days and rest hours in Beijing time, whatever TIME_ZONE says
LOCK_KINDS = (ReminderKind.TIME_LIMIT, ReminderKind.CURFEW)


@dataclass(frozen=True)
class UsageLock:
    reason: str  # `time_limit` or `curfew`: the `closed` reason and the reminder kind
    reopens_at: dt.datetime  # Beijing time
    limit_minutes: float | None
    rest: tuple[dt.time, dt.time] | None = None  # the user's rest hours, for the pop-up


def applies_to(user: User) -> bool:
    """Minors the CN policy pack reaches (CN-MIN-10 is a Chinese rule); staff accounts never."""
    return user.is_minor and "CN" in rules_for_user(user).packs and not is_staff_account(user)


def daily_limit_minutes(user: User) -> float | None:
    """Today's chat minutes for this user: the default for the minor's age, or the guardian's lower
    number; None for adults."""
    if not applies_to(user):
        return None
    default, chosen = default_daily_minutes(user), guardian_limits(user)
    if default is None or chosen is None or chosen.daily_minutes is None:
        return default
    return min(default, chosen.daily_minutes)


def rest_hours(user: User) -> tuple[dt.time, dt.time] | None:
    """The guardian's rest hours if set (they cover the default window, and apply even where the
    deployment switched the default off), else the default; None for adults."""
    if not applies_to(user):
        return None
    chosen = guardian_limits(user)
    return chosen.rest if chosen is not None and chosen.rest is not None else default_rest_hours()


def beijing_day_start(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(BEIJING)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def used_seconds(user: User, day: dt.date) -> float:
    return DailyUsage.objects.filter(user=user, day=day).values_list("seconds", flat=True).first() or 0.0


def add_usage(user: User, now: dt.datetime, seconds: float) -> None:
    """Called under the user's UsageClock lock, so the read-modify-write cannot race. Only for users
    whose daily limit reads the total (minors under the CN pack): nobody else's day is written down,
    and adults' messages and heartbeats cost no extra writes."""
    if seconds <= 0 or not applies_to(user):
        return
    row, _ = DailyUsage.objects.get_or_create(user=user, day=now.astimezone(BEIJING).date())
    row.seconds += seconds
    row.save(update_fields=["seconds"])


def current_lock(user: User, now: dt.datetime) -> UsageLock | None:
    """Why this user may not chat at `now`, and when chat reopens; None if they may."""
    if not applies_to(user):
        return None
    local = now.astimezone(BEIJING)
    limit, rest = daily_limit_minutes(user), rest_hours(user)
    reason = usage_lock(limit_minutes=limit, used_seconds=used_seconds(user, local.date()),
                        local_time=local.time(), rest=rest)
    if reason is None:
        return None
    if reason == "curfew":
        reopens = _next_at(local, rest[1])
    else:  # tomorrow, at the end of rest hours if those run over midnight
        reopens = beijing_day_start(now) + dt.timedelta(days=1)
        while in_rest_hours(reopens.time(), rest):
            reopens = _next_at(reopens, rest[1])
    return UsageLock(reason=reason, reopens_at=reopens, limit_minutes=limit, rest=rest)


def _next_at(local: dt.datetime, at: dt.time) -> dt.datetime:
    candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return candidate if candidate > local else candidate + dt.timedelta(days=1)


def lock_reminder(user: User, lock: UsageLock, language: str) -> Reminder:
    """The pop-up that comes before `closed`, stored once per lock (however many sockets report it)."""
    reminder, _ = Reminder.objects.get_or_create(
        user=user, key=f"{lock.reason}:{lock.reopens_at.isoformat()}",
        defaults={"kind": lock.reason, "text": lock_text(lock, language)})
    return reminder


def reopens_text(lock: UsageLock) -> str:
    """"22:00" today, or "06:00 on 29 November" (Beijing time), in the active language."""
    return formats.date_format(lock.reopens_at, "DATETIME_FORMAT")


def lock_text(lock: UsageLock, language: str) -> str:
    with translation.override(language):
        if lock.reason == "curfew":
            return gettext("Rest hours: chat is closed for users under 18 from %(start)s to %(end)s Beijing time. "
                           "It opens again at %(reopens)s.") % {
                **rest_hours_labels(lock.rest), "reopens": reopens_text(lock)}
        return gettext("You have used today's chat time for users under 18 (%(minutes)s minutes). Chat opens "
                       "again at %(reopens)s Beijing time.") % {
            "minutes": f"{lock.limit_minutes or 0:g}", "reopens": reopens_text(lock)}


def rest_hours_labels(rest: tuple[dt.time, dt.time] | None) -> dict:
    return {"start": rest[0].strftime("%H:%M"), "end": rest[1].strftime("%H:%M")} if rest else {"start": "", "end": ""}
