import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from accounts.models import User
from accounts.policies import AgeBand
from companion.models import Character

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_matches_the_contract():
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)
    assert set(Character.objects.values_list("slug", flat=True)) == {
        "friend", "mentor", "study-buddy", "partner", "family", "storyteller"}
    assert Character.objects.get(slug="partner").is_adult_only and Character.objects.get(slug="family").is_adult_only
    ages = {u.username: u.age for u in User.objects.all()}
    assert ages["adult"] == 30 and ages["minor13"] == 13 and ages["minor16"] == 16
    assert ages["elder"] == 72 and ages["teen_ca"] == 15
    assert User.objects.get(username="teen_ca").region == "US-CA"
    assert User.objects.get(username="minor13").age_band == AgeBand.CHILD
    assert User.objects.get(username="elder").age_band == AgeBand.ELDERLY
    assert User.objects.get(username="admin").is_superuser
    for role in ["guardian", "operator", "compliance", "regulator"]:
        assert User.objects.get(username=role).has_role(role)
    assert authenticate(username="minor16", password="demo-pass-2026") is not None
    assert User.objects.get(username="adult").email == "adult@example.com"


def test_load_users(monkeypatch):
    monkeypatch.setenv("DEMO_PASSWORD", "another-pass-1")
    call_command("seed_demo", load_users=3, verbosity=0)
    call_command("seed_demo", load_users=5, verbosity=0)
    loads = User.objects.filter(username__startswith="load").order_by("username")
    assert [u.username for u in loads] == ["load0", "load1", "load2", "load3", "load4"]
    assert authenticate(username="load4", password="another-pass-1") is not None
    assert all(u.age == 30 for u in loads)
