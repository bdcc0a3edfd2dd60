import datetime as dt
from functools import wraps
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.identity import needs_phone_verification
from accounts.models import Role
from accounts.policies import AgeBand
from accounts.views import safe_next
from guardians import catalogue, invitations, services, usage
from guardians.forms import CodeForm, ContactForm, DeleteHistoryForm, GuardianLinkForm, LimitsForm
from guardians.models import ContactKind
from guardians.policies import STATUTORY_REST, guardian_consent_needed
from guardians.selectors import (ContactNotFound, access_contact_by_id, access_ward_by_id, chat_gate, contacts_of,
                                 default_daily_minutes, default_rest_hours, portal_alerts, ward_blocks, wards)
from guardians.texts import level_label

ALERTS_SHOWN = 100


def guardian_only(view):
    """The guardian role (contracts §3 `/guardian/`), checked after sign-in and method: 403 otherwise."""
    @wraps(view)
    def checked(request, *args, **kwargs):
        if not request.user.has_role(Role.GUARDIAN):
            raise PermissionDenied
        return view(request, *args, **kwargs)
    return checked


def gate_url(next_url: str) -> str:
    """Where the chat page sends a user whose contacts are not in order yet (CN-REG-03)."""
    return reverse("guardians:contacts") + "?" + urlencode({"next": next_url})


@login_required
@require_http_methods(["GET", "POST"])
def contacts(request):
    """List the user's contacts, say what chat still needs (CN-REG-03, CN-MIN-03, CN-ELD-01), add one."""
    user = request.user
    next_url = safe_next(request, "")
    gate = chat_gate(user)
    kind = ContactKind.GUARDIAN if gate.blocking == "guardian_missing" else ContactKind.EMERGENCY
    form = ContactForm(request.POST or None, initial={"language": user.language, "kind": kind})
    if request.method == "POST" and form.is_valid():
        if _saved(form, lambda data: services.add_contact(user=user, **data)):
            messages.success(request, gettext("Contact added. We sent them a message with a confirmation code."))
            return redirect(gate_url(next_url) if next_url else reverse("guardians:contacts"))
    rows = [{"contact": contact, "status": _status(contact), "code_form": CodeForm(prefix=f"c{contact.pk}")}
            for contact in contacts_of(user)]
    return render(request, "guardians/contacts.html", {
        "rows": rows, "form": form, "is_minor": user.is_minor, "gate": gate, "next": next_url,
        "needs_consent": guardian_consent_needed(user.age_band, settings.CN_REGIME),
        "is_elderly": user.age_band == AgeBand.ELDERLY, "is_guardian": user.has_role(Role.GUARDIAN)})



def _status(contact) -> str:
    """One line for the contact's state, as the user sees it."""
    if contact.declined_at is not None:
        return gettext("Declined: name someone else")
    if not contact.active:
        return gettext("Deactivated")
    if contact.bounced_at is not None:
        return gettext("Our messages do not reach them: check the details")
    if contact.kind == ContactKind.GUARDIAN:
        if contact.account_id is None:
            return gettext("Waiting for your guardian to confirm in the guardian portal")
        if contact.consent_revoked_at is not None:
            return gettext("Linked; your guardian withdrew consent")
        if contact.consent_at is not None:
            return gettext("Linked; consent given")
        return gettext("Linked")
    if contact.verified_at is None:
        return gettext("Waiting for confirmation")
    return gettext("Confirmed")


@login_required
@require_POST
def contact_verify(request, contact_id: int):
    """CN-REG-03: the user types the code we texted to their emergency contact."""
    form = CodeForm(request.POST, prefix=f"c{contact_id}")
    if not form.is_valid():
        messages.error(request, gettext("Enter the six-digit code."))
        return _back_to_contacts(request)
    return _contact_action(request, lambda: services.verify_contact_code(
        user=request.user, contact_id=contact_id, code=form.cleaned_data["code"]), gettext("Contact confirmed."))


@login_required
@require_POST
def contact_reconfirm(request, contact_id: int):
    """CN-ELD-01: "still right" for a contact confirmed over a year ago."""
    return _contact_action(request, lambda: services.reconfirm_contact(user=request.user, contact_id=contact_id),
                           gettext("Thank you. We will ask again in a year."))


@login_required
@require_POST
def contact_resend(request, contact_id: int):
    return _contact_action(request, lambda: services.reinvite_contact(user=request.user, contact_id=contact_id),
                           gettext("We sent the invitation again, with a new code."))


def _contact_action(request, action, success: str):
    """Run a contact service: a missing (or someone else's) contact is a 404, a refusal is shown as
    the error; then back to the contacts page (and its `next`)."""
    try:
        action()
    except ContactNotFound:
        raise Http404 from None
    except services.ContactRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, success)
    return _back_to_contacts(request)


@login_required
@require_POST
def contact_skip(request):
    """CN-REG-03: an adult chooses to go on without an emergency contact for now."""
    if request.user.age_band != AgeBand.ADULT:
        raise PermissionDenied  # minors and elders cannot skip (CN-REG-03, CN-ELD-01)
    services.skip_contact_prompt(user=request.user)
    messages.info(request, gettext("You can add an emergency contact at any time here. We will ask again in %(days)d days.")
                  % {"days": settings.GUARDIANS_CONTACT_PROMPT_DAYS})
    return redirect(safe_next(request, reverse("home")))



def _back_to_contacts(request):
    next_url = safe_next(request, "")
    return redirect(gate_url(next_url) if next_url else reverse("guardians:contacts"))


@login_required
@require_http_methods(["GET", "POST"])
def contact_edit(request, contact_id: int):
    contact = _own_contact(request, contact_id)
    initial = {name: getattr(contact, name) for name in ("name", "relationship", "email", "phone", "language")}
    form = ContactForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        if _saved(form, lambda data: services.update_contact(user=request.user, contact_id=contact.pk, **data)):
            messages.success(request, gettext("Contact saved."))
            return redirect("guardians:contacts")
    return render(request, "guardians/contact_edit.html", {"contact": contact, "form": form})


@login_required
@require_POST
def contact_deactivate(request, contact_id: int):
    try:
        services.deactivate_contact(user=request.user, contact_id=contact_id)
    except ContactNotFound:
        raise Http404 from None
    messages.success(request, gettext("Contact deactivated. They will not be told about safety concerns."))
    return redirect("guardians:contacts")


@never_cache
@require_http_methods(["GET", "POST"])
def respond(request, contact_id: int, token: str):
    """BX-13: the page the invitation links to. An emergency contact confirms or declines here without
    an account; a guardian declines here, or signs in (or signs up) and confirms the link with the
    texted code and gives consent (CN-MIN-03, CN-MIN-04)."""
    try:
        contact = services.contact_by_link(contact_id, token)
    except ContactNotFound:
        return render(request, "guardians/respond_invalid.html", status=404)
    is_guardian = contact.kind == ContactKind.GUARDIAN
    if is_guardian and request.user.is_authenticated and needs_phone_verification(request.user):
        # CN-REG-04: a guardian account proves its own mobile first (sign-up from this page lands here).
        return redirect(reverse("phone_verification") + "?" + urlencode({"next": request.path}))
    link_form = GuardianLinkForm(request.POST if request.POST.get("action") == "link" else None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "decline":
                services.respond_to_invitation(contact_id=contact.pk, token=token, accept=False)
                return render(request, "guardians/respond_done.html", {"declined": True, "contact": contact})
            if action == "confirm" and not is_guardian:
                services.respond_to_invitation(contact_id=contact.pk, token=token, accept=True)
                return render(request, "guardians/respond_done.html", {"declined": False, "contact": contact})
            if action == "new_code" and is_guardian:
                services.send_new_code(contact_id=contact.pk, token=token)
                messages.success(request, gettext("We texted a new code to %(phone)s.")
                                 % {"phone": invitations.masked_phone(contact.phone)})
                return redirect(request.path)
            if action == "link" and is_guardian and request.user.is_authenticated and link_form.is_valid():
                services.link_guardian(contact_id=contact.pk, token=token, account=request.user,
                                       code=link_form.cleaned_data["code"])
                messages.success(request, gettext("You are now linked as the guardian of %(name)s. Thank you.")
                                 % {"name": services.display_name(contact.user)})
                return redirect("guardians:portal")
        except ContactNotFound:
            return render(request, "guardians/respond_invalid.html", status=404)
        except services.ContactRefused as refusal:
            link_form.add_error(None, refusal.message)
    band = contact.user.age_band
    return render(request, "guardians/respond.html", {
        "contact": contact, "name": services.display_name(contact.user), "is_guardian": is_guardian,
        "form": link_form, "phone": invitations.masked_phone(contact.phone),
        "is_child": band == AgeBand.CHILD, "consent_version": settings.GUARDIANS_CONSENT_NOTICE_VERSION,
        "login_url": reverse("account_login") + "?" + urlencode({"next": request.path}),
        "signup_url": reverse("account_signup") + "?" + urlencode({"next": request.path})})



@login_required
@guardian_only
def portal(request):
    """The guardian portal (contracts §3 `/guardian/`): the minors this account is guardian of, their
    consent (CN-MIN-03, CN-MIN-04: withdraw or give again), the characters each may use (CN-MIN-09:
    block or allow each), their daily chat time and rest hours (CN-MIN-10: tighten), and the alerts."""
    return _portal_page(request)


def _portal_page(request, bound: LimitsForm | None = None, bound_id: int | None = None):
    """The portal; `bound` is a limits form with errors for ward `bound_id`, shown instead of a fresh one."""
    now = timezone.now()
    contacts = wards(request.user)
    blocks = ward_blocks(contacts)
    characters = catalogue.characters()
    start, end = default_rest_hours() or STATUTORY_REST
    rows = [{"contact": contact, "name": services.display_name(contact.user), "age": contact.user.age,
             "needs_consent": guardian_consent_needed(contact.user.age_band, settings.CN_REGIME),
             "characters": [{"slug": slug, "name": name, "blocked": slug in blocks[contact.pk]}
                            for slug, name in characters],
             "default_minutes": _minutes(default_daily_minutes(contact.user)),
             "limits_form": bound if bound_id == contact.pk else _limits_form(contact)}
            for contact in contacts]
    alerts = portal_alerts(request.user)[:5]
    return render(request, "guardians/portal.html", {
        "wards": rows, "alerts": alerts, "now": now,
        "history_deletion": usage.history_deletion_offered(settings.CN_REGIME),
        "default_rest": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}})


def _minutes(value: float | None) -> str:
    return f"{value:g}" if value is not None else ""


def _limits_form(contact, data=None) -> LimitsForm:
    initial = {"daily_minutes": contact.daily_minutes, "rest_start": contact.rest_start, "rest_end": contact.rest_end}
    return LimitsForm(data, initial=initial, default_minutes=default_daily_minutes(contact.user),
                      auto_id=f"id_limits{contact.pk}_%s")


@login_required
@require_POST
@guardian_only
def portal_limits(request, contact_id: int):
    """CN-MIN-10: the guardian lowers the ward's daily chat minutes and/or widens their rest hours
    (`daily_minutes`, `rest_start`, `rest_end`; empty = default), or goes back to the defaults
    (`action=defaults`). Takes effect at once, open chats included. Errors re-show the portal, nothing saved."""
    try:
        contact = access_ward_by_id(request.user, contact_id)
    except ContactNotFound:
        raise Http404 from None
    form = _limits_form(contact, request.POST)
    if request.POST.get("action") == "defaults":
        values = {"daily_minutes": None, "rest_start": None, "rest_end": None}
    elif form.is_valid():
        values = form.cleaned_data
    else:
        return _portal_page(request, form, contact.pk)
    try:
        services.set_limits(guardian=request.user, contact_id=contact_id, **values)
    except ContactNotFound:
        raise Http404 from None
    except services.ContactRefused as refusal:
        form.is_valid()
        form.add_error(None, refusal.message)
        return _portal_page(request, form, contact.pk)
    messages.success(request, gettext("Saved. The new limits apply to %(name)s at once, on every device.")
                     % {"name": services.display_name(contact.user)})
    return redirect(reverse("guardians:portal") + f"#ward-{contact_id}-limits")


@login_required
@require_POST
@guardian_only
def portal_consent(request, contact_id: int):
    consent = request.POST.get("consent") == "give"
    try:
        contact = services.set_guardian_consent(guardian=request.user, contact_id=contact_id, consent=consent)
    except ContactNotFound:
        raise Http404 from None
    name = services.display_name(contact.user)
    if consent:
        messages.success(request, gettext("Consent given. %(name)s can use the service.") % {"name": name})
    else:
        messages.success(request, gettext("Consent withdrawn. %(name)s can no longer chat; their open chats "
                                          "were closed.") % {"name": name})
    return redirect("guardians:portal")


@login_required
@require_POST
@guardian_only
def portal_character(request, contact_id: int):
    """CN-MIN-09: the guardian blocks (`action=block`) or allows again (`action=allow`) one character
    (`character`, its slug) for this ward; takes effect at once, open chats with it included."""
    slug, action = request.POST.get("character", ""), request.POST.get("action")
    if action not in ("block", "allow"):
        raise Http404
    change = services.block_character if action == "block" else services.allow_character
    try:
        contact = change(guardian=request.user, contact_id=contact_id, slug=slug)
    except (ContactNotFound, services.UnknownCharacter):
        raise Http404 from None
    names = dict(catalogue.characters())
    details = {"character": names.get(slug, slug), "name": services.display_name(contact.user)}
    if action == "block":
        messages.success(request, gettext("%(character)s is turned off for %(name)s; any open chat with it "
                                          "was closed.") % details)
    else:
        messages.success(request, gettext("%(character)s is available to %(name)s again.") % details)
    return redirect(reverse("guardians:portal") + f"#ward-{contact_id}")


def _minor_ward(request, contact_id: int):
    """The signed-in guardian's ward `contact_id` while under 18; 404 for anything else (one answer
    for missing, someone else's and grown up: the guardian's view ends at 18)."""
    try:
        contact = access_ward_by_id(request.user, contact_id)
    except ContactNotFound:
        raise Http404 from None
    if not contact.user.is_minor:
        raise Http404
    return contact


@login_required
@guardian_only
def ward_usage(request, contact_id: int):
    """CN-MIN-08: the ward's use over the last 7 days (per day) and the last 4 weeks (per week):
    chat minutes, messages sent, characters, limit reminders, risk signals; charts with a table of
    the same figures. Counts only, never what the minor wrote (BX-14)."""
    contact = _minor_ward(request, contact_id)
    today = timezone.localdate(timezone=usage.BEIJING)
    language = request.LANGUAGE_CODE
    week = usage.usage_summary(contact.user, today - dt.timedelta(days=6), today, language=language)
    mondays = usage.last_weeks(today, 4)
    month = usage.usage_summary(contact.user, mondays[0], today, language=language)
    weeks = month.weeks()
    return render(request, "guardians/usage.html", {
        "contact": contact, "name": services.display_name(contact.user),
        "history_deletion": usage.history_deletion_offered(settings.CN_REGIME),
        "periods": [
            {"key": "days", "summary": week, "rows": week.days,
             "chart": usage.bar_chart([(date_format(day.day, "m-d D"), day.minutes) for day in week.days])},
            {"key": "weeks", "summary": month, "rows": weeks,
             "chart": usage.bar_chart([(date_format(row.start, "m-d"), row.minutes) for row in weeks])},
        ]})


@login_required
@require_http_methods(["GET", "POST"])
@guardian_only
def ward_history_delete(request, contact_id: int):
    """CN-MIN-14: the guardian deletes every conversation of their ward, after ticking a confirmation;
    the cascade is the minor's own "delete all conversations" (CN-DAT-05). Refused, with the reason,
    while a safety case is open."""
    if not usage.history_deletion_offered(settings.CN_REGIME):
        raise Http404
    contact = _minor_ward(request, contact_id)
    name = services.display_name(contact.user)
    form = DeleteHistoryForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            count = usage.delete_ward_history(guardian=request.user, contact_id=contact.pk)
        except usage.ContactNotFound:
            raise Http404 from None
        except usage.PrivacyRefused as refusal:
            form.add_error(None, _history_refusal(refusal, name))
        else:
            messages.success(request, ngettext(
                "Deleted %(count)d conversation of %(name)s, with all its messages.",
                "Deleted %(count)d conversations of %(name)s, with all their messages.", count)
                % {"count": count, "name": name})
            return redirect(reverse("guardians:portal") + f"#ward-{contact.pk}")
    return render(request, "guardians/history_delete.html", {"contact": contact, "name": name, "form": form})


def _history_refusal(refusal, name: str) -> str:
    if refusal.code == "open_case":
        return gettext("Our safety team is still looking after %(name)s, so their chat history cannot be deleted "
                       "right now. You can delete it once the safety case is closed.") % {"name": name}
    return refusal.message


@login_required
@guardian_only
def guardian_alerts(request):
    """Portal alerts for a guardian account, newest first (CN-MIN-07); no chat content exists here."""
    alerts = [{"alert": alert, "level": level_label(alert.level)}
              for alert in portal_alerts(request.user)[:ALERTS_SHOWN]]
    return render(request, "guardians/alerts.html", {"alerts": alerts})


def _own_contact(request, contact_id: int):
    try:
        return access_contact_by_id(request.user, contact_id)
    except ContactNotFound:
        raise Http404 from None


def _saved(form: ContactForm, save) -> bool:
    """Run the service; put its refusal or field errors on the form instead of a 500."""
    try:
        save(form.cleaned_data)
    except services.ContactRefused as refusal:
        form.add_error(None, refusal.message)
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            form.add_error(field if field in form.fields else None, problems)
    except ContactNotFound:
        raise Http404 from None
    else:
        return True
    return False
