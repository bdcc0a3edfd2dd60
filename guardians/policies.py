"""Pure decisions about safety contacts: who is told, and what a phone number is (CN-CRI-07)."""
import re

from accounts.policies import AgeBand

# Mainland mobiles only: safety notices go out by SMS, and landlines cannot receive one.
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


def guardian_is_told(band: AgeBand) -> bool:
    """CN-CRI-07: the guardian is the contact for minors; adults' and elders' own emergency contacts
    are told instead (an adult's former guardian link is not)."""
    return band in (AgeBand.CHILD, AgeBand.MINOR)


def hotlines(region: str) -> tuple[str, ...]:
    """Numbers a contact should call for a user of this region, most urgent first (CN-CRI-06)."""
    if region == "CN":
        return ("120", "110", "12356")
    if region.startswith("US-"):
        return ("911", "988")
    if region == "EU":
        return ("112",)
    return ()
