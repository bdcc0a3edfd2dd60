"""Pages for users aged 60+ (CN-REG-05, CN-ELD-04, CN-ELD-05): the larger-text switch, putting the
tip of the day away, and "Talk to a person"."""
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_http_methods, require_POST

from accounts.policies import AgeBand
from accounts.views import safe_next
from companion import complaints
from companion.complaint_forms import HelpRequestForm
from companion.elderly import LARGE_TEXT_COOKIE, TIP_COOKIE

COOKIE_MAX_AGE = 365 * 24 * 3600


class LargeTextForm(forms.Form):
    large_text = forms.ChoiceField(choices=[("on", "on"), ("off", "off")])


def _back(request):
    return redirect(safe_next(request, reverse("home")))


@require_POST
def large_text(request):
    """CN-REG-05: switch the larger-text theme on or off (a cookie, so it also works signed out)."""
    form = LargeTextForm(request.POST)
    response = _back(request)
    if form.is_valid():
        response.set_cookie(LARGE_TEXT_COOKIE, form.cleaned_data["large_text"], max_age=COOKIE_MAX_AGE,
                            samesite="Lax", secure=request.is_secure(), httponly=True)
    return response


@require_POST
def dismiss_tip(request):
    """CN-ELD-04: the tip of the day stays put away until tomorrow's."""
    response = _back(request)
    response.set_cookie(TIP_COOKIE, timezone.localdate().isoformat(), max_age=2 * 24 * 3600, samesite="Lax",
                        secure=request.is_secure(), httponly=True)
    return response


@login_required
@require_http_methods(["GET", "POST"])
def help_request(request):
    """CN-ELD-05: "Talk to a person" for users aged 60+; anyone else gets 403. The request becomes
    a ticket whose first staff reply is due within COMPANION_HELP_REPLY_MINUTES; the person lands
    on its status page, where the reply appears."""
    if request.user.age_band != AgeBand.ELDERLY:
        raise PermissionDenied
    form = HelpRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = complaints.request_help(user=request.user, topic=form.cleaned_data["topic"],
                                             text=form.cleaned_data["text"], language=get_language())
        except complaints.ComplaintRefused as refusal:
            refusal.show_on(form)
        else:
            messages.success(request, gettext(
                "Thank you. A person from our team will reply here by %(time)s (reference %(reference)s).")
                % {"time": f"{timezone.localtime(ticket.due_at):%H:%M}", "reference": ticket.reference})
            return redirect("complaint_status", ticket.public_id)
    return render(request, "companion/help_request.html", {
        "form": form, "minutes": settings.COMPANION_HELP_REPLY_MINUTES,
        "recent": complaints.help_requests_of(request.user)[:5]})
