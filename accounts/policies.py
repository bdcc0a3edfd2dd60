"""Pure decisions about people: age and the band it puts them in (CN-REG-02, CN-REG-05)."""
import datetime as dt
import re
from collections.abc import Iterable
from enum import StrEnum


class AgeBand(StrEnum):
    CHILD = "child"  # under 14: guardian consent needed for any use
    MINOR = "minor"  # 14-17
    ADULT = "adult"
    ELDERLY = "elderly"  # 60 and over


MAX_AGE_YEARS = 120


def age_on(birth_date: dt.date, today: dt.date) -> int:
    """Completed years; someone born on 29 February turns a year older on 1 March."""
    had_birthday = (today.month, today.day) >= (birth_date.month, birth_date.day)
    return today.year - birth_date.year - (0 if had_birthday else 1)


def age_band(age: int | None) -> AgeBand:
    """Unknown age (staff accounts without a birth date) counts as adult."""
    if age is None or 18 <= age < 60:
        return AgeBand.ADULT
    if age < 14:
        return AgeBand.CHILD
    if age < 18:
        return AgeBand.MINOR
    return AgeBand.ELDERLY


def birth_date_problem(birth_date: dt.date, today: dt.date) -> str | None:
    """Why a declared birth date cannot be right, or None if it is plausible."""
    if birth_date > today:
        return "future"
    if age_on(birth_date, today) > MAX_AGE_YEARS:
        return "too_old"
    return None


def interface_language(chosen: str | None, saved: str, available: Iterable[str]) -> str:
    """The language a person just picked (cookie) wins over the one saved on their account."""
    return chosen if chosen in set(available) else saved


# Mainland mobiles only: codes and safety notices go out by SMS, and landlines cannot receive one.
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
# E.164: a country code that does not start with 0, at most 15 digits in all.
_E164 = re.compile(r"[1-9]\d{6,14}")
_SEPARATORS = re.compile(r"[\s\-().]")


def normalise_phone(raw: str) -> str | None:
    """The number in E.164 form (`+8613800138000`), or None if it cannot be one.

    A bare 11-digit mainland mobile (`138 0013 8000`) is read as +86; other countries need their
    `+` prefix (or `00`), and +86 numbers must be mobiles.
    """
    text = _SEPARATORS.sub("", raw or "")
    if text.startswith("00"):
        text = "+" + text[2:]
    if not text.startswith("+"):
        return f"+86{text}" if _CN_MOBILE.fullmatch(text) else None
    digits = text[1:]
    if digits.startswith("86"):
        return text if _CN_MOBILE.fullmatch(digits[2:]) else None
    return text if _E164.fullmatch(digits) else None
