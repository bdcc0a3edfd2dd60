"""The consent ledger and the gate before chatting (CN-REG-01, CN-DAT-06, CN-DAT-07)."""
import pytest
from django.test import Client
from django.urls import reverse

from accounts.consents import consent_states, has_training_consent, missing_for_chat, update_consents
from accounts.models import AuditEvent, Consent
from tests.fixtures import UserFactory, client_for, open_socket

pytestmark = pytest.mark.django_db


def test_a_new_policy_version_asks_again_before_the_next_chat(demo, settings):
    user = UserFactory()
    client = client_for(user)
    assert client.get(reverse("chat", args=["friend"])).status_code == 200
    settings.ACCOUNTS_POLICY_VERSIONS = {**settings.ACCOUNTS_POLICY_VERSIONS, "terms": "2027-01-01"}
    response = client.get(reverse("chat", args=["friend"]))
    assert response.status_code == 302 and response["Location"].startswith(reverse("reconsent"))
    page = client.get(response["Location"]).content.decode()
    assert "2027-01-01" in page and 'name="terms"' in page and 'name="privacy"' not in page  # only what is missing
    refused = client.post(response["Location"], {"next": "/chat/friend/"})
    assert refused.status_code == 200 and missing_for_chat(user) == ["terms"]
    accepted = client.post(response["Location"], {"terms": "on", "next": "/chat/friend/"})
    assert accepted["Location"] == "/chat/friend/" and missing_for_chat(user) == []
    assert client.get(reverse("chat", args=["friend"])).status_code == 200
    assert Consent.objects.filter(user=user, purpose="terms", version="2027-01-01", source="reconsent").exists()
    assert AuditEvent.objects.filter(action="consent.granted", actor_id=user.pk, data__version="2027-01-01").exists()


def test_signing_in_after_a_new_version_shows_the_accept_screen_first(demo, settings):
    UserFactory(username="returning")
    settings.ACCOUNTS_POLICY_VERSIONS = {**settings.ACCOUNTS_POLICY_VERSIONS, "privacy": "2027-01-01"}
    response = Client().post(reverse("account_login"), {"login": "returning", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("reconsent"))
    other = UserFactory(username="uptodate")
    update_consents(user=other, granted={"privacy": True}, source="privacy_centre")
    response = Client().post(reverse("account_login"), {"login": "uptodate", "password": "correct-horse-battery"})
    assert response["Location"] == "/"


def test_the_consent_screen_only_redirects_inside_the_site(demo):
    user = UserFactory(consents=False)
    response = client_for(user).post(reverse("reconsent"), {
        "terms": "on", "privacy": "on", "sensitive": "on", "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


@pytest.mark.parametrize("language, heading, given", [("en", "Privacy centre", "Given"), ("zh-hans", "隐私中心", "已同意")])
def test_the_privacy_centre_shows_the_ledger_and_withdrawal_locks_chat(demo, language, heading, given):
    user = UserFactory(language=language)
    client = client_for(user, language)
    page = client.get(reverse("privacy")).content.decode()
    assert heading in page and given in page and 'data-purpose="training" data-granted="no"' in page
    client.post(reverse("privacy"), {"terms": "on", "privacy": "on", "sensitive": "on", "training": "on"})
    assert has_training_consent(user.pk)
    client.post(reverse("privacy"), {"terms": "on", "privacy": "on"})  # sensitive and training withdrawn
    assert not has_training_consent(user.pk) and missing_for_chat(user) == ["sensitive"]
    assert 'data-testid="chat-locked"' in client.get(reverse("privacy")).content.decode()
    assert client.get(reverse("chat", args=["friend"])).status_code == 302
    rows = list(Consent.objects.filter(user=user, purpose="training").order_by("at", "id").values_list("granted", flat=True))
    assert rows == [True, False]  # the ledger keeps the history


def test_a_replayed_form_adds_nothing(demo):
    user = UserFactory()
    before = Consent.objects.filter(user=user).count()
    for _ in range(3):
        update_consents(user=user, granted={"terms": True, "privacy": True, "sensitive": True, "training": False},
                        source="privacy_centre")
    assert Consent.objects.filter(user=user).count() == before
    assert not AuditEvent.objects.filter(action__startswith="consent.", actor_id=user.pk).exists()


def test_training_consent_lapses_with_a_new_training_version(demo, settings):
    user = UserFactory()
    update_consents(user=user, granted={"training": True}, source="privacy_centre")
    assert has_training_consent(user.pk)
    settings.ACCOUNTS_POLICY_VERSIONS = {**settings.ACCOUNTS_POLICY_VERSIONS, "training": "2027-02-01"}
    assert not has_training_consent(user.pk)
    state = {state.purpose: state for state in consent_states(user)}["training"]
    assert state.version == "2026-11-01" and not state.granted


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_an_account_without_the_consents(demo):
    from channels.db import database_sync_to_async
    user = await database_sync_to_async(UserFactory)(consents=False)
    communicator, connected, code = await open_socket(user)
    assert not connected and code == 4412
    await communicator.disconnect()
