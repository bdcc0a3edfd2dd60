"""Texts of safety notifications, per language (CN-CRI-07, CN-CRI-08, CN-MIN-07).

They name the user, the service, the time, the level and what to do; they never quote the chat.
"""
import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext, pgettext

from guardians.policies import hotlines


@dataclass(frozen=True)
class NoticeText:
    subject: str
    body: str  # email and portal
    short: str  # SMS


def level_label(level: str) -> str:
    return {
        "distress": pgettext("risk level", "emotional distress"),
        "high_risk": pgettext("risk level", "high risk"),
        "crisis": pgettext("risk level", "crisis"),
    }.get(level, level)


def _when(moment: dt.datetime) -> str:
    local = timezone.localtime(moment)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M} (UTC{offset[:3]}:{offset[3:]})"


def _call_advice(region: str) -> str:
    numbers = hotlines(region)
    if region == "CN":
        return gettext("If they may be in danger, call 120 (ambulance) or 110 (police) now. The national "
                       "psychological assistance hotline 12356 can also help.")
    if region.startswith("US-"):
        return gettext("If they may be in danger, call 911 now. The 988 Suicide & Crisis Lifeline (call or "
                       "text 988) can also help.")
    if numbers:
        return gettext("If they may be in danger, call the emergency number %(number)s now.") % {
            "number": numbers[0]}
    return gettext("If they may be in danger, call your local emergency services now.")


def safety_notice(*, display_name: str, contact_name: str, region: str, level: str, reason: str,
                  moment: dt.datetime, language: str) -> NoticeText:
    """The notice in `language`; `reason` is "detected" or "unclaimed" (CN-CRI-08 fallback)."""
    service = settings.COMPANION_SERVICE_NAME
    with translation.override(language):
        values = {"name": display_name, "contact": contact_name, "service": service, "time": _when(moment),
                  "level": level_label(level)}
        if reason == "unclaimed":
            subject = gettext("[%(service)s] Urgent: please contact %(name)s now") % values
            opening = gettext("We detected a safety concern (%(level)s) for %(name)s on %(service)s at %(time)s, "
                              "and our staff could not respond in time. Please act now: call %(name)s "
                              "and make sure they are safe.") % values
        else:
            subject = gettext("[%(service)s] Safety concern for %(name)s") % values
            opening = gettext("We detected a safety concern (%(level)s) for %(name)s on %(service)s at "
                              "%(time)s. Please contact %(name)s now and make sure they are safe.") % values
        call = _call_advice(region)
        why = gettext("You receive this because %(name)s named you as a contact for safety concerns. For "
                      "their privacy this message never includes what they wrote.") % values
        body = "\n\n".join([gettext("Hello %(contact)s,") % values, opening, call, why, service])
        short = " ".join([subject, opening, call])
    return NoticeText(subject=subject, body=body, short=short)
