import pytest

from accounts.policies import AgeBand, normalise_phone
from guardians.policies import guardian_is_told, hotlines


@pytest.mark.parametrize(("raw", "expected"), [
    ("+86 138 0013 8000", "+8613800138000"),
    ("13800138000", "+8613800138000"),  # bare mainland mobile
    ("+86-199-1234-5678", "+8619912345678"),
    ("0086 13800138000", "+8613800138000"),
    ("+1 (415) 555-0100", "+14155550100"),
    ("+44 20 7946 0958", "+442079460958"),
])
def test_phone_numbers_are_normalised_to_e164(raw, expected):
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", [
    "", "12345", "+86 12800138000",  # mainland numbers must be mobiles 1[3-9]…
    "+86 10 6552 9988",  # a Beijing landline cannot receive the SMS
    "138001380001", "4155550100",  # foreign numbers need their country code
    "+0 123 4567 890", "+1 415 555 0100 99999", "call me", "+86 138 0013 800a",
])
def test_bad_phone_numbers_are_refused(raw):
    assert normalise_phone(raw) is None


def test_guardian_is_told_only_for_minors():  # CN-CRI-07
    assert guardian_is_told(AgeBand.CHILD) and guardian_is_told(AgeBand.MINOR)
    assert not guardian_is_told(AgeBand.ADULT) and not guardian_is_told(AgeBand.ELDERLY)


def test_hotlines_per_region():
    assert hotlines("CN") == ("120", "110", "12356")
    assert "988" in hotlines("US-CA") and "988" in hotlines("US-NY")
    assert hotlines("EU") == ("112",)
    assert hotlines("OTHER") == ()
