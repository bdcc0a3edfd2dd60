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


def contact_message(*, reason: str, kind: str, display_name: str, contact_name: str, language: str,
                    link: str = "", code: str = "", band: str = "") -> NoticeText:
    """What a contact is sent about the relationship itself (BX-13, CN-REG-03, CN-MIN-03): named as a
    guardian or emergency contact (`invitation`), a new confirmation code (`code`), or no longer a
    contact (`replaced`). Never anything the user wrote. `band` is the user's age band, for the
    guardian's consent wording."""
    service = settings.COMPANION_SERVICE_NAME
    with translation.override(language):
        values = {"name": display_name, "contact": contact_name, "service": service, "link": link, "code": code}
        hello = gettext("Hello %(contact)s,") % values
        if reason == "replaced":
            subject = gettext("[%(service)s] You are no longer a contact of %(name)s") % values
            text = gettext("%(name)s has changed their contacts on %(service)s. You will no longer receive "
                           "messages about them from us. If you did not expect this, you may want to talk "
                           "to %(name)s.") % values
            return NoticeText(subject=subject, body="\n\n".join([hello, text, service]), short=text)
        if reason == "code":
            subject = gettext("[%(service)s] Your confirmation code") % values
            text = gettext("Your code to confirm that you are a contact of %(name)s on %(service)s is %(code)s. "
                           "It is valid for 24 hours. Confirm or decline here: %(link)s") % values
            return NoticeText(subject=subject, body="\n\n".join([hello, text, service]), short=text)
        if kind == "guardian":
            subject = gettext("[%(service)s] %(name)s named you as their guardian") % values
            what = gettext("%(name)s uses %(service)s, an AI companion chat service, and named you as their "
                           "guardian. As their guardian you receive alerts if we detect that they may be at "
                           "risk, and you decide whether they may use the service.") % values
            if band == "child":
                what += " " + gettext("Because %(name)s is under 14, they cannot chat until you give your "
                                      "consent.") % values
            how = gettext("To confirm, open %(link)s, sign in or create a guardian account, and enter the "
                          "code %(code)s. There you can give or refuse your consent, and withdraw it at any "
                          "time later.") % values
            short = gettext("%(name)s named you as their guardian on %(service)s. Confirm with code %(code)s "
                            "at %(link)s, or decline there.") % values
        else:
            subject = gettext("[%(service)s] %(name)s named you as their emergency contact") % values
            what = gettext("%(name)s uses %(service)s, an AI companion chat service, and named you as their "
                           "emergency contact. If we detect that they may be at risk, we will tell you by "
                           "email or text message so that you can check on them.") % values
            how = gettext("Please confirm or decline at %(link)s. %(name)s may also ask you for this code "
                          "to confirm: %(code)s.") % values
            short = gettext("%(name)s named you as their emergency contact on %(service)s. Your code: "
                            "%(code)s. Confirm or decline: %(link)s") % values
        private = gettext("For their privacy we never send you what they wrote. If you do not know %(name)s "
                          "or do not want to be their contact, decline and we will send nothing more.") % values
        body = "\n\n".join([hello, what, how, private, service])
    return NoticeText(subject=subject, body=body, short=short)


def weekly_summary(*, summary, display_name: str, contact_name: str, link: str, language: str) -> NoticeText:
    """CN-MIN-08: the weekly usage email to a guardian, from a `guardians.usage.Summary` of the
    ward's last complete week (names of characters already in `language`). Figures only: never what
    the minor wrote (BX-14)."""
    service = settings.COMPANION_SERVICE_NAME
    with translation.override(language):
        values = {"name": display_name, "contact": contact_name, "service": service, "link": link,
                  "first": summary.first.isoformat(), "last": summary.last.isoformat()}
        subject = gettext("[%(service)s] Weekly summary for %(name)s, %(first)s to %(last)s") % values
        none = gettext("none")
        characters = ", ".join(f"{name} ({count})" for name, count in summary.characters) or none
        reminders = ", ".join(f"{label} ({count})" for label, count in summary.reminders)
        risks = ", ".join(f"{label} ({count})" for label, count in summary.risks)
        lines = [
            gettext("Chat time (minutes): %(minutes)d") % {"minutes": summary.minutes},
            gettext("Days with chat: %(days)d") % {"days": summary.active_days},
            gettext("Messages sent: %(messages)d") % {"messages": summary.messages},
            gettext("Characters used (messages sent): %(characters)s") % {"characters": characters},
            gettext("Time-limit and rest reminders shown: %(count)d") % {"count": summary.reminder_total}
            + (f" ({reminders})" if reminders else ""),
            gettext("Risk signals in their messages: %(count)d") % {"count": summary.risk_total}
            + (f" ({risks})" if risks else ""),
            gettext("Safety cases opened: %(count)d") % {"count": summary.cases},
            gettext("Spent (purchases less refunds): %(amount)s") % {"amount": summary.spent},
        ]
        opening = gettext("This is how %(name)s used %(service)s from %(first)s to %(last)s (Beijing time):") % values
        more = gettext("Daily figures and charts are in the guardian portal: %(link)s") % values
        why = gettext("You receive this weekly because you are the guardian of %(name)s. For their privacy it "
                      "never includes what they wrote.") % values
        body = "\n\n".join([gettext("Hello %(contact)s,") % values, opening,
                            "\n".join("- " + line for line in lines), more, why, service])
    return NoticeText(subject=subject, body=body, short=opening)
