"""CN-DAT-09: a person sees what their account holds and corrects it; what decides protections is
corrected on request (a ticket answered within the complaint deadlines)."""
import pytest

from accounts.models import AuditEvent
from tests.fixtures import UserFactory, client_for

pytestmark = pytest.mark.django_db


def test_the_profile_shows_the_details_and_corrects_name_and_language():
    user = UserFactory(username="mei", first_name="", language="en")
    client = client_for(user)
    page = client.get("/privacy/profile/").content.decode()
    assert "mei@example.com" in page and str(user.birth_date) in page and user.phone in page
    assert "/help/complaints/new/?kind=complaint&amp;target=service&amp;category=privacy" in page

    saved = client.post("/privacy/profile/", {"first_name": "  Mei   Lin ", "language": "zh-hans"})
    assert saved.status_code == 302 and saved.cookies["django_language"].value == "zh-hans"
    user.refresh_from_db()
    assert (user.first_name, user.language) == ("Mei Lin", "zh-hans")
    row = AuditEvent.objects.get(action="profile.corrected", actor_id=user.pk)
    assert row.data == {"fields": ["first_name", "language"]}  # the fields, never the values
    assert "你的资料" in client_for(user, "zh-hans").get("/privacy/profile/").content.decode()


def test_bad_input_is_refused_and_nothing_is_saved():
    user = UserFactory(first_name="Ann", language="en")
    client = client_for(user)
    for data in ({"first_name": "Ann\x07", "language": "en"}, {"first_name": "Ann", "language": "fr"},
                 {"first_name": "x" * 151, "language": "en"}):
        response = client.post("/privacy/profile/", data)
        assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    user.refresh_from_db()
    assert (user.first_name, user.language) == ("Ann", "en")
    assert not AuditEvent.objects.filter(action="profile.corrected").exists()


def test_birth_date_region_and_mobile_cannot_be_changed_through_the_form():
    """Minor mode and policy packs hang on them (CN-REG-02): extra fields are ignored."""
    user = UserFactory(language="en")
    birth, region, phone = user.birth_date, user.region, user.phone
    client_for(user).post("/privacy/profile/", {"first_name": "Bo", "language": "en", "birth_date": "1950-01-01",
                                                "region": "US-CA", "phone": "+8613000000000"})
    user.refresh_from_db()
    assert (user.first_name, user.birth_date, user.region, user.phone) == ("Bo", birth, region, phone)


def test_the_request_link_opens_the_form_with_privacy_chosen():
    page = client_for(UserFactory(language="en")).get(
        "/help/complaints/new/?kind=complaint&target=service&category=privacy").content.decode()
    assert 'value="privacy" selected' in page


def test_the_profile_needs_sign_in():
    response = client_for().get("/privacy/profile/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
