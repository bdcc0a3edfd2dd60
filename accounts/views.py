from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import set_language as django_set_language

from accounts.consents import consent_states, current_version, missing_for_chat, update_consents
from accounts.forms import ConsentForm, PhoneCodeForm, PhoneNumberForm, ProfileForm
from accounts.identity import (PhoneVerificationRefused, is_live, latest_phone_code, needs_phone_verification,
                               resend_wait, send_phone_code, verify_phone_code)
from accounts.services import correct_profile, set_user_language


@require_POST
def set_language(request):
    """Django's set_language (cookie + redirect), plus the signed-in user's saved preference."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and response.status_code in (200, 302) and language:
        try:
            set_user_language(user=request.user, language=language)
        except ValueError:
            pass  # Django already ignored the unknown code; the saved preference stays
    return response


def safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


@login_required
@require_http_methods(["GET", "POST"])
def privacy_centre(request):
    """`/privacy/` (CN-DAT-07, CN-DAT-09): every consent with its version and time, given or
    withdrawn here. Withdrawing a consent chatting needs locks chat until it is given again."""
    states = consent_states(request.user)
    form = ConsentForm(request.POST or None, states=states)
    if request.method == "POST" and form.is_valid():
        update_consents(user=request.user, granted=form.cleaned_data, source="privacy_centre")
        messages.success(request, gettext("Your choices are saved."))
        return redirect("privacy")
    return render(request, "accounts/privacy.html", {
        "form": form, "states": states, "missing": missing_for_chat(request.user)})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """`/privacy/profile/` (CN-DAT-09): everything the account holds about the person, the name and
    language corrected here, the rest (date of birth, region, mobile) on request with a ticket."""
    user = request.user
    form = ProfileForm(request.POST or None, initial={"first_name": user.first_name, "language": user.language})
    if request.method == "POST" and form.is_valid():
        changed = correct_profile(user=user, **form.cleaned_data)
        messages.success(request, gettext("Your details are saved.") if changed else gettext("Nothing changed."))
        response = redirect("profile")
        response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.language, samesite="Lax",
                            secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY)
        return response
    request_url = reverse("complaint_new") + "?kind=complaint&target=service&category=privacy"
    return render(request, "accounts/profile.html", {"form": form, "request_url": request_url})


@login_required
@require_http_methods(["GET", "POST"])
def reconsent(request):
    """The screen before the next chat when a required consent is missing or a policy changed (CN-REG-01)."""
    states = consent_states(request.user)
    missing = [state.purpose for state in states if state.required and not state.granted]
    shown = set(missing) | {"training"}
    form = ConsentForm(request.POST or None, states=states, purposes=shown)
    next_url = safe_next(request, reverse("home"))
    if request.method == "POST" and form.is_valid():
        refused = [purpose for purpose in missing if not form.cleaned_data.get(purpose)]
        if refused:
            form.add_error(None, gettext("To chat, please accept the updated terms, privacy policy and the "
                                         "sensitive-information consent."))
        else:
            update_consents(user=request.user, granted=form.cleaned_data, source="reconsent")
            return redirect(next_url)
    return render(request, "accounts/reconsent.html", {
        "form": form, "missing": missing, "next": next_url,
        "versions": {state.purpose: state.current_version for state in states}})


@login_required
@require_http_methods(["GET", "POST"])
def phone_verification(request):
    """`/accounts/phone/` (CN-REG-04): where sign-up lands and chat sends an unverified account.
    Enter the texted code, ask for another (`resend`) or give another number (`send`). Verified
    and staff accounts go straight on to `next`."""
    next_url = safe_next(request, reverse("home"))
    if not needs_phone_verification(request.user):
        return redirect(next_url)
    action = request.POST.get("action") if request.method == "POST" else None
    code_form = PhoneCodeForm(request.POST if action == "verify" else None)
    latest = latest_phone_code(request.user)
    resend_error = ""
    number_form = PhoneNumberForm(request.POST if action == "send" else None,
                                  initial={"phone": latest.phone if latest else ""})
    try:
        if action == "verify" and code_form.is_valid():
            verify_phone_code(user=request.user, code=code_form.cleaned_data["code"])
            messages.success(request, gettext("Thank you: your mobile number is verified."))
            return redirect(next_url)
        if action == "resend" and latest is not None:
            send_phone_code(user=request.user, phone=latest.phone)
            messages.success(request, gettext("A new code is on its way."))
            return redirect(request.get_full_path())
        if action == "send" and number_form.is_valid():
            send_phone_code(user=request.user, phone=number_form.cleaned_data["phone"])
            messages.success(request, gettext("A code is on its way."))
            return redirect(request.get_full_path())
    except PhoneVerificationRefused as refusal:
        if action == "resend":
            resend_error = str(refusal)
        else:
            (number_form if action == "send" else code_form).add_error(None, str(refusal))
        latest = latest_phone_code(request.user)  # a refused try still counts against the code
    now = timezone.now()
    return render(request, "accounts/phone.html", {
        "code_form": code_form, "number_form": number_form, "next": next_url, "latest": latest,
        "resend_error": resend_error,
        "live": latest is not None and is_live(latest, now),
        "resend_in": resend_wait(now=now, last_sent_at=latest.created_at if latest else None),
    })


LEGAL_DOCUMENTS = {"terms": "accounts/legal/terms.html", "privacy": "accounts/legal/privacy.html"}


@require_GET
def legal(request, document: str):
    """The current terms and privacy policy, public (CN-REG-01, CN-DAT-03 entrusted processors)."""
    if document not in LEGAL_DOCUMENTS:
        raise Http404
    return render(request, LEGAL_DOCUMENTS[document], {"version": current_version(document)})
