"""Minors' daily time limits and rest hours on the one server clock (CN-MIN-10, BX-07, issue #5 item 1).

Usage is driven like tests/companion/test_reminders.py: heartbeats from two sockets ("devices")
while time_machine moves the clock; days and rest hours are Beijing time.
"""
import datetime as dt

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.utils import timezone

from companion.models import DailyUsage, Message, Reminder
from companion.time_limits import current_lock
from tests.companion.test_reminders import instant_heartbeats, use_for  # noqa: F401  (autouse fixture)
from tests.fixtures import UserFactory, client_for, frames_until, join, open_socket

pytestmark = pytest.mark.django_db(transaction=True)
BEIJING = dt.timezone(dt.timedelta(hours=8))
MORNING = dt.datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)
AGED_15 = dt.date(2011, 6, 1)
AGED_16 = dt.date(2010, 6, 1)
AGED_6 = dt.date(2020, 6, 1)


@pytest.fixture
def clock():
    with time_machine.travel(MORNING, tick=True) as traveller:
        yield traveller


@pytest.fixture
def curfew(settings):
    settings.COMPANION_MINOR_CURFEW = "22:00-06:00"  # off in test settings; on in production


def person(**fields):
    return database_sync_to_async(UserFactory)(language="en", **fields)


async def closed_with(socket, reason: str, code: int) -> list[dict]:
    """Every frame up to `closed` (which must give `reason`), then the close code."""
    frames = await frames_until(socket, "closed")
    assert frames[-1] == {"type": "closed", "reason": reason}
    assert (await socket.receive_output(timeout=2)) == {"type": "websocket.close", "code": code}
    return frames


async def refused_on_connect(user, reason: str, code: int):
    socket, connected, _ = await open_socket(user)
    assert connected  # accepted, so the page can say why
    frames = await closed_with(socket, reason, code)
    assert [frame["type"] for frame in frames] == ["closed"]  # never `ready`


async def still_open(socket) -> None:
    while not await socket.receive_nothing(timeout=0.2):
        assert (await socket.receive_json_from())["type"] != "closed"


async def test_a_15_year_old_is_cut_off_at_60_minutes_over_two_devices(demo, clock):
    teen = await person(birth_date=AGED_15)
    phone, _, _ = await join(teen, "friend")
    laptop, _, _ = await join(teen, "mentor")
    await use_for([phone, laptop], clock, 50)
    await still_open(phone)
    await use_for([phone, laptop], clock, 10)
    on_phone = await closed_with(phone, "time_limit", 4430)
    on_laptop = await closed_with(laptop, "time_limit", 4430)
    reminder = [frame for frame in on_phone if frame["type"] == "reminder"][-1]
    assert reminder["kind"] == "time_limit" and "60 minutes" in reminder["text"]
    assert reminder in on_laptop  # the same pop-up, stored once, on both devices
    assert await database_sync_to_async(Reminder.objects.filter(user=teen, kind="time_limit").count)() == 1
    usage = await database_sync_to_async(DailyUsage.objects.get)(user=teen)
    assert usage.day == dt.date(2026, 11, 23) and 60 * 60 <= usage.seconds < 61 * 60  # counted once, not twice

    clock.shift(dt.timedelta(hours=3))
    await refused_on_connect(teen, "time_limit", 4430)  # the same Beijing day: still locked

    clock.move_to(dt.datetime(2026, 11, 24, 0, 1, tzinfo=BEIJING))  # the next Beijing day (still 16:01 UTC)
    socket, ready, _ = await join(teen)
    assert ready["type"] == "ready"
    await socket.disconnect()


async def test_a_16_year_old_gets_120_minutes_over_two_devices_and_a_child_40(demo, clock):
    teen = await person(birth_date=AGED_16)
    phone, _, _ = await join(teen, "friend")
    laptop, _, _ = await join(teen, "mentor")
    await use_for([phone, laptop], clock, 110)
    await still_open(phone)
    await use_for([phone, laptop], clock, 10)
    for socket in (phone, laptop):
        frames = await closed_with(socket, "time_limit", 4430)
        assert "time_limit" in [frame.get("kind") for frame in frames if frame["type"] == "reminder"]

    child = await person(birth_date=AGED_6)
    socket, _, _ = await join(child)
    await use_for([socket], clock, 30)
    await still_open(socket)
    await use_for([socket], clock, 10)
    await closed_with(socket, "time_limit", 4430)


async def test_adults_have_no_limit(demo, clock, settings, curfew):
    settings.COMPANION_LONG_SESSION_HOURS = 24
    adult = await person()
    socket, _, _ = await join(adult)
    await use_for([socket], clock, 150)
    await still_open(socket)
    clock.move_to(dt.datetime(2026, 11, 23, 23, 0, tzinfo=BEIJING))
    await socket.send_json_to({"type": "heartbeat"})
    await still_open(socket)
    await socket.disconnect()


async def test_a_message_racing_the_close_never_reaches_the_model(demo, clock):
    teen = await person(birth_date=AGED_15)
    socket, _, _ = await join(teen)
    # Another device has used up the day meanwhile; this socket has not heard yet.
    await database_sync_to_async(DailyUsage.objects.update_or_create)(
        user=teen, day=dt.date(2026, 11, 23), defaults={"seconds": 3600})
    await socket.send_json_to({"type": "message", "text": "hello", "client_id": "late"})
    frames = await closed_with(socket, "time_limit", 4430)
    assert [frame["type"] for frame in frames] == ["reminder", "closed"]
    assert not await database_sync_to_async(Message.objects.filter(client_id="late").exists)()


async def test_rest_hours_22_to_6_beijing(demo, clock, curfew):
    teen = await person(birth_date=AGED_16)
    clock.move_to(dt.datetime(2026, 11, 23, 22, 30, tzinfo=BEIJING))
    await refused_on_connect(teen, "curfew", 4431)

    clock.move_to(dt.datetime(2026, 11, 24, 21, 59, tzinfo=BEIJING))
    phone, _, _ = await join(teen, "friend")
    laptop, _, _ = await join(teen, "mentor")
    clock.move_to(dt.datetime(2026, 11, 24, 22, 0, tzinfo=BEIJING))
    await phone.send_json_to({"type": "heartbeat"})
    frames = await closed_with(phone, "curfew", 4431)
    reminder = [frame for frame in frames if frame["type"] == "reminder"][-1]
    assert reminder["kind"] == "curfew" and "22:00" in reminder["text"] and "06:00" in reminder["text"]
    await closed_with(laptop, "curfew", 4431)

    clock.move_to(dt.datetime(2026, 11, 25, 5, 59, tzinfo=BEIJING))
    await refused_on_connect(teen, "curfew", 4431)
    clock.move_to(dt.datetime(2026, 11, 25, 6, 0, tzinfo=BEIJING))
    socket, ready, _ = await join(teen)
    assert ready["type"] == "ready"
    await socket.disconnect()


async def test_staff_and_other_regions_packs_are_unaffected(demo, clock, curfew, settings):
    teen = await person(birth_date=AGED_16)
    clock.move_to(dt.datetime(2026, 11, 23, 23, 0, tzinfo=BEIJING))
    assert await database_sync_to_async(current_lock)(teen, timezone.now()) is not None
    settings.POLICY_PACKS = ["US-CA"]  # CN-MIN-10 belongs to the CN pack
    assert await database_sync_to_async(current_lock)(teen, timezone.now()) is None


@pytest.mark.parametrize("language, limit_words, curfew_words", [
    ("en", ["Time limit", "60 minutes", "Beijing time"], ["Rest hours", "22:00", "06:00"]),
    ("zh-hans", ["使用时长已达上限", "60 分钟"], ["休息时段", "22:00", "06:00"]),
])
def test_the_chat_page_says_why_and_when_it_reopens(demo, settings, language, limit_words, curfew_words):
    teen = UserFactory(birth_date=AGED_15, language=language)
    with time_machine.travel(MORNING, tick=False):
        DailyUsage.objects.create(user=teen, day=dt.date(2026, 11, 23), seconds=3600)
        response = client_for(teen, language).get("/chat/friend/")
    assert response.status_code == 403
    page = response.content.decode()
    assert 'data-reason="time_limit"' in page and 'id="exit-button"' not in page
    assert all(words in page for words in limit_words), page
    settings.COMPANION_MINOR_CURFEW = "22:00-06:00"
    with time_machine.travel(dt.datetime(2026, 11, 24, 23, 0, tzinfo=BEIJING), tick=False):
        response = client_for(teen, language).get("/chat/friend/")
    page = response.content.decode()
    assert response.status_code == 403 and 'data-reason="curfew"' in page
    assert all(words in page for words in curfew_words), page
