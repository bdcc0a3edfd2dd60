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
# CN-MIN-05: a declared adult switched to minor mode without an age in their messages gets the
# defaults of a 15-year-old (CN-MIN-10's 8-15 band: the stricter of the two teenage bands).
SUSPECTED_MINOR_AGE = 15


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


# --- Suspected minors (CN-MIN-05, CN-MIN-06) -----------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_FORM = re.compile(r"\d{17}[\dX]")


def resident_id_check_character(body: str) -> str:
    """The 18th character of a resident ID number whose first 17 digits are `body` (GB 11643-1999)."""
    return _ID_CHECK[sum(int(digit) * weight for digit, weight in zip(body, _ID_WEIGHTS, strict=True)) % 11]


def resident_id_birth_date(number: str) -> dt.date | None:
    """The birth date in an 18-character PRC resident ID number (GB 11643-1999) whose check
    character is right, or None if it cannot be one. Only the form is checked, not the register."""
    text = (number or "").strip().upper().replace(" ", "")
    if not _ID_FORM.fullmatch(text):
        return None
    if resident_id_check_character(text[:17]) != text[17]:
        return None
    try:
        return dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None


def id_check(id_birth_date: dt.date | None, account_birth_date: dt.date | None, today: dt.date) -> str:
    """CN-MIN-06's real-name check of an appeal: `match` when the ID's birth date is the account's
    and makes the person 18 or over today, else `mismatch` (an ID number that is not valid never
    reaches here: the form refuses it)."""
    if id_birth_date is None:
        return "none"
    if id_birth_date == account_birth_date and age_on(id_birth_date, today) >= 18:
        return "match"
    return "mismatch"


def working_days_after(moment: dt.datetime, days: int) -> dt.datetime:
    """`days` working days (Monday to Friday) after `moment`, same clock time; public holidays are
    not modelled. The one count of working days: complaints' deadlines use it too."""
    added = 0
    while added < days:
        moment += dt.timedelta(days=1)
        if moment.weekday() < 5:
            added += 1
    return moment


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """CN-MIN-06's deadline: `days` working days after `start`; a start on a weekend counts from the
    next Monday's first moment (docs/decisions.md D-38)."""
    moment = start
    while moment.weekday() >= 5:
        moment = (moment + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return working_days_after(moment, days)


def cues_switch(weights: Iterable[float], threshold: float = 1.0) -> bool:
    """CN-MIN-05: minor mode switches on once the cues in the window add up to the threshold."""
    return sum(weights) >= threshold - 1e-9
