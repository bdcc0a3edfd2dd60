import pytest

from guardians.models import ContactKind
from guardians.selectors import guardian_account, portal_alerts, safety_contacts
from tests.guardians.conftest import make_contact, make_guardian_account, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("age", [10, 13, 16])
def test_minor_tells_guardian_and_emergency_contacts(age):  # CN-CRI-07, CN-MIN-07
    minor = make_user(age)
    guardian = make_contact(minor, ContactKind.GUARDIAN, name="Guardian")
    emergency = make_contact(minor, name="Aunt")
    assert safety_contacts(minor) == [guardian, emergency]


@pytest.mark.parametrize("age", [30, 72])
def test_adults_and_elders_tell_their_emergency_contacts_not_a_guardian(age):
    person = make_user(age)
    make_contact(person, ContactKind.GUARDIAN, name="Former guardian")
    first, second = make_contact(person, name="Son"), make_contact(person, name="Neighbour")
    assert safety_contacts(person) == [first, second]


def test_adult_without_contacts_tells_nobody():
    assert safety_contacts(make_user(30)) == []


def test_inactive_contacts_and_other_users_contacts_are_not_told():
    minor = make_user(15)
    make_contact(minor, ContactKind.GUARDIAN, active=False)
    make_contact(minor, active=False)
    make_contact(make_user(15))
    assert safety_contacts(minor) == []


def test_guardian_account_is_the_account_that_confirmed_the_link_never_an_email_match():
    """CN-MIN-03: portal alerts go to the account that confirmed with the texted code; an account that
    merely shares the contact's email (anyone can sign up with it) sees nothing."""
    account = make_guardian_account(email="Parent@Example.com")
    minor = make_user(13)
    guardian = make_contact(minor, ContactKind.GUARDIAN, email="parent@example.com")
    assert guardian_account(guardian) is None
    guardian.account = account
    guardian.save()
    assert guardian_account(guardian) == account
    account.is_active = False
    account.save()
    assert guardian_account(guardian) is None
    assert guardian_account(make_contact(minor, email="parent@example.com", account=account)) is None  # emergency


def test_portal_alerts_is_empty_for_a_guardian_without_alerts():
    assert list(portal_alerts(make_guardian_account())) == []
