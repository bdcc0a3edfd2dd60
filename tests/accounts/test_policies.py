import datetime as dt

import pytest

from accounts.policies import AgeBand, age_band, age_on, birth_date_problem


@pytest.mark.parametrize("born, today, age", [
    (dt.date(2000, 5, 1), dt.date(2026, 4, 30), 25),
    (dt.date(2000, 5, 1), dt.date(2026, 5, 1), 26),
    (dt.date(2008, 2, 29), dt.date(2026, 2, 28), 17),
    (dt.date(2008, 2, 29), dt.date(2026, 3, 1), 18),
])
def test_age_on(born, today, age):
    assert age_on(born, today) == age


@pytest.mark.parametrize("age, band", [
    (None, AgeBand.ADULT), (0, AgeBand.CHILD), (13, AgeBand.CHILD), (14, AgeBand.MINOR), (17, AgeBand.MINOR),
    (18, AgeBand.ADULT), (59, AgeBand.ADULT), (60, AgeBand.ELDERLY), (101, AgeBand.ELDERLY),
])
def test_age_band(age, band):
    assert age_band(age) == band


def test_birth_date_problems():
    today = dt.date(2026, 11, 23)
    assert birth_date_problem(dt.date(2026, 11, 24), today) == "future"
    assert birth_date_problem(dt.date(1900, 1, 1), today) == "too_old"
    assert birth_date_problem(dt.date(1990, 1, 1), today) is None
