import datetime as dt

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import Role
from guardians.models import Contact, ContactKind
from tests.fakes.smtp_sink import SMTPSink
from tests.fixtures import UserFactory


@pytest.fixture
def smtp_sink(settings):
    """A real SMTP server; Django's SMTP EmailBackend delivers to it."""
    sink = SMTPSink().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield sink
    sink.stop()


def born_years_ago(years: int) -> dt.date:
    return timezone.localdate() - dt.timedelta(days=int(365.25 * years) + 10)


def make_user(age: int, **fields):
    """A user of `age` with no contacts (the tests here add their own)."""
    return UserFactory(birth_date=born_years_ago(age), **{"contacts": False, **fields})


def make_guardian_account(**fields):
    user = UserFactory(**fields)
    user.groups.add(Group.objects.get_or_create(name=Role.GUARDIAN)[0])
    return user


def make_contact(user, kind: str = ContactKind.EMERGENCY, **fields) -> Contact:
    defaults = {"name": "Li Hua", "relationship": "mother", "email": f"contact-{user.pk}-{kind}@example.net",
                "phone": "+8613800138000", "language": "en"}
    return Contact.objects.create(user=user, kind=kind, **{**defaults, **fields})
