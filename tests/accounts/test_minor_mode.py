"""CN-MIN-05, CN-MIN-06: a declared adult whose messages say they are a minor is switched into minor
mode (on the next `ready`), cannot switch it off by any URL, form or socket message, and can appeal;
compliance officers decide within three working days, and late appeals are flagged."""
import datetime as dt

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.models import AgeCue, AppealStatus, AuditEvent, IdCheck, MinorModeAppeal, Role, User
from accounts.policies import (add_working_days, cues_switch, id_check, resident_id_birth_date,
                               resident_id_check_character)
from companion.models import Author, Message
from companion.time_limits import daily_limit_minutes
from moderation.age_cues import age_cues
from tests.fixtures import UserFactory, client_for, frames_until, join, open_socket, staff

# A made-up but well-formed resident ID number (GB 11643 check character) born on 1990-03-07.
ID_1990 = "110105199003070017"
BIRTH_1990 = dt.date(1990, 3, 7)


def valid_id(birth: dt.date, area: str = "110105", sequence: str = "001") -> str:
    body = f"{area}{birth:%Y%m%d}{sequence}"
    return body + resident_id_check_character(body)


# --- pure ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,kind,age", [
    ("我才13岁", "stated_age", 13), ("我今年初二", "school_year", 13), ("我今年十三岁了", "stated_age", 13),
    ("我上高二", "school_year", 16), ("我是初中生", "school_year", 13), ("我还没成年", "underage", None),
    ("I'm 13", "stated_age", 13), ("I am 15 years old", "stated_age", 15), ("im 14 lol", "stated_age", 14),
    ("I'm in 8th grade", "school_year", 13), ("I am a freshman in high school", "school_year", 14),
    ("I'm underage", "underage", None), ("我現在才十四歲", "stated_age", 14),
])
def test_first_person_statements_of_a_minor_age_are_strong_cues(text, kind, age):
    cue = age_cues(text)
    assert (cue.kind, cue.weight, cue.age) == (kind, 1.0, age)


@pytest.mark.parametrize("text", [
    "我儿子今年13岁", "我13岁的时候去过北京", "我今年25岁", "我18岁", "my sister is 13", "when I was 13 I moved",
    "I'm 13 minutes late", "I'm 30.", "13 years old is young", "你好", "",
])
def test_other_peoples_ages_the_past_and_adult_ages_are_not_cues(text):
    assert age_cues(text) is None


def test_school_day_talk_is_a_weak_cue_that_needs_company():
    assert age_cues("放学了好累").weight == 0.25 and age_cues("I have so much homework").kind == "school_talk"
    assert not cues_switch([0.25, 0.25, 0.25]) and cues_switch([0.25] * 4) and cues_switch([1.0])


def test_resident_id_numbers_are_checked_by_their_check_character():
    assert resident_id_birth_date(ID_1990) == BIRTH_1990
    assert resident_id_birth_date("11010519491231002X") == dt.date(1949, 12, 31)
    assert resident_id_birth_date(ID_1990[:-1] + "5") is None  # wrong check character
    assert resident_id_birth_date(valid_id(BIRTH_1990)) == BIRTH_1990 and valid_id(BIRTH_1990) == ID_1990
    assert resident_id_birth_date("12345") is None and resident_id_birth_date(valid_id(BIRTH_1990)[:-1]) is None
    today = dt.date(2026, 11, 28)
    assert id_check(BIRTH_1990, BIRTH_1990, today) == "match"
    assert id_check(BIRTH_1990, dt.date(1991, 1, 1), today) == "mismatch"
    assert id_check(dt.date(2012, 1, 1), dt.date(2012, 1, 1), today) == "mismatch"  # the ID says under 18
    assert id_check(None, BIRTH_1990, today) == "none"


def test_three_working_days_skip_the_weekend():
    friday = dt.datetime(2026, 11, 27, 10, 0)
    assert add_working_days(friday, 3) == dt.datetime(2026, 12, 2, 10, 0)  # Mon, Tue, Wed
    assert add_working_days(dt.datetime(2026, 11, 28, 10, 0), 3) == dt.datetime(2026, 12, 3, 0, 0)  # from Sat
    assert add_working_days(dt.datetime(2026, 11, 23, 9, 0), 3) == dt.datetime(2026, 11, 26, 9, 0)


# --- through the socket, the pages and the database -------------------------------------------------

pytestmark_db = pytest.mark.django_db(transaction=True)


async def say(communicator, text: str, client_id: str) -> list[dict]:
    await communicator.send_json_to({"type": "message", "text": text, "client_id": client_id})
    return await frames_until(communicator, "closed")


@pytestmark_db
@pytest.mark.parametrize("language,text", [("en", "I'm 13 btw"), ("zh-hans", "我才13岁")])
async def test_a_declared_adult_saying_they_are_13_is_in_minor_mode_on_the_next_ready(demo, language, text):
    adult = await database_sync_to_async(UserFactory)(language=language)
    communicator, ready, _ = await join(adult)
    assert ready["minor_mode"] is False
    other_tab, _, _ = await join(adult, "mentor")
    frames = await say(communicator, text, "c1")
    kinds = [(f["type"], f.get("kind") or f.get("reason") or f.get("author")) for f in frames]
    assert ("notice", "minor_mode") in kinds and kinds[-1] == ("closed", "blocked")
    starts = [f for f in frames if f["type"] == "message_start"]
    notice = next(f for f in frames if f.get("kind") == "minor_mode")
    assert notice["link"]["url"] == "/privacy/minor-mode/"
    assert ("未成年人模式" in notice["text"]) if language == "zh-hans" else ("minor mode is now on" in notice["text"])
    assert [f["author"] for f in starts] == ["system"]  # the explanation, and no AI reply to that message
    assert (await communicator.receive_output())["code"] == 4415
    other = await frames_until(other_tab, "closed")  # every open chat of the person ends
    assert other[-1] == {"type": "closed", "reason": "blocked"}

    @database_sync_to_async
    def stored():
        user = User.objects.get(pk=adult.pk)
        cue = AgeCue.objects.get(user=user)
        return (user.minor_mode_since is not None, user.minor_mode_age, user.is_minor, cue.kind,
                [f.name for f in AgeCue._meta.fields],
                AuditEvent.objects.filter(action="minor_mode.switched_on", subject_id=str(user.pk)).count(),
                list(Message.objects.filter(conversation__user=user, author=Author.SYSTEM).values_list("text", flat=True)))
    on, age, is_minor, kind, fields, audited, system_texts = await stored()
    assert on and age == 13 and is_minor and kind == "stated_age" and audited == 1
    assert "text" not in fields  # privacy-preserving: the cue keeps no words
    assert len(system_texts) == 1
    user = await database_sync_to_async(User.objects.get)(pk=adult.pk)
    again, ready, _ = await join(user)
    assert ready["minor_mode"] is True
    await again.disconnect()
    refused, connected, _ = await open_socket(user, "partner")  # romantic roles are closed to minors
    assert connected and await refused.receive_json_from() == {"type": "closed", "reason": "blocked"}


@pytestmark_db
async def test_school_day_talk_switches_only_when_it_adds_up(demo):
    adult = await database_sync_to_async(UserFactory)()
    communicator, _, _ = await join(adult)
    for n, text in enumerate(["放学了", "班主任好凶", "明天月考"]):
        await communicator.send_json_to({"type": "message", "text": text, "client_id": f"w{n}"})
        await frames_until(communicator, "message_end")
    assert (await database_sync_to_async(User.objects.get)(pk=adult.pk)).minor_mode_since is None
    frames = await say(communicator, "还要写作业", "w4")
    assert frames[-1] == {"type": "closed", "reason": "blocked"}
    user = await database_sync_to_async(User.objects.get)(pk=adult.pk)
    assert user.minor_mode_since is not None and user.minor_mode_age is None
    assert await database_sync_to_async(daily_limit_minutes)(user) == 60  # CN-MIN-10 defaults of a 15-year-old


@pytest.mark.django_db
def test_who_is_never_switched_by_chat_talk():
    from accounts.minor_mode import note_age_cue
    verified = UserFactory(age_verified_at=timezone.now())
    operator = staff(Role.OPERATOR)
    real_minor = UserFactory(birth_date=timezone.localdate() - dt.timedelta(days=365 * 15))
    for user in (verified, operator, real_minor):
        assert note_age_cue(user=user, text="我才13岁") is False
    assert not AgeCue.objects.exists() and User.objects.filter(minor_mode_since__isnull=False).count() == 0
    adult = UserFactory()
    assert note_age_cue(user=adult, text="我儿子才13岁") is False and not AgeCue.objects.exists()


@pytest.mark.django_db
def test_a_suspected_16_year_old_gets_the_16_to_17_time_limit():
    adult = UserFactory(minor_mode_since=timezone.now(), minor_mode_age=16)
    assert adult.is_minor and daily_limit_minutes(adult) == 120


@pytestmark_db
async def test_minor_mode_cannot_be_switched_off_by_any_socket_message(demo):
    user = await database_sync_to_async(UserFactory)(minor_mode_since=timezone.now(), minor_mode_age=13)
    communicator, ready, _ = await join(user)
    assert ready["minor_mode"] is True
    for frame in ({"type": "minor_mode", "enabled": False}, {"type": "settings", "minor_mode": False},
                  {"type": "ready", "minor_mode": False}, {"type": "age", "birth_date": "1990-01-01"}):
        await communicator.send_json_to(frame)
        answer = await communicator.receive_json_from()
        assert answer["type"] == "error" and answer["code"] == "unknown_type"
    await communicator.send_json_to({"type": "message", "text": "I'm 30 years old actually.", "client_id": "x"})
    await frames_until(communicator, "message_end")
    await communicator.disconnect()
    _, ready, _ = await join(await database_sync_to_async(User.objects.get)(pk=user.pk))
    assert ready["minor_mode"] is True


@pytest.mark.django_db
def test_minor_mode_cannot_be_switched_off_by_any_url_or_form():
    user = UserFactory(minor_mode_since=timezone.now(), minor_mode_age=13)
    client = client_for(user)
    attempts = [
        ("/privacy/minor-mode/", {"minor_mode": "off", "enabled": "0", "status": "granted"}),
        ("/privacy/profile/", {"first_name": "A", "language": "en", "birth_date": "1990-01-01",
                               "minor_mode_since": "", "age_verified_at": "2026-01-01"}),
        ("/privacy/consents/", {"minor_mode": "off"}),
        ("/i18n/setlang/", {"language": "en", "minor_mode": "off"}),
        ("/compliance/minor-appeals/00000000-0000-0000-0000-000000000000/decide/", {"decision": "grant"}),
        ("/contacts/skip/", {"minor_mode": "off"}),
        ("/admin/accounts/user/%d/change/" % user.pk, {"minor_mode_since": ""}),
    ]
    for url, data in attempts:
        response = client.post(url, data)
        assert response.status_code in (200, 302, 400, 403, 404, 405), (url, response.status_code)
        assert User.objects.get(pk=user.pk).minor_mode_since is not None, url
    # Its own appeal, filed and then "decided" by the person, changes nothing either.
    client.post("/privacy/minor-mode/", {"explanation": "I am 36.", "id_number": valid_id(user.birth_date)})
    appeal = MinorModeAppeal.objects.get(user=user)
    assert client.post(f"/compliance/minor-appeals/{appeal.public_id}/decide/",
                       {"decision": "grant", "note": "me"}).status_code == 403
    assert User.objects.get(pk=user.pk).is_minor and MinorModeAppeal.objects.get().status == AppealStatus.PENDING


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_banner_and_the_page_explain_and_take_an_appeal(demo, language):
    user = UserFactory(minor_mode_since=timezone.now(), minor_mode_age=13, language=language)
    AgeCue.objects.create(user=user, kind="stated_age", weight=1.0, age=13)
    client = client_for(user, language)
    home = client.get("/").content.decode()
    assert 'data-testid="minor-mode-banner"' in home and "/privacy/minor-mode/" in home
    assert ("未成年人模式" in home) if language == "zh-hans" else ("Minor mode is on" in home)
    page = client.get("/privacy/minor-mode/").content.decode()
    assert 'data-testid="appeal-form"' in page
    # A wrong ID number is refused with a clear error and nothing is stored.
    refused = client.post("/privacy/minor-mode/", {"explanation": "I am 36.", "id_number": ID_1990[:-1] + "5"})
    assert refused.status_code == 200 and not MinorModeAppeal.objects.exists()
    assert ("身份证号码" in refused.content.decode()) if language == "zh-hans" else (
        "not a valid resident ID number" in refused.content.decode())
    number = valid_id(user.birth_date)
    response = client.post("/privacy/minor-mode/", {"explanation": "I am an adult.", "id_number": number})
    assert response.status_code == 302
    appeal = MinorModeAppeal.objects.get(user=user)
    assert appeal.id_check == IdCheck.MATCH and appeal.id_last4 == number[-4:]
    assert number not in str(list(MinorModeAppeal.objects.values()))  # only the last four are kept
    assert AuditEvent.objects.filter(action="minor_mode.appeal_filed").count() == 1
    client.post("/privacy/minor-mode/", {"explanation": "again", "id_number": number})
    assert MinorModeAppeal.objects.count() == 1  # one open appeal at a time
    page = client.get("/privacy/minor-mode/").content.decode()
    assert 'data-testid="appeal-form"' not in page and 'data-testid="appeal-status"' in page


@pytest.mark.django_db
def test_staff_decide_within_three_working_days_and_late_appeals_are_flagged():
    officer, regulator = staff(Role.COMPLIANCE), staff(Role.REGULATOR)
    user = UserFactory(minor_mode_since=timezone.now(), minor_mode_age=13)
    AgeCue.objects.create(user=user, kind="stated_age", weight=1.0, age=13)
    friday = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.timezone.utc)
    with time_machine.travel(friday, tick=False):
        client_for(user).post("/privacy/minor-mode/", {"explanation": "adult", "id_number": valid_id(user.birth_date)})
    appeal = MinorModeAppeal.objects.get()
    reader = client_for(regulator)
    with time_machine.travel(friday + dt.timedelta(days=4), tick=False):  # Tuesday: still in time
        page = reader.get("/compliance/minor-appeals/").content.decode()
        assert 'data-testid="appeals-overdue">0<' in page and str(appeal.public_id)[:6] in page
    with time_machine.travel(friday + dt.timedelta(days=5, hours=1), tick=False):  # Wednesday, after 10:00 +08
        page = reader.get("/compliance/minor-appeals/").content.decode()
        assert 'data-testid="appeals-overdue">1<' in page and 'data-overdue="1"' in page
        assert reader.post(f"/compliance/minor-appeals/{appeal.public_id}/decide/",
                           {"decision": "grant"}).status_code == 403  # regulators read only
        officer_client = client_for(officer)
        detail = officer_client.get(f"/compliance/minor-appeals/{appeal.public_id}/").content.decode()
        assert 'data-testid="overdue"' in detail and "adult" in detail
        officer_client.post(f"/compliance/minor-appeals/{appeal.public_id}/decide/", {"decision": "grant", "note": ""})
    user.refresh_from_db()
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.GRANTED and appeal.decided_by == officer
    assert user.minor_mode_since is None and user.age_verified_at is not None and not user.is_minor
    assert not AgeCue.objects.filter(user=user).exists()
    granted = AuditEvent.objects.get(action="minor_mode.appeal_granted")
    assert granted.actor_id == officer.pk and granted.data["overdue"] is True
    assert AuditEvent.objects.filter(action="minor_mode.appeal_viewed").exists()


@pytest.mark.django_db
def test_refusing_keeps_minor_mode_and_granting_without_a_match_needs_a_note():
    officer = staff(Role.COMPLIANCE)
    user = UserFactory(minor_mode_since=timezone.now(), region="US-CA")
    client = client_for(user)
    client.post("/privacy/minor-mode/", {"explanation": "I am 40, no Chinese ID."})
    appeal = MinorModeAppeal.objects.get()
    assert appeal.id_check == IdCheck.NONE  # outside the mainland the ID number is optional
    staff_client = client_for(officer)
    url = f"/compliance/minor-appeals/{appeal.public_id}/decide/"
    staff_client.post(url, {"decision": "grant", "note": " "})
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.PENDING  # refused: say what proved the age
    staff_client.post(url, {"decision": "refuse", "note": "Not enough to go on."})
    appeal.refresh_from_db()
    user.refresh_from_db()
    assert appeal.status == AppealStatus.REJECTED and user.is_minor and user.age_verified_at is None
    page = client.get("/privacy/minor-mode/").content.decode()
    assert "Not enough to go on." in page and 'data-testid="appeal-form"' in page  # may appeal again
    assert staff_client.post(url, {"decision": "grant", "note": "x"}).status_code == 302
    appeal.refresh_from_db()
    assert appeal.status == AppealStatus.REJECTED  # a decision is final


@pytest.mark.django_db
def test_minors_by_birth_date_have_nothing_to_appeal():
    child = UserFactory(birth_date=timezone.localdate() - dt.timedelta(days=365 * 13 + 10))
    client = client_for(child)
    page = client.get("/privacy/minor-mode/").content.decode()
    assert 'data-testid="minor-mode-on"' in page and 'data-testid="appeal-form"' not in page
    client.post("/privacy/minor-mode/", {"explanation": "let me out", "id_number": ID_1990})
    assert not MinorModeAppeal.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_an_adult_may_turn_minor_mode_on_and_only_an_appeal_turns_it_off(demo, language):
    """CN-MIN-01: adults may switch minor mode on; switching off needs a won appeal."""
    officer = staff(Role.COMPLIANCE)
    user = UserFactory(language=language)
    client = client_for(user, language)
    page = client.get("/privacy/minor-mode/").content.decode()
    assert 'data-testid="minor-mode-off"' in page and 'data-testid="turn-on"' in page
    client.post("/privacy/minor-mode/", {"action": "turn_on"})  # no confirmation: nothing happens
    assert not User.objects.get(pk=user.pk).is_minor
    client.post("/privacy/minor-mode/", {"action": "turn_on", "confirm": "yes"})
    user.refresh_from_db()
    assert user.is_minor and user.minor_mode_chosen and daily_limit_minutes(user) == 60
    assert AuditEvent.objects.filter(action="minor_mode.switched_on", actor_id=user.pk).count() == 1
    home = client.get("/").content.decode()
    assert 'data-slug="partner"' not in home and 'data-testid="minor-mode-banner"' in home
    assert ("您为此账号开启" in home) if language == "zh-hans" else ("you turned it on" in home)
    client.post("/privacy/minor-mode/", {"action": "turn_on", "confirm": "yes", "minor_mode": "off"})
    assert User.objects.get(pk=user.pk).is_minor  # a second press changes nothing, and never turns it off
    client.post("/privacy/minor-mode/", {"explanation": "Set on by mistake.", "id_number": valid_id(user.birth_date)})
    appeal = MinorModeAppeal.objects.get(user=user)
    client_for(officer).post(f"/compliance/minor-appeals/{appeal.public_id}/decide/", {"decision": "grant"})
    user.refresh_from_db()
    assert not user.is_minor and not user.minor_mode_chosen
