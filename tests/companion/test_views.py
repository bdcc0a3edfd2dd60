import datetime as dt
import json
import re

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from guardians.models import Contact
from tests.fixtures import UserFactory, confirm_guardian, join

pytestmark = pytest.mark.django_db


def test_home_lists_characters_with_ai_badges(client, demo):
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    for slug in ["friend", "mentor", "study-buddy", "partner", "family", "storyteller"]:
        assert f'data-slug="{slug}"' in page
    assert "Sign in to chat" in page
    assert "may not be suitable for some minors" in page  # US-CA-05


@pytest.mark.parametrize("language, text", [("en", "may not be suitable for some minors"), ("zh-hans", None)])
def test_the_sign_up_page_itself_says_companions_may_not_suit_some_minors(client, language, text):
    """US-CA-05: on the sign-up page (above the form) and in the footer of every page."""
    from django.utils import translation
    with translation.override(language):
        expected = text or translation.gettext("Companion chatbots may not be suitable for some minors.")
    page = client.get("/accounts/signup/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    notice = page.split('data-testid="minors-suitability">')[1].split("</p>")[0]
    assert expected in notice and page.count(expected) == 2  # the notice and the footer
    assert 'data-testid="minors-suitability"' not in client.get("/accounts/login/").content.decode()


def test_home_hides_adult_only_characters_from_minors(client, demo):
    client.force_login(User.objects.get(username="minor13"))
    page = client.get("/").content.decode()
    assert 'data-slug="friend"' in page
    assert 'data-slug="partner"' not in page and 'data-slug="family"' not in page


def test_chat_page_needs_login(client, demo):
    response = client.get("/chat/friend/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_chat_page_shows_disclosure_exit_and_demo_label(client, demo):
    client.force_login(UserFactory())
    page = client.get("/chat/friend/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="exit-button"' in page and "Exit chat" in page
    assert "not a human being" in page  # CN-DIS-01
    assert "Demo model (offline)" in page
    strings = json.loads(re.search(r'<script id="chat-strings" type="application/json">(.*?)</script>', page).group(1))
    assert strings["copySuffix"] == "[AI-generated · Haven]"  # copied AI text keeps its label (CN-DIS-04)
    assert "<script>" not in page  # CSP: no inline script


def test_chat_page_in_chinese(client, demo):
    client.force_login(UserFactory(language="zh-hans"))
    page = client.get("/chat/friend/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "退出聊天" in page and "而非自然人" in page and 'lang="zh-hans"' in page


def test_unknown_and_forbidden_characters_are_404(client, demo):
    client.force_login(User.objects.get(username="minor13"))
    assert client.get("/chat/partner/").status_code == 404
    assert client.get("/chat/nobody/").status_code == 404


def test_security_headers(client, demo):
    response = client.get("/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_healthz_reports_each_check(client):
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    # CN-EMO-01: the three mental-health safeguards are live checks too.
    assert set(body["checks"]) == {"database", "channel_layer", "celery_broker", "risk_classifier",
                                   "boundary_guidance", "dependence_detection"}
    assert all(value.startswith("ok") for value in body["checks"].values())


def test_healthz_reports_a_broken_broker(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    from companion.celery import app

    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = previous
    assert response.status_code == 503
    assert response.json()["checks"]["celery_broker"].startswith("error")


def _csrf(client, url):
    page = client.get(url).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_sign_up_with_birth_date_then_chat(client, demo, sms_gateway, django_capture_on_commit_callbacks):
    client.handler.enforce_csrf_checks = True
    token = _csrf(client, "/accounts/signup/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/signup/", {
            "csrfmiddlewaretoken": token, "email": "new@example.com", "username": "newbie",
            "password1": "a-long-passphrase-42", "password2": "a-long-passphrase-42",
            "birth_date": "1995-03-04", "region": "CN", "phone": "13800138000", "accept_terms": "on",
            "accept_sensitive": "on"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302 and response["Location"] == "/accounts/phone/"  # CN-REG-04
    code = re.search(r"\b(\d{6})\b", sms_gateway.requests[-1]["json"]["text"]).group(1)
    client.post("/accounts/phone/", {"csrfmiddlewaretoken": _csrf(client, "/accounts/phone/"), "action": "verify",
                                     "code": code})
    user = User.objects.get(username="newbie")
    assert str(user.birth_date) == "1995-03-04" and user.region == "CN" and user.language == "en"
    # CN-DAT-07: one ledger row per purpose; the training opt-in was left unticked and is recorded as such.
    assert dict(user.consents.values_list("purpose", "granted")) == {
        "terms": True, "privacy": True, "sensitive": True, "training": False}
    # CN-REG-03: asked for an emergency contact; skipping is an explicit choice.
    assert client.get("/chat/friend/")["Location"] == "/contacts/?next=%2Fchat%2Ffriend%2F"
    client.post("/contacts/skip/", {"csrfmiddlewaretoken": _csrf(client, "/contacts/"), "next": "/chat/friend/"})
    assert client.get("/chat/friend/").status_code == 200


@pytest.mark.parametrize("missing, message", [
    ("accept_terms", "You need to accept the terms"),
    ("accept_sensitive", "Chatting needs this consent"),
])
def test_sign_up_without_the_required_consents_saves_nothing(client, demo, missing, message):
    data = {"email": "nc@example.com", "username": "noconsent", "password1": "a-long-passphrase-42",
            "password2": "a-long-passphrase-42", "birth_date": "1990-01-01", "region": "CN",
            "accept_terms": "on", "accept_sensitive": "on"}
    del data[missing]
    response = client.post("/accounts/signup/", data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and message in response.content.decode()
    assert not User.objects.filter(username="noconsent").exists()


@pytest.mark.parametrize("birth_date, message", [
    ("", "This field is required."),
    ("2999-01-01", "cannot be in the future"),
    ("1850-01-01", "older than 120"),
    ("not-a-date", "Enter a valid date."),
])
def test_sign_up_rejects_bad_birth_dates_and_saves_nothing(client, demo, birth_date, message):
    response = client.post("/accounts/signup/", {
        "email": "bad@example.com", "username": "baddate", "password1": "a-long-passphrase-42",
        "password2": "a-long-passphrase-42", "birth_date": birth_date, "region": "CN"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and message in response.content.decode()
    assert not User.objects.filter(username="baddate").exists()


def test_sign_in_with_login_field(client, demo):
    token = _csrf(client, "/accounts/login/")
    response = client.post("/accounts/login/", {"csrfmiddlewaretoken": token, "login": "adult",
                                                "password": "demo-pass-2026"})
    assert response.status_code == 302 and "_auth_user_id" in client.session


def test_login_post_without_csrf_is_refused(demo):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"login": "adult", "password": "demo-pass-2026"})
    assert response.status_code == 403


def test_language_switch_is_remembered_on_the_account(client, demo):
    user = UserFactory(language="zh-hans")
    client.force_login(user)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.language == "en"
    assert "Characters" in client.get("/").content.decode()


def test_saved_language_applies_without_a_cookie(client, demo):
    client.force_login(UserFactory(language="en"))
    assert 'lang="en"' in client.get("/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()


def test_sign_up_refuses_the_drill_accounts_prefix(client, demo):
    """BX-16: synthetic drill accounts are recognised by name, so nobody else may take one."""
    response = client.post("/accounts/signup/", {
        "email": "d@example.com", "username": "Drill-202611", "password1": "a-long-passphrase-42",
        "password2": "a-long-passphrase-42", "birth_date": "1990-01-01", "region": "CN"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "reserved" in response.content.decode()
    assert not User.objects.filter(username__iexact="drill-202611").exists()


@pytest.mark.django_db(transaction=True)
async def test_a_fifteen_year_old_signs_up_straight_into_minor_mode(demo, sms_gateway):
    """CN-REG-02, CN-MIN-01: a date of birth giving 15 makes a minor account at once: adult-only
    characters are gone, a guardian must link and consent first (CN-MIN-04 under `union`), then the
    socket says `minor_mode`."""
    def sign_up():
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        born = timezone.localdate() - dt.timedelta(days=int(365.25 * 15) + 20)
        client.post("/accounts/signup/", {
            "email": "teen@example.com", "username": "teen15", "password1": "a-long-passphrase-42",
            "password2": "a-long-passphrase-42", "birth_date": born.isoformat(), "region": "CN",
            "phone": "13800138001", "accept_terms": "on", "accept_sensitive": "on"})
        code = re.search(r"\b(\d{6})\b", sms_gateway.requests[-1]["json"]["text"]).group(1)
        client.post("/accounts/phone/", {"action": "verify", "code": code})
        teen = User.objects.get(username="teen15")
        assert teen.is_minor and teen.age == 15
        home = client.get("/").content.decode()
        assert 'data-slug="friend"' in home and 'data-slug="partner"' not in home
        assert client.get("/chat/partner/").status_code == 404
        assert client.get("/chat/friend/")["Location"] == "/contacts/?next=%2Fchat%2Ffriend%2F"
        client.post("/contacts/", {"kind": "guardian", "name": "Mum", "relationship": "mother",
                                   "email": "mum15@example.net", "phone": "+8613900139000", "language": "en"})
        confirm_guardian(Contact.objects.get(user=teen), UserFactory(email="mum15@example.net"))
        assert client.get("/chat/friend/").status_code == 200
        return teen

    teen = await database_sync_to_async(sign_up)()
    chat, ready, _ = await join(teen)
    assert ready["minor_mode"] is True
    await chat.disconnect()
