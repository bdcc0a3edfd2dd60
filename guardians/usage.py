"""What a guardian sees of a ward's use (CN-MIN-08) and the guardian's deletion of the ward's chat
history (CN-MIN-14).

BX-14: figures only. Every read here counts rows or sums seconds in the database and never selects
`Message.text` (nor `Reminder.text`), so no page or email built from it can carry what the minor
wrote. Days are Beijing days, as the minors' daily limit counts them (companion.time_limits).

This module reads companion's tables and calls its deletion cascade: an exception to STYLE.md §1
confined to this one module (docs/decisions.md D-36). Sections: pure date maths, reads, writes.
"""
import datetime as dt
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse

from accounts import audit
from accounts.models import User
from companion.models import (Author, CrisisCase, DailyUsage, LedgerEntry, LedgerKind, Message, Reminder,
                              ReminderKind)
from companion.privacy import PrivacyRefused, delete_all_conversations
from companion.time_limits import BEIJING
from companion.wallet import format_yuan
from guardians import tasks
from guardians.models import Channel, Contact, ContactKind, Notification, Reason
from guardians.selectors import ContactNotFound, access_ward_by_id
from guardians.services import display_name
from guardians.texts import level_label, weekly_summary

RISK_LEVELS = ("distress", "high_risk", "crisis")
# Pop-ups that stopped or paused the minor's use; the AI disclosure shown at every start is not one.
LIMIT_REMINDERS = (ReminderKind.TIME_LIMIT, ReminderKind.CURFEW, ReminderKind.CONTINUOUS_USE, ReminderKind.BREAK,
                   ReminderKind.DEPENDENCE)
BAR_MAX = 300  # chart bar length of the largest value, in SVG user units

__all__ = ["ContactNotFound", "PrivacyRefused"]


# --- pure date maths and chart geometry ------------------------------------------------------------

def history_deletion_offered(regime: str) -> bool:
    """CN-MIN-14 is in the draft only: off when CN_REGIME is `final`."""
    return regime != "final"


def last_days(today: dt.date, count: int) -> tuple[dt.date, ...]:
    """The `count` days ending with `today`, oldest first."""
    return tuple(today - dt.timedelta(days=offset) for offset in range(count - 1, -1, -1))


def week_start(day: dt.date) -> dt.date:
    """The Monday of `day`'s week."""
    return day - dt.timedelta(days=day.weekday())


def last_weeks(today: dt.date, count: int) -> tuple[dt.date, ...]:
    """The Mondays of the `count` weeks ending with `today`'s (still running) week, oldest first."""
    this_week = week_start(today)
    return tuple(this_week - dt.timedelta(weeks=offset) for offset in range(count - 1, -1, -1))


def previous_week(today: dt.date) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of the last complete week before `today`'s: what the weekly email covers."""
    monday = week_start(today) - dt.timedelta(weeks=1)
    return monday, monday + dt.timedelta(days=6)


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """From Beijing midnight starting `first` to Beijing midnight ending `last` (exclusive)."""
    start = dt.datetime.combine(first, dt.time.min, tzinfo=BEIJING)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=BEIJING)


def whole_minutes(seconds: float) -> int:
    """Seconds to minutes, half a minute and more rounding up."""
    return int((seconds + 30) // 60)


def bar_lengths(values: list[float], longest: int = BAR_MAX) -> list[int]:
    """Bar lengths proportional to `values`, the largest `longest` long; a value above zero shows
    at least 1 unit, so a short use is never drawn as none."""
    top = max(values, default=0)
    if top <= 0:
        return [0 for _ in values]
    return [max(1, round(longest * value / top)) if value > 0 else 0 for value in values]


BAR_LEFT, BAR_HEIGHT, ROW_HEIGHT = 120, 16, 24  # chart layout, SVG user units


def bar_chart(rows: list[tuple[str, float]]) -> dict:
    """Geometry of a horizontal bar chart with one `(label, value)` per row: the SVG's height and,
    per bar, its row's text baseline, its top, its length and where its value is written."""
    lengths = bar_lengths([value for _, value in rows])
    bars = [{"label": label, "value": value, "length": length, "y": index * ROW_HEIGHT + 4,
             "text_y": index * ROW_HEIGHT + 4 + BAR_HEIGHT - 3, "value_x": BAR_LEFT + length + 6}
            for index, ((label, value), length) in enumerate(zip(rows, lengths))]
    return {"height": len(rows) * ROW_HEIGHT + 8, "width": BAR_LEFT + BAR_MAX + 60, "left": BAR_LEFT,
            "bar_height": BAR_HEIGHT, "bars": bars}


# --- reads ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Day:
    day: dt.date
    seconds: float
    messages: int

    @property
    def minutes(self) -> int:
        return whole_minutes(self.seconds)


@dataclass(frozen=True)
class Week:
    start: dt.date
    seconds: float
    messages: int

    @property
    def minutes(self) -> int:
        return whole_minutes(self.seconds)


@dataclass(frozen=True)
class Summary:
    """A ward's use from `first` to `last` (Beijing days, both included); counts only."""
    first: dt.date
    last: dt.date
    days: tuple[Day, ...]
    seconds: float
    characters: tuple[tuple[str, int], ...]  # (name, messages the minor sent to it), most used first
    reminders: tuple[tuple[str, int], ...]  # (kind's label, pop-ups shown)
    risks: tuple[tuple[str, int], ...]  # (level's label, the minor's messages screened at that level)
    cases: int  # safety cases opened for the minor
    spent_fen: int = 0  # purchases less refunds of them in the period (CN-MIN-11's ledger)

    @property
    def spent(self) -> str:
        return format_yuan(self.spent_fen)

    @property
    def minutes(self) -> int:
        return whole_minutes(self.seconds)

    @property
    def messages(self) -> int:
        return sum(day.messages for day in self.days)

    @property
    def active_days(self) -> int:
        return sum(1 for day in self.days if day.seconds > 0 or day.messages > 0)

    @property
    def reminder_total(self) -> int:
        return sum(count for _, count in self.reminders)

    @property
    def risk_total(self) -> int:
        return sum(count for _, count in self.risks)

    def weeks(self) -> tuple[Week, ...]:
        """The days grouped into Monday-to-Sunday weeks (a summary starting on a Monday has whole ones)."""
        totals: dict[dt.date, list] = {}
        for day in self.days:
            total = totals.setdefault(week_start(day.day), [0.0, 0])
            total[0] += day.seconds
            total[1] += day.messages
        return tuple(Week(start, seconds, messages) for start, (seconds, messages) in totals.items())


def usage_summary(user: User, first: dt.date, last: dt.date, *, language: str) -> Summary:
    """CN-MIN-08: the minor's chat time (DailyUsage, the server's own clock), messages sent, characters
    used, limit pop-ups and risk events from `first` to `last`; character names in `language`.
    Aggregated in the database; reads no text (BX-14)."""
    start, end = day_bounds(first, last)
    seconds = dict(DailyUsage.objects.filter(user=user, day__range=(first, last)).values_list("day", "seconds"))
    sent = Message.objects.filter(conversation__user=user, author=Author.USER, created_at__gte=start,
                                  created_at__lt=end)
    per_day = dict(sent.annotate(local_day=TruncDate("created_at", tzinfo=BEIJING)).order_by()
                   .values("local_day").annotate(count=Count("id")).values_list("local_day", "count"))
    span = (last - first).days + 1
    days = tuple(Day(day, seconds.get(day, 0.0), per_day.get(day, 0)) for day in last_days(last, span))
    name = "conversation__character__name_en" if language == "en" else "conversation__character__name_zh"
    characters = tuple(sent.order_by().values(name).annotate(count=Count("id")).order_by("-count", name)
                       .values_list(name, "count"))
    kinds = dict(Reminder.objects.filter(user=user, kind__in=LIMIT_REMINDERS, created_at__gte=start,
                                         created_at__lt=end)
                 .order_by().values("kind").annotate(count=Count("id")).values_list("kind", "count"))
    levels = dict(sent.filter(risk_level__in=RISK_LEVELS).order_by().values("risk_level")
                  .annotate(count=Count("id")).values_list("risk_level", "count"))
    cases = CrisisCase.objects.filter(user=user, opened_at__gte=start, opened_at__lt=end).count()
    total = DailyUsage.objects.filter(user=user, day__range=(first, last)).aggregate(total=Sum("seconds"))["total"]
    money = dict(LedgerEntry.objects.filter(wallet__user=user, kind__in=(LedgerKind.PURCHASE, LedgerKind.REFUND),
                                            created_at__gte=start, created_at__lt=end)
                 .order_by().values("kind").annotate(total=Sum("amount_fen")).values_list("kind", "total"))
    return Summary(
        first=first, last=last, days=days, seconds=total or 0.0, characters=characters,
        reminders=tuple((str(ReminderKind(kind).label), kinds[kind]) for kind in LIMIT_REMINDERS if kind in kinds),
        risks=tuple((level_label(level), levels[level]) for level in RISK_LEVELS if level in levels), cases=cases,
        spent_fen=money.get(LedgerKind.PURCHASE, 0) - money.get(LedgerKind.REFUND, 0))


def _consenting_guardian_contacts() -> QuerySet[Contact]:
    return (Contact.objects.filter(kind=ContactKind.GUARDIAN, active=True, account__isnull=False,
                                   account__is_active=True, consent_at__isnull=False, consent_revoked_at__isnull=True)
            .exclude(email=""))


def summary_wards() -> list[int]:
    """Ids of the guardian contacts owed a weekly summary: active, linked to an active guardian account
    that has given (and not withdrawn) consent, with an email address, for a minor."""
    contacts = _consenting_guardian_contacts().select_related("user").order_by("pk")
    return [contact.pk for contact in contacts if contact.user.is_minor]


def usage_path(contact: Contact) -> str:
    return reverse("guardians:ward_usage", args=[contact.pk])


# --- writes -----------------------------------------------------------------------------------------

def summary_key(contact: Contact, monday: dt.date) -> str:
    return f"summary:{contact.pk}:{contact.account_id}:{monday.isoformat()}"


@transaction.atomic(durable=True)
def queue_weekly_summary(*, contact_id: int, today: dt.date) -> Notification | None:
    """CN-MIN-08: queue the email summing up the ward's last complete week for the guardian contact
    `contact_id`, in the contact's language, with a link to the usage page; delivered by
    `deliver_notification` after commit. Idempotent per guardian account, ward and week: asking again
    returns None and sends nothing. None too if the contact is no longer owed one (`summary_wards`)."""
    contact = (_consenting_guardian_contacts().select_for_update(of=("self",)).select_related("user")
               .filter(pk=contact_id).first())
    if contact is None or not contact.user.is_minor:
        return None
    monday, sunday = previous_week(today)
    key = summary_key(contact, monday)
    if Notification.objects.filter(event_key=key, contact=contact, channel=Channel.EMAIL).exists():
        return None
    summary = usage_summary(contact.user, monday, sunday, language=contact.language)
    text = weekly_summary(summary=summary, display_name=display_name(contact.user), contact_name=contact.name,
                          link=settings.COMPANION_SITE_URL.rstrip("/") + usage_path(contact),
                          language=contact.language)
    notification = Notification.objects.create(
        event_key=key, user=contact.user, contact=contact, channel=Channel.EMAIL, level="", reason=Reason.SUMMARY,
        address=contact.email, language=contact.language, subject=text.subject, body=text.body)
    transaction.on_commit(partial(tasks.deliver_notification.delay, notification.pk))
    return notification


def delete_ward_history(*, guardian: User, contact_id: int) -> int:
    """CN-MIN-14: the linked guardian has every conversation of their minor ward deleted, by the same
    cascade as the minor's own "delete all conversations" (companion.privacy, CN-DAT-05): messages,
    the safety cases held on them, prepared copies. Returns the number of conversations deleted.
    Raises ContactNotFound (not this guardian's minor ward, or CN_REGIME `final`, where the obligation
    is off) or PrivacyRefused (a safety case is open).

    The cascade is a durable transaction of its own (it audits the deletion with the minor's id);
    the guardian's audit row, naming the guardian as actor, is committed right after it."""
    contact = access_ward_by_id(guardian, contact_id)
    if not contact.user.is_minor or not history_deletion_offered(settings.CN_REGIME):
        raise ContactNotFound(contact_id)
    count = delete_all_conversations(user=contact.user)
    _audit_history_deleted(guardian=guardian, contact=contact, conversations=count)
    return count


@transaction.atomic(durable=True)
def _audit_history_deleted(*, guardian: User, contact: Contact, conversations: int) -> None:
    audit.record("guardian.history_deleted", actor=guardian, subject_type="contact", subject_id=contact.pk,
                 data={"user": contact.user_id, "conversations": conversations})
