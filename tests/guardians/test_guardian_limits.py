"""CN-MIN-10 "guardians may tighten" (issue #5 items 1 and 3): in the guardian portal a linked guardian
lowers a minor's daily chat minutes and widens their rest hours, never the other way; the change is
audited with the numbers only and takes effect at once on the minor's open chat sockets.

The clock and the sockets are driven as in tests/companion/test_time_limits.py (Beijing time)."""
import datetime as dt

import pytest
from channels.db import database_sync_to_async
from django.utils import translation
from django.utils.translation import gettext

from accounts.models import AuditEvent, User
from guardians import services
from guardians.models import Contact, ContactKind
from guardians.policies import STATUTORY_REST, GuardianLimits, limits_refusal, rest_covers
from guardians.selectors import ContactNotFound
from tests.companion.test_reminders import instant_heartbeats, use_for  # noqa: F401  (autouse fixture)
from tests.companion import test_time_limits
from tests.companion.test_time_limits import (AGED_15, AGED_16, BEIJING, closed_with, person,
                                              refused_on_connect, still_open)
from tests.fixtures import client_for, join
from tests.guardians.conftest import make_guardian_account, make_user

pytestmark = pytest.mark.django_db(transaction=True)
clock = test_time_limits.clock  # the same Beijing-morning clock fixture
NO_LIMITS = {"daily_minutes": "", "rest_start": "", "rest_end": ""}


def ward_of(user: User) -> Contact:
    return Contact.objects.select_related("account").get(user=user, kind=ContactKind.GUARDIAN, active=True)


def post_limits(client, contact: Contact, **fields):
    return client.post(f"/guardian/wards/{contact.pk}/limits/", {**NO_LIMITS, **fields})


@database_sync_to_async
def guardian_sets(user: User, **fields):
    """The minor's own guardian posts the portal's limits form; returns the response."""
    contact = ward_of(user)
    return post_limits(client_for(contact.account), contact, **fields)


def limit_events(contact: Contact) -> list[tuple]:
    return [(event.actor_id, event.data) for event in AuditEvent.objects.filter(
        action="guardian.limits_set", subject_type="contact", subject_id=str(contact.pk)).order_by("id")]


def in_language(msgid: str, language: str) -> str:
    with translation.override(language):
        return gettext(msgid)


# --- the rule (pure) ---------------------------------------------------------------------------

def hm(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


@pytest.mark.parametrize("window, covers", [
    (("22:00", "06:00"), True), (("20:00", "07:00"), True), (("12:00", "11:59"), True),
    (("22:01", "06:00"), False), (("22:00", "05:59"), False), (("23:00", "07:00"), False),
    (("06:00", "22:00"), False), (("22:00", "22:00"), False), (("01:00", "08:00"), False),
])
def test_rest_hours_must_include_the_whole_default_window(window, covers):
    assert rest_covers((hm(window[0]), hm(window[1])), STATUTORY_REST) is covers


def test_only_tightening_is_allowed():
    rest = (hm("22:00"), hm("06:00"))
    check = lambda **limits: limits_refusal(limits=GuardianLimits(**limits), default_minutes=60,  # noqa: E731
                                            default_rest=rest)
    assert check(daily_minutes=0) is check(daily_minutes=60) is check() is None
    assert check(daily_minutes=61) == "minutes_above_default"
    assert check(rest=(hm("21:00"), hm("06:00"))) is None
    assert check(rest=(hm("22:30"), hm("06:00"))) == "rest_too_short"
    assert limits_refusal(limits=GuardianLimits(daily_minutes=10), default_minutes=None, default_rest=rest) == (
        "not_minor")
    # Where the deployment switched rest hours off, a guardian's window must still cover 22:00-06:00.
    assert limits_refusal(limits=GuardianLimits(rest=(hm("23:00"), hm("06:00"))), default_minutes=60,
                          default_rest=None) == "rest_too_short"


# --- on the sockets ----------------------------------------------------------------------------

async def test_a_15_year_old_lowered_to_30_minutes_is_cut_off_at_30_over_two_devices(demo, clock):
    teen = await person(birth_date=AGED_15)
    response = await guardian_sets(teen, daily_minutes="30")
    assert response.status_code == 302 and response["Location"].endswith("-limits")
    phone, _, _ = await join(teen, "friend")
    laptop, _, _ = await join(teen, "mentor")
    await use_for([phone, laptop], clock, 20)
    await still_open(phone)
    await use_for([phone, laptop], clock, 10)
    frames = await closed_with(phone, "time_limit", 4430)
    reminder = [frame for frame in frames if frame["type"] == "reminder"][-1]
    assert reminder["kind"] == "time_limit" and "30 minutes" in reminder["text"]
    await closed_with(laptop, "time_limit", 4430)
    await refused_on_connect(teen, "time_limit", 4430)

    # Back to the defaults: the age's 60 minutes apply again, so chat reopens the same day.
    assert (await guardian_sets(teen, action="defaults")).status_code == 302
    socket, ready, _ = await join(teen)
    assert ready["type"] == "ready"
    await socket.disconnect()


async def test_zero_minutes_closes_an_open_chat_at_once(demo, clock):
    teen = await person(birth_date=AGED_16)
    phone, _, _ = await join(teen, "friend")
    laptop, _, _ = await join(teen, "mentor")
    await guardian_sets(teen, daily_minutes="0")
    for socket in (phone, laptop):
        frames = await closed_with(socket, "time_limit", 4430)
        assert [frame["type"] for frame in frames] == ["reminder", "closed"]
        assert frames[0]["kind"] == "time_limit" and "0 minutes" in frames[0]["text"]
    await refused_on_connect(teen, "time_limit", 4430)


async def test_a_change_that_does_not_lock_leaves_open_chats_alone(demo, clock):
    teen = await person(birth_date=AGED_15)
    socket, _, _ = await join(teen)
    await guardian_sets(teen, daily_minutes="45", rest_start="21:00", rest_end="06:30")
    await still_open(socket)
    await socket.send_json_to({"type": "no-such-frame"})
    assert (await socket.receive_json_from(timeout=5))["code"] == "unknown_type"
    await socket.disconnect()


async def test_a_guardian_rest_window_20_to_7_closes_chat_at_20_30(demo, clock, settings):
    settings.COMPANION_MINOR_CURFEW = "22:00-06:00"  # off in test settings; on in production
    teen = await person(birth_date=AGED_16)
    clock.move_to(dt.datetime(2026, 11, 23, 20, 30, tzinfo=BEIJING))
    socket, ready, _ = await join(teen)  # the deployment's 22:00-06:00 lets them chat now
    assert ready["type"] == "ready"
    await guardian_sets(teen, rest_start="20:00", rest_end="07:00")
    frames = await closed_with(socket, "curfew", 4431)
    reminder = [frame for frame in frames if frame["type"] == "reminder"][-1]
    assert reminder["kind"] == "curfew" and "20:00" in reminder["text"] and "07:00" in reminder["text"]
    await refused_on_connect(teen, "curfew", 4431)

    clock.move_to(dt.datetime(2026, 11, 24, 6, 30, tzinfo=BEIJING))  # the default would have reopened
    await refused_on_connect(teen, "curfew", 4431)
    clock.move_to(dt.datetime(2026, 11, 24, 7, 0, tzinfo=BEIJING))
    socket, ready, _ = await join(teen)
    assert ready["type"] == "ready"
    await socket.disconnect()


async def test_a_guardian_rest_window_applies_where_the_deployment_default_is_off(demo, clock, settings):
    assert settings.COMPANION_MINOR_CURFEW == ""  # test settings
    teen = await person(birth_date=AGED_16)
    await guardian_sets(teen, rest_start="21:00", rest_end="06:00")
    clock.move_to(dt.datetime(2026, 11, 23, 20, 59, tzinfo=BEIJING))
    socket, _, _ = await join(teen)
    clock.move_to(dt.datetime(2026, 11, 23, 21, 0, tzinfo=BEIJING))
    await socket.send_json_to({"type": "heartbeat"})
    await closed_with(socket, "curfew", 4431)


# --- the portal --------------------------------------------------------------------------------

def test_raising_the_minutes_or_shortening_rest_hours_is_refused_and_nothing_is_saved(demo, settings):
    settings.COMPANION_MINOR_CURFEW = "22:00-06:00"
    child = make_user(15, contacts=True)
    contact = ward_of(child)
    guardian = client_for(contact.account)
    refusals = [
        ({"daily_minutes": "61"}, "Daily chat time can only be lowered: at most 60 minutes."),
        ({"daily_minutes": "-1"}, "Enter 0 or more minutes."),
        ({"daily_minutes": "30", "rest_start": "22:30", "rest_end": "06:00"},
         "Rest hours must include the whole of 22:00–06:00: start at 22:00 or earlier and end at 06:00 or later."),
        ({"rest_start": "21:00", "rest_end": "05:00"}, "Rest hours must include the whole of 22:00–06:00"),
        ({"daily_minutes": "30", "rest_start": "21:00"}, "Enter both rest-hour times, or leave both empty."),
        ({"rest_start": "9pm", "rest_end": "07:00"}, "Enter a time as HH:MM, e.g. 21:00."),
    ]
    for fields, error in refusals:
        response = post_limits(guardian, contact, **fields)
        assert response.status_code == 200, fields
        section = response.content.decode().split(f'id="ward-{contact.pk}-limits"')[1].split("</section>")[0]
        assert error in section.replace("&#x27;", "'"), (fields, section)
    contact.refresh_from_db()
    assert (contact.daily_minutes, contact.rest_start, contact.rest_end) == (None, None, None)
    assert limit_events(contact) == []

    with pytest.raises(services.ContactRefused) as refused:  # the service holds the rule, not just the form
        services.set_limits(guardian=contact.account, contact_id=contact.pk, daily_minutes=90, rest_start=None,
                            rest_end=None)
    assert refused.value.code == "minutes_above_default"


def test_settings_are_audited_with_the_numbers_only_and_idempotent(demo):
    child = make_user(13, contacts=True)
    contact = ward_of(child)
    guardian = client_for(contact.account)
    assert post_limits(guardian, contact, daily_minutes="30", rest_start="20:00", rest_end="07:00").status_code == 302
    post_limits(guardian, contact, daily_minutes="30", rest_start="20:00", rest_end="07:00")  # the same again
    page = guardian.get("/guardian/").content.decode()
    section = page.split(f'id="ward-{contact.pk}-limits"')[1].split("</section>")[0]
    assert 'value="30"' in section and 'value="20:00"' in section and 'value="07:00"' in section
    post_limits(guardian, contact, action="defaults")
    contact.refresh_from_db()
    assert (contact.daily_minutes, contact.rest_start, contact.rest_end) == (None, None, None)
    assert limit_events(contact) == [
        (contact.account_id, {"user": child.pk, "daily_minutes": 30, "rest_start": "20:00", "rest_end": "07:00"}),
        (contact.account_id, {"user": child.pk, "daily_minutes": None, "rest_start": None, "rest_end": None}),
    ]


def test_only_the_linked_guardian_can_set_limits(demo):
    child = make_user(13, contacts=True)
    contact = ward_of(child)
    assert post_limits(client_for(make_guardian_account()), contact, daily_minutes="10").status_code == 404
    assert post_limits(client_for(make_user(30)), contact, daily_minutes="10").status_code == 403
    assert post_limits(client_for(child), contact, daily_minutes="10").status_code == 403
    assert post_limits(client_for(), contact, daily_minutes="10").status_code == 302  # sign in first
    assert client_for(contact.account).get(f"/guardian/wards/{contact.pk}/limits/").status_code == 405
    with pytest.raises(ContactNotFound):
        services.set_limits(guardian=make_guardian_account(), contact_id=contact.pk, daily_minutes=10,
                            rest_start=None, rest_end=None)
    contact.refresh_from_db()
    assert contact.daily_minutes is None and limit_events(contact) == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_portal_shows_the_form_with_the_defaults(demo, settings, language):
    child = make_user(15, contacts=True)
    contact = ward_of(child)
    guardian = client_for(contact.account, language)
    guardian.cookies[settings.LANGUAGE_COOKIE_NAME] = language  # signed in, the account's language wins otherwise
    page = guardian.get("/guardian/").content.decode()
    section = page.split(f'id="ward-{contact.pk}-limits"')[1].split("</section>")[0]
    assert 'name="daily_minutes"' in section and 'name="rest_start"' in section and 'name="rest_end"' in section
    assert 'max="60"' in section and 'data-testid="limits-defaults-button"' in section
    assert in_language("Save limits", language) in section
    assert in_language("Use the defaults", language) in section
    assert "60" in section and "22:00" in section and "06:00" in section
    if language == "zh-hans":
        assert "Save limits" not in section
    response = post_limits(guardian, contact, daily_minutes="90")
    assert in_language("Daily chat time can only be lowered: at most %(limit_value)s minutes.", language) % {
        "limit_value": 60} in response.content.decode()
