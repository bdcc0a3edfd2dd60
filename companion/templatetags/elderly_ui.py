"""`{% elderly_ui as elderly %}`: what base.html shows a user aged 60+ (CN-REG-05, CN-ELD-04/05):
the larger-text theme (on by default for 60+, switchable), the "Talk to a person" button and
today's tip."""
from django import template
from django.utils import timezone

from accounts.policies import AgeBand
from companion.elderly import LARGE_TEXT_COOKIE, TIP_COOKIE, daily_tip, tip_due, wants_large_text

register = template.Library()


@register.simple_tag(takes_context=True)
def elderly_ui(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    band = user.age_band if user is not None and user.is_authenticated else None
    cookies = request.COOKIES if request is not None else {}
    today = timezone.localdate()
    return {
        "active": band == AgeBand.ELDERLY,
        "large_text": wants_large_text(age_band=band, choice=cookies.get(LARGE_TEXT_COOKIE)),
        "tip": daily_tip(today) if tip_due(age_band=band, seen_on=cookies.get(TIP_COOKIE, ""), day=today) else "",
    }
