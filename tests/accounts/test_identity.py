"""Mobile-number verification at sign-up (CN-REG-04) and the daily age bands (CN-REG-02, CN-REG-05).

Codes travel through the real HTTP SMS sender to a local gateway (tests/fakes/sms_gateway.py).
"""
import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from accounts.identity import (PhoneVerificationRefused, needs_phone_verification, normalise_phone,
                               verify_phone_code)
from accounts.models import AuditEvent, PhoneCode, Role, User
from accounts.tasks import recompute_age_bands
from tests.fixtures import UserFactory, open_socket

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase-42"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def signup_data(**fields) -> dict:
    return {"email": "new@example.com", "username": "newbie", "password1": PASSWORD, "password2": PASSWORD,
            "birth_date": "1995-03-04", "region": "CN", "phone": "138 0013 8000", "accept_terms": "on",
            "accept_sensitive": "on", **fields}


def texts(gateway) -> list[dict]:
    return [request["json"] for request in gateway.requests]


def last_code(gateway) -> str:
    return re.search(r"\b(\d{6})\b", gateway.requests[-1]["json"]["text"]).group(1)


def signed_in(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def post_phone(client, capture, **data):
    with capture(execute=True):
        return client.post("/accounts/phone/", data)


@pytest.mark.parametrize("language, wording", [("en", "Haven verification code"), ("zh-hans", "验证码")])
def test_an_adult_signs_up_verifies_the_texted_code_and_chats(demo, sms_gateway, django_capture_on_commit_callbacks,
                                                              language, wording):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/signup/", signup_data())
    assert response.status_code == 302 and response["Location"] == "/accounts/phone/"
    user = User.objects.get(username="newbie")
    assert user.phone == "" and user.phone_verified_at is None and user.age_band_recorded == "adult"

    [sms] = texts(sms_gateway)
    assert sms["to"] == "+8613800138000" and wording in sms["text"]
    assert sms_gateway.requests[0]["auth"] == f"Bearer {sms_gateway.token}"
    code = last_code(sms_gateway)
    row = PhoneCode.objects.get(user=user)
    assert sms_gateway.requests[0]["idempotency_key"] == f"phone-code-{row.pk}"
    assert code not in row.code_hash and len(row.code_hash) == 64  # only a keyed hash is kept

    gated = client.get("/chat/friend/")
    assert gated.status_code == 302 and gated["Location"] == "/accounts/phone/?next=%2Fchat%2Ffriend%2F"
    page = client.get(gated["Location"]).content.decode()
    assert "+8613800138000" in page and 'data-testid="phone-code-form"' in page

    done = client.post("/accounts/phone/", {"action": "verify", "code": code, "next": "/chat/friend/"})
    assert done.status_code == 302 and done["Location"] == "/chat/friend/"
    user.refresh_from_db()
    assert user.phone == "+8613800138000" and user.phone_verified_at is not None
    # CN-REG-03: an adult is asked for an emergency contact once and may skip it by choice.
    prompt = client.get("/chat/friend/")
    assert prompt.status_code == 302 and prompt["Location"] == "/contacts/?next=%2Fchat%2Ffriend%2F"
    assert 'data-testid="contact-prompt"' in client.get(prompt["Location"]).content.decode()
    skipped = client.post("/contacts/skip/", {"next": "/chat/friend/"})
    assert skipped.status_code == 302 and skipped["Location"] == "/chat/friend/"
    assert client.get("/chat/friend/").status_code == 200
    assert client.get("/accounts/phone/?next=/chat/friend/")["Location"] == "/chat/friend/"

    rows = AuditEvent.objects.filter(subject_type="user", subject_id=str(user.pk), action__startswith="identity.")
    assert list(rows.order_by("id").values_list("action", "actor_id")) == [
        ("identity.code_sent", user.pk), ("identity.phone_verified", user.pk)]
    assert not any("8000" in str(data) for data in rows.values_list("data", flat=True))  # no number in the log


def test_a_foreign_number_verifies_an_account_outside_the_mainland(demo, sms_gateway,
                                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post("/accounts/signup/", signup_data(region="US-CA", phone="+1 (415) 555-0100"))
    assert response.status_code == 302
    assert [sms["to"] for sms in texts(sms_gateway)] == ["+14155550100"]


@pytest.mark.parametrize("phone, message", [
    ("", "This field is required."),
    ("12345", "Enter a mobile number with its country code"),
    ("+86 10 6552 9988", "Enter a mobile number with its country code"),  # a Beijing landline
    ("+1 415 555 0100", "Accounts in mainland China verify a mainland mobile number"),
    ("+86 139 0000 0001", "already verified on another account"),
])
def test_sign_up_refuses_bad_or_taken_numbers_and_saves_nothing(demo, sms_gateway, phone, message):
    UserFactory(phone="+8613900000001")
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post("/accounts/signup/", signup_data(phone=phone))
    assert response.status_code == 200 and message in response.content.decode()
    assert not User.objects.filter(username="newbie").exists()
    assert not PhoneCode.objects.exists() and sms_gateway.requests == []


def test_sign_up_with_bad_input_elsewhere_sends_no_code(demo, sms_gateway):
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post("/accounts/signup/", signup_data(birth_date="2999-01-01"))
    assert response.status_code == 200 and "cannot be in the future" in response.content.decode()
    assert not User.objects.filter(username="newbie").exists() and sms_gateway.requests == []


def test_five_wrong_codes_kill_the_code_and_a_sixth_try_fails_even_when_right(demo, sms_gateway,
                                                                              django_capture_on_commit_callbacks):
    user = UserFactory(unverified=True)
    client = signed_in(user)
    post_phone(client, django_capture_on_commit_callbacks, action="send", phone="13800138000")
    code = last_code(sms_gateway)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    pages = [client.post("/accounts/phone/", {"action": "verify", "code": wrong}).content.decode() for _ in range(5)]
    assert "4 tries left" in pages[0] and "1 try left" in pages[3]
    assert "Too many wrong tries for this code" in pages[4]
    sixth = client.post("/accounts/phone/", {"action": "verify", "code": code}).content.decode()
    assert "Too many wrong tries for this code" in sixth
    user.refresh_from_db()
    assert user.phone == "" and user.phone_verified_at is None and needs_phone_verification(user)
    assert PhoneCode.objects.get(user=user).attempts == 5
    assert AuditEvent.objects.filter(action="identity.code_refused", actor_id=user.pk).count() == 5
    assert client.get("/chat/friend/").status_code == 302


def test_a_code_that_is_not_six_digits_is_a_form_error_and_uses_no_try(demo, sms_gateway,
                                                                       django_capture_on_commit_callbacks):
    user = UserFactory(unverified=True)
    client = signed_in(user)
    post_phone(client, django_capture_on_commit_callbacks, action="send", phone="13800138000")
    page = client.post("/accounts/phone/", {"action": "verify", "code": "12ab"}).content.decode()
    assert "The code is the 6 digits in the text message." in page
    assert PhoneCode.objects.get(user=user).attempts == 0


def test_an_expired_code_is_refused(demo, sms_gateway, django_capture_on_commit_callbacks):
    user = UserFactory(unverified=True)
    client = signed_in(user)
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        post_phone(client, django_capture_on_commit_callbacks, action="send", phone="13800138000")
        code = last_code(sms_gateway)
        traveller.shift(dt.timedelta(minutes=10, seconds=1))
        page = client.post("/accounts/phone/", {"action": "verify", "code": code}).content.decode()
        assert "This code has expired" in page and "Your last code can no longer be used" in page
    user.refresh_from_db()
    assert user.phone_verified_at is None


def test_a_used_code_cannot_be_used_again_nor_by_another_account(demo, sms_gateway,
                                                                django_capture_on_commit_callbacks):
    first, second = UserFactory(unverified=True), UserFactory(unverified=True)
    post_phone(signed_in(first), django_capture_on_commit_callbacks, action="send", phone="13800138000")
    code = last_code(sms_gateway)
    post_phone(signed_in(second), django_capture_on_commit_callbacks, action="send", phone="13700001111")
    with pytest.raises(PhoneVerificationRefused) as refused:
        verify_phone_code(user=second, code=code)  # codes are bound to their account and number
    assert refused.value.reason == "wrong"
    verify_phone_code(user=first, code=code)
    with pytest.raises(PhoneVerificationRefused) as refused:
        verify_phone_code(user=first, code=code)
    assert refused.value.reason == "used"
    assert AuditEvent.objects.filter(action="identity.phone_verified", actor_id=first.pk).count() == 1


def test_a_number_verified_meanwhile_by_another_account_is_refused(demo, sms_gateway,
                                                                   django_capture_on_commit_callbacks):
    first, second = UserFactory(unverified=True), UserFactory(unverified=True)
    post_phone(signed_in(first), django_capture_on_commit_callbacks, action="send", phone="13800138000")
    first_code = last_code(sms_gateway)
    client = signed_in(second)
    post_phone(client, django_capture_on_commit_callbacks, action="send", phone="13800138000")
    second_code = last_code(sms_gateway)
    verify_phone_code(user=first, code=first_code)
    page = client.post("/accounts/phone/", {"action": "verify", "code": second_code}).content.decode()
    assert "already verified on another account" in page
    second.refresh_from_db()
    assert second.phone == "" and second.phone_verified_at is None


def test_new_codes_wait_a_minute_and_at_most_five_an_hour(demo, sms_gateway, django_capture_on_commit_callbacks):
    user = UserFactory(unverified=True)
    client = signed_in(user)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        post_phone(client, django_capture_on_commit_callbacks, action="send", phone="13800138000")
        first = last_code(sms_gateway)
        page = client.post("/accounts/phone/", {"action": "resend"}).content.decode()
        assert "Please wait 60 seconds before asking for another code." in page
        assert len(sms_gateway.requests) == 1
        for _ in range(4):
            traveller.shift(dt.timedelta(seconds=61))
            response = post_phone(client, django_capture_on_commit_callbacks, action="resend")
            assert response.status_code == 302
        assert len(sms_gateway.requests) == 5 and {sms["to"] for sms in texts(sms_gateway)} == {"+8613800138000"}
        traveller.shift(dt.timedelta(seconds=61))
        page = client.post("/accounts/phone/", {"action": "resend"}).content.decode()
        assert "You asked for too many codes in the last hour" in page and len(sms_gateway.requests) == 5
        with pytest.raises(PhoneVerificationRefused) as refused:
            verify_phone_code(user=user, code=first)  # only the newest code counts
        assert refused.value.reason == "wrong"
        traveller.shift(dt.timedelta(hours=1))
        assert post_phone(client, django_capture_on_commit_callbacks, action="resend").status_code == 302
        verify_phone_code(user=user, code=last_code(sms_gateway))
    assert not needs_phone_verification(user)


def test_one_number_gets_at_most_five_codes_an_hour_whoever_asks(demo, sms_gateway,
                                                                 django_capture_on_commit_callbacks):
    """Nobody can use the service to flood someone else's phone with texts."""
    for _ in range(5):
        post_phone(signed_in(UserFactory(unverified=True)), django_capture_on_commit_callbacks, action="send",
                   phone="13800138000")
    page = signed_in(UserFactory(unverified=True)).post("/accounts/phone/", {"action": "send",
                                                                            "phone": "13800138000"})
    assert "Too many codes were sent to this number in the last hour" in page.content.decode()
    response = Client(HTTP_ACCEPT_LANGUAGE="en").post("/accounts/signup/", signup_data(phone="13800138000"))
    assert "Too many codes were sent to this number" in response.content.decode()
    assert not User.objects.filter(username="newbie").exists() and len(sms_gateway.requests) == 5


def test_a_gateway_failure_leaves_the_account_and_a_new_code_can_be_asked_for(demo, sms_gateway,
                                                                             django_capture_on_commit_callbacks):
    sms_gateway.fail_next = 1
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/accounts/signup/", signup_data()).status_code == 302
    assert sms_gateway.delivered == {}
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61), tick=False):
        post_phone(client, django_capture_on_commit_callbacks, action="resend")
        client.post("/accounts/phone/", {"action": "verify", "code": last_code(sms_gateway)})
    assert not needs_phone_verification(User.objects.get(username="newbie"))


def test_staff_verify_by_totp_instead(demo):
    operator = UserFactory(unverified=True)
    operator.groups.add(Group.objects.get_or_create(name=Role.OPERATOR)[0])
    assert not needs_phone_verification(operator)
    assert not needs_phone_verification(UserFactory(unverified=True, is_staff=True))
    guardian = UserFactory(unverified=True)
    guardian.groups.add(Group.objects.get_or_create(name=Role.GUARDIAN)[0])
    assert needs_phone_verification(guardian)


@pytest.mark.parametrize("raw, expected", [
    ("138 0013 8000", "+8613800138000"), ("+86-138-0013-8000", "+8613800138000"), ("0086 13800138000", "+8613800138000"),
    ("+1 (415) 555-0100", "+14155550100"), ("+86 10 6552 9988", None), ("13800", None), ("", None),
])
def test_numbers_are_read_as_e164(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_an_account_without_a_verified_number(demo):
    user = await database_sync_to_async(UserFactory)(unverified=True)
    communicator, connected, code = await open_socket(user)
    assert not connected and code == 4413
    await communicator.disconnect()


def _born(years_before: dt.date, years: int) -> dt.date:
    return years_before.replace(year=years_before.year - years)


def test_the_daily_job_records_birthdays_that_move_people_between_bands(settings):
    birthday = dt.date(2027, 3, 15)
    people = {name: UserFactory(username=name, birth_date=_born(birthday, age), contacts=False)
              for name, age in (("turns14", 14), ("turns18", 18), ("turns60", 60), ("stays", 35))}
    staff = UserFactory(username="nobirth", birth_date=None)
    with time_machine.travel(dt.datetime(2027, 3, 14, 0, 5, tzinfo=SHANGHAI), tick=False):
        assert recompute_age_bands() == {"changed": 0}  # first look: stored, nothing moved
    recorded = dict(User.objects.values_list("username", "age_band_recorded"))
    assert recorded == {"turns14": "child", "turns18": "minor", "turns60": "adult", "stays": "adult",
                        "nobirth": "adult"}
    with time_machine.travel(dt.datetime(2027, 3, 15, 0, 5, tzinfo=SHANGHAI), tick=False):
        assert recompute_age_bands() == {"changed": 3}
        assert recompute_age_bands() == {"changed": 0}  # idempotent
    moves = {int(row.subject_id): (row.data["from"], row.data["to"], row.data["on"], row.actor_id)
             for row in AuditEvent.objects.filter(action="account.age_band_changed")}
    assert moves == {
        people["turns14"].pk: ("child", "minor", "2027-03-15", None),
        people["turns18"].pk: ("minor", "adult", "2027-03-15", None),
        people["turns60"].pk: ("adult", "elderly", "2027-03-15", None),
    }
    assert User.objects.get(pk=people["turns60"].pk).age_band_recorded == "elderly"
    assert staff.pk not in moves
    entry = settings.CELERY_BEAT_SCHEDULE["accounts-daily-age-bands"]
    assert entry["task"] == "accounts.tasks.recompute_age_bands"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({0}, {5})
