"""Pure decisions about safety contacts: who is told, and which help lines they get (CN-CRI-07).
What a phone number is lives in accounts.policies.normalise_phone (sign-up verifies numbers too)."""
from accounts.policies import AgeBand


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
