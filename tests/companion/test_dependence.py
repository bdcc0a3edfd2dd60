"""The nightly dependence score (CN-EMO-06) and what it opens: the disclosure pop-up on the next chat
open (CN-DIS-03), never a nudge (BX-06). Messages are rows with `created_at` set directly."""
import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from companion.celery import app as celery_app
from companion.dependence import FLAG_VALID_DAYS, DayUsage, Thresholds, assess, day_usage, score_all
from companion.models import Character, Conversation, DependenceScore, Message, Reminder, ReminderKind
from companion.services import open_chat
from companion.tasks import score_dependence
from tests.fixtures import UserFactory, join

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = dt.date(2026, 11, 29)  # the scored window is 23-29 November, Shanghai time
CUE = {"level": "distress", "categories": ["dependence"], "score": 0.6}
GAP = dt.timedelta(minutes=20)


def at(days_before: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY - dt.timedelta(days=days_before), dt.time(hour, minute), tzinfo=SHANGHAI)


def every(start: dt.datetime, end: dt.datetime, minutes: int = 10) -> list[dt.datetime]:
    moments = []
    while start <= end:
        moments.append(start)
        start += dt.timedelta(minutes=minutes)
    return moments


def write(user, moments, *, risk=None, author="user", slug="friend"):
    conversation, _ = Conversation.objects.get_or_create(
        user=user, character=Character.objects.get(slug=slug), archived_at=None)
    for moment in moments:
        message = Message.objects.create(conversation=conversation, author=author, text="hello", risk=risk or {})
        Message.objects.filter(pk=message.pk).update(created_at=moment)


def score_of(user, day=DAY) -> DependenceScore:
    return DependenceScore.objects.get(user=user, scored_on=day)


# --- the pure parts -------------------------------------------------------------------------------

def test_a_day_splits_into_sessions_at_the_continuity_gap():
    moments = [(at(0, 9, 0), False), (at(0, 9, 19), True), (at(0, 9, 39), False), (at(0, 2, 0), False)]
    moments.sort()
    usage = day_usage(moments, gap=GAP)
    # 02:00 alone (1 min), 09:00-09:19 (20 min), 09:39 alone after a 20-minute gap (1 min)
    assert usage == DayUsage(minutes=22, sessions=3, night=True, cues=1)


def test_thresholds_are_inclusive_except_the_minutes():
    thresholds = Thresholds(heavy_minutes=240, heavy_days=3, night_days=5, cues=3)
    heavy = DayUsage(minutes=241, sessions=1, night=False, cues=0)
    exactly = DayUsage(minutes=240, sessions=1, night=False, cues=0)
    assert assess([heavy] * 3, thresholds).reasons == ["heavy_use"]
    assert not assess([heavy] * 2 + [exactly] * 5, thresholds).flagged
    assert assess([], thresholds) == assess([], thresholds) and not assess([], thresholds).flagged


# --- the nightly job ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_over_four_hours_on_three_days_flags(demo):
    user = UserFactory()
    for days_before in (0, 2, 5):
        write(user, every(at(days_before, 9), at(days_before, 13)))  # 09:00-13:00: 241 minutes
    assert score_all(day=DAY) == 1
    score = score_of(user)
    assert score.flagged and score.reasons == ["heavy_use"] and score.heavy_days == 3
    assert (score.night_days, score.cues) == (0, 0)


@pytest.mark.django_db
def test_below_the_usage_threshold_does_not_flag(demo):
    two_days, exactly_four_hours, scattered = UserFactory(), UserFactory(), UserFactory()
    for days_before in (0, 1):
        write(two_days, every(at(days_before, 9), at(days_before, 13)))
    for days_before in (0, 1, 2):
        write(exactly_four_hours, every(at(days_before, 9), at(days_before, 12, 50)) + [at(days_before, 12, 59)])
        # Messages 25 minutes apart are separate one-minute sessions, however long the day.
        write(scattered, every(at(days_before, 6), at(days_before, 23), minutes=25))
    score_all(day=DAY)
    assert (score_of(two_days).flagged, score_of(two_days).heavy_days) == (False, 2)
    assert (score_of(exactly_four_hours).flagged, score_of(exactly_four_hours).heavy_days) == (False, 0)
    assert (score_of(scattered).flagged, score_of(scattered).heavy_days) == (False, 0)


@pytest.mark.django_db
def test_sessions_of_one_day_add_up_across_characters(demo):
    user = UserFactory()
    for days_before in (1, 3, 6):
        write(user, every(at(days_before, 9), at(days_before, 11)))  # 121 minutes
        write(user, every(at(days_before, 12), at(days_before, 14)), slug="mentor")  # 121 more
    score_all(day=DAY)
    assert score_of(user).reasons == ["heavy_use"]


@pytest.mark.django_db
def test_night_use_on_five_days_flags_and_on_four_does_not(demo):
    five, four = UserFactory(), UserFactory()
    for days_before in range(5):
        write(five, [at(days_before, 1, 15)])
    for days_before in range(4):
        write(four, [at(days_before, 4, 59)])
    write(four, [at(4, 5, 0)])  # 05:00 is morning
    score_all(day=DAY)
    assert score_of(five).reasons == ["night_use"] and score_of(five).night_days == 5
    assert not score_of(four).flagged and score_of(four).night_days == 4


@pytest.mark.django_db
def test_days_and_nights_are_shanghai_time(demo):
    """00:30 in Shanghai is 16:30 UTC the day before: night use, counted on the Shanghai day."""
    inside, outside = UserFactory(), UserFactory()
    write(inside, [at(days_before, 0, 30) for days_before in (0, 1, 2, 3, 6)])  # 6 days before: window start
    assert at(6, 0, 30).astimezone(dt.timezone.utc).hour == 16
    write(outside, [at(days_before, 0, 30) for days_before in (0, 1, 2, 3)])
    write(outside, [at(-1, 0, 30), at(7, 23, 59)])  # just after and just before the window
    score_all(day=DAY)
    assert score_of(inside).flagged and score_of(inside).night_days == 5
    assert not score_of(outside).flagged and score_of(outside).night_days == 4


@pytest.mark.django_db
def test_three_dependence_cues_in_a_week_flag(demo):
    three, two = UserFactory(), UserFactory()
    write(three, [at(0, 10), at(3, 10), at(6, 10)], risk=CUE)
    write(two, [at(0, 10), at(3, 10)], risk=CUE)
    write(two, [at(7, 10)], risk=CUE)  # a week ago: outside the window
    write(two, [at(1, 10)], risk=CUE, author="ai")  # only what the user wrote counts
    write(two, [at(2, 10)], risk={"level": "distress", "categories": ["self_harm"]})
    score_all(day=DAY)
    assert score_of(three).reasons == ["cues"] and score_of(three).cues == 3
    assert not score_of(two).flagged and score_of(two).cues == 2


@pytest.mark.django_db
def test_thresholds_come_from_settings(demo, settings):
    settings.COMPANION_DEPENDENCE_CUES = 1
    settings.COMPANION_DEPENDENCE_NIGHT_DAYS = 1
    user = UserFactory()
    write(user, [at(0, 3)], risk=CUE)
    score_all(day=DAY)
    assert score_of(user).reasons == ["night_use", "cues"]


@pytest.mark.django_db
def test_a_rerun_updates_the_same_row(demo):
    user = UserFactory()
    write(user, [at(0, 10), at(1, 10)], risk=CUE)
    score_all(day=DAY)
    first = score_of(user)
    assert not first.flagged
    write(user, [at(2, 10)], risk=CUE)
    score_all(day=DAY)
    score_all(day=DAY)
    again = score_of(user)
    assert DependenceScore.objects.filter(user=user).count() == 1
    assert (again.pk, again.created_at) == (first.pk, first.created_at)
    assert again.flagged and again.cues == 3


@pytest.mark.django_db
def test_a_flag_clears_when_the_signs_are_gone(demo):
    user = UserFactory()
    DependenceScore.objects.create(user=user, scored_on=DAY - dt.timedelta(days=1), flagged=True,
                                   reasons=["cues"], cues=3)
    assert score_all(day=DAY) == 1
    assert not score_of(user).flagged and score_of(user).reasons == []


@pytest.mark.django_db
def test_the_score_never_reads_message_text(demo):
    """CN-EMO-06 "no human reading": the job selects no text, so even undecryptable text scores."""
    user = UserFactory()
    write(user, [at(0, 10), at(1, 10), at(2, 10)], risk=CUE)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE companion_message SET text = %s", ["not a Fernet token"])
    with pytest.raises(ImproperlyConfigured):
        list(Message.objects.all())  # reading the text would fail
    with CaptureQueriesContext(connection) as queries:
        score_all(day=DAY)
    assert score_of(user).flagged
    message_reads = [q["sql"] for q in queries.captured_queries if "companion_message" in q["sql"]]
    assert len(message_reads) == 1 and '"companion_message"."text"' not in message_reads[0]


@pytest.mark.django_db
def test_one_read_however_many_users(demo):
    def queries_for(users: int) -> int:
        for _ in range(users):
            write(UserFactory(), [at(0, 1), at(1, 1)], risk=CUE)
        with CaptureQueriesContext(connection) as queries:
            score_all(day=DAY)
        return len(queries.captured_queries)

    assert queries_for(2) == queries_for(8)


@pytest.mark.django_db
def test_the_nightly_task_scores_yesterday_at_03_30(demo):
    user = UserFactory()
    write(user, [at(0, 1), at(1, 1), at(2, 1), at(3, 1), at(4, 1)])
    with time_machine.travel(dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(3, 30), tzinfo=SHANGHAI)):
        assert score_dependence.delay().get() == 1
    assert score_of(user).reasons == ["night_use"]
    assert score_dependence.delay(DAY.isoformat()).get() == 1  # an explicit day, as for a rerun
    entry = django_settings.CELERY_BEAT_SCHEDULE["dependence-nightly-score"]
    assert entry["task"] == score_dependence.name and entry["task"] in celery_app.tasks
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {30})
    assert django_settings.CELERY_TIMEZONE == "Asia/Shanghai"


# --- what a flag opens ----------------------------------------------------------------------------

def _open(user):
    return open_chat(user=user, character_slug="friend", session_key="s", language="en")


@pytest.mark.django_db
def test_only_a_recent_flag_opens_the_popup_once(demo):
    flagged, unflagged, stale = UserFactory(), UserFactory(), UserFactory()
    DependenceScore.objects.create(user=flagged, scored_on=DAY, flagged=True, reasons=["cues"], cues=3)
    DependenceScore.objects.create(user=unflagged, scored_on=DAY - dt.timedelta(days=1), flagged=True)
    DependenceScore.objects.create(user=unflagged, scored_on=DAY, flagged=False)
    DependenceScore.objects.create(user=stale, scored_on=DAY - dt.timedelta(days=FLAG_VALID_DAYS), flagged=True)
    with time_machine.travel(dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(10), tzinfo=SHANGHAI)):
        opening = _open(flagged)
        assert [r.kind for r in opening.reminders if r.kind == ReminderKind.DEPENDENCE] == ["dependence"]
        _open(flagged)
        assert Reminder.objects.filter(user=flagged, kind=ReminderKind.DEPENDENCE).count() == 1
        for user in (unflagged, stale):
            assert all(r.kind != ReminderKind.DEPENDENCE for r in _open(user).reminders)
            assert not Reminder.objects.filter(user=user, kind=ReminderKind.DEPENDENCE).exists()


@pytest.mark.django_db(transaction=True)
async def test_flagged_users_receive_none(demo):
    """BX-06: a flag sends nothing unprompted (no pop-up, message, mail or socket frame, not even to
    a chat left open); the next chat the user opens shows the AI-disclosure pop-up (CN-DIS-03)."""
    user = await database_sync_to_async(UserFactory)(language="en")
    await database_sync_to_async(write)(user, [at(n, 2) for n in range(6)], risk=CUE)

    @database_sync_to_async
    def sent_to_user():
        return (list(Reminder.objects.filter(user=user).values_list("kind", flat=True)),
                Message.objects.filter(conversation__user=user).count())

    night = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(3, 30), tzinfo=SHANGHAI)
    with time_machine.travel(night, tick=True) as clock:
        left_open, _, _ = await join(user, "mentor")
        before = await sent_to_user()
        assert (await database_sync_to_async(score_dependence.delay)()).get() == 1
        score = await database_sync_to_async(score_of)(user)
        assert score.flagged and score.reasons == ["night_use", "cues"]
        assert await left_open.receive_nothing(timeout=0.3)
        assert await sent_to_user() == before and mail.outbox == []
        await left_open.disconnect()

        clock.move_to(night + dt.timedelta(hours=7))
        socket, ready, pending = await join(user)  # the user dismisses the pop-ups
        popups = [frame for frame in pending if frame["kind"] == "dependence"]
        assert len(popups) == 1 and popups[0]["type"] == "reminder" and popups[0]["requires_ack"]
        assert "AI" in popups[0]["text"] and "friend or family member" in popups[0]["text"]
        await socket.receive_nothing(timeout=0.1)
        await socket.disconnect()
        again, _, pending = await join(user)  # shown once for this score, not on every open
        assert all(frame["kind"] != "dependence" for frame in pending)
        assert (await sent_to_user())[0].count("dependence") == 1
        await again.disconnect()
