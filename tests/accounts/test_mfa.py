"""Two-factor authentication for staff (issue #4 item 5): staff pages and the console socket need a
session that passed a TOTP code; chat users are never asked; failed sign-ins are rate-limited.

Everything goes through the real paths: allauth's sign-in, code and activation views, Django's
admin login form, the console socket on the real ASGI stack. Codes are computed here with RFC 6238
itself, as any authenticator app would.
"""
import base64
import hashlib
import hmac
import struct
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, TOTP, generate_totp_secret
from allauth.mfa.utils import decrypt
from channels.db import database_sync_to_async
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, User
from companion.settings import base as base_settings
from tests.fixtures import UserFactory, open_console

pytestmark = [pytest.mark.django_db, pytest.mark.without_second_factor]

STAFF_PAGES = ["/console/", "/compliance/", "/regulator/", "/admin/"]
SETUP_URL = "/accounts/2fa/totp/activate/"
PASSWORD = "correct-horse-battery"  # UserFactory's


def totp(secret: str, at: float | None = None, period: int = 30, digits: int = 6) -> str:
    """RFC 6238 TOTP with HMAC-SHA1 (RFC 4226 dynamic truncation)."""
    counter = int((time.time() if at is None else at) // period)
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10 ** digits:0{digits}d}"


def code_now(secret: str) -> str:
    """The current code, as a person types it: not in the last second of its step (the server
    takes a code only in its own step, MFA_TOTP_TOLERANCE = 0)."""
    if 30 - time.time() % 30 < 1:
        time.sleep(1.1)
    return totp(secret)


def wrong_code(secret: str) -> str:
    return f"{(int(totp(secret)) + 1) % 10 ** 6:06d}"


def staff(role: str | None = None, **fields) -> User:
    user = UserFactory(**fields)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def with_totp(user: User) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def sign_in(client: Client, user: User):
    return client.post(reverse("account_login"), {"login": user.username, "password": PASSWORD})


def actions(user: User) -> list[str]:
    return list(AuditEvent.objects.filter(subject_id=str(user.pk), action__startswith="auth.mfa")
                .order_by("id").values_list("action", flat=True))


def test_the_code_helper_matches_the_rfc_6238_test_vector():
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp(secret, at=59) == "287082" and totp(secret, at=1111111109) == "081804"


@pytest.mark.parametrize("role, flags", [("operator", {}), ("compliance", {}), ("regulator", {}),
                                         (None, {"is_staff": True, "is_superuser": True})])
def test_staff_without_an_authenticator_are_sent_to_set_one_up_from_every_staff_area(role, flags):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(staff(role, **flags))
    for path in STAFF_PAGES:
        response = client.get(path)
        assert (response.status_code, response["Location"]) == (302, SETUP_URL), path
    page = client.get("/console/", follow=True)
    assert "Staff accounts need two-factor authentication." in page.content.decode()


@pytest.mark.django_db(transaction=True)  # allauth announces the activation on commit, inside the request
def test_activating_totp_through_allauth_opens_the_staff_pages_and_is_audited():
    operator = staff("operator")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert not sign_in(client, operator)["Location"].startswith("/accounts/2fa/")  # no authenticator yet
    assert client.get("/console/")["Location"] == SETUP_URL
    # allauth asks for the password again before any change to the account's authenticators.
    reauthenticate = client.get(SETUP_URL)["Location"]
    assert reauthenticate.startswith(reverse("account_reauthenticate"))
    assert client.post(reauthenticate, {"password": PASSWORD})["Location"] == SETUP_URL
    assert client.get(SETUP_URL).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    assert client.post(SETUP_URL, {"code": wrong_code(secret)}).status_code == 200
    response = client.post(SETUP_URL, {"code": code_now(secret)})
    assert response.status_code == 302 and Authenticator.objects.filter(user=operator, type="totp").exists()
    # Typing the code to activate passed the second factor for this session: no second prompt.
    assert client.get("/console/").status_code == 200
    assert actions(operator) == ["auth.mfa_activated", "auth.mfa_activated"]  # the app, then recovery codes
    assert set(AuditEvent.objects.filter(action="auth.mfa_activated").values_list("data__type", flat=True)) == {
        "totp", "recovery_codes"}

    # Removing the app closes the staff pages again.
    assert client.post(reverse("mfa_deactivate_totp")).status_code == 302
    assert "auth.mfa_deactivated" in actions(operator)
    assert client.get("/console/")["Location"] == SETUP_URL


def test_a_staff_sign_in_needs_the_code_and_a_wrong_code_is_refused():
    operator = staff("operator")
    secret = with_totp(operator)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = sign_in(client, operator)
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.get("/console/")["Location"].startswith("/accounts/login/")  # not signed in yet
    response = client.post(reverse("mfa_authenticate"), {"code": wrong_code(secret)})
    assert response.status_code == 200 and "Incorrect code." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert actions(operator) == ["auth.mfa_failed"]
    response = client.post(reverse("mfa_authenticate"), {"code": code_now(secret)})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(operator.pk)
    assert client.get("/console/").status_code == 200
    assert AuditEvent.objects.filter(action="auth.login", actor_id=operator.pk).count() == 1


def test_a_password_only_session_from_the_admin_login_form_is_asked_for_the_code():
    admin = staff(None, is_staff=True, is_superuser=True)
    secret = with_totp(admin)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post("/admin/login/?next=/admin/", {"username": admin.username, "password": PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(admin.pk)
    for path in STAFF_PAGES:
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_reauthenticate")), path
    page = client.get("/admin/", follow=True)
    assert "Enter a code from your authenticator app to open the staff pages." in page.content.decode()
    response = client.get("/admin/")
    assert response["Location"] == reverse("mfa_reauthenticate") + "?next=%2Fadmin%2F"
    response = client.post(response["Location"], {"code": code_now(secret)})
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.get("/admin/").status_code == 200


def test_chat_users_are_never_asked_for_a_second_factor():
    for user in [UserFactory(), staff("guardian")]:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        assert not sign_in(client, user)["Location"].startswith("/accounts/2fa/")  # no code asked
        assert client.session["_auth_user_id"] == str(user.pk)
        assert client.get("/console/").status_code == 403  # not staff: refused, not sent to 2FA
        assert not Authenticator.objects.filter(user=user).exists()


@pytest.mark.django_db(transaction=True)
async def test_the_console_socket_refuses_staff_without_a_passed_second_factor():
    without_app = await database_sync_to_async(staff)("operator")
    communicator, connected, code = await open_console(without_app)
    assert (connected, code) == (False, 4401)

    # An authenticator is not enough: this session (force_login, no code) never passed it.
    with_app = await database_sync_to_async(staff)("compliance")
    secret = await database_sync_to_async(with_totp)(with_app)
    communicator, connected, code = await open_console(with_app)
    assert (connected, code) == (False, 4401)

    # The same account signed in with password and code is let in.
    def signed_in_with_code() -> str:
        client = Client()
        sign_in(client, with_app)
        client.post(reverse("mfa_authenticate"), {"code": code_now(secret)})
        return f"sessionid={client.cookies['sessionid'].value}"

    cookie = await database_sync_to_async(signed_in_with_code)()
    communicator, connected, code = await open_console(None, cookie=cookie)
    assert connected, code
    assert (await communicator.receive_json_from())["type"] == "queue"
    await communicator.disconnect()


def test_demo_staff_get_the_demo_secret_once_and_demo_totp_code_prints_its_code(settings, capsys):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    capsys.readouterr()
    secret = settings.ACCOUNTS_DEMO_TOTP_SECRET
    enrolled = Authenticator.objects.filter(type="totp").values_list("user__username", flat=True)
    assert sorted(enrolled) == ["admin", "compliance", "operator", "regulator"]
    assert {decrypt(a.data["secret"]) for a in Authenticator.objects.filter(type="totp")} == {secret}
    assert secret not in str(list(Authenticator.objects.values_list("data", flat=True)))  # encrypted at rest
    call_command("demo_totp_code")
    assert capsys.readouterr().out.strip() in {totp(secret, time.time() + drift) for drift in (-1, 0, 1)}

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(reverse("account_login"), {"login": "operator", "password": "demo-pass-2026"})
    assert response["Location"] == reverse("mfa_authenticate")
    assert client.post(reverse("mfa_authenticate"), {"code": code_now(secret)}).status_code == 302
    assert client.get("/console/").status_code == 200


def test_repeated_failed_sign_ins_for_one_account_are_refused_even_from_new_addresses(settings):
    """allauth's limit (ACCOUNT_RATE_LIMITS, `5/5m/key`: five failures per account in five minutes),
    switched off for the rest of the suite, is the production value here."""
    settings.ACCOUNT_RATE_LIMITS = base_settings.ACCOUNT_RATE_LIMITS
    user = UserFactory()
    for attempt in range(5):
        client = Client(REMOTE_ADDR=f"198.51.100.{attempt + 1}", HTTP_ACCEPT_LANGUAGE="en")
        response = client.post(reverse("account_login"), {"login": user.username, "password": "wrong-password-1"})
        assert response.status_code == 200 and "_auth_user_id" not in client.session
    client = Client(REMOTE_ADDR="198.51.100.99", HTTP_ACCEPT_LANGUAGE="en")
    response = sign_in(client, user)  # the right password, from a new address
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()
    other = UserFactory()
    sign_in(client, other)
    assert client.session["_auth_user_id"] == str(other.pk)  # another account is not locked out
