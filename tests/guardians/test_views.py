import pytest
from django.urls import reverse

from guardians.models import Channel, Contact, ContactKind, Notification
from guardians.services import notify_safety_concern
from tests.guardians.conftest import make_contact, make_guardian_account, make_user

pytestmark = pytest.mark.django_db

CONTACTS = "/contacts/"


def contact_form(**fields) -> dict:
    return {"kind": ContactKind.EMERGENCY, "name": "Zhang Wei", "relationship": "brother",
            "email": "brother@example.net", "phone": "+86 139 1234 5678", "language": "zh-hans", **fields}


@pytest.fixture
def minor_client(client):
    user = make_user(15, language="en")
    client.force_login(user)
    client.user = user
    return client


def test_pages_need_login(client):
    for url in (CONTACTS, "/guardian/alerts/", "/contacts/1/edit/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert client.post("/contacts/1/deactivate/").status_code == 302


def test_contacts_page_explains_when_contacts_are_told(minor_client):
    page = minor_client.get(CONTACTS, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert reverse("guardians:contacts") == CONTACTS
    assert "never see what you wrote" in page
    assert "While you are under 18, your guardian is told" in page
    assert 'data-testid="no-contacts"' in page and "csrfmiddlewaretoken" in page


def test_add_contact_normalises_the_phone(minor_client):
    response = minor_client.post(CONTACTS, contact_form())
    assert response.status_code == 302 and response["Location"] == CONTACTS
    contact = Contact.objects.get(user=minor_client.user)
    assert (contact.kind, contact.phone, contact.email, contact.active) == (
        ContactKind.EMERGENCY, "+8613912345678", "brother@example.net", True)
    page = minor_client.get(CONTACTS).content.decode()
    assert "Zhang Wei" in page and "+8613912345678" in page


@pytest.mark.parametrize(("fields", "message"), [
    ({"phone": "12345"}, "Enter a mobile number with its country code"),
    ({"phone": "+86 10 6552 9988"}, "Enter a mobile number with its country code"),
    ({"email": "not-an-email"}, "Enter a valid email address"),
    ({"email": "", "phone": ""}, "Give the contact&#x27;s mobile number"),  # CN-REG-03: the code is texted
    ({"kind": "guardian", "email": ""}, "Give your guardian&#x27;s email address"),
    ({"name": ""}, "This field is required"),
    ({"kind": "friend"}, "Select a valid choice"),
])
def test_add_contact_shows_field_errors(minor_client, fields, message):
    response = minor_client.post(CONTACTS, contact_form(**fields), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and message in response.content.decode()
    assert not Contact.objects.exists()


def test_second_guardian_is_refused(minor_client):
    make_contact(minor_client.user, ContactKind.GUARDIAN)
    response = minor_client.post(CONTACTS, contact_form(kind=ContactKind.GUARDIAN), HTTP_ACCEPT_LANGUAGE="en")
    assert "You already have a guardian contact" in response.content.decode()
    assert Contact.objects.filter(kind=ContactKind.GUARDIAN).count() == 1


def test_a_fourth_emergency_contact_is_refused(minor_client):
    for number in range(3):
        assert minor_client.post(CONTACTS, contact_form(name=f"Friend {number}")).status_code == 302
    response = minor_client.post(CONTACTS, contact_form(name="Friend 4"), HTTP_ACCEPT_LANGUAGE="en")
    assert "at most 3 emergency contacts" in response.content.decode()
    assert Contact.objects.filter(kind=ContactKind.EMERGENCY, active=True).count() == 3


def test_deactivating_frees_a_place(minor_client):
    guardian = make_contact(minor_client.user, ContactKind.GUARDIAN)
    response = minor_client.post(f"/contacts/{guardian.pk}/deactivate/")
    assert response.status_code == 302
    guardian.refresh_from_db()
    assert guardian.active is False
    assert minor_client.post(CONTACTS, contact_form(kind=ContactKind.GUARDIAN)).status_code == 302
    assert minor_client.get(f"/contacts/{guardian.pk}/deactivate/").status_code == 405


def test_edit_contact(minor_client):
    contact = make_contact(minor_client.user)
    page = minor_client.get(f"/contacts/{contact.pk}/edit/").content.decode()
    assert contact.name in page and 'name="kind"' not in page
    bad = minor_client.post(f"/contacts/{contact.pk}/edit/", contact_form(phone="+86 123"),
                            HTTP_ACCEPT_LANGUAGE="en")
    assert "Enter a mobile number" in bad.content.decode()
    response = minor_client.post(f"/contacts/{contact.pk}/edit/", contact_form(name="Li Lei", phone="13800138000"))
    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.name, contact.phone, contact.kind) == ("Li Lei", "+8613800138000", ContactKind.EMERGENCY)


def test_other_users_contacts_are_404(minor_client):
    other = make_contact(make_user(30))
    assert minor_client.get(f"/contacts/{other.pk}/edit/").status_code == 404
    assert minor_client.post(f"/contacts/{other.pk}/edit/", contact_form()).status_code == 404
    assert minor_client.post(f"/contacts/{other.pk}/deactivate/").status_code == 404
    other.refresh_from_db()
    assert other.active and other.name == "Li Hua"


def test_contact_forms_need_csrf(minor_client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(minor_client.user)
    assert strict.post(CONTACTS, contact_form()).status_code == 403


def test_contacts_page_in_chinese(client):
    user = make_user(30, language="zh-hans")
    client.force_login(user)
    page = client.get(CONTACTS, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'lang="zh-hans"' in page


def test_alerts_page_is_for_guardians_only(client):
    client.force_login(make_user(30))
    assert client.get("/guardian/alerts/").status_code == 403


def test_guardian_sees_their_alerts_newest_first(client, django_capture_on_commit_callbacks):
    account = make_guardian_account(email="parent@example.net", language="en")
    minor = make_user(13, username="xiaohong", region="CN")
    make_contact(minor, ContactKind.GUARDIAN, email="parent@example.net", phone="", account=account)
    stranger = make_user(14, username="someone_else")
    make_contact(stranger, ContactKind.GUARDIAN, email="other-parent@example.net")
    with django_capture_on_commit_callbacks(execute=True):
        notify_safety_concern(user=minor, event_key="risk:1", level="high_risk")
        notify_safety_concern(user=minor, event_key="risk:2", level="crisis")
        notify_safety_concern(user=stranger, event_key="risk:3", level="crisis")
    client.force_login(account)
    page = client.get("/guardian/alerts/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    ids = list(Notification.objects.filter(recipient=account, channel=Channel.PORTAL)
               .order_by("-created_at", "-id").values_list("pk", flat=True))
    assert len(ids) == 2
    assert page.index(f'data-alert-id="{ids[0]}"') < page.index(f'data-alert-id="{ids[1]}"')
    assert "xiaohong" in page and "high risk" in page and "crisis" in page and "12356" in page
    assert "someone_else" not in page


def test_guardian_without_alerts_sees_an_empty_state(client):
    client.force_login(make_guardian_account())
    page = client.get("/guardian/alerts/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="no-alerts"' in page
