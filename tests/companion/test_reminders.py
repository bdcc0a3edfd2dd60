"""Continuous-use reminders and disclosure pop-ups, with a controllable clock (issue #7).

One server-side clock per user across sockets (BX-07); reminders are created once, reach every
socket, survive reconnects, and need an acknowledgement (CN-USE-01/02, CN-DIS-02, US-CA-03, US-NY-02).
"""
import asyncio
import datetime as dt

import pytest
import time_machine
from channels.db import database_sync_to_async

from accounts.models import User
from companion.models import Reminder, UsageClock
from tests.fixtures import UserFactory, frames_until, join

pytestmark = pytest.mark.django_db(transaction=True)
START = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def instant_heartbeats(settings):
    settings.COMPANION_HEARTBEAT_SECONDS = 0  # the socket ignores heartbeats closer than a third of this


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=True) as traveller:
        yield traveller


def reminders_of(user, **filters):
    return database_sync_to_async(lambda: list(Reminder.objects.filter(user=user, **filters)))()


async def use_for(sockets, clock, minutes: int, step: int = 10):
    """Heartbeats every `step` minutes, alternating between the sockets (two devices).

    Each heartbeat is waited for: one handled after the clock moved on again would leave a gap
    of 20 minutes or more, which rightly ends the streak.
    """
    for n in range(minutes // step):
        clock.shift(dt.timedelta(minutes=step))
        sent_at = dt.datetime.now(dt.timezone.utc)
        await sockets[n % len(sockets)].send_json_to({"type": "heartbeat"})
        for _ in range(200):
            if await last_active() >= sent_at:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the heartbeat was not recorded")


@database_sync_to_async
def last_active():
    return max(UsageClock.objects.values_list("last_active_at", flat=True))


async def no_reminder(socket):
    while not await socket.receive_nothing(timeout=0.1):
        assert (await socket.receive_json_from())["type"] != "reminder"


async def test_two_hour_reminder_reaches_both_devices_once(demo, clock, settings):
    settings.COMPANION_LONG_SESSION_HOURS = 24  # the long-session pop-up has its own test
    user = await database_sync_to_async(UserFactory)(language="en")
    phone, _, _ = await join(user, "friend")
    laptop, _, _ = await join(user, "mentor")
    await use_for([phone, laptop], clock, 110)
    await no_reminder(phone)
    await use_for([phone, laptop], clock, 10)
    on_phone = (await frames_until(phone, "reminder"))[-1]
    on_laptop = (await frames_until(laptop, "reminder"))[-1]
    assert on_phone == on_laptop and on_phone["kind"] == "continuous_use" and on_phone["requires_ack"]
    assert "2 hours" in on_phone["text"]
    assert len(await reminders_of(user, kind="continuous_use")) == 1
    await use_for([phone, laptop], clock, 110)
    await no_reminder(laptop)
    await use_for([phone, laptop], clock, 10)  # CN-USE-02: again after each further 2 hours
    second = (await frames_until(phone, "reminder"))[-1]
    assert second["id"] != on_phone["id"] and "4 hours" in second["text"]
    await phone.disconnect()
    await laptop.disconnect()


async def test_a_long_gap_restarts_continuous_use(demo, clock):
    user = await database_sync_to_async(UserFactory)()
    socket, _, _ = await join(user)
    await use_for([socket], clock, 60)
    clock.shift(dt.timedelta(minutes=25))
    await use_for([socket], clock, 70)
    await no_reminder(socket)
    assert await reminders_of(user, kind="continuous_use") == []
    await socket.disconnect()


async def test_reconnecting_neither_resets_nor_repeats(demo, clock):
    user = await database_sync_to_async(UserFactory)()
    socket, _, _ = await join(user)
    await use_for([socket], clock, 100)
    await socket.disconnect()
    clock.shift(dt.timedelta(minutes=5))
    socket, _, _ = await join(user)  # a new tab: the streak goes on
    await use_for([socket], clock, 20)
    reminder = (await frames_until(socket, "reminder"))[-1]
    await socket.disconnect()
    socket, ready, pending = await join(user, acknowledge=False)
    # Not acknowledged yet: shown again (beside this new login's disclosure pop-up).
    assert [r["id"] for r in pending if r["kind"] == "continuous_use"] == [reminder["id"]]
    await socket.send_json_to({"type": "ack", "reminder_id": reminder["id"]})
    await socket.receive_nothing(timeout=0.1)
    stored = (await reminders_of(user, kind="continuous_use"))
    assert len(stored) == 1 and stored[0].acknowledged_at is not None
    await socket.disconnect()
    socket, ready, pending = await join(user)
    assert [r["kind"] for r in pending] == ["disclosure"]
    await socket.disconnect()


async def test_a_streaming_reply_counts_as_use(demo, clock, settings):
    settings.LLM_OFFLINE_CHUNK_DELAY_MS = 400  # the reply streams for about two seconds
    user = await database_sync_to_async(UserFactory)()
    socket, _, _ = await join(user)
    await use_for([socket], clock, 110)
    started = (await database_sync_to_async(UsageClock.objects.get)(user=user)).streak_started_at
    clock.move_to(started + dt.timedelta(minutes=119, seconds=59, milliseconds=500))
    await socket.send_json_to({"type": "message", "text": "Tell me a story", "client_id": "x"})
    frames = await frames_until(socket, "reminder", timeout=10)
    # Sent just before the 2-hour mark; the reminder comes when the reply has streamed past it.
    assert "message_end" in [f["type"] for f in frames] and frames[-1]["kind"] == "continuous_use"
    await socket.disconnect()


async def test_cn_login_disclosure_needs_acknowledgement_each_login(demo, clock):
    user = await database_sync_to_async(UserFactory)(language="zh-hans")
    socket, ready, pending = await join(user, acknowledge=False)
    assert [r["kind"] for r in pending] == ["disclosure"] and "人工智能" in pending[0]["text"]
    await socket.send_json_to({"type": "ack", "reminder_id": pending[0]["id"]})
    await socket.receive_nothing(timeout=0.1)
    await socket.disconnect()
    again, ready, pending = await join(user)  # a new login (new session) asks again (CN-DIS-02)
    assert [r["kind"] for r in pending] == ["disclosure"]
    await again.disconnect()


async def test_final_regime_drops_the_draft_only_login_popup(demo, settings):
    settings.CN_REGIME = "final"
    user = await database_sync_to_async(UserFactory)()
    socket, ready, pending = await join(user)
    assert pending == [] and ready["disclosure"]  # the header notice stays (CN-DIS-01)
    await socket.disconnect()


async def test_new_york_notice_once_a_day_and_every_three_hours(demo, clock, settings):
    settings.POLICY_PACKS = ["US-NY"]
    user = await database_sync_to_async(UserFactory)(region="US-NY")
    socket, _, pending = await join(user)
    assert [r["kind"] for r in pending] == ["disclosure"]
    await socket.disconnect()
    socket, _, pending = await join(user, "mentor")  # second conversation the same day: no start notice
    assert pending == []
    await use_for([socket], clock, 170)
    await no_reminder(socket)
    await use_for([socket], clock, 10)
    reminder = (await frames_until(socket, "reminder"))[-1]
    assert reminder["kind"] == "disclosure" and "not a human" in reminder["text"]
    await socket.disconnect()
    clock.shift(dt.timedelta(days=1))
    socket, _, pending = await join(user)
    assert [r["kind"] for r in pending] == ["disclosure"]
    await socket.disconnect()


async def test_teen_ca_gets_the_sb243_break_reminder(demo, clock, settings):
    settings.POLICY_PACKS = ["US-CA"]
    teen = await database_sync_to_async(User.objects.get)(username="teen_ca")
    socket, _, _ = await join(teen)
    await use_for([socket], clock, 170)
    await no_reminder(socket)
    await use_for([socket], clock, 10)
    reminder = (await frames_until(socket, "reminder"))[-1]
    assert reminder["kind"] == "break"
    assert "break" in reminder["text"] and "AI, not a human" in reminder["text"]
    await socket.disconnect()


async def test_with_cn_also_active_the_minor_mode_reminder_carries_both_packs_messages(demo, clock, settings):
    """CN-MIN-01 (a reality reminder every 30 minutes in minor mode) and SB 243 together: the
    strictest interval, with everything either pack asks the reminder to say."""
    settings.POLICY_PACKS = ["CN", "US-CA"]
    settings.COMPANION_MINOR_DAILY_MINUTES = {"under_8": 40, "age_8_to_15": 180, "age_16_to_17": 180}  # CN-MIN-10 aside
    teen = await database_sync_to_async(User.objects.get)(username="teen_ca")
    socket, _, _ = await join(teen)
    await use_for([socket], clock, 20)
    await no_reminder(socket)
    await use_for([socket], clock, 10)
    reminder = (await frames_until(socket, "reminder"))[-1]
    assert reminder["kind"] == "break"
    assert "30 minutes" in reminder["text"] and "break" in reminder["text"] and "AI, not a human" in reminder["text"]
    await socket.disconnect()


async def test_minor13_gets_a_break_reminder_at_30_minutes(demo, clock):
    """CN-MIN-01's acceptance check with the demo child; adults keep the two-hour reminder."""
    child = await database_sync_to_async(User.objects.get)(username="minor13")
    socket, _, _ = await join(child, "study-buddy")
    await use_for([socket], clock, 20)
    await no_reminder(socket)
    await use_for([socket], clock, 10)
    reminder = (await frames_until(socket, "reminder"))[-1]
    assert reminder["kind"] == "break" and "30 分钟" in reminder["text"] and "人工智能" in reminder["text"]
    await socket.disconnect()


async def test_acknowledging_someone_elses_reminder_is_not_found(demo, clock):
    owner = await database_sync_to_async(UserFactory)()
    theirs, _, pending = await join(owner, acknowledge=False)
    intruder = await database_sync_to_async(UserFactory)()
    mine, _, _ = await join(intruder)
    await mine.send_json_to({"type": "ack", "reminder_id": pending[0]["id"]})
    assert (await frames_until(mine, "error"))[-1]["code"] == "not_found"
    await mine.send_json_to({"type": "ack", "reminder_id": "not-a-uuid"})
    assert (await frames_until(mine, "error"))[-1]["code"] == "not_found"
    assert (await reminders_of(owner))[0].acknowledged_at is None
    await theirs.disconnect()
    await mine.disconnect()


async def test_dependence_signals_open_a_popup_at_most_daily(demo, clock):
    user = await database_sync_to_async(UserFactory)(language="en")
    socket, _, _ = await join(user)

    async def send(text, client_id):
        await socket.send_json_to({"type": "message", "text": text, "client_id": client_id})
        frames = await frames_until(socket, "message_end")
        while not await socket.receive_nothing(timeout=0.2):  # the pop-up may trail the reply
            frames.append(await socket.receive_json_from())
        return frames

    frames = await send("You're the only one who understands me.", "d1")
    popup = [f for f in frames if f["type"] == "reminder"]
    assert [p["kind"] for p in popup] == ["dependence"] and "AI" in popup[0]["text"]  # CN-DIS-03
    reply = "".join(f["text"] for f in frames if f["type"] == "message_delta")
    assert "friend or family" in reply  # boundary guidance towards real people (CN-EMO-01, BX-06)
    assert all(f["type"] != "reminder" for f in await send("I only have you.", "d2"))
    clock.shift(dt.timedelta(hours=25))
    # A day later (the socket stayed open: it must still be in its channel-layer groups).
    assert [f["kind"] for f in await send("我只有你了", "d3") if f["type"] == "reminder"] == ["dependence"]
    assert len(await reminders_of(user, kind="dependence")) == 2
    await socket.disconnect()


async def test_a_very_long_session_opens_the_dependence_popup_once(demo, clock, settings):
    """CN-EMO-06, BX-06: usage itself (not only what the user says) signals over-reliance."""
    settings.POLICY_PACKS = ["EU"]  # no periodic reminders in the way
    user = await database_sync_to_async(UserFactory)(region="EU")
    socket, _, _ = await join(user)
    await use_for([socket], clock, 170)
    await no_reminder(socket)
    await use_for([socket], clock, 10)
    reminder = (await frames_until(socket, "reminder"))[-1]
    assert reminder["kind"] == "dependence" and "AI" in reminder["text"]
    await use_for([socket], clock, 60)
    await no_reminder(socket)  # at most once a day
    assert len(await reminders_of(user, kind="dependence")) == 1
    await socket.disconnect()
